package customervalue_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

func TestEveryConversionPercentBonus(t *testing.T) {
	t.Parallel()

	day := time.Date(2025, 8, 4, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		base    customervalue.Base
		convs   []customervalue.Conversion
		want    []string // bonus per conversion, "" for none
		formula string   // of the last bonus
	}{
		{
			name: "OwnSaleAmount",
			base: customervalue.BaseSaleAmount,
			convs: []customervalue.Conversion{
				withSale(conv(1, 5, 1, "deposit", day, "deposit", "1"), "100"),                    // no geo yet: not qualifying
				withSale(conv(2, 5, 1, "", day.Add(time.Hour), "geo", "EU1"), "40"),               // completes the goal
				withSale(conv(3, 6, 1, "deposit", day.Add(2*time.Hour), "deposit", "1"), "55.55"), // qualifies on its own amount
			},
			want:    []string{"", "2.00", "2.78"},
			formula: "5% × 55.55 sale amount = 2.7775, rounded to 2.78",
		},
		{
			name: "OwnRevenue",
			base: customervalue.BaseRevenue,
			convs: []customervalue.Conversion{
				withRevenue(conv(1, 5, 1, "", day, "geo", "EU1"), "10"),
				withRevenue(conv(2, 5, 1, "deposit", day.Add(time.Hour)), "0.10"),
				conv(3, 5, 1, "deposit", day.Add(2*time.Hour)),
			},
			want:    []string{"0.50", "0.01", "0"},
			formula: "5% × 0.00 revenue = 0.00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := rule(10, "5% while EU1")
			r.Conditions = []customervalue.Condition{textCond("geo", customervalue.AggAny, customervalue.OpEq, "EU1")}
			r.Outcome.Frequency = customervalue.EveryConversion
			r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("5"), Base: tt.base}
			requireValid(t, r)
			rules := []customervalue.Rule{r}
			var s customervalue.State
			var last customervalue.Outcome
			for i, c := range tt.convs {
				out := s.Apply(rules, c, time.UTC)
				if tt.want[i] == "" {
					require.Empty(t, out)
					continue
				}
				require.Len(t, out, 1)
				require.Equal(t, c.ID, out[0].ConversionID)
				require.Equal(t, c.PartnerID, out[0].PartnerID)
				requireAmount(t, tt.want[i], out[0].Payout)
				require.Equal(t, customervalue.ScopeConversion, out[0].Explanation.Payout.BaseScope)
				last = out[0]
			}
			require.Equal(t, tt.formula, last.Explanation.Payout.Formula)
		})
	}
}

func TestInstantPercentOnceBonusIsOfTheCycleToDate(t *testing.T) {
	t.Parallel()

	r := rule(11, "10% of the revenue so far")
	r.Conditions = []customervalue.Condition{{Source: customervalue.MetricRevenue, Aggregation: customervalue.AggSum, Operator: customervalue.OpGte, Value: "50"}}
	r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("10"), Base: customervalue.BaseRevenue}
	r.Outcome.RevenueAdjustment = &customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("3")}
	requireValid(t, r)
	rules := []customervalue.Rule{r}
	day := time.Date(2025, 8, 4, 9, 0, 0, 0, time.UTC)

	var s customervalue.State
	require.Empty(t, s.Apply(rules, withRevenue(conv(1, 5, 1, "", day), "30"), time.UTC))
	s.Refund(1, dec("0"), dec("5"), dec("0")) // net 25
	require.Empty(t, s.Apply(rules, withRevenue(conv(2, 5, 1, "deposit", day.Add(time.Hour)), "20.05"), time.UTC), "45.05 after the refund")
	out := s.Apply(rules, withRevenue(conv(3, 6, 1, "deposit", day.Add(2*time.Hour)), "10"), time.UTC)
	require.Len(t, out, 1)
	requireAmount(t, "5.51", out[0].Payout) // 10% × 55.05
	require.Equal(t, "10% × 55.05 revenue of the cycle so far (3 conversions) = 5.505, rounded to 5.51", out[0].Explanation.Payout.Formula)
	require.NotNil(t, out[0].Revenue)
	requireAmount(t, "3", *out[0].Revenue)
	require.Equal(t, int64(6), out[0].PartnerID)
}

// monthlyDeposits is an end-of-cycle goal: deposits adding up to $300 in a
// month pay 10% of the month's revenue, once per month.
func monthlyDeposits() customervalue.Rule {
	r := rule(12, "Monthly depositor")
	r.Timeframe.Cycle = customervalue.CycleMonthly
	r.Conditions = []customervalue.Condition{numCond("deposit", customervalue.AggSum, customervalue.OpGte, "300")}
	r.Outcome.Frequency = customervalue.OncePerCycle
	r.Outcome.Trigger = customervalue.TriggerEndOfCycle
	r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("10"), Base: customervalue.BaseRevenue}
	return r
}

