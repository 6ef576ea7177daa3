package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// valueRule creates a Customer Value rule, with data points created inline.
func (b *testBundle) valueRule(rule map[string]any, dataPoints ...map[string]any) int64 {
	b.t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	body := map[string]any{"rule": rule}
	if len(dataPoints) > 0 {
		body["data_points"] = dataPoints
	}
	b.mustDo(http.StatusCreated, http.MethodPost, "/customer-value-rules", body, &out)
	require.NotZero(b.t, out.ID)
	return out.ID
}

// revShareOverride creates a rule overriding the partner's payout on the
// offer with 10% of the sale amount, for 30 days from the customer's first
// conversion.
func (b *testBundle) revShareOverride(name string, partner, offer int64) int64 {
	b.t.Helper()
	return b.valueRule(map[string]any{
		"name": name, "applies_on": "all", "starts_at": "2020-01-01T00:00:00Z",
		"partner_ids": []int64{partner}, "offer_ids": []int64{offer},
		"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion", "duration_days": 30},
		"grouping":  "all",
		"outcome": map[string]any{"frequency": "every_conversion", "trigger": "instant", "kind": "override",
			"payout": map[string]any{"type": "revshare", "percent": "10"}},
	})
}

// payoutLines returns the sum of a conversion's payout lines per reason.
func (b *testBundle) payoutLines(id int64) map[string]string {
	b.t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT reason, sum(amount)::text FROM ledger_lines
		WHERE conversion_id = $1 AND kind = 'payout' GROUP BY reason`, id)
	require.NoError(b.t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var reason, amount string
		require.NoError(b.t, rows.Scan(&reason, &amount))
		out[reason] = amount
	}
	return out
}

// TestHighValueTraderEndToEnd runs seed 000's walkthrough through the whole
// chain: postbacks with data points, the customer's workflow, the bonus line,
// the reports.
func TestHighValueTraderEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public",
		cpaRPA("50.00", "80.00"),
		deposits("0", "0"),
		event{Event: "trade", Payout: rate{Type: "cpa", Amount: "0"}, Revenue: rate{Type: "rpa", Amount: "0"}, Repeatable: true},
	)
	signup, trader := b.partner(nil), b.partner(nil)
	rule := b.valueRule(map[string]any{
		"name": "High-Value Trader", "applies_on": "all", "starts_at": "2020-01-01T00:00:00Z",
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
	send := func(partner int64, kv ...string) int64 {
		p := map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": "trader-1"}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return b.waitPriced(b.send(p)).ID
	}
	c1 := send(signup, "geo", "EU1")
	c2 := send(signup, "event", "deposit", "order_id", "d1", "deposit", "100")
	c3 := send(trader, "event", "trade", "order_id", "t1", "trade", "150")
	c4 := send(trader, "event", "deposit", "order_id", "d2", "deposit", "100") // 200: not > 200
	c5 := send(trader, "event", "deposit", "order_id", "d3", "deposit", "5")   // 205: the last condition
	c6 := send(signup, "event", "trade", "order_id", "t2", "trade", "500")

	require.Eventually(t, func() bool { return b.payoutLines(c5)["bonus"] == "200" }, 20*time.Second, 50*time.Millisecond,
		"the bonus is on the conversion that completes the last condition")
	b.waitSettled(c1, c2, c3, c4, c6)
	for _, c := range []int64{c1, c2, c3, c4, c6} {
		require.NotContains(t, b.payoutLines(c), "bonus", "conversion %d", c)
	}
	conv, err := b.store.Conversion(context.Background(), c5)
	require.NoError(t, err)
	require.Equal(t, trader, conv.PartnerID, "the bonus goes to that conversion's partner")
	require.Equal(t, []string{"High-Value Trader"}, conv.ValueRuleNames)

	var report struct {
		Conversions []struct {
			ID                 int64          `json:"id"`
			Data               map[string]any `json:"data"`
			CustomerValueRules []string       `json:"customer_value_rules"`
		} `json:"conversions"`
		Progress []struct {
			RuleID int64 `json:"rule_id"`
		} `json:"progress"`
	}
	b.mustDo(http.StatusOK, http.MethodGet, fmt.Sprintf("/customers/%d/trader-1/events", adv.ID), nil, &report)
	require.Len(t, report.Conversions, 6)
	require.Equal(t, "EU1", report.Conversions[0].Data["geo"])
	require.Equal(t, []string{"High-Value Trader"}, report.Conversions[4].CustomerValueRules)
	require.NotEmpty(t, report.Progress)
	require.Equal(t, rule, report.Progress[0].RuleID)

	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/customers/%d/trader-1/events.csv", b.url, adv.ID), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 7)
	require.Equal(t, "High-Value Trader", rows[5][10])

	b.saveHistory(fmt.Sprintf("customer/%d/trader-1", adv.ID), "customer_high_value_trader.json")

	t.Run("AnotherCustomerWithoutATradeGetsNothing", func(t *testing.T) {
		p := func(kv ...string) map[string]string {
			m := map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(signup), "user_id": "saver"}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		ids := []int64{b.send(p("geo", "EU1")), b.send(p("event", "deposit", "order_id", "s1", "deposit", "500"))}
		b.waitSettled(ids...)
		for _, cid := range ids {
			require.NotContains(t, b.payoutLines(cid), "bonus")
		}
	})
}

// TestRevShareOverrideEndToEnd runs seed 000's 30-day RevShare override for
// one partner through the whole chain.
func TestRevShareOverrideEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"), deposits("1.00", "2.00"))
	partner, other := b.partner(nil), b.partner(nil)
	b.revShareOverride("Partner 30-Day RevShare", partner, offer)
	first := time.Now().UTC().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	send := func(p int64, user, order string, at time.Time) int64 {
		m := map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(p), "user_id": user,
			"amount": "200", "timestamp": at.Format(time.RFC3339)}
		if order != "" {
			m["event"], m["order_id"] = "deposit", order
		}
		return b.waitPriced(b.send(m)).ID
	}
	base := send(partner, "c1", "", first)
	inside := send(partner, "c1", "d1", first.Add(30*24*time.Hour-time.Second))
	outside := send(partner, "c1", "d2", first.Add(30*24*time.Hour))
	otherPartner := send(other, "c2", "", first)

	payout := func(cid int64) string {
		c, err := b.store.Conversion(context.Background(), cid)
		require.NoError(t, err)
		return c.Payout.String()
	}
	require.Eventually(t, func() bool { return payout(base) == "20" && payout(inside) == "20" }, 20*time.Second, 50*time.Millisecond,
		"10% of the $200 sale on the base conversion and on the event inside 30 days")
	b.waitSettled(outside, otherPartner)
	require.Equal(t, "1", payout(outside), "from day 30 to the second the offer default is back")
	require.Equal(t, "5", payout(otherPartner), "other partners keep the offer default")
	require.Equal(t, "15", b.payoutLines(base)["override"], "the override line replaces the $5 default")
}

// TestRefundRetargetsOverride: a partial refund of an overridden conversion
// brings its payout to the override's rate on the amounts net of the refund
// (10% of what is left of the sale), not to the override plus the refund's
// layer 1–3 delta.
func TestRefundRetargetsOverride(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", event{
		Payout:  rate{Type: "cpa_cps", Amount: "1.00", Percent: "5"},
		Revenue: rate{Type: "rpa", Amount: "8.00"},
	})
	partner := b.partner(nil)
	b.revShareOverride("RevShare", partner, offer)
	cid := b.send(map[string]string{"token": adv.Token, "offer_id": id(offer), "partner_id": id(partner), "user_id": "c1", "amount": "200"})
	payout := func() string {
		c, err := b.store.Conversion(context.Background(), cid)
		require.NoError(t, err)
		return c.Payout.String()
	}
	require.Eventually(t, func() bool { return payout() == "20" }, 20*time.Second, 50*time.Millisecond, "10% of the 200 sale replaces 1.00 + 5%")

	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": cid, "sale_amount": "50"}, nil)
	require.Equal(t, "15", payout(), "10% of the 150 left, not 20 − 2.50")
	lines := b.payoutLines(cid)
	require.Equal(t, "-2.5", lines["refund"], "the layer 1–3 refund line is still written")
	require.Equal(t, "6.5", lines["override"], "11.00 priced and 9.00 override; after the -2.50 refund line, -2.50 more to the new target")

	b.mustDo(http.StatusCreated, http.MethodPost, "/refunds", map[string]any{"conversion_id": cid, "sale_amount": "150"}, nil)
	require.Equal(t, "0", payout(), "nothing left of the sale")
	var revenue string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT revenue::text FROM conversions WHERE id = $1`, cid).Scan(&revenue))
	require.Equal(t, "8", revenue, "the override leaves the revenue alone")
}
