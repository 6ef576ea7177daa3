package customervalue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

// weeklyDeposits is a weekly goal: deposits adding up to $100 in a week pay
// $10, once per week.
func weeklyDeposits() customervalue.Rule {
	r := rule(4, "Weekly depositor")
	r.Timeframe.Cycle = customervalue.CycleWeekly
	r.Conditions = []customervalue.Condition{numCond("deposit", customervalue.AggSum, customervalue.OpGte, "100")}
	r.Outcome.Frequency = customervalue.OncePerCycle
	return r
}

func TestRecurringCycleResets(t *testing.T) {
	t.Parallel()

	weekly := weeklyDeposits()
	requireValid(t, weekly)
	rules := []customervalue.Rule{weekly}

	tests := []struct {
		name string
		zone string
		// weekStart and weekEnd bound the week holding lastOld, the last
		// second before the boundary: weekEnd is Monday 00:00 local.
		weekStart   time.Time
		weekEnd     time.Time
		nextWeekEnd time.Time
		newCycleID  string
	}{
		{
			// DST starts on Sunday 30 March 2025 (02:00 CET → 03:00 CEST):
			// the week is 167 hours long.
			name:        "BerlinSpringForward",
			zone:        "Europe/Berlin",
			weekStart:   time.Date(2025, 3, 23, 23, 0, 0, 0, time.UTC), // Mon 24 Mar 00:00 CET
			weekEnd:     time.Date(2025, 3, 30, 22, 0, 0, 0, time.UTC), // Mon 31 Mar 00:00 CEST
			nextWeekEnd: time.Date(2025, 4, 6, 22, 0, 0, 0, time.UTC),
			newCycleID:  "2025-03-31",
		},
		{
			// DST ends on Sunday 2 November 2025 (02:00 EDT → 01:00 EST): the
			// week is 169 hours long.
			name:        "NewYorkFallBack",
			zone:        "America/New_York",
			weekStart:   time.Date(2025, 10, 27, 4, 0, 0, 0, time.UTC), // Mon 27 Oct 00:00 EDT
			weekEnd:     time.Date(2025, 11, 3, 5, 0, 0, 0, time.UTC),  // Mon 3 Nov 00:00 EST
			nextWeekEnd: time.Date(2025, 11, 10, 5, 0, 0, 0, time.UTC),
			newCycleID:  "2025-11-03",
		},
		{
			name:        "UTC",
			zone:        "UTC",
			weekStart:   time.Date(2025, 3, 24, 0, 0, 0, 0, time.UTC),
			weekEnd:     time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC),
			nextWeekEnd: time.Date(2025, 4, 7, 0, 0, 0, 0, time.UTC),
			newCycleID:  "2025-03-31",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			loc := mustLoad(t, tt.zone)
			var s customervalue.State

			// $60 early in the week and $30 in its last second: 90, not yet.
			out := applyAll(&s, rules, loc,
				conv(1, 5, 1, "deposit", tt.weekStart, "deposit", "60"),
				conv(2, 5, 1, "deposit", tt.weekEnd.Add(-time.Second), "deposit", "30"),
			)
			require.Empty(t, out)
			p := s.Progress(rules, tt.weekEnd.Add(-time.Second), loc)
			require.Equal(t, tt.weekStart, p[0].Cycle.Start)
			require.Equal(t, tt.weekEnd, *p[0].Cycle.End)
			require.Equal(t, "90", p[0].Groups[0].Conditions[0].Value)

			next, ok := s.NextWakeUp(rules, loc)
			require.True(t, ok)
			require.Equal(t, tt.weekEnd, next, "the workflow wakes at Monday 00:00 local")

			// $30 at Monday 00:00 local is in the new week: 30, not 120.
			out = s.Apply(rules, conv(3, 5, 1, "deposit", tt.weekEnd, "deposit", "30"), loc)
			require.Empty(t, out, "progress does not carry over the boundary")
			p = s.Progress(rules, tt.weekEnd, loc)
			require.Equal(t, tt.newCycleID, p[0].Cycle.ID)
			require.Equal(t, "30", p[0].Groups[0].Conditions[0].Value)

			require.Empty(t, s.Due(rules, tt.weekEnd, loc))
			next, ok = s.NextWakeUp(rules, loc)
			require.True(t, ok)
			require.Equal(t, tt.nextWeekEnd, next)

			// $70 more in the new week reaches 100.
			out = s.Apply(rules, conv(4, 6, 2, "deposit", tt.weekEnd.Add(48*time.Hour), "deposit", "70"), loc)
			require.Len(t, out, 1)
			require.Equal(t, int64(6), out[0].PartnerID)
			require.Equal(t, "customer_value/4/all/"+tt.newCycleID+"/once_per_cycle/4", out[0].Key)
			require.Equal(t, tt.weekEnd, out[0].Explanation.Cycle.Start)
		})
	}
}

