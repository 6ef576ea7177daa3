package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEndOfCycleLateConversionIntoEndedCycle runs, end to end, two deposits
// that arrive after their week ended: the first settles the week without a
// bonus, the second reopens it and gets the bonus at once, and the next
// week's deposit is settled too (DESIGN §13.16, §13.19). Deposits pay a $5
// CPA and earn an $8 RPA; the weekly rule pays 10% of the week's revenue
// once the week's deposits sum to $50.
func TestEndOfCycleLateConversionIntoEndedCycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("0", "0"), deposits("5.00", "8.00"))
	partner := b.partner(nil)
	b.valueRule(map[string]any{
		"name": "Weekly deposits", "applies_on": "event", "event": "deposit", "starts_at": "2020-01-01T00:00:00Z",
		"timeframe":  map[string]any{"cycle": "weekly", "anchor": "rule_start"},
		"grouping":   "all",
		"conditions": []map[string]any{{"source": "sale_amount", "aggregation": "sum", "operator": "gte", "value": "50"}},
		"outcome": map[string]any{"frequency": "once_per_cycle", "trigger": "end_of_cycle", "kind": "bonus",
			"payout": map[string]any{"type": "percent", "percent": "10", "base": "revenue"}},
	})
	// Two weeks that have ended: the Monday three weeks ago and the next.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	monday := today.AddDate(0, 0, -((int(today.Weekday())+6)%7)-21).Add(12 * time.Hour)
	deposit := func(order, amount string, at time.Time) int64 {
		return b.waitPriced(b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner),
			"user_id": "late-1", "event": "deposit", "order_id": order, "amount": amount, "timestamp": at.Format(time.RFC3339)})).ID
	}
	payout := func(cid int64) string {
		c, err := b.store.Conversion(context.Background(), cid)
		require.NoError(t, err)
		return c.Payout.StringFixed(2)
	}

	first := deposit("d1", "30", monday)
	second := deposit("d2", "30", monday.AddDate(0, 0, 1))
	require.Eventually(t, func() bool { return payout(second) == "6.60" }, 30*time.Second, 50*time.Millisecond,
		"$5.00 and 10%% of the week's $16 revenue; got %s", payout(second))

	next := deposit("d3", "60", monday.AddDate(0, 0, 7))
	require.Eventually(t, func() bool { return payout(next) == "5.80" }, 30*time.Second, 50*time.Millisecond,
		"the week after is not blocked: $5.00 and 10%% of $8; got %s", payout(next))
	// The customer's workflow settles in order: by now the first deposit has
	// had every line it will get.
	require.Equal(t, "5.00", payout(first), "the week's bonus is on the deposit that completed the goal")
	require.Equal(t, map[string]string{"price": "5", "bonus": "1.6"}, b.payoutLines(second))
	require.NotContains(t, b.payoutLines(first), "bonus")
	t.Logf("weeks of %s and %s", monday.Format(time.DateOnly), monday.AddDate(0, 0, 7).Format(time.DateOnly))
}
