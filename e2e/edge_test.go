package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/worker"
	"github.com/tierwise/tierwise/workflows"
)

// TestPostbackUnicodeAndLongUserIDs: any user_id a postback may carry, up to
// its maximum length, is priced exactly once, and its customer is found by
// the Conversion Events Report and by its search attribute in Temporal
// (DESIGN §14.2).
func TestPostbackUnicodeAndLongUserIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)
	tc := b.temporal.Client()

	for name, userID := range map[string]string{
		"Accents":          "josé",
		"Email":            "müller@example.de",
		"CJK":              "用户42",
		"Emoji":            "🎉player🎉",
		"MaximumLength":    strings.Repeat("é", limits.MaxUserIDLength),
		"Slashes":          "a/b/c",
		"QuotesAndSpaces":  `it's "the" user 7`,
		"PercentAndTilde":  "~100%",
		"CyrillicAndSpace": "Иван Петров",
	} {
		t.Run(name, func(t *testing.T) {
			p := params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", userID)
			c := b.convert(p)
			require.Equal(t, userID, c.UserID)
			require.Equal(t, "5", c.Payout.String())
			require.Equal(t, workflows.CustomerWorkflowID(adv.ID, userID), c.WorkflowID)

			// Sent again: a duplicate, and still one set of lines.
			status, body := b.postback(p)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, true, body["duplicate"])
			lines, err := b.store.Lines(ctx, c.ID)
			require.NoError(t, err)
			require.Len(t, lines, 2, "one payout and one revenue line")

			// The Conversion Events Report, with the user_id escaped in the
			// path as any client would.
			var report struct {
				UserID      string `json:"user_id"`
				Conversions []struct {
					ID int64 `json:"id"`
				} `json:"conversions"`
			}
			b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/customers/%d/%s/events", adv.ID, url.PathEscape(userID)), nil, &report)
			require.Equal(t, userID, report.UserID)
			require.Len(t, report.Conversions, 1)
			require.Equal(t, c.ID, report.Conversions[0].ID)

			// The customer's workflow, found by its readable search attribute.
			query := fmt.Sprintf("%s = %s", workflows.AttrCustomer.GetName(), visibilityLiteral(workflows.CustomerAttribute(adv.ID, userID)))
			require.Eventually(t, func() bool {
				res, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
				require.NoError(t, err, query)
				return len(res.Executions) == 1 && res.Executions[0].GetExecution().GetWorkflowId() == c.WorkflowID
			}, 20*time.Second, 100*time.Millisecond, "workflow %s by %s", c.WorkflowID, query)
		})
	}

	t.Run("LongerThanTheMaximumIsRefused", func(t *testing.T) {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner),
			"user_id", strings.Repeat("x", limits.MaxUserIDLength+1)))
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "user_id", problemField(body))
	})
}