func TestCycleBoundaries(t *testing.T) {
	t.Parallel()

	berlin := mustLoad(t, "Europe/Berlin")
	saoPaulo := mustLoad(t, "America/Sao_Paulo")
	tests := []struct {
		name      string
		cycle     customervalue.Cycle
		loc       *time.Location
		at        time.Time
		wantID    string
		wantStart time.Time
		wantEnd   time.Time
	}{
		{
			name:      "DailyBerlin",
			cycle:     customervalue.CycleDaily,
			loc:       berlin,
			at:        time.Date(2025, 7, 14, 22, 30, 0, 0, time.UTC), // 15 Jul 00:30 CEST
			wantID:    "2025-07-15",
			wantStart: time.Date(2025, 7, 14, 22, 0, 0, 0, time.UTC),
			wantEnd:   time.Date(2025, 7, 15, 22, 0, 0, 0, time.UTC),
		},
		{
			// Sao Paulo skipped midnight on 4 November 2018 (00:00 → 01:00):
			// the day starts at its first local instant, 01:00 (§13.18).
			name:      "DailyMidnightSkipped",
			cycle:     customervalue.CycleDaily,
			loc:       saoPaulo,
			at:        time.Date(2018, 11, 4, 12, 0, 0, 0, time.UTC),
			wantID:    "2018-11-04",
			wantStart: time.Date(2018, 11, 4, 3, 0, 0, 0, time.UTC), // 01:00 −02
			wantEnd:   time.Date(2018, 11, 5, 2, 0, 0, 0, time.UTC), // 00:00 −02
		},
		{
			name:      "MonthlyBerlin",
			cycle:     customervalue.CycleMonthly,
			loc:       berlin,
			at:        time.Date(2025, 3, 31, 21, 59, 59, 0, time.UTC), // 31 Mar 23:59:59 CEST
			wantID:    "2025-03-01",
			wantStart: time.Date(2025, 2, 28, 23, 0, 0, 0, time.UTC),
			wantEnd:   time.Date(2025, 3, 31, 22, 0, 0, 0, time.UTC),
		},
		{
			name:      "QuarterlyBerlin",
			cycle:     customervalue.CycleQuarterly,
			loc:       berlin,
			at:        time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC),
			wantID:    "2025-04-01",
			wantStart: time.Date(2025, 3, 31, 22, 0, 0, 0, time.UTC),
			wantEnd:   time.Date(2025, 6, 30, 22, 0, 0, 0, time.UTC),
		},
		{
			name:      "QuarterlyLastQuarter",
			cycle:     customervalue.CycleQuarterly,
			loc:       time.UTC,
			at:        time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC),
			wantID:    "2025-10-01",
			wantStart: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC),
			wantEnd:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			name:      "WeeklySundayIsTheLastDay",
			cycle:     customervalue.CycleWeekly,
			loc:       time.UTC,
			at:        time.Date(2025, 6, 1, 23, 0, 0, 0, time.UTC), // a Sunday
			wantID:    "2025-05-26",
			wantStart: time.Date(2025, 5, 26, 0, 0, 0, 0, time.UTC),
			wantEnd:   time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := rule(5, "Cycle")
			r.StartsAt = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)
			r.Timeframe.Cycle = tt.cycle
			r.Conditions = []customervalue.Condition{numCond("deposit", customervalue.AggSum, customervalue.OpGt, "1000")}
			rules := []customervalue.Rule{r}
			var s customervalue.State
			require.Empty(t, s.Apply(rules, conv(1, 5, 1, "deposit", tt.at, "deposit", "1"), tt.loc))
			p := s.Progress(rules, tt.at, tt.loc)
			require.NotNil(t, p[0].Cycle)
			require.Equal(t, tt.wantID, p[0].Cycle.ID)
			require.Equal(t, tt.wantStart, p[0].Cycle.Start)
			require.Equal(t, tt.wantEnd, *p[0].Cycle.End)
			next, ok := s.NextWakeUp(rules, tt.loc)
			require.True(t, ok)
			require.Equal(t, tt.wantEnd, next)
		})
	}
}

