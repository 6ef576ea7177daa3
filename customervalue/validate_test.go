package customervalue_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

// fieldErrors returns the fields err names, in order.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *customervalue.FieldError
		require.True(t, errors.As(e, &fe), "%v is a *FieldError", e)
		fields = append(fields, fe.Field)
	}
	return fields
}

// TestRuleValidation: Validate reports every problem of a rule at once, each
// naming its field by JSON path.
func TestRuleValidation(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(r *customervalue.Rule)
		want   []string // the fields named, in order
		says   string   // a part of the message
	}{
		{name: "SeedRuleIsValid", change: func(r *customervalue.Rule) {}},
		{
			name:   "Required",
			change: func(r *customervalue.Rule) { *r = customervalue.Rule{} },
			want: []string{
				"name", "applies_on", "starts_at", "timeframe.cycle", "timeframe.anchor", "grouping",
				"outcome.frequency", "outcome.trigger", "outcome.kind",
			},
		},
		{
			name: "TextOperatorOnANumber",
			change: func(r *customervalue.Rule) {
				r.Conditions[2].Operator = customervalue.OpIn
				r.Conditions[2].Values = []string{"100"}
				r.Conditions[2].Value = ""
			},
			want: []string{"conditions[2].operator"},
			says: `"in" does not fit a number (one of gt, gte, lt, lte, eq, between)`,
		},
		{
			name:   "NumberOperatorOnText",
			change: func(r *customervalue.Rule) { r.Conditions[0].Operator = customervalue.OpGt },
			want:   []string{"conditions[0].operator"},
			says:   `"gt" does not fit text (one of eq, ne, in)`,
		},
		{
			name:   "SumOfText",
			change: func(r *customervalue.Rule) { r.Conditions[0].Aggregation = customervalue.AggSum },
			want:   []string{"conditions[0].aggregation", "conditions[0].value"},
			says:   `sum needs a number, but data point "geo" is text`,
		},
		{
			name: "MaxOfText",
			change: func(r *customervalue.Rule) {
				r.Conditions[0] = customervalue.Condition{Source: "geo", Type: customervalue.TypeText, Aggregation: customervalue.AggMax, Operator: customervalue.OpGt, Value: "1"}
			},
			want: []string{"conditions[0].aggregation"},
		},
		{
			name:   "UnknownDataPoint",
			change: func(r *customervalue.Rule) { r.Conditions[1].Source = "deposit_amount" },
			want:   []string{"conditions[1].source"},
			says:   `unknown data point "deposit_amount"`,
		},
		{
			name:   "TypeMismatch",
			change: func(r *customervalue.Rule) { r.Conditions[1].Type = customervalue.TypeText },
			want:   []string{"conditions[1].type"},
			says:   `is "text", but data point "deposit" is number`,
		},
		{
			name:   "TypeMissing",
			change: func(r *customervalue.Rule) { r.Conditions[1].Type = "" },
			want:   []string{"conditions[1].type"},
		},
		{
			name:   "NotANumber",
			change: func(r *customervalue.Rule) { r.Conditions[1].Value = "2OO" },
			want:   []string{"conditions[1].value"},
		},
		{
			name: "BetweenBounds",
			change: func(r *customervalue.Rule) {
				r.Conditions[2] = customervalue.Condition{Source: "trade", Type: customervalue.TypeNumber, Aggregation: customervalue.AggAny, Operator: customervalue.OpBetween, Min: decPtr("200"), Max: decPtr("100"), Value: "5"}
			},
			want: []string{"conditions[2].max", "conditions[2].value"},
		},
		{
			name: "CountMetricWithMax",
			change: func(r *customervalue.Rule) {
				r.Conditions[1] = customervalue.Condition{Source: "conversion_count", Aggregation: customervalue.AggMax, Operator: customervalue.OpGt, Value: "1"}
			},
			want: []string{"conditions[1].aggregation"},
		},
		{
			name: "EndOfCycleOnContinuousWithoutEnd",
			change: func(r *customervalue.Rule) {
				r.Outcome.Trigger = customervalue.TriggerEndOfCycle
			},
			want: []string{"outcome.trigger"},
			says: "end_of_cycle needs a cycle that ends",
		},
		{
			name: "EndOfCycleOnContinuousWithDuration",
			change: func(r *customervalue.Rule) {
				r.Outcome.Trigger = customervalue.TriggerEndOfCycle
				r.Timeframe.DurationDays = 30
			},
		},
		{
			name: "OverrideAtEndOfCycle",
			change: func(r *customervalue.Rule) {
				r.Timeframe.Cycle = customervalue.CycleMonthly
				r.Outcome.Kind = customervalue.KindOverride
				r.Outcome.Trigger = customervalue.TriggerEndOfCycle
			},
			want: []string{"outcome.trigger"},
			says: "must be instant",
		},
		{
			name: "PercentBonusWithoutBase",
			change: func(r *customervalue.Rule) {
				r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("10")}
			},
			want: []string{"outcome.payout.base"},
		},
		{
			name: "RevShareBonus",
			change: func(r *customervalue.Rule) {
				r.Outcome.Payout = customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")}
			},
			want: []string{"outcome.payout.type"},
			says: "revshare is for overrides",
		},
		{
			name: "NegativeAmounts",
			change: func(r *customervalue.Rule) {
				r.Outcome.Payout.Amount = dec("-200")
				r.Outcome.RevenueAdjustment = &customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("-1"), Base: customervalue.BaseRevenue}
			},
			want: []string{"outcome.payout.amount", "outcome.revenue_adjustment.percent"},
		},
		{
			name:   "UnusedPercent",
			change: func(r *customervalue.Rule) { r.Outcome.Payout.Percent = dec("5") },
			want:   []string{"outcome.payout.percent"},
		},
		{
			name: "EndsBeforeStarts",
			change: func(r *customervalue.Rule) {
				r.EndsAt = timePtr(r.StartsAt.Add(-time.Hour))
			},
			want: []string{"ends_at"},
		},
		{
			name: "Event",
			change: func(r *customervalue.Rule) {
				r.AppliesOn = customervalue.AppliesOnEvent
			},
			want: []string{"event"},
		},
		{
			name: "ScopeAndDuration",
			change: func(r *customervalue.Rule) {
				r.PartnerIDs = []int64{7, 0}
				r.Timeframe.DurationDays = -1
			},
			want: []string{"partner_ids[1]", "timeframe.duration_days"},
		},
		{
			name:   "DurationTooLong",
			change: func(r *customervalue.Rule) { r.Timeframe.DurationDays = 1_000_000 },
			want:   []string{"timeframe.duration_days"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := highValueTrader()
			tt.change(&r)
			err := r.Validate(dataPoints)
			require.Equal(t, tt.want, fieldErrors(t, err))
			if len(tt.want) > 0 {
				require.ErrorIs(t, err, customervalue.ErrInvalidRule)
				require.NotErrorIs(t, err, customervalue.ErrLocked)
			}
			if tt.says != "" {
				require.Contains(t, err.Error(), tt.says)
			}
		})
	}
}

