package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLifecycleSignalsSurviveTemporalOutage: a reversal and a refund made
// while Temporal is down are written with their ledger lines as outbox rows
// and reach the customers' workflows once it is back (DESIGN §10, §13.14,
// §13.16): the High-Value Trader bonus the reversed conversion had fired is
// re-armed, so the next completing conversion fires it again, and an
// end-of-cycle percent bonus is paid on the revenue net of the refund.
func TestLifecycleSignalsSurviveTemporalOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	traderOffer := b.offer(adv.ID, "public", cpaRPA("1.00", "2.00"),
		deposits("0", "0"),
		event{Event: "trade", Payout: rate{Type: "cpa", Amount: "0"}, Revenue: rate{Type: "rpa", Amount: "0"}, Repeatable: true})
	shopOffer := b.offer(adv.ID, "public", cpaRPA("1.00", "2.00"),
		event{Event: "deposit", Payout: rate{Type: "cpa", Amount: "5"}, Revenue: rate{Type: "rps", Percent: "20"}, Repeatable: true})
	partner := b.partner(nil)

	b.valueRule(map[string]any{
		"name": "High-Value Trader", "applies_on": "all", "starts_at": "2020-01-01T00:00:00Z", "offer_ids": []int64{traderOffer},
		"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion"},
		"grouping":  "all",
		"conditions": []map[string]any{
			{"source": "geo", "aggregation": "any", "operator": "eq", "value": "EU1"},
			{"source": "deposit", "aggregation": "sum", "operator": "gt", "value": "200"},
			{"source": "trade", "aggregation": "any", "operator": "gte", "value": "100"},
		},
		"outcome": map[string]any{"frequency": "once_per_customer", "trigger": "instant", "kind": "bonus",
			"payout": map[string]any{"type": "fixed", "amount": "200"}},
	},
		map[string]any{"name": "Geo", "identifier": "geo", "type": "text"},
		map[string]any{"name": "Deposit", "identifier": "deposit", "type": "number"},
		map[string]any{"name": "Trade", "identifier": "trade", "type": "number"},
	)
	// A one-day window from the customer's first conversion, which is
	// backdated so that its window (the cycle) ends while the test runs.
	b.valueRule(map[string]any{
		"name": "First day's revenue", "applies_on": "event", "event": "deposit", "starts_at": "2020-01-01T00:00:00Z",
		"offer_ids": []int64{shopOffer},
		"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion", "duration_days": 1},
		"grouping":  "all",
		"conditions": []map[string]any{
			{"source": "sale_amount", "aggregation": "sum", "operator": "gte", "value": "50"},
		},
		"outcome": map[string]any{"frequency": "once_per_customer", "trigger": "end_of_cycle", "kind": "bonus",
			"payout": map[string]any{"type": "percent", "percent": "10", "base": "revenue"}},
	})

	trader := func(kv ...string) int64 {
		p := map[string]string{"token": adv.Token, "offer_id": id(traderOffer), "partner_id": id(partner), "user_id": "trader"}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return b.waitPriced(b.send(p)).ID
	}
	trader("geo", "EU1")
	trader("event", "deposit", "order_id", "d1", "deposit", "250")
	completing := trader("event", "trade", "order_id", "t1", "trade", "120")
	require.Eventually(t, func() bool { return b.payoutLines(completing)["bonus"] == "200" }, 20*time.Second, 50*time.Millisecond)

	windowEnd := time.Now().Add(35 * time.Second)
	deposit := b.waitPriced(b.send(map[string]string{"token": adv.Token, "offer_id": id(shopOffer), "partner_id": id(partner),
		"user_id": "shopper", "event": "deposit", "order_id": "s1", "amount": "60",
		"timestamp": windowEnd.Add(-24 * time.Hour).UTC().Format(time.RFC3339Nano)}))
	requireAmount(t, "12.00", deposit.Revenue, "20% of 60")
	b.waitNothingPending(completing)
	b.waitNothingPending(deposit.ID)

	// While Temporal is down: reverse the completing conversion, refund $10
	// of the deposit's sale. The ledger changes at once.
	b.temporal.Stop()
	var reversed struct {
		Payout string `json:"payout"`
	}
	b.mustDo(http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": completing, "note": "chargeback"}, &reversed)
	require.Equal(t, "0", reversed.Payout, "the bonus is reversed with the conversion's other lines")
	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": deposit.ID, "sale_amount": "10"}, nil)
	var unsent int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM lifecycle_signals WHERE sent_at IS NULL`).Scan(&unsent))
	require.Equal(t, 2, unsent, "both are in the outbox, not lost")
	b.temporal.Restart()

	// The next conversion that completes the goal fires the bonus again: the
	// reversal re-armed it.
	again := trader("event", "trade", "order_id", "t2", "trade", "130")
	require.Eventually(t, func() bool { return b.payoutLines(again)["bonus"] == "200" }, 30*time.Second, 50*time.Millisecond,
		"the re-armed bonus fires on the next completing conversion")

	// The end-of-cycle bonus, when the window ends, is 10% of the revenue
	// net of the refund: 10% of 10.00, not of 12.00.
	require.Eventually(t, func() bool { return b.payoutLines(deposit.ID)["bonus"] != "" }, time.Until(windowEnd)+30*time.Second, 100*time.Millisecond,
		"the end-of-cycle bonus is paid when the window ends")
	require.Equal(t, "1", b.payoutLines(deposit.ID)["bonus"], "10% of 10.00, not of 12.00")
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM lifecycle_signals WHERE sent_at IS NULL`).Scan(&n))
		return n == 0
	}, 20*time.Second, 100*time.Millisecond, "both outbox rows are delivered")
}

// waitNothingPending waits until no work is pending on a conversion: it is
// priced and its customer's rules have seen it.
func (b *testBundle) waitNothingPending(id int64) {
	b.t.Helper()
	require.Eventually(b.t, func() bool {
		var v struct {
			Priced  bool     `json:"priced"`
			Pending []string `json:"pending"`
		}
		b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d", id), nil, &v)
		return v.Priced && len(v.Pending) == 0
	}, 20*time.Second, 20*time.Millisecond, "conversion %d still has work pending", id)
}