func TestScopeSeparatelyByOffer(t *testing.T) {
	t.Parallel()

	byOffer := highValueTrader()
	byOffer.Grouping = customervalue.GroupOffer
	byPartner := highValueTrader()
	byPartner.Grouping = customervalue.GroupPartner
	requireValid(t, byOffer, byPartner)
	day := time.Date(2025, 4, 1, 10, 0, 0, 0, time.UTC)

	tests := []struct {
		name      string
		rule      customervalue.Rule
		convs     []customervalue.Conversion
		wantConv  int64 // 0 for none
		wantGroup string
	}{
		{
			name: "AcrossTwoOffersDoesNotFire",
			rule: byOffer,
			convs: []customervalue.Conversion{
				conv(1, 5, 1, "", day, "geo", "EU1"),
				conv(2, 5, 1, "trade", day.Add(time.Hour), "trade", "150"),
				conv(3, 5, 2, "deposit", day.Add(2*time.Hour), "deposit", "500"),
			},
		},
		{
			name: "WithinOneOfferFires",
			rule: byOffer,
			convs: []customervalue.Conversion{
				conv(1, 5, 1, "", day, "geo", "EU1"),
				conv(2, 5, 1, "trade", day.Add(time.Hour), "trade", "150"),
				conv(3, 5, 2, "deposit", day.Add(2*time.Hour), "deposit", "500"),
				conv(4, 6, 1, "deposit", day.Add(3*time.Hour), "deposit", "201"),
			},
			wantConv:  4,
			wantGroup: "offer:1",
		},
		{
			name: "SecondOfferCompletesOnItsOwn",
			rule: byOffer,
			convs: []customervalue.Conversion{
				conv(1, 5, 1, "", day, "geo", "EU1"),
				conv(2, 5, 2, "deposit", day.Add(time.Hour), "deposit", "500"),
				conv(3, 5, 2, "trade", day.Add(2*time.Hour), "trade", "150"),
				conv(4, 5, 2, "", day.Add(3*time.Hour), "geo", "EU1"),
			},
			wantConv:  4,
			wantGroup: "offer:2",
		},
		{
			name: "AcrossTwoPartnersDoesNotFire",
			rule: byPartner,
			convs: []customervalue.Conversion{
				conv(1, 5, 1, "", day, "geo", "EU1", "deposit", "500"),
				conv(2, 6, 1, "trade", day.Add(time.Hour), "trade", "150"),
			},
		},
		{
			name: "WithinOnePartnerFires",
			rule: byPartner,
			convs: []customervalue.Conversion{
				conv(1, 5, 1, "", day, "geo", "EU1", "deposit", "500"),
				conv(2, 6, 1, "trade", day.Add(time.Hour), "trade", "150"),
				conv(3, 5, 2, "trade", day.Add(2*time.Hour), "trade", "100"),
			},
			wantConv:  3,
			wantGroup: "partner:5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var s customervalue.State
			out := applyAll(&s, []customervalue.Rule{tt.rule}, time.UTC, tt.convs...)
			if tt.wantConv == 0 {
				require.Empty(t, out)
				return
			}
			require.Len(t, out, 1)
			require.Equal(t, tt.wantConv, out[0].ConversionID)
			require.Equal(t, tt.wantGroup, out[0].Explanation.Group)
		})
	}

	t.Run("OncePerCustomerCountsPerGroup", func(t *testing.T) {
		t.Parallel()

		// §13.15: once per customer is once per (customer, group): each
		// offer pays its own bonus once.
		var s customervalue.State
		rules := []customervalue.Rule{byOffer}
		out := applyAll(&s, rules, time.UTC,
			conv(1, 5, 1, "", day, "geo", "EU1", "deposit", "300", "trade", "100"),
			conv(2, 5, 2, "", day.Add(time.Hour), "geo", "EU1", "deposit", "300", "trade", "100"),
			conv(3, 5, 1, "", day.Add(2*time.Hour), "geo", "EU1", "deposit", "300", "trade", "100"),
		)
		require.Len(t, out, 2)
		require.Equal(t, int64(1), out[0].ConversionID)
		require.Equal(t, int64(2), out[1].ConversionID)
		p := s.Progress(rules, day.Add(3*time.Hour), time.UTC)
		require.Len(t, p[0].Groups, 2)
		require.Equal(t, "offer:1", p[0].Groups[0].Group)
		require.Len(t, p[0].Groups[0].Spent, 1)
		require.Equal(t, int64(1), p[0].Groups[0].Spent[0].ConversionID)
	})
}