// visibilityLiteral quotes a value for a Temporal visibility query.
func visibilityLiteral(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// problemField is the field of the first problem of an error answer.
func problemField(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	problems, _ := e["problems"].([]any)
	if len(problems) == 0 {
		return ""
	}
	p, _ := problems[0].(map[string]any)
	f, _ := p["field"].(string)
	return f
}

// TestPostbackFromPartnerWhoMayNotRunOffer: a postback whose partner may not
// run the offer when it arrives is stored rejected with the reason, never
// priced, and an admin's approval prices it as a new arrival (DESIGN §14.1).
// The check is made again at conversion time for a click's transaction id.
func TestPostbackFromPartnerWhoMayNotRunOffer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	type rejected struct {
		id     int64
		reason string
	}
	var all []rejected
	postback := func(t *testing.T, p url.Values, reason string) int64 {
		t.Helper()
		status, body := b.postback(p)
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "rejected", body["status"])
		require.Equal(t, reason, body["reason"])
		cid := int64(body["conversion_id"].(float64))
		c, err := b.store.Conversion(ctx, cid)
		require.NoError(t, err)
		require.Equal(t, store.StatusRejected, c.Status)
		require.Equal(t, reason, c.RejectionReason)
		all = append(all, rejected{cid, reason})
		return cid
	}

	adv := b.advertiser()
	partner := b.partner(nil)
	t.Run("PrivateOfferNotApproved", func(t *testing.T) {
		offer := b.offer(adv.ID, "private", cpaRPA("5.00", "8.00"))
		postback(t, params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1"), store.RejectPartnerNotApproved)
	})
	t.Run("RequireApprovalNotApproved", func(t *testing.T) {
		offer := b.offer(adv.ID, "require_approval", cpaRPA("5.00", "8.00"))
		postback(t, params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u2"), store.RejectPartnerNotApproved)
	})
	t.Run("SuspendedPartner", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
		suspended := b.partner(map[string]any{"status": "suspended"})
		postback(t, params("token", adv.Token, "offer_id", id(offer), "affiliate_id", id(suspended), "user_id", "u3"), store.RejectPartnerInactive)
	})
	t.Run("PausedOffer", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
		b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/offers/%d", offer), map[string]any{"status": "paused"}, nil)
		postback(t, params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u4"), store.RejectOfferInactive)
	})
	t.Run("InactiveAdvertiser", func(t *testing.T) {
		other := b.advertiser()
		offer := b.offer(other.ID, "public", cpaRPA("5.00", "8.00"))
		b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/advertisers/%d", other.ID), map[string]any{"status": "inactive"}, nil)
		postback(t, params("token", other.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u5"), store.RejectAdvertiserInactive)
	})
	t.Run("SuspendedSinceTheClick", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
		clicker := b.partner(nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
			Get(fmt.Sprintf("%s/click?offer_id=%d&partner_id=%d", b.url, offer, clicker))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/partners/%d", clicker), map[string]any{"status": "suspended"}, nil)
		postback(t, params("token", adv.Token, "transaction_id", loc.Query().Get("click"), "user_id", "u6"), store.RejectPartnerInactive)
	})

	// None has a ledger line, and the report filters them by reason.
	for _, r := range all {
		lines, err := b.store.Lines(ctx, r.id)
		require.NoError(t, err)
		require.Empty(t, lines, "conversion %d (%s)", r.id, r.reason)
	}
	var report struct {
		Items []store.Conversion `json:"items"`
	}
	b.mustDo(http.StatusOK, http.MethodGet, "/conversions?rejection_reason=partner_not_approved", nil, &report)
	require.Len(t, report.Items, 2)
	for _, c := range report.Items {
		require.Equal(t, store.RejectPartnerNotApproved, c.RejectionReason)
	}

	// An admin approves one: it is priced as a new arrival, once.
	first := all[0].id
	var approved store.Conversion
	b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/conversions/%d", first), map[string]any{"status": "approved"}, &approved)
	require.Equal(t, store.StatusApproved, approved.Status)
	require.Empty(t, approved.RejectionReason)
	c := b.waitPriced(first)
	require.Equal(t, "5", c.Payout.String())
	lines, err := b.store.Lines(ctx, first)
	require.NoError(t, err)
	require.Len(t, lines, 2)
}

// TestPostbackAnswersHelpTheDeveloper: unknown parameters and a percent of
// sale without a sale amount are accepted with warnings; a parameter sent
// twice is a 400; Everflow's names work; a conversion says whether it is
// priced and what is pending.
func TestPostbackAnswersHelpTheDeveloper(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser()
	cps := event{Event: "deposit", Payout: rate{Type: "cps", Percent: "10"}, Revenue: rate{Type: "rps", Percent: "20"}, Repeatable: true}
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"), cps)
	partner := b.partner(nil)

	t.Run("UnknownParameterWarned", func(t *testing.T) {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "w1",
			"event", "deposit", "order_id", "w1-1", "amout", "100"))
		require.Equal(t, http.StatusOK, status)
		warnings := fmt.Sprint(body["warnings"])
		require.Contains(t, warnings, "amout: not a postback parameter")
		require.Contains(t, warnings, "amount: not sent")
	})
	t.Run("ParameterSentTwice", func(t *testing.T) {
		resp, err := http.Get(fmt.Sprintf("%s/postback?token=%s&offer_id=%d&offer_id=%d&partner_id=%d&user_id=w2", b.url, adv.Token, offer, offer+1, partner))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("EverflowNames", func(t *testing.T) {
		var o store.Offer
		b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/offers/%d", offer), nil, &o)
		deposit, ok := o.Event("deposit")
		require.True(t, ok)
		require.NotZero(t, deposit.ID)
		status, body := b.postback(params("verification_token", adv.Token, "aid", id(adv.ID), "offer_id", id(offer),
			"affiliate_id", id(partner), "event_id", id(deposit.ID), "amount", "50", "order_id", "ef-1", "user_id", "w3",
			"coupon_code", "SPRING", "email", "Ann@Example.com"))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Nil(t, body["warnings"])
		c := b.waitPriced(int64(body["conversion_id"].(float64)))
		require.Equal(t, "deposit", c.Event)
		require.Equal(t, "5", c.Payout.String(), "10% of 50")
		require.Equal(t, "SPRING", c.CouponCode)
		require.Len(t, c.EmailSHA256, 64)
		require.NotContains(t, fmt.Sprintf("%+v", c), "Example.com", "the address is never stored")
	})
	t.Run("PricedAndPending", func(t *testing.T) {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "w4"))
		require.Equal(t, http.StatusOK, status)
		cid := int64(body["conversion_id"].(float64))
		var v struct {
			Priced  bool     `json:"priced"`
			Pending []string `json:"pending"`
			Payout  string   `json:"payout"`
		}
		require.Eventually(t, func() bool {
			b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d", cid), nil, &v)
			if !v.Priced {
				require.Equal(t, []string{store.PendingPricing}, v.Pending, "not priced, and it says so")
			}
			return v.Priced && len(v.Pending) == 0
		}, 20*time.Second, 20*time.Millisecond)
		require.Equal(t, "5", v.Payout)
		_, err := b.store.Conversion(ctx, cid)
		require.NoError(t, err)
	})
}