func TestEndOfCycleBonus(t *testing.T) {
	t.Parallel()

	march := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	end := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	deposit := func(id, partner int64, amount, revenue string, at time.Time) customervalue.Conversion {
		return withRevenue(conv(id, partner, 1, "deposit", at, "deposit", amount), revenue)
	}

	tests := []struct {
		name        string
		act         func(s *customervalue.State, rules []customervalue.Rule)
		wantConv    int64 // 0 for no bonus
		wantPartner int64
		wantPayout  string
	}{
		{
			// 200 + 150 reach 300 with conversion 2; conversion 3 adds
			// revenue. Refunds of 5 revenue on conversion 2: 20 + 25 + 10.
			name: "CompletingPartnerNetOfRefunds",
			act: func(s *customervalue.State, rules []customervalue.Rule) {
				applyAll(s, rules, time.UTC,
					deposit(1, 101, "200", "20", march),
					deposit(2, 102, "150", "30", march.Add(time.Hour)),
					deposit(3, 103, "50", "10", march.AddDate(0, 0, 20)),
				)
				s.Refund(2, dec("0"), dec("5"), dec("0"))
			},
			wantConv:    2,
			wantPartner: 102,
			wantPayout:  "5.50",
		},
		{
			// Without conversion 2, conversion 3 completes the goal.
			name: "ReversalBeforeTheEndReplaysToTheNextOne",
			act: func(s *customervalue.State, rules []customervalue.Rule) {
				applyAll(s, rules, time.UTC,
					deposit(1, 101, "200", "20", march),
					deposit(2, 102, "150", "30", march.Add(time.Hour)),
					deposit(3, 103, "100", "10", march.AddDate(0, 0, 20)),
				)
				s.Reverse(rules, 2)
			},
			wantConv:    3,
			wantPartner: 103,
			wantPayout:  "3.00",
		},
		{
			name: "NotMetByTheEnd",
			act: func(s *customervalue.State, rules []customervalue.Rule) {
				applyAll(s, rules, time.UTC,
					deposit(1, 101, "200", "20", march),
					deposit(2, 102, "99.99", "30", march.Add(time.Hour)),
				)
			},
		},
		{
			// A deposit timestamped in April counts in April.
			name: "NextMonthDoesNotCount",
			act: func(s *customervalue.State, rules []customervalue.Rule) {
				applyAll(s, rules, time.UTC,
					deposit(1, 101, "200", "20", march),
					deposit(2, 102, "100", "30", end),
				)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := monthlyDeposits()
			requireValid(t, r)
			rules := []customervalue.Rule{r}
			var s customervalue.State
			tt.act(&s, rules)

			next, ok := s.NextWakeUp(rules, time.UTC)
			require.True(t, ok)
			require.Equal(t, end, next)
			require.Empty(t, s.Due(rules, end.Add(-time.Nanosecond), time.UTC), "not before the end")

			out := s.Due(rules, end, time.UTC)
			if tt.wantConv == 0 {
				require.Empty(t, out)
			} else {
				require.Len(t, out, 1)
				o := out[0]
				require.Equal(t, tt.wantConv, o.ConversionID)
				require.Equal(t, tt.wantPartner, o.PartnerID)
				requireAmount(t, tt.wantPayout, o.Payout)
				require.Equal(t, customervalue.ScopeCycle, o.Explanation.Payout.BaseScope)
				require.Equal(t, customervalue.TriggerEndOfCycle, o.Explanation.Trigger)
				require.Equal(t, "2025-03-01", o.Explanation.Cycle.ID)
			}
			require.Empty(t, s.Due(rules, end.Add(time.Hour), time.UTC), "settled once")
			next, ok = s.NextWakeUp(rules, time.UTC)
			if ok {
				require.True(t, next.After(end), "no wake-up for the settled month")
			}
		})
	}

	t.Run("EveryConversionAtTheEnd", func(t *testing.T) {
		t.Parallel()

		r := monthlyDeposits()
		r.Outcome.Frequency = customervalue.EveryConversion
		r.Outcome.Payout = customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("10"), Base: customervalue.BaseRevenue}
		requireValid(t, r)
		rules := []customervalue.Rule{r}
		var s customervalue.State
		applyAll(&s, rules, time.UTC,
			deposit(1, 101, "200", "20", march),
			deposit(2, 102, "150", "30", march.Add(time.Hour)),
		)
		s.Refund(1, dec("0"), dec("1"), dec("0"))
		out := s.Due(rules, end, time.UTC)
		require.Len(t, out, 2)
		requireAmount(t, "1.90", out[0].Payout)
		require.Equal(t, int64(101), out[0].PartnerID)
		requireAmount(t, "3.00", out[1].Payout)
		require.Equal(t, int64(2), out[1].Explanation.CompletedBy)

		// A late deposit into March pays only itself.
		require.Empty(t, s.Apply(rules, deposit(3, 103, "1", "7", march.AddDate(0, 0, 1)), time.UTC))
		out = s.Due(rules, end.Add(time.Hour), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, int64(3), out[0].ConversionID)
		requireAmount(t, "0.70", out[0].Payout)
	})

	t.Run("PausedRulePaysNothing", func(t *testing.T) {
		t.Parallel()

		r := monthlyDeposits()
		rules := []customervalue.Rule{r}
		var s customervalue.State
		applyAll(&s, rules, time.UTC, deposit(1, 101, "300", "20", march))
		r.Active = false
		require.Empty(t, s.Due([]customervalue.Rule{r}, end, time.UTC))
		_, ok := s.NextWakeUp(rules, time.UTC)
		require.False(t, ok)
	})
}