func TestOncePerCycleFiresEachCycle(t *testing.T) {
	t.Parallel()

	monthly := rule(6, "Two conversions a month")
	monthly.Timeframe.Cycle = customervalue.CycleMonthly
	monthly.Conditions = []customervalue.Condition{{
		Source: customervalue.MetricConversionCount, Aggregation: customervalue.AggCount,
		Operator: customervalue.OpGte, Value: "2",
	}}
	monthly.AppliesOn = customervalue.AppliesOnBase
	monthly.Outcome.Frequency = customervalue.OncePerCycle
	lifetime := monthly
	lifetime.ID = 7
	lifetime.Name = "Two conversions in one month, once ever"
	lifetime.Outcome.Frequency = customervalue.OncePerCustomer
	requireValid(t, monthly, lifetime)
	rules := []customervalue.Rule{lifetime, monthly} // not in id order: results are

	var s customervalue.State
	march := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)
	april := time.Date(2025, 4, 5, 0, 0, 0, 0, time.UTC)

	require.Empty(t, s.Apply(rules, conv(1, 5, 1, "", march), time.UTC))
	out := s.Apply(rules, conv(2, 5, 1, "", march.Add(time.Hour)), time.UTC)
	require.Len(t, out, 2)
	require.Equal(t, int64(6), out[0].RuleID)
	require.Equal(t, "customer_value/6/all/2025-03-01/once_per_cycle/2", out[0].Key)
	require.Equal(t, int64(7), out[1].RuleID)
	require.Empty(t, s.Apply(rules, conv(3, 5, 1, "", march.Add(2*time.Hour)), time.UTC), "once per cycle")
	require.Empty(t, s.Apply(rules, conv(4, 5, 1, "deposit", march.Add(3*time.Hour)), time.UTC), "an event is not a base conversion")

	require.Empty(t, s.Due(rules, april, time.UTC))
	require.Empty(t, s.Apply(rules, conv(5, 6, 1, "", april), time.UTC), "progress resets each month")
	out = s.Apply(rules, conv(6, 6, 1, "", april.Add(time.Hour)), time.UTC)
	require.Len(t, out, 1, "the once-per-customer rule stays spent")
	require.Equal(t, int64(6), out[0].RuleID)
	require.Equal(t, int64(6), out[0].PartnerID)
	require.Equal(t, "customer_value/6/all/2025-04-01/once_per_cycle/6", out[0].Key)
	require.Equal(t, "2", out[0].Explanation.Conditions[0].Value)
}

