package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/ingest"
)

func id(n int64) string { return strconv.FormatInt(n, 10) }

func requireAmount(t *testing.T, want string, got decimal.Decimal, msg ...any) {
	t.Helper()
	require.True(t, decimal.RequireFromString(want).Equal(got), "want %s, got %s %v", want, got, msg)
}

func TestSeedPartnerTierMargin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("0.50", "1.00"))

	newPartners := b.partner(nil)
	highQuality := b.tier("New Partners", "30", newPartners)
	b.tierOffer(highQuality, offer, false, true)

	c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(newPartners), "user_id", "u1"))
	requireAmount(t, "0.70", c.Payout, "revenue $1, margin 30%")
	requireAmount(t, "1.00", c.Revenue)
	e := b.explanation(c.ID)
	require.Equal(t, "partner_tier", e.Pricing.Explanation.PayoutLayer)
	applied, _, _, tierID := e.step(t, "partner_tier")
	require.True(t, applied)
	require.Equal(t, highQuality, tierID)

	t.Run("PartnerInNoExplicitTierIsInTheDefaultTier", func(t *testing.T) {
		var tiers struct {
			Items []struct {
				ID        int64 `json:"id"`
				IsDefault bool  `json:"is_default"`
			} `json:"items"`
		}
		b.mustDo(http.StatusOK, http.MethodGet, "/tiers", nil, &tiers)
		var defaultTier int64
		for _, tr := range tiers.Items {
			if tr.IsDefault {
				defaultTier = tr.ID
			}
		}
		require.NotZero(t, defaultTier)
		b.mustDo(http.StatusOK, http.MethodPatch, fmt.Sprintf("/tiers/%d", defaultTier), map[string]any{"margin": "30"}, nil)
		b.tierOffer(defaultTier, offer, false, true)

		loner := b.partner(nil)
		var p struct {
			TierID int64 `json:"tier_id"`
		}
		b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/partners/%d", loner), nil, &p)
		require.Equal(t, defaultTier, p.TierID)

		c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(loner), "user_id", "u2"))
		requireAmount(t, "0.70", c.Payout)
		_, _, _, tierID := b.explanation(c.ID).step(t, "partner_tier")
		require.Equal(t, defaultTier, tierID)
	})

	t.Run("ApplyMarginOffPaysTheOfferDefault", func(t *testing.T) {
		b.tierOffer(highQuality, offer, false, false)
		c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(newPartners), "user_id", "u3"))
		requireAmount(t, "0.50", c.Payout)
		e := b.explanation(c.ID)
		require.Equal(t, "offer_default", e.Pricing.Explanation.PayoutLayer)
		applied, reason, _, _ := e.step(t, "partner_tier")
		require.False(t, applied)
		require.Equal(t, "apply margin off", reason)
	})
}

func TestTierMarginWithoutRevenue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("4.00", "0"))
	partner := b.partner(nil)
	tier := b.tier("Margin", "30", partner)
	b.tierOffer(tier, offer, false, true)

	c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1"))
	requireAmount(t, "4.00", c.Payout, "the margin needs a revenue; the offer default stands")
	e := b.explanation(c.ID)
	require.Equal(t, "offer_default", e.Pricing.Explanation.PayoutLayer)
	applied, reason, _, _ := e.step(t, "partner_tier")
	require.False(t, applied)
	require.Contains(t, reason, "no revenue")

	// With a revenue from the postback the same tier applies.
	c = b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u2", "revenue", "10"))
	requireAmount(t, "7.00", c.Payout)
}