func TestReversalRearms(t *testing.T) {
	t.Parallel()

	day := time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC)

	t.Run("CompletingConversionReversed", func(t *testing.T) {
		t.Parallel()

		level10 := rule(2, "Level 10 Bonus")
		level10.Conditions = []customervalue.Condition{numCond("level", customervalue.AggAny, customervalue.OpGte, "10")}
		rules := []customervalue.Rule{level10}
		var s customervalue.State
		out := s.Apply(rules, conv(1, 5, 1, "level_up", day, "level", "10"), time.UTC)
		require.Len(t, out, 1)
		s.Reverse(rules, 1)
		require.Empty(t, s.Apply(rules, conv(2, 6, 1, "level_up", day.Add(time.Hour), "level", "5"), time.UTC), "the reversed level no longer counts")
		out = s.Apply(rules, conv(3, 6, 1, "level_up", day.Add(2*time.Hour), "level", "11"), time.UTC)
		require.Len(t, out, 1, "re-armed")
		require.Equal(t, int64(6), out[0].PartnerID)
		require.Equal(t, "customer_value/2/all/continuous/once_per_customer/3", out[0].Key)
	})

	t.Run("NextConversionAfterWhichGoalHoldsFires", func(t *testing.T) {
		t.Parallel()

		rules := []customervalue.Rule{highValueTrader()}
		var s customervalue.State
		out := applyAll(&s, rules, time.UTC,
			conv(1, 5, 1, "", day, "geo", "EU1"),
			conv(2, 5, 1, "deposit", day.Add(time.Hour), "deposit", "250"),
			conv(3, 6, 1, "trade", day.Add(2*time.Hour), "trade", "150"),
			conv(4, 7, 1, "trade", day.Add(3*time.Hour), "trade", "120"),
		)
		require.Len(t, out, 1)
		require.Equal(t, int64(3), out[0].ConversionID)
		s.Reverse(rules, 3)
		// The goal still holds (trade 120), but nothing fires on a reversal;
		// the next conversion gets the bonus.
		out = s.Apply(rules, conv(5, 8, 2, "deposit", day.Add(4*time.Hour), "deposit", "1"), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, int64(5), out[0].ConversionID)
		require.Equal(t, int64(8), out[0].PartnerID)
	})

	t.Run("ContributorReversedNoClawBack", func(t *testing.T) {
		t.Parallel()

		rules := []customervalue.Rule{highValueTrader()}
		var s customervalue.State
		out := applyAll(&s, rules, time.UTC,
			conv(1, 5, 1, "", day, "geo", "EU1"),
			conv(2, 5, 1, "deposit", day.Add(time.Hour), "deposit", "250"),
			conv(3, 6, 1, "trade", day.Add(2*time.Hour), "trade", "150"),
		)
		require.Len(t, out, 1)
		s.Reverse(rules, 1)
		s.Reverse(rules, 2)
		p := s.Progress(rules, day.Add(3*time.Hour), time.UTC)
		require.False(t, p[0].Groups[0].Met)
		require.Len(t, p[0].Groups[0].Spent, 1, "the bonus conversion 3 got stays spent")
		require.Empty(t, applyAll(&s, rules, time.UTC,
			conv(4, 5, 1, "", day.Add(4*time.Hour), "geo", "EU1"),
			conv(5, 5, 1, "deposit", day.Add(5*time.Hour), "deposit", "250"),
		))
	})

	t.Run("ReapplyingCountsNothingTwice", func(t *testing.T) {
		t.Parallel()

		rules := []customervalue.Rule{highValueTrader()}
		var s customervalue.State
		c := conv(1, 5, 1, "deposit", day, "deposit", "150")
		require.Empty(t, s.Apply(rules, c, time.UTC))
		require.Empty(t, s.Apply(rules, c, time.UTC))
		p := s.Progress(rules, day, time.UTC)
		require.Equal(t, "150", p[0].Groups[0].Conditions[1].Value)
		require.Equal(t, 1, p[0].Groups[0].Conversions)
	})
}

