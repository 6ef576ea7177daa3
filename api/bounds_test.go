package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAmountBounds: every amount, rate and number has a maximum magnitude
// and scale (DESIGN §14.3), refused with a 400 naming the field in the
// postback and in the admin API, and by the database's constraints for
// anything that goes around the API. Nothing is stored by a refused input.
func TestAmountBounds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	n := b.conversionNetwork(t)
	b.dataPoint(t, "level", "number")

	t.Run("Postback", func(t *testing.T) {
		for _, tc := range []struct{ param, value string }{
			{"amount", "1e400"},
			{"amount", "1000000000.01"},
			{"amount", "1e-400"},
			{"amount", "0.0000001"},
			{"amount", "-5"},
			{"revenue", "1e400"},
			{"revenue", "99999999999"},
			{"level", "1e400"},
			{"level", "-1000000001"},
			{"level", "0.1234567"},
		} {
			t.Run(tc.param+"="+tc.value, func(t *testing.T) {
				before := b.count(t, "conversions")
				q := url.Values{"token": {n.token}, "offer_id": {fmt.Sprint(n.offer)}, "partner_id": {fmt.Sprint(n.partner)},
					"order_id": {"bounds-" + tc.param + tc.value}, "status": {"pending"}, tc.param: {tc.value}}
				rec := b.do(t, "", http.MethodGet, "/postback?"+q.Encode(), nil)
				require.Equal(t, []string{tc.param}, problemFields(t, rec))
				require.Equal(t, before, b.count(t, "conversions"))
			})
		}
		// At the bounds: accepted.
		q := url.Values{"token": {n.token}, "offer_id": {fmt.Sprint(n.offer)}, "partner_id": {fmt.Sprint(n.partner)},
			"order_id": {"bounds-max"}, "status": {"pending"}, "amount": {"1000000000"}, "revenue": {"0.000001"}, "level": {"-1000000000"}}
		rec := b.do(t, "", http.MethodGet, "/postback?"+q.Encode(), nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	})

	t.Run("OfferRates", func(t *testing.T) {
		for field, rates := range map[string][2]map[string]any{
			"events[0].payout.amount":   {{"type": "cpa", "amount": "1e400"}, {"type": "rpa", "amount": "10"}},
			"events[0].payout.percent":  {{"type": "cps", "percent": "500"}, {"type": "rpa", "amount": "10"}},
			"events[0].revenue.amount":  {{"type": "cpa", "amount": "1"}, {"type": "rpa", "amount": "1e-400"}},
			"events[0].revenue.percent": {{"type": "cpa", "amount": "1"}, {"type": "rps", "percent": "100.5"}},
		} {
			t.Run(field, func(t *testing.T) {
				body := offerBody(n.advertiser, "public")
				body["events"] = []map[string]any{{"event": "", "payout": rates[0], "revenue": rates[1]}}
				require.Equal(t, []string{field}, problemFields(t, b.do(t, adminKey, "POST", "/offers", body)))
			})
		}
	})

	t.Run("TierMargin", func(t *testing.T) {
		for _, margin := range []string{"1e400", "1e-400", "100.5", "-1", "30.1234567"} {
			rec := b.do(t, adminKey, "POST", "/tiers", map[string]any{"name": "Bounds " + margin, "margin": margin})
			require.Equal(t, []string{"margin"}, problemFields(t, rec), margin)
		}
	})

	t.Run("CustomPayout", func(t *testing.T) {
		rec := b.do(t, adminKey, "POST", "/custom-payouts", map[string]any{"offer_id": n.offer,
			"payout": map[string]any{"type": "cps", "percent": "500"}, "revenue": map[string]any{"type": "rpa", "amount": "2000000000"}})
		require.ElementsMatch(t, []string{"payout.percent", "revenue.amount"}, problemFields(t, rec))
	})

	t.Run("TieredBands", func(t *testing.T) {
		rule := func(bands ...map[string]any) map[string]any {
			return map[string]any{"name": "Bounds", "offer_ids": []int64{n.offer}, "applies_to": "base",
				"start_date": "2026-01-01", "period": "monthly", "retro_mode": "custom", "bands": bands}
		}
		rec := b.do(t, adminKey, "POST", "/tiered-commissions", rule(
			map[string]any{"name": "1", "bounds": []map[string]any{{"metric": "conversions", "max": "100"}},
				"payout": map[string]any{"action": "increase", "by": "percent", "value": "1000000"}},
			map[string]any{"name": "2", "bounds": []map[string]any{{"metric": "conversions", "min": "100", "max": "1e400"}},
				"payout":       map[string]any{"action": "set", "rate": "sale_percent", "value": "500"},
				"retro_payout": map[string]any{"action": "increase", "by": "flat", "value": "0.0000001"}},
		))
		require.ElementsMatch(t, []string{"bands[0].payout.value", "bands[1].bounds[0].max", "bands[1].payout.value", "bands[1].retro_payout.value"},
			problemFields(t, rec))
		// 1,000 % is the largest increase.
		rec = b.do(t, adminKey, "POST", "/tiered-commissions", rule(
			map[string]any{"name": "1", "bounds": []map[string]any{{"metric": "conversions", "max": "100"}},
				"payout":       map[string]any{"action": "increase", "by": "percent", "value": "1000"},
				"retro_payout": map[string]any{"action": "increase", "by": "percent", "value": "1000"}}))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	})

	t.Run("CustomerValueRule", func(t *testing.T) {
		rule := traderRule(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		rule["outcome"] = map[string]any{"frequency": "once_per_customer", "trigger": "instant", "kind": "bonus",
			"payout": map[string]any{"type": "fixed", "amount": "1e400"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule, "data_points": traderDataPoints()})
		require.Contains(t, problemFields(t, rec), "rule.outcome.payout.amount")
	})

	t.Run("Database", func(t *testing.T) {
		// What the API refuses, the schema refuses too: no path around it.
		for _, stmt := range []string{
			fmt.Sprintf(`UPDATE conversions SET sale_amount = 1e400 WHERE offer_id = %d`, n.offer),
			fmt.Sprintf(`UPDATE conversions SET sale_amount = 0.0000001 WHERE offer_id = %d`, n.offer),
			fmt.Sprintf(`UPDATE offer_events SET payout_percent = 500 WHERE offer_id = %d`, n.offer),
			fmt.Sprintf(`UPDATE offer_events SET revenue_amount = 1e10 WHERE offer_id = %d`, n.offer),
			fmt.Sprintf(`INSERT INTO custom_payouts (offer_id, payout_type, payout_percent) VALUES (%d, 'cps', 101)`, n.offer),
		} {
			_, err := b.pool.Exec(ctx, stmt)
			require.ErrorContains(t, err, "violates check constraint", stmt)
		}
	})
}
