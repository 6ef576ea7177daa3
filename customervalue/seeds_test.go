package customervalue_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

// step is one part of a goal: the conversions that complete one condition.
type step struct {
	name  string
	convs func(firstID, partnerID, offerID int64, at time.Time) []customervalue.Conversion
}

var traderSteps = []step{
	{"Geo", func(id, p, o int64, at time.Time) []customervalue.Conversion {
		return []customervalue.Conversion{conv(id, p, o, "", at, "geo", "EU1")}
	}},
	{"Deposits", func(id, p, o int64, at time.Time) []customervalue.Conversion {
		// 150 alone is not over 200; with 100 it is.
		return []customervalue.Conversion{
			conv(id, p, o, "deposit", at, "deposit", "150"),
			conv(id+1, p, o, "deposit", at.Add(time.Hour), "deposit", "100"),
		}
	}},
	{"Trade", func(id, p, o int64, at time.Time) []customervalue.Conversion {
		return []customervalue.Conversion{conv(id, p, o, "trade", at, "trade", "100")}
	}},
}

func TestSeedHighValueTrader(t *testing.T) {
	t.Parallel()

	trader := highValueTrader()
	requireValid(t, trader)
	rules := []customervalue.Rule{trader}
	day := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

	orders := [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range orders {
		name := traderSteps[order[0]].name + traderSteps[order[1]].name + traderSteps[order[2]].name
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			var s customervalue.State
			var convs []customervalue.Conversion
			for i, k := range order {
				// Every step comes from its own partner and offer.
				partner, offer := int64(100+i), int64(10+i)
				convs = append(convs, traderSteps[k].convs(int64(len(convs)+1), partner, offer, day.AddDate(0, 0, i))...)
			}
			last := convs[len(convs)-1]
			for _, c := range convs[:len(convs)-1] {
				require.Empty(t, s.Apply(rules, c, time.UTC), "conversion %d completes nothing", c.ID)
			}
			out := s.Apply(rules, last, time.UTC)
			require.Len(t, out, 1)
			o := out[0]
			require.Equal(t, trader.ID, o.RuleID)
			require.Equal(t, customervalue.KindBonus, o.Kind)
			require.Equal(t, last.ID, o.ConversionID)
			require.Equal(t, last.PartnerID, o.PartnerID, "the bonus goes to the partner of the completing conversion")
			requireAmount(t, "200", o.Payout)
			require.Nil(t, o.Revenue)
			require.Equal(t, fmt.Sprintf("customer_value/1/all/continuous/once_per_customer/%d", last.ID), o.Key)
			require.Equal(t, "200.00 fixed = 200.00", o.Explanation.Payout.Formula)
			require.Equal(t, last.ID, o.Explanation.CompletedBy)
			require.Len(t, o.Explanation.Conditions, 3)
			for _, cr := range o.Explanation.Conditions {
				require.True(t, cr.Met, "condition %d", cr.Index)
			}
			require.Equal(t, "EU1", o.Explanation.Conditions[0].Value)
			require.Equal(t, "250", o.Explanation.Conditions[1].Value)
			require.Equal(t, "100", o.Explanation.Conditions[2].Value)

			// Everything after pays nothing more: once per customer.
			more := applyAll(&s, rules, time.UTC,
				conv(50, 100, 10, "trade", day.AddDate(0, 0, 5), "trade", "500"),
				conv(51, 101, 11, "deposit", day.AddDate(0, 0, 6), "deposit", "900"),
				conv(52, 102, 12, "", day.AddDate(0, 0, 7), "geo", "EU1"),
			)
			require.Empty(t, more)
		})
	}

	t.Run("NeverTradesGetsNothing", func(t *testing.T) {
		t.Parallel()

		var s customervalue.State
		out := applyAll(&s, rules, time.UTC,
			conv(1, 100, 10, "", day, "geo", "EU1"),
			conv(2, 101, 11, "deposit", day.Add(time.Hour), "deposit", "5000"),
			conv(3, 102, 12, "trade", day.Add(2*time.Hour), "trade", "99.99"),
			conv(4, 100, 10, "deposit", day.Add(3*time.Hour), "deposit", "300"),
		)
		require.Empty(t, out)
		p := s.Progress(rules, day.Add(4*time.Hour), time.UTC)
		require.Len(t, p, 1)
		require.Len(t, p[0].Groups, 1)
		g := p[0].Groups[0]
		require.False(t, g.Met)
		require.True(t, g.Conditions[0].Met)
		require.True(t, g.Conditions[1].Met)
		require.Equal(t, "5300", g.Conditions[1].Value)
		require.False(t, g.Conditions[2].Met)
		require.False(t, g.Conditions[2].HasValue)
		require.Equal(t, 1, g.Conditions[2].Values)
	})

	t.Run("TwoDepositsOf100AreNotOver200", func(t *testing.T) {
		t.Parallel()

		var s customervalue.State
		out := applyAll(&s, rules, time.UTC,
			conv(1, 100, 10, "", day, "geo", "EU1"),
			conv(2, 100, 10, "trade", day.Add(time.Hour), "trade", "100"),
			conv(3, 101, 10, "deposit", day.Add(2*time.Hour), "deposit", "100"),
			conv(4, 102, 11, "deposit", day.Add(3*time.Hour), "deposit", "100"),
		)
		require.Empty(t, out, "200 is not over 200")

		out = s.Apply(rules, conv(5, 103, 12, "deposit", day.Add(4*time.Hour), "deposit", "100"), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, int64(5), out[0].ConversionID)
		require.Equal(t, int64(103), out[0].PartnerID)
		require.Equal(t, "300", out[0].Explanation.Conditions[1].Value)
	})

	t.Run("TwoCustomersEachOnce", func(t *testing.T) {
		t.Parallel()

		// Each customer has a State of its own; each one's bonus goes to its
		// own completing partner.
		var a, b customervalue.State
		outA := applyAll(&a, rules, time.UTC,
			conv(1, 100, 10, "", day, "geo", "EU1", "deposit", "201", "trade", "100"),
		)
		outB := applyAll(&b, rules, time.UTC,
			conv(11, 200, 10, "", day, "geo", "EU1"),
			conv(12, 201, 10, "deposit", day.Add(time.Hour), "deposit", "201"),
			conv(13, 202, 10, "trade", day.Add(2*time.Hour), "trade", "150"),
		)
		require.Len(t, outA, 1)
		require.Equal(t, int64(100), outA[0].PartnerID)
		require.Len(t, outB, 1)
		require.Equal(t, int64(202), outB[0].PartnerID)
	})
}