func TestPayoutPrecedence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	n := 0
	convert := func(offer, partner int64, extra ...string) (decimal.Decimal, explanationView) {
		t.Helper()
		n++
		p := params(append([]string{"token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", fmt.Sprint("u", n)}, extra...)...)
		c := b.convert(p)
		return c.Payout, b.explanation(c.ID)
	}
	custom := func(body map[string]any) int64 {
		t.Helper()
		var out struct {
			ID int64 `json:"id"`
		}
		b.mustDo(http.StatusCreated, http.MethodPost, "/custom-payouts", body, &out)
		return out.ID
	}
	fixed := func(amount string) map[string]any { return map[string]any{"type": "cpa", "amount": amount} }

	t.Run("DefaultThenTierThenCustom", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("2.00", "10.00"))
		partner := b.partner(nil)

		payout, e := convert(offer, partner)
		requireAmount(t, "2.00", payout)
		require.Equal(t, "offer_default", e.Pricing.Explanation.PayoutLayer)

		tier := b.tier("Precedence", "40", partner)
		b.tierOffer(tier, offer, false, true)
		payout, e = convert(offer, partner)
		requireAmount(t, "6.00", payout, "(1 − 40%) × 10.00")
		require.Equal(t, "partner_tier", e.Pricing.Explanation.PayoutLayer)

		setting := custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("3.00")})
		payout, e = convert(offer, partner)
		requireAmount(t, "3.00", payout)
		require.Equal(t, "custom_payout", e.Pricing.Explanation.PayoutLayer)
		_, _, got, _ := e.step(t, "custom_payout")
		require.Equal(t, setting, got)
	})

	t.Run("SpecificPartnerBeatsAllPartners", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("2.00", "10.00"))
		partner := b.partner(nil)
		mine := custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("5.00")})
		custom(map[string]any{"offer_id": offer, "payout": fixed("4.00")}) // newer, but for all partners
		payout, e := convert(offer, partner)
		requireAmount(t, "5.00", payout)
		_, _, got, _ := e.step(t, "custom_payout")
		require.Equal(t, mine, got)

		other := b.partner(nil)
		payout, _ = convert(offer, other)
		requireAmount(t, "4.00", payout, "the all-partners setting applies to the others")
	})

	t.Run("DateRangeBeatsNone", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("2.00", "10.00"))
		partner := b.partner(nil)
		now := time.Now().UTC()
		dated := custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("6.00"),
			"starts_at": now.Add(-time.Hour).Format(time.RFC3339), "ends_at": now.Add(time.Hour).Format(time.RFC3339)})
		custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("7.00")}) // newer, undated
		payout, e := convert(offer, partner)
		requireAmount(t, "6.00", payout)
		_, _, got, _ := e.step(t, "custom_payout")
		require.Equal(t, dated, got)

		// Outside its dates the dated setting does not match.
		payout, _ = convert(offer, partner, "timestamp", now.Add(-2*time.Hour).Format(time.RFC3339))
		requireAmount(t, "7.00", payout)
	})

	t.Run("NewerBeatsOlder", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("2.00", "10.00"))
		partner := b.partner(nil)
		custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("8.00")})
		newer := custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("9.00")})
		// created_at has microsecond precision; make the order certain.
		_, err := b.pool.Exec(context.Background(), `UPDATE custom_payouts SET created_at = created_at + interval '1 second' WHERE id = $1`, newer)
		require.NoError(t, err)
		payout, e := convert(offer, partner)
		requireAmount(t, "9.00", payout)
		_, _, got, _ := e.step(t, "custom_payout")
		require.Equal(t, newer, got)
	})

	t.Run("LowerIDBreaksTies", func(t *testing.T) {
		offer := b.offer(adv.ID, "public", cpaRPA("2.00", "10.00"))
		partner := b.partner(nil)
		first := custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("11.00")})
		second := custom(map[string]any{"offer_id": offer, "partner_id": partner, "payout": fixed("12.00")})
		_, err := b.pool.Exec(context.Background(), `UPDATE custom_payouts SET created_at = '2024-01-01T00:00:00Z' WHERE id IN ($1, $2)`, first, second)
		require.NoError(t, err)
		payout, e := convert(offer, partner)
		requireAmount(t, "11.00", payout)
		_, _, got, _ := e.step(t, "custom_payout")
		require.Equal(t, first, got)
	})
}

func TestPostbackDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)
	p := params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1", "order_id", "o-1")

	const senders = 50
	ids := make([]int64, senders)
	dups := make([]bool, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			status, body := b.postback(p)
			if status == http.StatusOK {
				ids[i] = int64(body["conversion_id"].(float64))
				dups[i] = body["duplicate"].(bool)
			}
		})
	}
	wg.Wait()
	first := 0
	for i := range senders {
		require.NotZero(t, ids[i], "sender %d was not answered 200", i)
		require.Equal(t, ids[0], ids[i], "every answer names the first conversion")
		if !dups[i] {
			first++
		}
	}
	require.Equal(t, 1, first, "exactly one answer is the new conversion")

	b.waitPriced(ids[0])
	var conversions, lines int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM conversions`).Scan(&conversions))
	require.Equal(t, 1, conversions)
	// Duplicate signals, if any, have been handled (and would have priced
	// it again) once the customer's workflow has caught up.
	b.waitCaughtUp(adv.ID, "u1")
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_lines`).Scan(&lines))
	require.Equal(t, 2, lines, "one payout and one revenue line")
}

func TestPostbackBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)
	b.mustDo(http.StatusCreated, http.MethodPost, "/data-points", map[string]any{"name": "Deposit", "identifier": "deposit", "type": "number"}, nil)
	valid := func(kv ...string) []string {
		return append([]string{"token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1"}, kv...)
	}
	cases := []struct {
		name   string
		params []string
		status int
		field  string
	}{
		{"UnknownOffer", []string{"token", adv.Token, "offer_id", "999999", "partner_id", id(partner), "user_id", "u1"}, http.StatusBadRequest, "offer_id"},
		{"BadToken", []string{"token", "tw_pb_nope", "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1"}, http.StatusUnauthorized, ""},
		{"NonNumericAmount", valid("amount", "12,50"), http.StatusBadRequest, "amount"},
		{"BadTimestamp", valid("timestamp", "yesterday"), http.StatusBadRequest, "timestamp"},
		{"NonNumericNumberDataPoint", valid("deposit", "lots"), http.StatusBadRequest, "deposit"},
		{"UnknownEvent", valid("event", "deposit_made"), http.StatusBadRequest, "event"},
		{"UnknownPartner", []string{"token", adv.Token, "offer_id", id(offer), "partner_id", "999999", "user_id", "u1"}, http.StatusBadRequest, "partner_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := b.postback(params(tc.params...))
			require.Equal(t, tc.status, status, "%v", body)
			errBody := body["error"].(map[string]any)
			if tc.field != "" {
				problems := errBody["problems"].([]any)
				var fields []string
				for _, p := range problems {
					fields = append(fields, p.(map[string]any)["field"].(string))
				}
				require.Contains(t, fields, tc.field)
			} else {
				require.Contains(t, errBody["message"], "token")
			}
		})
	}
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM conversions`).Scan(&n))
	require.Zero(t, n, "nothing is stored for a bad postback")
}

func TestNothingLostWhenTemporalIsDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)

	b.temporal.Stop()
	var ids []int64
	for i := range 10 {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner),
			"user_id", fmt.Sprint("u", i%3), "order_id", fmt.Sprint("o", i)))
		require.Equal(t, http.StatusOK, status, "accepted while Temporal is down: %v", body)
		ids = append(ids, int64(body["conversion_id"].(float64)))
	}
	var priced int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM conversions WHERE priced_at IS NOT NULL`).Scan(&priced))
	require.Zero(t, priced)

	// The worker and the API kept running through the outage.
	b.temporal.Restart()
	for _, cid := range ids {
		c := b.waitPriced(cid)
		requireAmount(t, "5.00", c.Payout)
	}
	b.waitCaughtUp(adv.ID, "u0", "u1", "u2") // any second signal has been handled
	rows, err := b.pool.Query(context.Background(), `SELECT conversion_id, count(*) FROM ledger_lines GROUP BY conversion_id`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var cid int64
		var lines int
		require.NoError(t, rows.Scan(&cid, &lines))
		require.Equal(t, 2, lines, "conversion %d priced exactly once", cid)
		n++
	}
	require.Equal(t, len(ids), n)
}

