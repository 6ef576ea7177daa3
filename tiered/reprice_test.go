package tiered_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

// applyDeltas returns the conversions with the deltas' lines added to their
// tiered amounts, as the ledger would after writing them.
func applyDeltas(conversions []tiered.Priced, deltas []tiered.Delta) []tiered.Priced {
	out := append([]tiered.Priced(nil), conversions...)
	for _, d := range deltas {
		for i := range out {
			if out[i].ConversionID == d.ConversionID {
				out[i].TieredPayout = out[i].TieredPayout.Add(d.Payout)
				out[i].TieredRevenue = out[i].TieredRevenue.Add(d.Revenue)
			}
		}
	}
	return out
}

func TestReprice(t *testing.T) {
	t.Parallel()
	usd := func(sale, payout, revenue string) tiered.Amounts {
		return tiered.Amounts{SaleAmount: dec(sale), Payout: dec(payout), Revenue: dec(revenue), Currency: "USD"}
	}
	// Silver (0, 10] pays 10% more; Gold (10, ∞) pays 20% more and $1 more
	// revenue; in custom mode Gold's retroactive payout is 15% more.
	rule := func(t *testing.T, mode tiered.RetroMode) tiered.Rule {
		r := setup(t).rule
		r.Retro = mode
		r.Bands = []tiered.Band{
			band("Silver", increase(tiered.ByPercent, "10"), nil, bound(tiered.MetricConversions, "0", "10")),
			band("Gold", increase(tiered.ByPercent, "20"), increase(tiered.ByFlat, "1"), bound(tiered.MetricConversions, "10", "")),
		}
		if mode == tiered.RetroCustom {
			r.Bands[1].RetroPayout = increase(tiered.ByPercent, "15")
		}
		return r
	}
	conversions := []tiered.Priced{
		{ConversionID: 1, Amounts: usd("50", "10.00", "8.00"), TieredPayout: dec("1.00"), Band: new(0)},
		{ConversionID: 2, Amounts: usd("50", "10.00", "8.00"), TieredPayout: dec("1.00"), Band: new(0), Paid: true},
		// Manually edited from 3.00 (tiered 0.30) to 5.00: re-priced on 5.00.
		{ConversionID: 3, Amounts: usd("50", "5.00", "8.00"), TieredPayout: dec("0.30"), Band: new(0)},
		// Priced at Gold already: in custom mode it keeps Gold's own 20%.
		{ConversionID: 4, Amounts: usd("50", "10.00", "8.00"), TieredPayout: dec("2.00"), TieredRevenue: dec("1.00"), Band: new(1)},
		// Partially refunded to nothing.
		{ConversionID: 5, Amounts: usd("0", "0", "0"), TieredPayout: dec("0.50"), Band: new(0)},
		// Priced before any band held.
		{ConversionID: 6, Amounts: usd("50", "10.00", "8.00"), Band: new(-1)},
	}

	type want struct {
		id              int64
		payout, revenue string
	}
	tests := []struct {
		name string
		mode tiered.RetroMode
		band int
		want []want
	}{
		{
			name: "EnabledGoesToTheNewBand",
			mode: tiered.RetroEnabled,
			band: 1,
			want: []want{{1, "1.00", "1.00"}, {3, "0.70", "1.00"}, {5, "-0.50", "1.00"}, {6, "2.00", "1.00"}},
		},
		{
			name: "CustomUsesRetroAdjustmentsAndKeepsTheRest",
			mode: tiered.RetroCustom,
			band: 1,
			want: []want{{1, "0.50", "0"}, {3, "0.45", "0"}, {5, "-0.50", "0"}, {6, "1.50", "0"}},
		},
		{name: "DisabledWritesNothing", mode: tiered.RetroDisabled, band: 1},
		{name: "NoBandWritesNothing", mode: tiered.RetroEnabled, band: -1},
		{
			// Reaching the first band re-prices only what was priced before
			// any band held; the others are at it or above.
			name: "FirstBandReachedLate",
			mode: tiered.RetroEnabled,
			band: 0,
			want: []want{{6, "1.00", "0"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rule(t, tt.mode)
			deltas := tiered.Reprice(r, tt.band, conversions)
			require.Len(t, deltas, len(tt.want))
			for i, w := range tt.want {
				d := deltas[i]
				require.Equal(t, w.id, d.ConversionID)
				requireAmount(t, w.payout, d.Payout)
				requireAmount(t, w.revenue, d.Revenue)
				require.NotEqual(t, int64(2), d.ConversionID, "paid conversions never change")
				e := d.Explanation
				require.True(t, e.Retroactive)
				require.Equal(t, tt.band, e.Band)
				require.NotNil(t, e.Payout.Delta)
				require.True(t, e.Payout.Delta.Equal(d.Payout))
				require.NotNil(t, e.Payout.Previous)
			}

			// Idempotent: once the deltas are written there is nothing left.
			require.Empty(t, tiered.Reprice(r, tt.band, applyDeltas(conversions, deltas)))
			// Every unpaid conversion's total is never negative.
			for _, c := range applyDeltas(conversions, deltas) {
				require.False(t, c.Amounts.Payout.Add(c.TieredPayout).IsNegative())
			}
		})
	}

	t.Run("UnknownBandTrustsTheCaller", func(t *testing.T) {
		t.Parallel()
		// Without Band the caller has filtered: a conversion priced before
		// any band held is re-priced when the first band is reached.
		unknown := []tiered.Priced{{ConversionID: 7, Amounts: usd("50", "10.00", "8.00")}}
		deltas := tiered.Reprice(rule(t, tiered.RetroEnabled), 0, unknown)
		require.Len(t, deltas, 1)
		requireAmount(t, "1.00", deltas[0].Payout)
		require.Empty(t, tiered.Reprice(rule(t, tiered.RetroEnabled), 0, applyDeltas(unknown, deltas)))
	})

	t.Run("OverriddenAmountsAreKept", func(t *testing.T) {
		t.Parallel()
		cs := []tiered.Priced{
			{ConversionID: 8, Amounts: usd("50", "10.00", "8.00"), TieredPayout: dec("1.00"), Band: new(0), PayoutOverridden: true},
			{ConversionID: 9, Amounts: usd("50", "10.00", "8.00"), TieredPayout: dec("1.00"), Band: new(0), PayoutOverridden: true, RevenueOverridden: true},
		}
		deltas := tiered.Reprice(rule(t, tiered.RetroEnabled), 1, cs)
		// The payout stays the override's; the revenue still goes to Gold.
		// With both overridden there is nothing to write.
		require.Len(t, deltas, 1)
		require.Equal(t, int64(8), deltas[0].ConversionID)
		requireAmount(t, "0", deltas[0].Payout)
		requireAmount(t, "1.00", deltas[0].Revenue)
		e := deltas[0].Explanation
		require.True(t, e.Payout.Keep)
		require.Contains(t, e.Payout.Reason, "override")
		require.False(t, e.Revenue.Keep)
	})

	t.Run("ExplainsWhatItHadAndWhatItWrites", func(t *testing.T) {
		t.Parallel()
		deltas := tiered.Reprice(rule(t, tiered.RetroCustom), 1, conversions[:1])
		require.Len(t, deltas, 1)
		e := deltas[0].Explanation
		require.Equal(t, tiered.RetroCustom, e.RetroMode)
		require.Equal(t, "15% increase of 10.00 payout = 11.50", e.Payout.Formula)
		requireAmount(t, "1.50", e.Payout.Amount)
		requireAmount(t, "1.00", *e.Payout.Previous)
		requireAmount(t, "0.50", *e.Payout.Delta)
		require.True(t, e.Revenue.Keep)
		requireAmount(t, "0", *e.Revenue.Delta)
	})
}
