package tiered_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

// TestApplyRoundsTheLine: every tiered line is rounded, ties away from zero;
// a negative half-cent line rounds down, not the target up (DESIGN §3,
// §13.21).
func TestApplyRoundsTheLine(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		adj        *tiered.Adjustment
		payout     string
		sale       string
		wantLine   string
		wantTarget string
	}{
		{"DecreaseTenPercentOfATie", decrease(tiered.ByPercent, "10"), "24.15", "241.50", "-2.42", "21.73"},
		{"DecreaseOneAndAQuarterPercentOfTen", decrease(tiered.ByPercent, "1.25"), "10.00", "0", "-0.13", "9.87"},
		{"PositiveTieUnchanged", increase(tiered.ByPercent, "10"), "10.05", "0", "1.01", "11.06"},
		// A set rate below the layer 1–3 amount is a negative line too.
		{"SetBelowTheAmount", set(tiered.RateSalePercent, "10"), "30.00", "241.45", "-5.86", "24.14"},
		{"SetAboveTheAmount", set(tiered.RateSalePercent, "10"), "20.00", "241.45", "4.15", "24.15"},
		{"FloorsAtZero", decrease(tiered.ByFlat, "15"), "10.00", "0", "-10.00", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.rule.Bands[0].Payout = tt.adj
			res := tiered.Apply(b.rule, 0, tiered.Amounts{SaleAmount: dec(tt.sale), Payout: dec(tt.payout), Revenue: dec("8"), Currency: "USD"})
			requireAmount(t, tt.wantLine, res.Payout)
			requireAmount(t, tt.wantTarget, res.Explanation.Payout.Target)
			requireAmount(t, tt.wantTarget, dec(tt.payout).Add(res.Payout))
		})
	}
}

// TestRecomputeUnderTheCarriedAdjustment: a refund or an edit recomputes each
// tiered line under the adjustment the conversion carries, the band's own or
// the custom retroactive one, never under one it does not carry.
func TestRecomputeUnderTheCarriedAdjustment(t *testing.T) {
	t.Parallel()
	usd := func(sale, payout, revenue string) tiered.Amounts {
		return tiered.Amounts{SaleAmount: dec(sale), Payout: dec(payout), Revenue: dec(revenue), Currency: "USD"}
	}
	one := func(t *testing.T, b1, b2 tiered.Band) tiered.Rule {
		r := setup(t).rule
		r.Retro = tiered.RetroCustom
		b1.Bounds = []tiered.Bound{bound(tiered.MetricConversions, "0", "1")}
		b2.Bounds = []tiered.Bound{bound(tiered.MetricConversions, "1", "")}
		r.Bands = []tiered.Band{b1, b2}
		return r
	}

	t.Run("PercentBandsWithAFlatRetro", func(t *testing.T) {
		t.Parallel()
		b2 := tiered.Band{Name: "Two", Payout: increase(tiered.ByPercent, "20")}
		b2.RetroPayout = increase(tiered.ByFlat, "3")
		r := one(t, tiered.Band{Name: "One", Payout: increase(tiered.ByPercent, "10")}, b2)
		first := tiered.Apply(r, 0, usd("100", "10.00", "30.00"))
		requireAmount(t, "1", first.Payout)
		deltas := tiered.Reprice(r, 1, []tiered.Priced{{
			ConversionID: 1, Amounts: usd("100", "10.00", "30.00"), TieredPayout: first.Payout, Band: new(0),
			PayoutAdjustment: first.Explanation.Payout.Adjustment,
		}})
		require.Len(t, deltas, 1)
		requireAmount(t, "2", deltas[0].Payout) // 10 + 3 = 13.00

		// Half the sale refunded: 5.00 + the flat 3.00, not 20% of 5.00.
		again := tiered.Recompute(deltas[0].Explanation, usd("50", "5.00", "15.00"))
		requireAmount(t, "3", again.Payout)
		requireAmount(t, "0", again.Revenue)
	})

	t.Run("SetBandsKeepTheBandOneRevenue", func(t *testing.T) {
		t.Parallel()
		b1 := tiered.Band{Name: "One", Payout: set(tiered.RateSalePercent, "12.5"), Revenue: increase(tiered.ByPercent, "10")}
		b2 := tiered.Band{Name: "Two", Payout: set(tiered.RateFixed, "0.99")}
		b2.RetroPayout = increase(tiered.ByFlat, "1")
		r := one(t, b1, b2)
		first := tiered.Apply(r, 0, usd("100", "10.00", "30.00"))
		requireAmount(t, "2.5", first.Payout)
		requireAmount(t, "3", first.Revenue)
		deltas := tiered.Reprice(r, 1, []tiered.Priced{{
			ConversionID: 1, Amounts: usd("100", "10.00", "30.00"), TieredPayout: first.Payout, TieredRevenue: first.Revenue, Band: new(0),
			PayoutAdjustment: first.Explanation.Payout.Adjustment, RevenueAdjustment: first.Explanation.Revenue.Adjustment,
		}})
		require.Len(t, deltas, 1)
		requireAmount(t, "-1.5", deltas[0].Payout) // 10 + 1 = 11.00
		requireAmount(t, "0", deltas[0].Revenue)   // band two has no retro revenue: 33.00 stays
		require.True(t, deltas[0].Explanation.Revenue.Keep)
		require.Equal(t, b1.Revenue.Action, deltas[0].Explanation.Revenue.Adjustment.Action, "the kept revenue keeps band one's adjustment")

		// $50 of the sale refunded: payout 5.00 + 1 = 6.00, revenue 15.00 + 10% = 16.50.
		again := tiered.Recompute(deltas[0].Explanation, usd("50", "5.00", "15.00"))
		requireAmount(t, "1", again.Payout)
		requireAmount(t, "1.5", again.Revenue)
	})

	t.Run("KeptWithoutARecordedAdjustmentStays", func(t *testing.T) {
		t.Parallel()
		e := tiered.Explanation{Band: 1, Payout: tiered.Line{Keep: true, Reason: "kept"}, Revenue: tiered.Line{Reason: "none"}}
		res := tiered.Recompute(e, usd("50", "5.00", "15.00"))
		require.True(t, res.Explanation.Payout.Keep)
		requireAmount(t, "0", res.Payout)
		requireAmount(t, "0", res.Revenue)
	})
}
