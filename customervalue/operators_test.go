package customervalue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

// TestDataPointOperatorsByType: a condition's operators are filtered by the
// type of what it reads (DESIGN §7): text takes exact match, not equal and
// in list; number takes >, ≥, <, ≤, = and between. An operator of the other
// type is a problem naming the condition's operator, and the same operator
// name compares as its type says: text eq is exact and case-sensitive,
// number eq is numeric.
func TestDataPointOperatorsByType(t *testing.T) {
	t.Parallel()

	t.Run("OperatorsFor", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"eq", "ne", "in"}, customervalue.OperatorsFor(string(customervalue.TypeText)))
		require.Equal(t, []string{"gt", "gte", "lt", "lte", "eq", "between"}, customervalue.OperatorsFor(string(customervalue.TypeNumber)))
		require.Empty(t, customervalue.OperatorsFor("date"))
	})

	operand := func(c customervalue.Condition, op customervalue.Operator) customervalue.Condition {
		c.Operator = op
		switch op {
		case customervalue.OpBetween:
			c.Value, c.Min, c.Max = "", decPtr("1"), decPtr("2")
		case customervalue.OpIn:
			c.Value, c.Values = "", []string{"EU1", "EU2"}
		}
		return c
	}
	text := textCond("geo", customervalue.AggAny, customervalue.OpEq, "1")
	number := numCond("deposit", customervalue.AggSum, customervalue.OpEq, "1")
	for _, tc := range []struct {
		name  string
		cond  customervalue.Condition
		valid []customervalue.Operator
		not   []customervalue.Operator
	}{
		{"Text", text,
			[]customervalue.Operator{customervalue.OpEq, customervalue.OpNe, customervalue.OpIn},
			[]customervalue.Operator{customervalue.OpGt, customervalue.OpGte, customervalue.OpLt, customervalue.OpLte, customervalue.OpBetween}},
		{"Number", number,
			[]customervalue.Operator{customervalue.OpGt, customervalue.OpGte, customervalue.OpLt, customervalue.OpLte, customervalue.OpEq, customervalue.OpBetween},
			[]customervalue.Operator{customervalue.OpNe, customervalue.OpIn}},
		{"BuiltInMetricIsANumber", numCond(customervalue.MetricSaleAmount, customervalue.AggSum, customervalue.OpEq, "1"),
			[]customervalue.Operator{customervalue.OpGt, customervalue.OpBetween},
			[]customervalue.Operator{customervalue.OpIn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, op := range tc.valid {
				r := rule(1, "Goal")
				r.Conditions = []customervalue.Condition{operand(tc.cond, op)}
				require.NoError(t, r.Validate(dataPoints), "%s takes %s", tc.name, op)
			}
			for _, op := range tc.not {
				r := rule(1, "Goal")
				r.Conditions = []customervalue.Condition{operand(tc.cond, op)}
				require.Contains(t, fieldErrors(t, r.Validate(dataPoints)), "conditions[0].operator", "%s does not take %s", tc.name, op)
			}
		})
	}

	t.Run("EqualityFollowsTheType", func(t *testing.T) {
		t.Parallel()
		day := time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
		fires := func(cond customervalue.Condition, data ...string) bool {
			r := rule(1, "Goal")
			r.Conditions = []customervalue.Condition{cond}
			requireValid(t, r)
			var s customervalue.State
			return len(s.Apply([]customervalue.Rule{r}, conv(1, 5, 1, "", day, data...), time.UTC)) == 1
		}
		require.True(t, fires(textCond("geo", customervalue.AggAny, customervalue.OpEq, "EU1"), "geo", "EU1"))
		require.False(t, fires(textCond("geo", customervalue.AggAny, customervalue.OpEq, "EU1"), "geo", "eu1"), "text is case-sensitive")
		require.True(t, fires(numCond("deposit", customervalue.AggAny, customervalue.OpEq, "200"), "deposit", "200.00"), "numbers compare as numbers")
		require.False(t, fires(numCond("deposit", customervalue.AggAny, customervalue.OpEq, "200"), "deposit", "two hundred"), "not a number: not sent")
	})
}

// TestEndOfCycleEveryQualifyingConversion: when the goal holds at the end of
// the cycle, every in-scope conversion of the cycle qualifies, each on its
// own amount (DESIGN §14.13): goal event count ≥ 2, 2% of each deposit's
// own sale, deposits of $100 and $150 → $2.00 and $3.00 at the end.
func TestEndOfCycleEveryQualifyingConversion(t *testing.T) {
	t.Parallel()
	r := rule(3, "Two deposits")
	r.AppliesOn, r.Event = customervalue.AppliesOnEvent, "deposit"
	r.Timeframe = customervalue.Timeframe{Cycle: customervalue.CycleWeekly, Anchor: customervalue.AnchorRuleStart}
	r.Conditions = []customervalue.Condition{numCond(customervalue.MetricEventCount, customervalue.AggCount, customervalue.OpGte, "2")}
	r.Outcome = customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerEndOfCycle,
		Kind: customervalue.KindBonus, Payout: customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("2"), Base: customervalue.BaseSaleAmount}}
	requireValid(t, r)

	monday := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	var s customervalue.State
	rules := []customervalue.Rule{r}
	instant := applyAll(&s, rules, time.UTC,
		withSale(conv(1, 5, 1, "deposit", monday), "100"),
		withSale(conv(2, 5, 1, "deposit", monday.Add(24*time.Hour)), "150"))
	require.Empty(t, instant, "an end-of-cycle outcome waits for the end")
	require.Empty(t, s.Due(rules, monday.AddDate(0, 0, 6), time.UTC), "the week has not ended")

	due := s.Due(rules, monday.AddDate(0, 0, 7), time.UTC)
	got := map[int64]string{}
	for _, o := range due {
		got[o.ConversionID] = o.Payout.StringFixed(2)
		require.Equal(t, int64(2), o.Explanation.CompletedBy, "the goal was completed by the second deposit")
	}
	require.Equal(t, map[int64]string{1: "2.00", 2: "3.00"}, got, "the first deposit qualifies too, on its own sale")
	require.Empty(t, s.Due(rules, monday.AddDate(0, 0, 8), time.UTC), "each is paid once")
}
