package customervalue_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

// TestRuleSummary: the plain-English sentence the rule builder shows, for
// the seed's three scenarios and the wording of each choice.
func TestRuleSummary(t *testing.T) {
	t.Parallel()
	names := customervalue.Names{
		DataPoints: map[string]string{"geo": "Geo", "deposit": "Deposit", "trade": "Trade", "level": "Level Reached"},
		Partners:   map[int64]string{7: "Blue Media", 8: "Red Clicks"},
		Offers:     map[int64]string{3: "Sign-up"},
		Money:      func(d decimal.Decimal) string { return "$" + d.StringFixed(2) },
	}

	t.Run("HighValueTrader", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, `Pays a one-time $200.00 bonus to the partner whose referred customer, over their lifetime, `+
			`has Geo "EU1", a total Deposit of more than 200 and a single Trade of at least 100, in any order.`,
			highValueTrader().Summary(names))
	})
	t.Run("Level10", func(t *testing.T) {
		t.Parallel()
		r := rule(2, "Level 10 Bonus")
		r.Conditions = []customervalue.Condition{numCond("level", customervalue.AggAny, customervalue.OpGte, "10")}
		r.Outcome.Payout.Amount = dec("25")
		require.Equal(t, "Pays a one-time $25.00 bonus to the partner whose referred customer, over their lifetime, "+
			"has a single Level Reached of at least 10.", r.Summary(names))
	})
	t.Run("ThirtyDayRevShare", func(t *testing.T) {
		t.Parallel()
		r := rule(3, "Partner 30-Day RevShare")
		r.PartnerIDs, r.OfferIDs = []int64{7}, []int64{3}
		r.Timeframe = customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion, DurationDays: 30}
		r.Outcome = customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindOverride, Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")}}
		require.Equal(t, "Pays Blue Media 10% RevShare of the sale amount instead of the usual payout on every conversion "+
			"of the customers they refer, within 30 days of their first conversion; on Sign-up.", r.Summary(names))
	})
	t.Run("RecurringSeparatelyAtTheEnd", func(t *testing.T) {
		t.Parallel()
		r := rule(4, "Weekly depositors")
		r.PartnerIDs = []int64{7, 8}
		r.AppliesOn, r.Event = customervalue.AppliesOnEvent, "deposit"
		r.Timeframe.Cycle = customervalue.CycleWeekly
		r.Grouping = customervalue.GroupOffer
		r.Conditions = []customervalue.Condition{
			numCond(customervalue.MetricEventCount, customervalue.AggCount, customervalue.OpGte, "3"),
			textCond("geo", customervalue.AggAny, customervalue.OpIn, ""),
		}
		r.Conditions[1].Values = []string{"EU1", "EU2"}
		r.Outcome.Frequency, r.Outcome.Trigger = customervalue.OncePerCycle, customervalue.TriggerEndOfCycle
		r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("5"), Base: customervalue.BaseSaleAmount}
		require.Equal(t, `Pays a 5% of the sale amount so far bonus once per week to whichever of Blue Media and Red Clicks `+
			`whose referred customer, in a single week, has at least 3 events and Geo one of "EU1", "EU2", in any order; `+
			`counting "deposit" events only; each offer counted separately; paid when the week ends.`, r.Summary(names))
	})
	t.Run("Unfinished", func(t *testing.T) {
		t.Parallel()
		r := customervalue.Rule{Conditions: []customervalue.Condition{{Source: "geo"}}}
		require.Equal(t, `Pays … to the partner whose referred customer has a single Geo ….`, r.Summary(customervalue.Names{DataPoints: names.DataPoints}))
	})
}
