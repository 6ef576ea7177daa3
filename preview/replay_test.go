package preview_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decPtr(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

var day = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// conv is a priced USD conversion of partner 7 on offer 1 (advertiser 1),
// priced at $10 payout and $15 revenue, n hours after day.
func conv(id int64, n int, user string, data ...string) store.PreviewConversion {
	c := store.PreviewConversion{ID: id, AdvertiserID: 1, OfferID: 1, PartnerID: 7, UserID: user, Currency: "USD",
		OccurredAt: day.Add(time.Duration(n) * time.Hour), PricedAt: day.Add(time.Duration(n) * time.Hour),
		PricedPayout: dec("10"), PricedRevenue: dec("15"), Payout: dec("10"), Revenue: dec("15")}
	if len(data) > 0 {
		c.Data = map[string]string{}
		for i := 0; i+1 < len(data); i += 2 {
			c.Data[data[i]] = data[i+1]
		}
	}
	return c
}

// volume is a monthly rule on offer 1: no change up to 2 conversions, 10%
// more from the third.
func volume(mode tiered.RetroMode) tiered.Rule {
	return tiered.Rule{ID: 1, Name: "Volume", Active: true, OfferIDs: []int64{1}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2025-01-01", Period: tiered.PeriodMonthly, Retro: mode, CreatedAt: day.AddDate(0, -1, 0),
		Bands: []tiered.Band{
			{Name: "Start", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Max: decPtr("2")}}},
			{Name: "Gold", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: decPtr("2")}},
				Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: dec("10")}},
		}}
}

func payouts(ps []preview.Priced) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Payout.StringFixed(2)
	}
	return out
}

func replay(t *testing.T, convs []store.PreviewConversion, rules preview.Rules) []preview.Priced {
	t.Helper()
	out, err := preview.Replay(context.Background(), convs, rules, time.UTC, day.AddDate(0, 2, 0), nil)
	require.NoError(t, err)
	return out
}

func TestReplayTiered(t *testing.T) {
	t.Parallel()
	convs := []store.PreviewConversion{conv(1, 0, ""), conv(2, 1, ""), conv(3, 2, ""), conv(4, 3, "")}

	t.Run("RetroDisabled", func(t *testing.T) {
		t.Parallel()
		out := replay(t, convs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroDisabled)}})
		require.Equal(t, []string{"10.00", "10.00", "11.00", "11.00"}, payouts(out), "the band applies from the conversion that reaches it")
		require.Equal(t, 1, out[2].Band)
		require.Contains(t, out[2].Why[0], `bands[1] "Gold": 10% increase of 10.00 payout = 11.00`)
	})
	t.Run("RetroEnabled", func(t *testing.T) {
		t.Parallel()
		out := replay(t, convs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroEnabled)}})
		require.Equal(t, []string{"11.00", "11.00", "11.00", "11.00"}, payouts(out), "earlier conversions are re-priced to the band")
		require.Equal(t, 1, out[0].Band)
		require.Contains(t, out[0].Why[0], "re-priced retroactively")
	})
	t.Run("RetroSkipsPaid", func(t *testing.T) {
		t.Parallel()
		paid := append([]store.PreviewConversion{}, convs...)
		paid[0].Paid = true
		out := replay(t, paid, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroEnabled)}})
		require.Equal(t, []string{"10.00", "11.00", "11.00", "11.00"}, payouts(out), "a paid conversion is never re-banded")
	})
	t.Run("CustomRetroAdjustment", func(t *testing.T) {
		t.Parallel()
		r := volume(tiered.RetroCustom)
		r.Bands[1].RetroPayout = &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByFlat, Value: dec("0.50")}
		out := replay(t, convs, preview.Rules{Tiered: []tiered.Rule{r}})
		require.Equal(t, []string{"10.50", "10.50", "11.00", "11.00"}, payouts(out))
	})
	t.Run("ReversedLeftOutAndRefundsNet", func(t *testing.T) {
		t.Parallel()
		cs := append([]store.PreviewConversion{}, convs...)
		cs[1].Reversed, cs[1].Payout, cs[1].Revenue = true, decimal.Zero, decimal.Zero
		cs[3].RefundPayout = dec("-4")
		out := replay(t, cs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroDisabled)}})
		require.Equal(t, []string{"10.00", "0.00", "10.00", "6.60"}, payouts(out),
			"the reversed conversion counts nowhere, so the third is the band's second; the refunded one is 10% more on its $6 left")
	})
	t.Run("PeriodsResetAndOffersApart", func(t *testing.T) {
		t.Parallel()
		cs := []store.PreviewConversion{conv(1, 0, ""), conv(2, 1, ""), conv(3, 2, ""), conv(4, 24*40, "")}
		cs[2].OfferID = 2
		r := volume(tiered.RetroDisabled)
		r.OfferIDs = []int64{1, 2}
		out := replay(t, cs, preview.Rules{Tiered: []tiered.Rule{r}})
		require.Equal(t, []string{"10.00", "10.00", "10.00", "10.00"}, payouts(out), "offers never pool their metrics; a new month starts over")
	})
}

