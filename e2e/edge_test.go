package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
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
