package customervalue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

func TestConditions(t *testing.T) {
	t.Parallel()

	day := time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
	between := func(source string, agg customervalue.Aggregation, min, max string) customervalue.Condition {
		return customervalue.Condition{Source: source, Type: customervalue.TypeNumber, Aggregation: agg, Operator: customervalue.OpBetween, Min: decPtr(min), Max: decPtr(max)}
	}
	// at builds a conversion at day + hours with data points.
	at := func(id int64, hours int, data ...string) customervalue.Conversion {
		return conv(id, 5, 1, "event", day.Add(time.Duration(hours)*time.Hour), data...)
	}

	tests := []struct {
		name   string
		cond   customervalue.Condition
		convs  []customervalue.Conversion
		wantAt int64 // the conversion that fires the once bonus; 0 for none
	}{
		{
			name:   "TextIsCaseSensitive",
			cond:   textCond("geo", customervalue.AggAny, customervalue.OpEq, "EU1"),
			convs:  []customervalue.Conversion{at(1, 0, "geo", "eu1"), at(2, 1, "geo", "EU1 "), at(3, 2, "geo", "EU1")},
			wantAt: 3,
		},
		{
			name:   "TextNotEqual",
			cond:   textCond("geo", customervalue.AggLatest, customervalue.OpNe, "US"),
			convs:  []customervalue.Conversion{at(1, 0, "geo", "US"), at(2, 1), at(3, 2, "geo", "DE")},
			wantAt: 3,
		},
		{
			name: "TextInList",
			cond: customervalue.Condition{
				Source: "geo", Type: customervalue.TypeText, Aggregation: customervalue.AggAny,
				Operator: customervalue.OpIn, Values: []string{"EU1", "EU2"},
			},
			convs:  []customervalue.Conversion{at(1, 0, "geo", "US"), at(2, 1, "geo", "EU2")},
			wantAt: 2,
		},
		{
			name:   "SumOfNothingIsZero",
			cond:   numCond("deposit", customervalue.AggSum, customervalue.OpLt, "1"),
			convs:  []customervalue.Conversion{at(1, 0)},
			wantAt: 1,
		},
		{
			name:   "CountOfNothingIsZero",
			cond:   numCond("deposit", customervalue.AggCount, customervalue.OpEq, "0"),
			convs:  []customervalue.Conversion{at(1, 0, "geo", "EU1")},
			wantAt: 1,
		},
		{
			name:  "AnyOfNothingIsNotMet",
			cond:  numCond("deposit", customervalue.AggAny, customervalue.OpLt, "1"),
			convs: []customervalue.Conversion{at(1, 0), at(2, 1, "deposit", "")},
		},
		{
			name:  "MaxOfNothingIsNotMet",
			cond:  numCond("deposit", customervalue.AggMax, customervalue.OpLt, "1"),
			convs: []customervalue.Conversion{at(1, 0), at(2, 1, "geo", "EU1")},
		},
		{
			name:  "LatestOfNothingIsNotMet",
			cond:  textCond("geo", customervalue.AggLatest, customervalue.OpNe, "US"),
			convs: []customervalue.Conversion{at(1, 0, "deposit", "5")},
		},
		{
			// Conversion 2 is processed later but timestamped earlier: the
			// latest level is still 3 until conversion 3.
			name:   "LatestIsByTimestamp",
			cond:   numCond("level", customervalue.AggLatest, customervalue.OpGte, "10"),
			convs:  []customervalue.Conversion{at(1, 5, "level", "3"), at(2, 1, "level", "12"), at(3, 6, "level", "10")},
			wantAt: 3,
		},
		{
			name:   "BetweenIsInclusive",
			cond:   between("trade", customervalue.AggAny, "100", "200"),
			convs:  []customervalue.Conversion{at(1, 0, "trade", "99.99"), at(2, 1, "trade", "200.01"), at(3, 2, "trade", "200.00")},
			wantAt: 3,
		},
		{
			name:   "BetweenLowerBound",
			cond:   between("trade", customervalue.AggMax, "100", "200"),
			convs:  []customervalue.Conversion{at(1, 0, "trade", "99.99"), at(2, 1, "trade", "100")},
			wantAt: 2,
		},
		{
			name:   "NumberEqualIsByValue",
			cond:   numCond("level", customervalue.AggLatest, customervalue.OpEq, "10"),
			convs:  []customervalue.Conversion{at(1, 0, "level", "9"), at(2, 1, "level", "10.00")},
			wantAt: 2,
		},
		{
			name:   "MaxIsTheLargest",
			cond:   numCond("trade", customervalue.AggMax, customervalue.OpGt, "50"),
			convs:  []customervalue.Conversion{at(1, 0, "trade", "20"), at(2, 1, "trade", "51"), at(3, 2, "trade", "10")},
			wantAt: 2,
		},
		{
			name:   "CountOfATextDataPoint",
			cond:   customervalue.Condition{Source: "geo", Type: customervalue.TypeText, Aggregation: customervalue.AggCount, Operator: customervalue.OpGte, Value: "2"},
			convs:  []customervalue.Conversion{at(1, 0, "geo", "EU1"), at(2, 1), at(3, 2, "geo", "US")},
			wantAt: 3,
		},
		{
			name:  "NotANumberIsNotSent",
			cond:  numCond("deposit", customervalue.AggCount, customervalue.OpGte, "1"),
			convs: []customervalue.Conversion{at(1, 0, "deposit", "lots")},
		},
		{
			name:   "EventCount",
			cond:   customervalue.Condition{Source: customervalue.MetricEventCount, Aggregation: customervalue.AggSum, Operator: customervalue.OpGte, Value: "2"},
			convs:  []customervalue.Conversion{conv(1, 5, 1, "", day), at(2, 1), at(3, 2)},
			wantAt: 3,
		},
		{
			name: "PayoutMetricIsLayer13Payout",
			cond: customervalue.Condition{Source: customervalue.MetricPayout, Aggregation: customervalue.AggSum, Operator: customervalue.OpGte, Value: "10"},
			convs: []customervalue.Conversion{
				func() customervalue.Conversion { c := at(1, 0); c.Payout = dec("6"); return c }(),
				func() customervalue.Conversion { c := at(2, 1); c.Payout = dec("4"); return c }(),
			},
			wantAt: 2,
		},
		{
			name:   "SaleAmountAny",
			cond:   customervalue.Condition{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggAny, Operator: customervalue.OpLt, Value: "5"},
			convs:  []customervalue.Conversion{at(1, 0), withSale(at(2, 1), "4.99")},
			wantAt: 2, // conversion 1 sent no sale amount: it has no value
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := rule(30, tt.name)
			r.Conditions = []customervalue.Condition{tt.cond}
			requireValid(t, r)
			rules := []customervalue.Rule{r}
			var s customervalue.State
			var got int64
			for _, c := range tt.convs {
				for _, o := range s.Apply(rules, c, time.UTC) {
					require.Zero(t, got, "fired twice")
					got = o.ConversionID
				}
			}
			require.Equal(t, tt.wantAt, got)
		})
	}
}