// logRecords is a slog handler that keeps the messages logged, for tests
// that check what an operator is told.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.Key + "=" + a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, msg)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func (l *logRecords) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// TestSweeperIsolatesAStuckConversion: a conversion whose signal always
// fails backs off alone and becomes stuck, listed by the API and logged
// once; every other customer is priced as soon as Temporal is back, though
// all share one sweeper shard with it; the stuck one's own customer keeps
// its order behind it; and failures while Temporal itself is down count
// against nobody.
func TestSweeperIsolatesAStuckConversion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"), deposits("1.00", "2.00"))
	partner := b.partner(nil)

	// One sweeper worker: every customer in the stuck one's shard.
	b.worker.Stop()
	logs := &logRecords{}
	b.worker = worker.New(b.temporal.Client(), worker.Config{Pool: b.pool, Logger: slog.New(logs),
		SweepInterval: 200 * time.Millisecond, SweepWorkers: 1})
	require.NoError(t, b.worker.Start())

	// A conversion whose workflow id Temporal refuses (over its length
	// limit), the oldest of all, and a later one of the same customer.
	poisonID := "customer/" + id(adv.ID) + "/" + strings.Repeat("p", 1500)
	insert := func(order string, age time.Duration) int64 {
		c, _, err := b.store.InsertConversion(ctx, store.NewConversion{AdvertiserID: adv.ID, OfferID: offer, PartnerID: partner,
			Event: "deposit", UserID: "poison", OrderID: order, DedupeKey: "poison:" + order, Currency: "USD",
			Status: store.StatusApproved, OccurredAt: time.Now().Add(-age), WorkflowID: poisonID})
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `UPDATE conversions SET received_at = now() - $2 * interval '1 second' WHERE id = $1`, c.ID, age.Seconds())
		require.NoError(t, err)
		return c.ID
	}
	poison := insert("p1", time.Minute)
	behind := insert("p2", 50*time.Second)

	// Five customers accepted while Temporal is down.
	b.temporal.Stop()
	var others []int64
	for i := range 5 {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", fmt.Sprint("c", i)))
		require.Equal(t, http.StatusOK, status, "%v", body)
		others = append(others, int64(body["conversion_id"].(float64)))
	}
	// The sweeper tries them while Temporal is down: nobody is counted.
	require.Eventually(t, func() bool { return logs.count("sweep unsignalled conversions") > 0 }, 20*time.Second, 50*time.Millisecond)
	for _, cid := range others {
		c, err := b.store.Conversion(ctx, cid)
		require.NoError(t, err)
		require.Zero(t, c.SignalAttempts, "an outage counts against no conversion")
	}

	b.temporal.Restart()
	for _, cid := range others {
		c := b.waitPriced(cid)
		requireAmount(t, "5.00", c.Payout)
	}
	p, err := b.store.Conversion(ctx, poison)
	require.NoError(t, err)
	require.Positive(t, p.SignalAttempts, "the poison conversion's failures are counted")
	require.NotEmpty(t, p.SignalError)
	require.Nil(t, p.SignalledAt)
	behindNow, err := b.store.Conversion(ctx, behind)
	require.NoError(t, err)
	require.Nil(t, behindNow.SignalledAt, "its customer's later conversion waits behind it")
	require.Zero(t, behindNow.SignalAttempts)

	// Four failures more make it stuck (the back-off is shortened here, as
	// minutes passing would).
	_, err = b.pool.Exec(ctx, `UPDATE conversions SET signal_attempts = $2 - 1, signal_retry_at = now() WHERE id = $1`, poison, store.StuckAfterAttempts)
	require.NoError(t, err)
	var stuck struct {
		Items []store.Conversion `json:"items"`
	}
	require.Eventually(t, func() bool {
		b.mustDo(http.StatusOK, http.MethodGet, "/conversions?state=stuck", nil, &stuck)
		return len(stuck.Items) == 1
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, poison, stuck.Items[0].ID)
	require.True(t, stuck.Items[0].Stuck)
	require.Equal(t, 1, logs.count("conversion is stuck"))
	require.Equal(t, 1, logs.count("conversion_id="+id(poison)))
	for _, m := range logs.all() {
		require.Less(t, len(m), 2000, "no log line carries the whole 1,500-character id")
	}

	// Failing again does not log again.
	_, err = b.pool.Exec(ctx, `UPDATE conversions SET signal_retry_at = now() WHERE id = $1`, poison)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := b.store.Conversion(ctx, poison)
		require.NoError(t, err)
		return c.SignalAttempts > store.StuckAfterAttempts
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, 1, logs.count("conversion is stuck"), "logged once, not at every retry")

	// A retry forgets the failures (here it fails again at once).
	var retried store.Conversion
	b.mustDo(http.StatusAccepted, http.MethodPost, fmt.Sprintf("/conversions/%d/retry", poison), nil, &retried)
	require.Less(t, retried.SignalAttempts, store.StuckAfterAttempts)
}