// trader is the seed's High-Value Trader rule.
func trader() customervalue.Rule {
	return customervalue.Rule{ID: 5, Name: "High-Value Trader", Active: true, AppliesOn: customervalue.AppliesOnAll,
		StartsAt: day.AddDate(-1, 0, 0), CreatedAt: day.AddDate(-1, 0, 0), Grouping: customervalue.GroupAll,
		Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion},
		Conditions: []customervalue.Condition{
			{Source: "geo", Type: customervalue.TypeText, Aggregation: customervalue.AggAny, Operator: customervalue.OpEq, Value: "EU1"},
			{Source: "deposit", Type: customervalue.TypeNumber, Aggregation: customervalue.AggSum, Operator: customervalue.OpGt, Value: "200"},
			{Source: "trade", Type: customervalue.TypeNumber, Aggregation: customervalue.AggAny, Operator: customervalue.OpGte, Value: "100"},
		},
		Outcome: customervalue.RuleOutcome{Frequency: customervalue.OncePerCustomer, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindBonus, Payout: customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("200")}}}
}

func TestReplayCustomerValue(t *testing.T) {
	t.Parallel()

	t.Run("BonusOnceOnTheCompletingConversion", func(t *testing.T) {
		t.Parallel()
		cs := []store.PreviewConversion{
			conv(1, 0, "u1", "trade", "150"), conv(2, 1, "u1", "deposit", "150"), conv(3, 2, "u2", "geo", "EU1"),
			conv(4, 3, "u1", "geo", "EU1"), conv(5, 4, "u1", "deposit", "60"), conv(6, 5, "u1", "trade", "500"),
		}
		cs[4].PartnerID = 8
		out := replay(t, cs, preview.Rules{Value: []customervalue.Rule{trader()}})
		require.Equal(t, []string{"10.00", "10.00", "10.00", "10.00", "210.00", "10.00"}, payouts(out),
			"u1's fifth conversion completes the goal, once; u2 has only a geo")
		require.Contains(t, out[4].Why[0], `Customer Value bonus of rule 5 "High-Value Trader"`)
	})
	t.Run("OverrideReplacesTieredAndLayers13", func(t *testing.T) {
		t.Parallel()
		revshare := customervalue.Rule{ID: 6, Name: "RevShare", Active: true, AppliesOn: customervalue.AppliesOnAll,
			StartsAt: day.AddDate(-1, 0, 0), CreatedAt: day, Grouping: customervalue.GroupAll, PartnerIDs: []int64{7},
			Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion, DurationDays: 1},
			Outcome: customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant,
				Kind: customervalue.KindOverride, Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")}}}
		cs := []store.PreviewConversion{conv(1, 0, "u1"), conv(2, 1, "u1"), conv(3, 2, "u1"), conv(4, 30, "u1")}
		for i := range cs {
			cs[i].SaleAmount = dec("55.55")
		}
		out := replay(t, cs, preview.Rules{Value: []customervalue.Rule{revshare}, Tiered: []tiered.Rule{volume(tiered.RetroEnabled)}})
		require.Equal(t, []string{"5.55", "5.55", "5.55", "11.00"}, payouts(out),
			"10% of 55.55 within the first day, whatever the band (the line 5.555 − 10.00 rounds away from zero to −4.45); after it the band's 11.00")
	})
	t.Run("EndOfCycleSettledAtNow", func(t *testing.T) {
		t.Parallel()
		weekly := trader()
		weekly.Conditions = weekly.Conditions[1:2]
		weekly.Timeframe.Cycle = customervalue.CycleWeekly
		weekly.Outcome.Trigger, weekly.Outcome.Frequency = customervalue.TriggerEndOfCycle, customervalue.OncePerCycle
		cs := []store.PreviewConversion{conv(1, 0, "u1", "deposit", "150"), conv(2, 1, "u1", "deposit", "100")}
		early, err := preview.Replay(context.Background(), cs, preview.Rules{Value: []customervalue.Rule{weekly}}, time.UTC, day.Add(48*time.Hour), nil)
		require.NoError(t, err)
		require.Equal(t, []string{"10.00", "10.00"}, payouts(early), "the week has not ended at the preview's clock")
		late := replay(t, cs, preview.Rules{Value: []customervalue.Rule{weekly}})
		require.Equal(t, []string{"10.00", "210.00"}, payouts(late), "paid once the week ended, to the conversion from which the goal held")
	})
}

