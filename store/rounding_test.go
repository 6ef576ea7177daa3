package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

// TestNegativeTiesRoundAwayFromZero: every ledger line is rounded to the
// cent, ties away from zero (DESIGN §3, §13.21): what is rounded is the
// line, so a negative half-cent line goes down, whatever kind of line it is.
func TestNegativeTiesRoundAwayFromZero(t *testing.T) {
	t.Parallel()
	decrease := func(percent string) *tiered.Adjustment {
		return adjust(tiered.ActionDecrease, tiered.ByPercent, percent)
	}
	increase := func(percent string) *tiered.Adjustment {
		return adjust(tiered.ActionIncrease, tiered.ByPercent, percent)
	}

	t.Run("Tiered", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rpa("20")})
		b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", decrease("10"), nil))
		c := b.convert(t, n, sale{amount: "241.50"})
		// 10% of 241.50 = 24.15; a 10% decrease is −2.415 → −2.42.
		require.Equal(t, map[string]string{"price": "24.15", "tiered": "-2.42"}, b.lines(t, c.ID, store.KindPayout))
		requireAmount(t, "21.73", c.Payout)
	})

	t.Run("TieredOnAFixedPayout", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
		b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", decrease("1.25"), nil))
		c := b.convert(t, n, sale{})
		require.Equal(t, "-0.13", b.lines(t, c.ID, store.KindPayout)["tiered"], "1.25% of 10.00 = 0.125")
		requireAmount(t, "9.87", c.Payout)
	})

	t.Run("Refund", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rpa("20")})
		b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", decrease("10"), nil))
		c := b.convert(t, n, sale{amount: "252"})
		requireAmount(t, "22.68", c.Payout, "25.20 − 2.52")
		ls, err := b.store.Lines(b.ctx, c.ID)
		require.NoError(t, err)
		before := len(ls)
		// The payout base falls from 25.20 to 24.15: the tiered line goes from
		// −2.52 to −2.42, a delta of +0.10.
		c = b.refund(t, c.ID, "10.50", "")
		ls, err = b.store.Lines(b.ctx, c.ID)
		require.NoError(t, err)
		var deltas []string
		for _, l := range ls[before:] {
			if l.Kind == store.KindPayout {
				deltas = append(deltas, l.Reason+" "+l.Amount.StringFixed(2))
			}
		}
		require.Equal(t, []string{"refund -1.05", "tiered 0.10"}, deltas)
		requireAmount(t, "21.73", c.Payout)
	})

	t.Run("Retro", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rpa("20")})
		r := b.tieredRule(t, n, tiered.RetroEnabled,
			band("First", "", "1", increase("10"), nil),
			band("Then", "1", "", decrease("10"), nil))
		first := b.convert(t, n, sale{amount: "241.50"})
		requireAmount(t, "26.57", first.Payout, "24.15 + 2.415 → 2.42")
		b.convert(t, n, sale{amount: "241.50"})
		require.Equal(t, 1, b.reprice(t, r, first))
		// The retro delta brings the tiered line from +2.42 to −2.42.
		require.Equal(t, map[string]string{"price": "24.15", "tiered": "2.42", "retro": "-4.84"}, b.lines(t, first.ID, store.KindPayout))
		requireAmount(t, "21.73", b.conversion(t, first.ID).Payout)
	})

	t.Run("Override", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("30"), Revenue: rpa("40")})
		got := b.valueOutcome(t, n, "241.45", customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindOverride, Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")}})
		// 10% of 241.45 = 24.145 replaces 30.00. An override sets the payout
		// to its target, a positive tie rounded away from zero, 24.15: the
		// partner is paid what the rule says, and the line is the difference
		// of rounded amounts, −5.85.
		require.Equal(t, map[string]string{"price": "30.00", "override": "-5.85"}, b.lines(t, got.ID, store.KindPayout))
		requireAmount(t, "24.15", got.Payout)
	})

	t.Run("Bonus", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cpa("5"), Revenue: rps("10")})
		got := b.valueOutcome(t, n, "160.50", customervalue.RuleOutcome{Frequency: customervalue.OncePerCustomer, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindBonus, Payout: customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("10"), Base: customervalue.BaseRevenue}})
		// 10% of the 16.05 revenue = 1.605 → 1.61, away from zero.
		require.Equal(t, "1.61", b.lines(t, got.ID, store.KindPayout)["bonus"])
	})

	t.Run("Reversal", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network(t, store.OfferEvent{Payout: cps("10"), Revenue: rpa("20")})
		b.tieredRule(t, n, tiered.RetroDisabled, band("All", "", "", decrease("10"), nil))
		c := b.convert(t, n, sale{amount: "241.50"})
		c, _, err := b.store.ReverseConversion(b.ctx, c.ID, "chargeback")
		require.NoError(t, err)
		require.Equal(t, "-21.73", b.lines(t, c.ID, store.KindPayout)["reversal"], "a reversal is the exact negative of the lines")
		requireAmount(t, "0", c.Payout)
	})
}

// valueOutcome prices a conversion of a sale for customer "u1" under one
// Customer Value rule with no conditions and this outcome, and writes the
// outcome as the customer's workflow does.
func (b *testBundle) valueOutcome(t *testing.T, n network, amount string, outcome customervalue.RuleOutcome) store.Conversion {
	t.Helper()
	_, _, err := b.store.CreateCustomerValueRule(b.ctx, store.CustomerValueRuleInput{Rule: customervalue.Rule{
		Name: "Rule", AppliesOn: customervalue.AppliesOnAll, StartsAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		OfferIDs:  []int64{n.offer},
		Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion},
		Grouping:  customervalue.GroupAll,
		Outcome:   outcome,
	}})
	require.NoError(t, err)
	c := b.insert(t, n, sale{amount: amount, user: "u1"})
	a := activities.New(b.store, nil, nil)
	res, err := a.PriceConversion(b.ctx, c.ID)
	require.NoError(t, err)
	require.NotNil(t, res.Conversion)
	var state customervalue.State
	outcomes := state.Apply(res.Rules, *res.Conversion, time.UTC)
	require.Len(t, outcomes, 1)
	require.NoError(t, a.RecordCustomer(b.ctx, workflows.CustomerRecord{Outcomes: outcomes, State: workflows.NewCustomerState(n.advertiser, "u1")}))
	return b.conversion(t, c.ID)
}
