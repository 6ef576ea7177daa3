package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// TestManualEditKeepsOverridesAndFlatBands: an edit sets the layer 1–3
// amount, a flat tiered adjustment stays what it is, a Customer Value
// override still decides the payout, and a later refund starts from the
// edited amount (DESIGN §13.6, §14.11).
func TestManualEditKeepsOverridesAndFlatBands(t *testing.T) {
	t.Parallel()
	edit := func(t *testing.T, b *testBundle, id int64, payout string) store.Conversion {
		t.Helper()
		c, err := b.store.EditConversion(b.ctx, id, store.EditInput{Payout: decPtr(payout), Reason: "agreed with the partner", By: "Finance desk"})
		require.NoError(t, err)
		return c
	}

	t.Run("FlatBandDoesNotFollow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rpa("20")})
		b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", adjust(tiered.ActionIncrease, tiered.ByFlat, "3"), nil))
		c := b.convert(t, n, sale{amount: "100"})
		requireAmount(t, "13", c.Payout)
		c = edit(t, b, c.ID, "15")
		requireAmount(t, "18", c.Payout, "15.00 + the flat 3.00")
		// Half the sale refunded: the refund takes 5.00 off the edited 15.00.
		c = b.refund(t, c.ID, "50", "")
		requireAmount(t, "13", c.Payout, "10.00 + 3.00")
		require.Equal(t, map[string]string{"price": "10.00", "tiered": "3.00", "manual": "5.00", "refund": "-5.00"}, b.lines(t, c.ID, store.KindPayout))
	})

	t.Run("OverrideStillDecides", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("30"), Revenue: rpa("40")})
		c := b.valueOutcome(t, n, "200", customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindOverride, Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")}})
		requireAmount(t, "20", c.Payout)
		c = edit(t, b, c.ID, "35")
		requireAmount(t, "20", c.Payout, "10% of the sale while the override applies")
		require.Equal(t, map[string]string{"price": "30.00", "manual": "5.00", "override": "-15.00"}, b.lines(t, c.ID, store.KindPayout))
	})

	t.Run("NothingToChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		c := b.convert(t, n, sale{})
		edit(t, b, c.ID, "10")
		edits, err := b.store.Edits(b.ctx, c.ID)
		require.NoError(t, err)
		require.Empty(t, edits, "an edit to the amount it has writes nothing")
	})
}