func TestRefundReducesSumsNotCounts(t *testing.T) {
	t.Parallel()

	r := rule(31, "Big spender, twice")
	r.Conditions = []customervalue.Condition{
		{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggSum, Operator: customervalue.OpGte, Value: "100"},
		{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggCount, Operator: customervalue.OpGte, Value: "2"},
	}
	rules := []customervalue.Rule{r}
	day := time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
	var s customervalue.State
	require.Empty(t, s.Apply(rules, withSale(conv(1, 5, 1, "", day), "80"), time.UTC))
	s.Refund(1, dec("50"), dec("0"), dec("0"))
	s.Refund(1, dec("50"), dec("0"), dec("0")) // the same total again: no change
	s.Refund(1, dec("20"), dec("0"), dec("0")) // an earlier total arriving late: no change
	require.Empty(t, s.Apply(rules, withSale(conv(2, 5, 1, "", day.Add(time.Hour)), "60"), time.UTC), "30 + 60 is short of 100")
	p := s.Progress(rules, day.Add(time.Hour), time.UTC)
	require.Equal(t, "90", p[0].Groups[0].Conditions[0].Value)
	require.Equal(t, "2", p[0].Groups[0].Conditions[1].Value)
	require.True(t, p[0].Groups[0].Conditions[1].Met, "counts are unchanged")
	s.Refund(1, dec("500"), dec("0"), dec("0"))
	p = s.Progress(rules, day.Add(time.Hour), time.UTC)
	require.Equal(t, "60", p[0].Groups[0].Conditions[0].Value, "never below zero")
	out := s.Apply(rules, withSale(conv(3, 6, 1, "", day.Add(2*time.Hour)), "40"), time.UTC)
	require.Len(t, out, 1)
}