func TestReversalAndPartialRefund(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", event{
		Payout:  rate{Type: "cpa_cps", Amount: "1.00", Percent: "10"},
		Revenue: rate{Type: "rps", Percent: "20"},
	})
	partner := b.partner(nil)

	c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1", "order_id", "A1", "amount", "100"))
	requireAmount(t, "11.00", c.Payout, "1.00 + 10% × 100")
	requireAmount(t, "20.00", c.Revenue)

	var refunded struct {
		Conversion struct {
			Payout  string `json:"payout"`
			Revenue string `json:"revenue"`
			Lines   []struct {
				Kind   string `json:"kind"`
				Amount string `json:"amount"`
				Reason string `json:"reason"`
			} `json:"lines"`
		} `json:"conversion"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": c.ID, "sale_amount": "40"}, &refunded)
	require.Equal(t, "7", refunded.Conversion.Payout, "1.00 + 10% × 60: the fixed part stays")
	require.Equal(t, "12", refunded.Conversion.Revenue)
	require.Len(t, refunded.Conversion.Lines, 4)
	require.Equal(t, "refund", refunded.Conversion.Lines[2].Reason)
	require.Equal(t, "-4", refunded.Conversion.Lines[2].Amount)

	// A refunded revenue lowers the revenue only.
	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": c.ID, "revenue": "2"}, &refunded)
	require.Equal(t, "7", refunded.Conversion.Payout)
	require.Equal(t, "10", refunded.Conversion.Revenue)

	// More than the sale amount is refused, and nothing is written.
	status := b.do(http.MethodPost, "/refunds", map[string]any{"conversion_id": c.ID, "sale_amount": "61"}, nil)
	require.Equal(t, http.StatusBadRequest, status)

	// Reversal by the order's transaction is refused when ambiguous and fine by id; here by id.
	var reversed struct {
		Payout  string `json:"payout"`
		Revenue string `json:"revenue"`
	}
	b.mustDo(http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": c.ID, "note": "chargeback"}, &reversed)
	require.Equal(t, "0", reversed.Payout)
	require.Equal(t, "0", reversed.Revenue)
	b.mustDo(http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": c.ID}, &reversed)
	var lines int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_lines WHERE conversion_id = $1`, c.ID).Scan(&lines))
	require.Equal(t, 7, lines, "2 price + 2 refund + 1 revenue refund + 2 reversal; a second reversal adds none")
	require.Equal(t, http.StatusConflict, b.do(http.MethodPost, "/refunds", map[string]any{"conversion_id": c.ID, "sale_amount": "1"}, nil))

	t.Run("ByTransactionAndEvent", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/click?offer_id=%d&partner_id=%d", b.url, offer, partner), nil)
		require.NoError(t, err)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		u, err := resp.Location()
		require.NoError(t, err)
		txn := u.Query().Get("click")
		require.NotEmpty(t, txn)

		c := b.convert(params("token", adv.Token, "transaction_id", txn, "user_id", "u2", "amount", "50"))
		require.Equal(t, partner, c.PartnerID)
		b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"transaction_id": txn, "event": "", "sale_amount": "50"}, &refunded)
		require.Equal(t, "1", refunded.Conversion.Payout)
		require.Equal(t, "0", refunded.Conversion.Revenue)
		b.mustDo(http.StatusOK, http.MethodPost, "/reversals", map[string]any{"transaction_id": txn, "event": ""}, &reversed)
		require.Equal(t, "0", reversed.Payout)
	})
}

func TestPaidLinesNeverChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", event{Payout: rate{Type: "cps", Percent: "10"}, Revenue: rate{Type: "rps", Percent: "20"}})
	partner := b.partner(nil)
	c := b.convert(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner), "user_id", "u1", "amount", "100"))

	var run struct {
		ID        int64  `json:"id"`
		Total     string `json:"total"`
		LineCount int    `json:"line_count"`
	}
	today := time.Now().UTC().Format(time.DateOnly)
	b.mustDo(http.StatusCreated, http.MethodPost, "/payout-runs", map[string]any{"partner_id": partner, "cutoff": today}, &run)
	require.Equal(t, "10", run.Total)
	require.Equal(t, 1, run.LineCount)

	var paidID int64
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT id FROM ledger_lines WHERE conversion_id = $1 AND payout_run_id IS NOT NULL`, c.ID).Scan(&paidID))
	_, err := b.pool.Exec(ctx, `UPDATE ledger_lines SET amount = 1 WHERE id = $1`, paidID)
	require.ErrorContains(t, err, "append-only")
	_, err = b.pool.Exec(ctx, `UPDATE ledger_lines SET payout_run_id = NULL WHERE id = $1`, paidID)
	require.ErrorContains(t, err, "append-only")
	_, err = b.pool.Exec(ctx, `DELETE FROM ledger_lines WHERE id = $1`, paidID)
	require.ErrorContains(t, err, "append-only")

	// A refund after the run writes a new, unpaid line; the paid one stays.
	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": c.ID, "sale_amount": "30"}, nil)
	var amount decimal.Decimal
	var runID *int64
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT amount, payout_run_id FROM ledger_lines WHERE id = $1`, paidID).Scan(&amount, &runID))
	requireAmount(t, "10", amount)
	require.Equal(t, run.ID, *runID)

	// The next run takes only the refund's line.
	var next struct {
		Total     string `json:"total"`
		LineCount int    `json:"line_count"`
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/payout-runs", map[string]any{"cutoff": today}, &next)
	require.Equal(t, "-3", next.Total)
	require.Equal(t, 1, next.LineCount)
	b.mustDo(http.StatusCreated, http.MethodPost, "/payout-runs", map[string]any{"cutoff": today}, &next)
	require.Equal(t, "0", next.Total, "nothing is paid twice")
}

// TestSignalQueueOverflowGoesToSweeper: a postback that finds its
// signaller's queue full is still accepted, and the worker's sweeper signals
// it: every conversion is priced exactly once. (Across an overflow a
// customer's conversions may be priced out of order: the queued ones go
// first.)
func TestSignalQueueOverflowGoesToSweeper(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"), deposits("1.00", "2.00"))
	partner := b.partner(nil)

	// One signaller with room for one conversion: most overflow.
	ing := ingest.New(b.store, b.temporal.Client(), b.logger, ingest.Options{})
	stop := ing.Start(1, 1)
	defer stop()
	byUser := map[string][]int64{}
	for i := range 30 {
		user := fmt.Sprint("u", i%3)
		res, err := ing.Accept(context.Background(), params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner),
			"user_id", user, "event", "deposit", "order_id", fmt.Sprint("o", i)), "")
		require.NoError(t, err)
		byUser[user] = append(byUser[user], res.ConversionID)
	}
	var unsignalled int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM conversions WHERE signalled_at IS NULL`).Scan(&unsignalled))
	require.Positive(t, unsignalled, "some conversions overflowed the queue")

	for _, ids := range byUser {
		for _, cid := range ids {
			requireAmount(t, "1.00", b.waitPriced(cid).Payout)
		}
	}
	b.waitCaughtUp(adv.ID, "u0", "u1", "u2") // any second signal has been handled
	var lines int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_lines`).Scan(&lines))
	require.Equal(t, 2*30, lines, "each conversion priced exactly once")
}