func TestSeedLevel10Bonus(t *testing.T) {
	t.Parallel()

	level10 := rule(2, "Level 10 Bonus")
	level10.Timeframe.Anchor = customervalue.AnchorFirstConversion
	level10.Conditions = []customervalue.Condition{numCond("level", customervalue.AggAny, customervalue.OpGte, "10")}
	level10.Outcome.Payout = customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("25")}
	requireValid(t, level10)
	rules := []customervalue.Rule{level10}
	day := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

	type levelUp struct {
		partner int64
		level   string
	}
	tests := []struct {
		name        string
		levels      []levelUp
		wantAt      int // index of the conversion that gets the bonus; -1 for none
		wantPartner int64
	}{
		{
			name:        "Level9ThenLevel10ThenLevel12",
			levels:      []levelUp{{31, "9"}, {31, "10"}, {31, "12"}},
			wantAt:      1,
			wantPartner: 31,
		},
		{
			name:        "CompletingPartnerGetsIt",
			levels:      []levelUp{{41, "3"}, {41, "9"}, {42, "10"}, {41, "11"}},
			wantAt:      2,
			wantPartner: 42,
		},
		{
			name:        "StraightTo12",
			levels:      []levelUp{{51, "12"}, {52, "15"}},
			wantAt:      0,
			wantPartner: 51,
		},
		{
			name:   "NeverReaches10",
			levels: []levelUp{{61, "1"}, {61, "9"}, {62, "9.99"}},
			wantAt: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var s customervalue.State
			var got []customervalue.Outcome
			gotAt := -1
			for i, l := range tt.levels {
				out := s.Apply(rules, conv(int64(i+1), l.partner, 7, "level_up", day.Add(time.Duration(i)*time.Hour), "level", l.level), time.UTC)
				if len(out) > 0 {
					gotAt = i
				}
				got = append(got, out...)
			}
			require.Equal(t, tt.wantAt, gotAt)
			if tt.wantAt < 0 {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "the $25 bonus is paid once")
			requireAmount(t, "25", got[0].Payout)
			require.Equal(t, tt.wantPartner, got[0].PartnerID)
			require.Equal(t, int64(tt.wantAt+1), got[0].ConversionID)
		})
	}
}