func TestOverridePriority(t *testing.T) {
	t.Parallel()

	day := time.Date(2025, 10, 1, 9, 0, 0, 0, time.UTC)
	override := func(id int64, name string, partners []int64, created time.Time, amount string) customervalue.Rule {
		r := rule(id, name)
		r.PartnerIDs = partners
		r.CreatedAt = created
		r.Outcome = customervalue.RuleOutcome{
			Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant, Kind: customervalue.KindOverride,
			Payout:            customervalue.Rate{Type: customervalue.RateFixed, Amount: dec(amount)},
			RevenueAdjustment: &customervalue.Rate{Type: customervalue.RatePercent, Percent: dec("50"), Base: customervalue.BaseSaleAmount},
		}
		return r
	}
	namesOld := override(20, "Partner 5, old", []int64{5}, day.AddDate(0, -2, 0), "7")
	namesNew := override(21, "Partner 5, new", []int64{5, 6}, day.AddDate(0, -1, 0), "8")
	allNewest := override(22, "Everyone, newest", nil, day, "9")
	bonus := rule(19, "Bonus stacks") // outcomes come by rule id: the bonus first
	requireValid(t, namesOld, namesNew, allNewest, bonus)

	tests := []struct {
		name           string
		rules          []customervalue.Rule
		partner        int64
		wantRule       int64
		wantSuperseded []int64
	}{
		{name: "NamingThePartnerBeatsNewer", rules: []customervalue.Rule{allNewest, namesOld}, partner: 5, wantRule: 20, wantSuperseded: []int64{22}},
		{name: "ThenTheNewest", rules: []customervalue.Rule{namesOld, namesNew, allNewest}, partner: 5, wantRule: 21, wantSuperseded: []int64{20, 22}},
		{name: "AllPartnersForAnother", rules: []customervalue.Rule{namesOld, allNewest}, partner: 7, wantRule: 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var s customervalue.State
			rules := append([]customervalue.Rule{bonus}, tt.rules...)
			out := s.Apply(rules, withSale(conv(1, tt.partner, 1, "", day), "12.35"), time.UTC)
			require.Len(t, out, 2, "one bonus and one override")
			require.Equal(t, customervalue.KindBonus, out[0].Kind)
			o := out[1]
			require.Equal(t, customervalue.KindOverride, o.Kind)
			require.Equal(t, tt.wantRule, o.RuleID)
			require.NotNil(t, o.Revenue)
			requireAmount(t, "6.18", *o.Revenue) // 50% × 12.35 = 6.175
			var superseded []int64
			for _, sp := range o.Explanation.Superseded {
				superseded = append(superseded, sp.RuleID)
			}
			require.Equal(t, tt.wantSuperseded, superseded)
		})
	}
}

func TestOverrideTargets(t *testing.T) {
	t.Parallel()
	r := customervalue.Rule{Outcome: customervalue.RuleOutcome{Kind: customervalue.KindOverride,
		Payout:            customervalue.Rate{Type: customervalue.RateRevShare, Percent: decimal.NewFromInt(10)},
		RevenueAdjustment: &customervalue.Rate{Type: customervalue.RatePercent, Base: customervalue.BaseRevenue, Percent: decimal.NewFromInt(50)}}}
	payout, rev := customervalue.OverrideTargets(r, "usd", decimal.RequireFromString("100.05"), decimal.RequireFromString("8"))
	require.Equal(t, "10.01", payout.Amount.StringFixed(2), "10% of the 100.05 sale, rounded half away from zero")
	require.Contains(t, payout.Formula, "sale amount")
	require.NotNil(t, rev)
	require.Equal(t, "4.00", rev.Amount.StringFixed(2))

	r.Outcome.RevenueAdjustment = nil
	r.Outcome.Payout = customervalue.Rate{Type: customervalue.RateFixed, Amount: decimal.NewFromInt(7)}
	payout, rev = customervalue.OverrideTargets(r, "USD", decimal.Zero, decimal.Zero)
	require.Equal(t, "7", payout.Amount.String(), "a fixed override does not follow the amounts")
	require.Nil(t, rev)
}