func TestResolveTypes(t *testing.T) {
	t.Parallel()

	r := highValueTrader()
	for i := range r.Conditions {
		r.Conditions[i].Type = ""
	}
	r.Conditions = append(r.Conditions, customervalue.Condition{Source: "revenue", Aggregation: customervalue.AggSum, Operator: customervalue.OpGt, Value: "1"})
	require.Error(t, r.Validate(dataPoints))
	r.ResolveTypes(dataPoints)
	require.NoError(t, r.Validate(dataPoints))
	require.Equal(t, customervalue.TypeText, r.Conditions[0].Type)
	require.Equal(t, customervalue.TypeNumber, r.Conditions[1].Type)
	require.Empty(t, r.Conditions[3].Type, "built-in metrics stay untyped")
}

func TestValidateGoalsChange(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		change  func(r *customervalue.Rule)
		running bool
		want    []string
	}{
		{name: "AmountMayChange", running: true, change: func(r *customervalue.Rule) { r.Outcome.Payout.Amount = dec("250") }},
		{name: "NameScopeAndEndMayChange", running: true, change: func(r *customervalue.Rule) {
			r.Name = "Renamed"
			r.PartnerIDs = []int64{4}
			r.EndsAt = timePtr(r.StartsAt.AddDate(1, 0, 0))
			r.Active = false
		}},
		{name: "SameNumberWrittenDifferently", running: true, change: func(r *customervalue.Rule) { r.Conditions[1].Value = "200.00" }},
		{name: "ConditionsLocked", running: true, change: func(r *customervalue.Rule) { r.Conditions[1].Value = "300" }, want: []string{"conditions"}},
		{name: "ConditionRemoved", running: true, change: func(r *customervalue.Rule) { r.Conditions = r.Conditions[:2] }, want: []string{"conditions"}},
		{
			name:    "CycleSettingsLocked",
			running: true,
			change: func(r *customervalue.Rule) {
				r.Timeframe = customervalue.Timeframe{Cycle: customervalue.CycleWeekly, Anchor: customervalue.AnchorRuleStart, DurationDays: 10}
				r.Grouping = customervalue.GroupOffer
				r.Outcome.Frequency = customervalue.OncePerCycle
				r.Outcome.Trigger = customervalue.TriggerEndOfCycle
			},
			want: []string{"timeframe.cycle", "timeframe.anchor", "timeframe.duration_days", "grouping", "outcome.frequency", "outcome.trigger"},
		},
		{name: "NotRunningAnythingGoes", running: false, change: func(r *customervalue.Rule) {
			r.Conditions = nil
			r.Timeframe.Cycle = customervalue.CycleDaily
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			old := highValueTrader()
			updated := highValueTrader()
			tt.change(&updated)
			err := customervalue.ValidateGoalsChange(old, updated, tt.running)
			require.Equal(t, tt.want, fieldErrors(t, err))
			if len(tt.want) > 0 {
				require.ErrorIs(t, err, customervalue.ErrLocked)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()

	t.Run("Rule", func(t *testing.T) {
		t.Parallel()

		r := highValueTrader()
		r.PartnerIDs = []int64{7}
		r.EndsAt = timePtr(r.StartsAt.AddDate(1, 0, 0))
		r.Timeframe.DurationDays = 30
		r.Conditions = append(r.Conditions, customervalue.Condition{
			Source: "trade", Type: customervalue.TypeNumber, Aggregation: customervalue.AggMax,
			Operator: customervalue.OpBetween, Min: decPtr("1.5"), Max: decPtr("9"),
		})
		r.Outcome.RevenueAdjustment = &customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("2.5"), Base: customervalue.BaseRevenue}
		requireValid(t, r)

		b, err := json.Marshal(r)
		require.NoError(t, err)
		for _, key := range []string{`"applies_on":"all"`, `"partner_ids":[7]`, `"duration_days":30`, `"min":"1.5"`, `"amount":"200"`, `"revenue_adjustment":{`} {
			require.Contains(t, string(b), key)
		}
		var back customervalue.Rule
		require.NoError(t, json.Unmarshal(b, &back))
		again, err := json.Marshal(back)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(again))
		// Equal but for the zero decimals' internal form.
		require.NoError(t, back.Validate(dataPoints))
		require.NoError(t, customervalue.ValidateGoalsChange(r, back, true))
		require.Equal(t, r.Conditions, back.Conditions)
		require.Equal(t, r.EndsAt, back.EndsAt)
		require.True(t, r.Outcome.RevenueAdjustment.Percent.Equal(back.Outcome.RevenueAdjustment.Percent))
	})

	t.Run("State", func(t *testing.T) {
		t.Parallel()

		// A state with every kind of progress; the restored copy must
		// marshal the same and go on to give the same outcomes.
		weekly := weeklyDeposits()
		endOfMonth := monthlyDeposits()
		rules := []customervalue.Rule{highValueTrader(), weekly, endOfMonth}
		day := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
		var s customervalue.State
		applyAll(&s, rules, time.UTC,
			withRevenue(conv(1, 5, 1, "", day, "geo", "EU1"), "10"),
			withRevenue(conv(2, 6, 2, "deposit", day.Add(time.Hour), "deposit", "250"), "25.5"),
			withRevenue(conv(3, 7, 1, "trade", day.Add(2*time.Hour), "trade", "100"), "1"),
		)
		s.Refund(2, dec("0"), dec("0.5"), dec("0"))
		s.Due(rules, day.AddDate(0, 0, 7), time.UTC)

		b, err := json.Marshal(&s)
		require.NoError(t, err)
		require.Contains(t, string(b), `"refunded_revenue":"0.5"`)
		var back customervalue.State
		require.NoError(t, json.Unmarshal(b, &back))
		again, err := json.Marshal(&back)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(again))
		require.Equal(t, s, back)

		more := []customervalue.Conversion{
			conv(4, 8, 1, "deposit", day.AddDate(0, 0, 8), "deposit", "100"),
			conv(5, 8, 1, "deposit", day.AddDate(0, 0, 9), "deposit", "100"),
		}
		end := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
		want := append(applyAll(&s, rules, time.UTC, more...), s.Due(rules, end, time.UTC)...)
		got := append(applyAll(&back, rules, time.UTC, more...), back.Due(rules, end, time.UTC)...)
		require.NotEmpty(t, want)
		require.Equal(t, want, got)

		// Outcomes round-trip too.
		ob, err := json.Marshal(want)
		require.NoError(t, err)
		var outs []customervalue.Outcome
		require.NoError(t, json.Unmarshal(ob, &outs))
		require.Equal(t, want, outs)
		require.False(t, strings.Contains(string(ob), "Explanation"), "snake_case keys")
	})
}