func TestSeed30DayRevShareOverride(t *testing.T) {
	t.Parallel()

	revshare := rule(3, "Partner 30-Day RevShare")
	revshare.PartnerIDs = []int64{7}
	revshare.OfferIDs = []int64{1, 2}
	revshare.Timeframe = customervalue.Timeframe{
		Cycle:        customervalue.CycleContinuous,
		Anchor:       customervalue.AnchorFirstConversion,
		DurationDays: 30,
	}
	revshare.Outcome = customervalue.RuleOutcome{
		Frequency: customervalue.EveryConversion,
		Trigger:   customervalue.TriggerInstant,
		Kind:      customervalue.KindOverride,
		Payout:    customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")},
	}
	requireValid(t, revshare)
	rules := []customervalue.Rule{revshare}

	type bundle struct {
		s      customervalue.State
		anchor time.Time
	}
	// setup gives a customer whose first conversion with partner 7 is a base
	// conversion of $100 on offer 1 at anchor: it is overridden to $10.
	setup := func(t *testing.T, anchor time.Time) *bundle {
		t.Helper()
		b := &bundle{anchor: anchor}
		out := b.s.Apply(rules, withSale(conv(1, 7, 1, "", anchor), "100"), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, customervalue.KindOverride, out[0].Kind)
		requireAmount(t, "10", out[0].Payout)
		require.Equal(t, "customer_value/3/override/1", out[0].Key)
		return b
	}

	anchorA := time.Date(2025, 6, 10, 15, 4, 5, 0, time.UTC)
	anchorB := time.Date(2025, 7, 2, 8, 0, 0, 0, time.UTC)
	day30 := 30 * 24 * time.Hour

	tests := []struct {
		name       string
		anchor     time.Time
		after      time.Duration // from the anchor
		partner    int64
		offer      int64
		event      string
		sale       string
		wantPayout string // "" for no override
		wantNote   string
	}{
		{name: "EventOnOtherSelectedOffer", anchor: anchorA, after: 10 * 24 * time.Hour, partner: 7, offer: 2, event: "deposit", sale: "55.55", wantPayout: "5.56"},
		{name: "BaseLaterOn", anchor: anchorA, after: 29 * 24 * time.Hour, partner: 7, offer: 1, sale: "20", wantPayout: "2.00"},
		{name: "LastSecondOfWindow", anchor: anchorA, after: day30 - time.Second, partner: 7, offer: 1, event: "trade", sale: "80", wantPayout: "8.00"},
		{name: "EndOfWindowIsExclusive", anchor: anchorA, after: day30, partner: 7, offer: 1, event: "trade", sale: "80"},
		{name: "AfterWindow", anchor: anchorA, after: 45 * 24 * time.Hour, partner: 7, offer: 1, event: "trade", sale: "80"},
		{name: "OtherPartner", anchor: anchorA, after: time.Hour, partner: 8, offer: 1, event: "deposit", sale: "80"},
		{name: "OfferNotSelected", anchor: anchorA, after: time.Hour, partner: 7, offer: 3, event: "deposit", sale: "80"},
		{
			name: "NoSaleAmountPaysZero", anchor: anchorA, after: time.Hour, partner: 7, offer: 1, event: "deposit", sale: "0",
			wantPayout: "0", wantNote: "the conversion has no sale amount, so the percent pays 0",
		},
		{name: "OtherCustomerOwnWindowInside", anchor: anchorB, after: day30 - time.Second, partner: 7, offer: 2, sale: "1", wantPayout: "0.10"},
		{name: "OtherCustomerOwnWindowOutside", anchor: anchorB, after: day30, partner: 7, offer: 2, sale: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t, tt.anchor)
			c := withSale(conv(2, tt.partner, tt.offer, tt.event, tt.anchor.Add(tt.after)), tt.sale)
			out := b.s.Apply(rules, c, time.UTC)
			if tt.wantPayout == "" {
				require.Empty(t, out)
				return
			}
			require.Len(t, out, 1)
			o := out[0]
			require.Equal(t, customervalue.KindOverride, o.Kind)
			require.Equal(t, c.ID, o.ConversionID)
			require.Equal(t, int64(7), o.PartnerID)
			requireAmount(t, tt.wantPayout, o.Payout)
			require.Equal(t, tt.wantNote, o.Explanation.Payout.Note)
			require.Equal(t, b.anchor, o.Explanation.Anchor)
			require.Equal(t, b.anchor.Add(day30), *o.Explanation.WindowEnd)
		})
	}

	t.Run("Explanation", func(t *testing.T) {
		t.Parallel()

		b := setup(t, anchorA)
		out := b.s.Apply(rules, withSale(conv(2, 7, 2, "deposit", anchorA.Add(time.Hour)), "55.55"), time.UTC)
		require.Len(t, out, 1)
		e := out[0].Explanation
		require.Equal(t, "10% × 55.55 sale amount = 5.555, rounded to 5.56", e.Payout.Formula)
		require.Equal(t, customervalue.ScopeConversion, e.Payout.BaseScope)
		require.Empty(t, e.Conditions)
		require.Contains(t, e.Summary, "no conditions")
	})

	t.Run("WindowEndIsAWakeUp", func(t *testing.T) {
		t.Parallel()

		b := setup(t, anchorA)
		next, ok := b.s.NextWakeUp(rules, time.UTC)
		require.True(t, ok)
		require.Equal(t, anchorA.Add(day30), next)
		require.Empty(t, b.s.Due(rules, next, time.UTC), "an override has nothing due at the end")
		_, ok = b.s.NextWakeUp(rules, time.UTC)
		require.False(t, ok)
	})

	t.Run("FirstConversionWithOtherPartnerIsNotTheAnchor", func(t *testing.T) {
		t.Parallel()

		var s customervalue.State
		// Partner 8 is out of the rule's scope: its conversion does not
		// start the window.
		require.Empty(t, s.Apply(rules, withSale(conv(1, 8, 1, "", anchorA), "100"), time.UTC))
		later := anchorA.Add(40 * 24 * time.Hour)
		out := s.Apply(rules, withSale(conv(2, 7, 1, "", later), "100"), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, later, out[0].Explanation.Anchor)
	})
}