// TestReplayInTime: refunds and reversals are replayed when they were made,
// and a customer's cycles are settled when the customer's workflow would
// have woken up, so what happened between them counts as it did live.
func TestReplayInTime(t *testing.T) {
	t.Parallel()
	at := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }

	t.Run("ReversalAfterLaterConversionsKeepsTheirBand", func(t *testing.T) {
		t.Parallel()
		cs := []store.PreviewConversion{conv(1, 0, ""), conv(2, 1, ""), conv(3, 2, ""), conv(4, 3, "")}
		cs[1].Reversed, cs[1].Payout, cs[1].Revenue = true, decimal.Zero, decimal.Zero
		cs[1].ReversedAt = at(2).Add(time.Minute) // after the third was priced
		out := replay(t, cs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroDisabled)}})
		require.Equal(t, []string{"10.00", "0.00", "11.00", "11.00"}, payouts(out),
			"the third was priced at the band's third conversion, and the band stays after the reversal")

		cs[1].ReversedAt = at(1).Add(time.Minute) // before the third
		out = replay(t, cs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroDisabled)}})
		require.Equal(t, []string{"10.00", "0.00", "10.00", "11.00"}, payouts(out), "reversed before the third: it is the band's second")
	})
	t.Run("PaidAfterTheRiseIsRepriced", func(t *testing.T) {
		t.Parallel()
		cs := []store.PreviewConversion{conv(1, 0, ""), conv(2, 1, ""), conv(3, 2, "")}
		cs[0].Paid, cs[0].PaidAt = true, at(3)
		out := replay(t, cs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroEnabled)}})
		require.Equal(t, []string{"11.00", "11.00", "11.00"}, payouts(out), "paid after the band rose: it was re-priced before")
		cs[0].PaidAt = at(1)
		out = replay(t, cs, preview.Rules{Tiered: []tiered.Rule{volume(tiered.RetroEnabled)}})
		require.Equal(t, []string{"10.00", "11.00", "11.00"}, payouts(out), "paid before the band rose: never re-banded")
	})
	t.Run("RefundAfterTheBandKeepsIt", func(t *testing.T) {
		t.Parallel()
		bySale := volume(tiered.RetroEnabled)
		bySale.Bands[0].Bounds = []tiered.Bound{{Metric: tiered.MetricSaleAmount, Max: decPtr("250")}}
		bySale.Bands[1].Bounds = []tiered.Bound{{Metric: tiered.MetricSaleAmount, Min: decPtr("250")}}
		cs := []store.PreviewConversion{conv(1, 0, ""), conv(2, 1, ""), conv(3, 2, "")}
		for i := range cs {
			cs[i].SaleAmount = dec("100")
		}
		// 300 of sales reach the band; a refund of 100 brings them to 200.
		cs[2].RefundedSale, cs[2].RefundPayout = dec("100"), dec("-4")
		cs[2].Refunds = []store.PreviewRefund{{At: at(3), SaleAmount: dec("100"), Payout: dec("-4")}}
		out := replay(t, cs, preview.Rules{Tiered: []tiered.Rule{bySale}})
		require.Equal(t, []string{"11.00", "11.00", "6.60"}, payouts(out),
			"refunded after the band was reached: the band stays, and the refunded one is 10% more on its 6.00 left")

		cs[2].Refunds[0].At = cs[2].PricedAt // refunded before anything else was priced: the same
		out = replay(t, cs, preview.Rules{Tiered: []tiered.Rule{bySale}})
		require.Equal(t, []string{"11.00", "11.00", "6.60"}, payouts(out), "the band was reached at its pricing")
	})
	t.Run("RefundAfterTheGoalLeavesTheBonus", func(t *testing.T) {
		t.Parallel()
		spender := trader()
		spender.Conditions = []customervalue.Condition{{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggSum,
			Operator: customervalue.OpGt, Value: "150"}}
		spender.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("10"), Base: customervalue.BaseSaleAmount}
		cs := []store.PreviewConversion{conv(1, 0, "u1"), conv(2, 1, "u1"), conv(3, 2, "u1")}
		for i := range cs {
			cs[i].SaleAmount = dec("100")
		}
		cs[0].RefundedSale = dec("60")
		cs[0].Refunds = []store.PreviewRefund{{At: at(0).Add(time.Minute), SaleAmount: dec("60")}}
		out := replay(t, cs, preview.Rules{Value: []customervalue.Rule{spender}})
		require.Equal(t, []string{"10.00", "10.00", "34.00"}, payouts(out),
			"refunded before the second: 140 is not more than 150, the third completes the goal, 10% of 240")

		cs[0].Refunds[0].At = at(3) // after the third
		out = replay(t, cs, preview.Rules{Value: []customervalue.Rule{spender}})
		require.Equal(t, []string{"10.00", "30.00", "10.00"}, payouts(out),
			"refunded after the goal: the bonus of 10% of 200 was paid on the second, and a later refund leaves it")
	})
	t.Run("ReversalRearmsForLaterConversionsOnly", func(t *testing.T) {
		t.Parallel()
		spender := trader()
		spender.Conditions = []customervalue.Condition{{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggSum,
			Operator: customervalue.OpGt, Value: "150"}}
		cs := []store.PreviewConversion{conv(1, 0, "u1"), conv(2, 1, "u1"), conv(3, 2, "u1")}
		for i := range cs {
			cs[i].SaleAmount = dec("100")
		}
		cs[1].Reversed, cs[1].Payout, cs[1].Revenue, cs[1].ReversedAt = true, decimal.Zero, decimal.Zero, at(3)
		out := replay(t, cs, preview.Rules{Value: []customervalue.Rule{spender}})
		require.Equal(t, []string{"10.00", "0.00", "10.00"}, payouts(out),
			"the bonus went to the second, which is reversed after the third: no later conversion gets it again")

		cs = append(cs, conv(4, 4, "u1"))
		out = replay(t, cs, preview.Rules{Value: []customervalue.Rule{spender}})
		require.Equal(t, "210.00", payouts(out)[3], "the next conversion after which the goal holds gets it")
	})
	t.Run("LateConversionIntoACycleLongOver", func(t *testing.T) {
		t.Parallel()
		thirty := trader()
		thirty.Conditions = []customervalue.Condition{{Source: "deposit", Type: customervalue.TypeNumber, Aggregation: customervalue.AggSum,
			Operator: customervalue.OpGt, Value: "100"}}
		thirty.Timeframe.DurationDays = 30
		cs := []store.PreviewConversion{conv(1, 0, "u1", "deposit", "60"), conv(2, 24, "u1", "deposit", "60")}
		late := func(cs []store.PreviewConversion) []string {
			out, err := preview.Replay(context.Background(), cs, preview.Rules{Value: []customervalue.Rule{thirty}}, time.UTC, cs[1].PricedAt.Add(time.Hour), nil)
			require.NoError(t, err)
			return payouts(out)
		}
		require.Equal(t, []string{"10.00", "210.00"}, late(cs), "priced as they happened: inside the window")

		// The second is priced (approved, say) 200 days after it happened:
		// the workflow settled the window when it ended and has not woken
		// since, so the window is still there and the second counts in it.
		cs[1].PricedAt = cs[1].OccurredAt.Add(200 * 24 * time.Hour)
		require.Equal(t, []string{"10.00", "210.00"}, late(cs), "a window settled at its end still takes a late conversion")

		// Both are priced 200 days late: the workflow settles the window,
		// ended long ago, right after the first and drops it, being more
		// than 90 days over, so the second no longer counts.
		cs[0].PricedAt = cs[0].OccurredAt.Add(200 * 24 * time.Hour)
		cs[1].PricedAt = cs[0].PricedAt.Add(time.Hour)
		require.Equal(t, []string{"10.00", "10.00"}, late(cs), "a window dropped before the conversion arrived pays nothing")
	})
}

func TestReplayIsCancellable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := preview.Replay(ctx, []store.PreviewConversion{conv(1, 0, "")}, preview.Rules{}, time.UTC, day, nil)
	require.ErrorIs(t, err, context.Canceled)
}