func TestBackdatedConversion(t *testing.T) {
	t.Parallel()

	week1 := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC) // Monday
	week2 := week1.AddDate(0, 0, 7)

	t.Run("LandsInItsOwnCycle", func(t *testing.T) {
		t.Parallel()

		weekly := weeklyDeposits()
		rules := []customervalue.Rule{weekly}
		var s customervalue.State
		require.Empty(t, s.Apply(rules, conv(1, 5, 1, "deposit", week2, "deposit", "90"), time.UTC))
		require.Empty(t, s.Apply(rules, conv(2, 5, 1, "deposit", week1, "deposit", "20"), time.UTC), "20 in week 1, not 110 in week 2")
		out := s.Apply(rules, conv(3, 6, 1, "deposit", week1.Add(time.Hour), "deposit", "80"), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, "2025-06-02", out[0].Explanation.Cycle.ID)
		require.Equal(t, "customer_value/4/all/2025-06-02/once_per_cycle/3", out[0].Key)
		out = s.Apply(rules, conv(4, 5, 1, "deposit", week2.Add(time.Hour), "deposit", "10"), time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, "2025-06-09", out[0].Explanation.Cycle.ID)
	})

	t.Run("IntoASettledCycleSettlesAtOnce", func(t *testing.T) {
		t.Parallel()

		weekly := weeklyDeposits()
		weekly.Outcome.Trigger = customervalue.TriggerEndOfCycle
		rules := []customervalue.Rule{weekly}
		var s customervalue.State
		require.Empty(t, s.Apply(rules, conv(1, 5, 1, "deposit", week1, "deposit", "50"), time.UTC))
		end1 := time.Date(2025, 6, 9, 0, 0, 0, 0, time.UTC)
		require.Empty(t, s.Due(rules, end1, time.UTC), "50 is short of 100")

		// A postback approved late, timestamped in week 1.
		now := end1.Add(72 * time.Hour)
		require.Empty(t, s.Apply(rules, conv(2, 6, 1, "deposit", week1.Add(time.Hour), "deposit", "60"), time.UTC))
		next, ok := s.NextWakeUp(rules, time.UTC)
		require.True(t, ok)
		require.Equal(t, end1, next, "the reopened cycle is due at once")
		out := s.Due(rules, now, time.UTC)
		require.Len(t, out, 1)
		require.Equal(t, int64(2), out[0].ConversionID)
		require.Equal(t, int64(6), out[0].PartnerID)
		require.Empty(t, s.Due(rules, now, time.UTC))
	})

	t.Run("EarlierConversionMovesTheAnchor", func(t *testing.T) {
		t.Parallel()

		override := rule(8, "30 days")
		override.Timeframe = customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion, DurationDays: 30}
		override.Outcome = customervalue.RuleOutcome{
			Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant, Kind: customervalue.KindOverride,
			Payout: customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("1")},
		}
		requireValid(t, override)
		rules := []customervalue.Rule{override}
		var s customervalue.State
		mar10 := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
		apr5 := time.Date(2025, 4, 5, 0, 0, 0, 0, time.UTC)
		require.Len(t, s.Apply(rules, conv(1, 5, 1, "", mar10), time.UTC), 1)
		require.Len(t, s.Apply(rules, conv(2, 5, 1, "", apr5), time.UTC), 1, "within 30 days of 10 March")
		// Reversing the first conversion does not move the anchor.
		s.Reverse(rules, 1)
		require.Len(t, s.Apply(rules, conv(3, 5, 1, "", apr5.Add(time.Hour)), time.UTC), 1)
		// A backdated first conversion on 1 March does, for conversions
		// priced afterwards: the window now ends on 31 March.
		out := s.Apply(rules, conv(4, 5, 1, "", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)), time.UTC)
		require.Len(t, out, 1)
		require.Empty(t, s.Apply(rules, conv(5, 5, 1, "", apr5.Add(2*time.Hour)), time.UTC))
	})
}

func TestClosedCyclesAreDropped(t *testing.T) {
	t.Parallel()

	daily := rule(9, "Daily")
	daily.Timeframe.Cycle = customervalue.CycleDaily
	daily.Conditions = []customervalue.Condition{numCond("deposit", customervalue.AggSum, customervalue.OpGte, "100")}
	daily.Outcome.Frequency = customervalue.OncePerCycle
	rules := []customervalue.Rule{daily}
	var s customervalue.State
	day := time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		require.Empty(t, s.Apply(rules, conv(int64(i+1), 5, 1, "deposit", day.AddDate(0, 0, i), "deposit", "10"), time.UTC))
	}
	require.Len(t, s.Rules[0].Cycles, 5)

	// Within the retention a late conversion still counts in its day.
	now := day.AddDate(0, 0, 30)
	require.Empty(t, s.Due(rules, now, time.UTC))
	require.Len(t, s.Rules[0].Cycles, 5)
	out := s.Apply(rules, conv(10, 5, 1, "deposit", day.Add(time.Hour), "deposit", "90"), time.UTC)
	require.Len(t, out, 1)

	// After it the settled days are dropped, and a conversion into one of
	// them does not count.
	now = day.AddDate(0, 0, 4).Add(customervalue.ClosedCycleRetention)
	require.Empty(t, s.Due(rules, now, time.UTC))
	require.Len(t, s.Rules[0].Cycles, 1, "only the last day is within the retention")
	require.Equal(t, time.Date(2025, 2, 7, 0, 0, 0, 0, time.UTC), *s.Rules[0].DroppedThrough)
	require.Empty(t, s.Apply(rules, conv(11, 5, 1, "deposit", day.AddDate(0, 0, 1), "deposit", "500"), time.UTC))
	require.Len(t, s.Rules[0].Cycles, 1)
	require.True(t, s.Rules[0].Cycles[0].Settled)
	_, ok := s.NextWakeUp(rules, time.UTC)
	require.False(t, ok, "every cycle is settled")
}