func TestDeterministicOrder(t *testing.T) {
	t.Parallel()

	rules := []customervalue.Rule{highValueTrader(), weeklyDeposits(), monthlyDeposits()}
	reversed := slices.Clone(rules)
	slices.Reverse(reversed)
	day := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	convs := []customervalue.Conversion{
		conv(1, 5, 1, "", day, "geo", "EU1", "trade", "500"),
		conv(2, 6, 2, "deposit", day.Add(time.Hour), "deposit", "350"),
	}
	var a, b customervalue.State
	outA := applyAll(&a, rules, time.UTC, convs...)
	outB := applyAll(&b, reversed, time.UTC, convs...)
	require.Len(t, outA, 2)
	require.Equal(t, outA, outB)
	require.Equal(t, a, b)
}

func TestStateKeepsOnlyWhatRulesNeed(t *testing.T) {
	t.Parallel()

	trader := highValueTrader()
	override := rule(3, "Override")
	override.Outcome = customervalue.RuleOutcome{
		Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant, Kind: customervalue.KindOverride,
		Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: dec("10")},
	}
	rules := []customervalue.Rule{trader, override}
	day := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	var s customervalue.State
	c := withSale(conv(1, 5, 1, "deposit", day, "deposit", "50", "level", "3", "note", "x"), "50")
	require.Len(t, s.Apply(rules, c, time.UTC), 1)
	require.Len(t, s.Apply(rules, c, time.UTC), 1, "the override again, with the same key")

	require.Len(t, s.Rules, 2)
	tr := s.Rules[0]
	require.Equal(t, int64(1), tr.RuleID)
	require.Len(t, tr.Cycles, 1)
	require.Len(t, tr.Cycles[0].Entries, 1, "counted once")
	e := tr.Cycles[0].Entries[0]
	require.Equal(t, map[string]string{"deposit": "50"}, e.Values, "only the data points the conditions read")
	require.Nil(t, e.Payout, "no condition reads the payout")

	ov := s.Rules[1]
	require.Equal(t, int64(3), ov.RuleID)
	require.Len(t, ov.Cycles, 1)
	require.Empty(t, ov.Cycles[0].Entries, "a rule without conditions keeps no conversions")
	require.Len(t, s.Firsts, 1)
}