func TestPercentOfCycleNeverMixesCurrencies(t *testing.T) {
	t.Parallel()

	r := rule(32, "1% of sales")
	r.Conditions = []customervalue.Condition{{Source: customervalue.MetricConversionCount, Aggregation: customervalue.AggCount, Operator: customervalue.OpGte, Value: "3"}}
	r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("1"), Base: customervalue.BaseSaleAmount}
	requireValid(t, r)
	rules := []customervalue.Rule{r}
	day := time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
	eur := withSale(conv(2, 5, 1, "", day.Add(time.Hour)), "1000")
	eur.Currency = "EUR"
	var s customervalue.State
	out := applyAll(&s, rules, time.UTC,
		withSale(conv(1, 5, 1, "", day), "100"),
		eur,
		withSale(conv(3, 5, 1, "", day.Add(2*time.Hour)), "50"),
	)
	require.Len(t, out, 1)
	requireAmount(t, "1.50", out[0].Payout)
	require.Equal(t, "USD", out[0].Currency)
	require.Equal(t, 2, out[0].Explanation.Payout.BaseConversions)
	require.Equal(t, "1 conversion in another currency left out of the base: currencies are never mixed", out[0].Explanation.Payout.Note)
}

func TestProgress(t *testing.T) {
	t.Parallel()

	trader := highValueTrader()
	level := rule(2, "Level 10 Bonus")
	level.Timeframe.Anchor = customervalue.AnchorFirstConversion
	level.Timeframe.DurationDays = 7
	level.Conditions = []customervalue.Condition{numCond("level", customervalue.AggAny, customervalue.OpGte, "10")}
	rules := []customervalue.Rule{level, trader}
	day := time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
	var s customervalue.State

	p := s.Progress(rules, day, time.UTC)
	require.Len(t, p, 2)
	require.Equal(t, int64(1), p[0].RuleID, "by rule id")
	require.Nil(t, p[0].Anchor, "no conversion yet")
	require.False(t, p[0].InWindow)
	require.Empty(t, p[0].Groups)

	applyAll(&s, rules, time.UTC,
		conv(1, 5, 1, "", day, "geo", "EU1", "level", "4"),
		conv(2, 5, 1, "deposit", day.Add(time.Hour), "deposit", "120.50"),
	)
	p = s.Progress(rules, day.Add(2*time.Hour), time.UTC)
	require.Equal(t, day, *p[0].Anchor)
	require.True(t, p[0].InWindow)
	require.Nil(t, p[0].WindowEnd)
	require.Equal(t, customervalue.ContinuousCycleID, p[0].Cycle.ID)
	g := p[0].Groups[0]
	require.Equal(t, "all", g.Group)
	require.Equal(t, 2, g.Conversions)
	require.False(t, g.Met)
	require.Equal(t, []customervalue.ConditionResult{
		{Index: 0, Source: "geo", Aggregation: customervalue.AggAny, Operator: customervalue.OpEq, Met: true, Value: "EU1", HasValue: true, Values: 1},
		{Index: 1, Source: "deposit", Aggregation: customervalue.AggSum, Operator: customervalue.OpGt, Met: false, Value: "120.5", HasValue: true, Values: 1},
		{Index: 2, Source: "trade", Aggregation: customervalue.AggAny, Operator: customervalue.OpGte, Met: false, Values: 0},
	}, g.Conditions)

	// The level rule's window ends 7 days after the first conversion.
	require.Equal(t, day.Add(7*24*time.Hour), *p[1].WindowEnd)
	require.False(t, p[1].Groups[0].Conditions[0].Met)
	require.Equal(t, "", p[1].Groups[0].Conditions[0].Value)
	after := s.Progress(rules, day.Add(8*24*time.Hour), time.UTC)
	require.False(t, after[1].InWindow)
	require.Nil(t, after[1].Cycle)
}
