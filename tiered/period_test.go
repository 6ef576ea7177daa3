package tiered_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

func loadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

func TestPeriodBoundaries(t *testing.T) {
	t.Parallel()
	ny := loadLocation(t, "America/New_York")
	santiago := loadLocation(t, "America/Santiago")
	beirut := loadLocation(t, "Asia/Beirut")
	havana := loadLocation(t, "America/Havana")
	amman := loadLocation(t, "Asia/Amman")

	tests := []struct {
		name      string
		loc       *time.Location
		period    tiered.Period
		start     string // rule dates, for global
		end       string
		at        time.Time
		wantStart time.Time
		wantEnd   time.Time
	}{
		{name: "DailyUTC", period: tiered.PeriodDaily, at: utc(2024, 3, 15, 13, 45), wantStart: utc(2024, 3, 15, 0, 0), wantEnd: utc(2024, 3, 16, 0, 0)},
		{name: "DailyAtMidnightUTC", period: tiered.PeriodDaily, at: utc(2024, 3, 16, 0, 0), wantStart: utc(2024, 3, 16, 0, 0), wantEnd: utc(2024, 3, 17, 0, 0)},
		{name: "DailyNilLocationIsUTC", loc: nil, period: tiered.PeriodDaily, at: utc(2024, 12, 31, 23, 59), wantStart: utc(2024, 12, 31, 0, 0), wantEnd: utc(2025, 1, 1, 0, 0)},
		{name: "WeeklyFromMondayUTC", period: tiered.PeriodWeekly, at: utc(2024, 3, 13, 8, 0), wantStart: utc(2024, 3, 11, 0, 0), wantEnd: utc(2024, 3, 18, 0, 0)},
		{name: "WeeklySundayNightUTC", period: tiered.PeriodWeekly, at: time.Date(2024, 3, 17, 23, 59, 59, 999999999, time.UTC), wantStart: utc(2024, 3, 11, 0, 0), wantEnd: utc(2024, 3, 18, 0, 0)},
		{name: "WeeklyMondayMidnightUTC", period: tiered.PeriodWeekly, at: utc(2024, 3, 18, 0, 0), wantStart: utc(2024, 3, 18, 0, 0), wantEnd: utc(2024, 3, 25, 0, 0)},
		{name: "WeeklyAcrossYearUTC", period: tiered.PeriodWeekly, at: utc(2025, 1, 1, 12, 0), wantStart: utc(2024, 12, 30, 0, 0), wantEnd: utc(2025, 1, 6, 0, 0)},
		{name: "MonthlyLeapFebruaryUTC", period: tiered.PeriodMonthly, at: utc(2024, 2, 29, 23, 0), wantStart: utc(2024, 2, 1, 0, 0), wantEnd: utc(2024, 3, 1, 0, 0)},
		{name: "MonthlyDecemberUTC", period: tiered.PeriodMonthly, at: utc(2024, 12, 31, 23, 59), wantStart: utc(2024, 12, 1, 0, 0), wantEnd: utc(2025, 1, 1, 0, 0)},
		{name: "QuarterlyQ1UTC", period: tiered.PeriodQuarterly, at: time.Date(2024, 3, 31, 23, 59, 59, 999999000, time.UTC), wantStart: utc(2024, 1, 1, 0, 0), wantEnd: utc(2024, 4, 1, 0, 0)},
		{name: "QuarterlyQ2UTC", period: tiered.PeriodQuarterly, at: utc(2024, 5, 20, 0, 0), wantStart: utc(2024, 4, 1, 0, 0), wantEnd: utc(2024, 7, 1, 0, 0)},
		{name: "QuarterlyQ3UTC", period: tiered.PeriodQuarterly, at: utc(2024, 9, 30, 12, 0), wantStart: utc(2024, 7, 1, 0, 0), wantEnd: utc(2024, 10, 1, 0, 0)},
		{name: "QuarterlyQ4FromOctoberFirstUTC", period: tiered.PeriodQuarterly, at: utc(2024, 10, 1, 0, 0), wantStart: utc(2024, 10, 1, 0, 0), wantEnd: utc(2025, 1, 1, 0, 0)},
		{
			name: "GlobalIsTheRuleWindow", period: tiered.PeriodGlobal, start: "2024-01-15", end: "2024-06-30",
			at: utc(2024, 3, 1, 0, 0), wantStart: utc(2024, 1, 15, 0, 0), wantEnd: utc(2024, 7, 1, 0, 0),
		},
		{
			name: "GlobalWithoutEndDate", period: tiered.PeriodGlobal, start: "2024-01-15",
			at: utc(2030, 3, 1, 0, 0), wantStart: utc(2024, 1, 15, 0, 0), wantEnd: tiered.FarFuture,
		},
		{
			name: "GlobalInNewYork", loc: ny, period: tiered.PeriodGlobal, start: "2024-01-15", end: "2024-06-30",
			at: utc(2024, 3, 1, 0, 0), wantStart: utc(2024, 1, 15, 5, 0), wantEnd: utc(2024, 7, 1, 4, 0),
		},
		{
			name: "DailyNewYork", loc: ny, period: tiered.PeriodDaily,
			at: time.Date(2024, 3, 15, 0, 30, 0, 0, ny), wantStart: utc(2024, 3, 15, 4, 0), wantEnd: utc(2024, 3, 16, 4, 0),
		},
		{
			// 23 hours: 02:00 EST jumps to 03:00 EDT.
			name: "DailyNewYorkSpringForward", loc: ny, period: tiered.PeriodDaily,
			at: time.Date(2024, 3, 10, 12, 0, 0, 0, ny), wantStart: utc(2024, 3, 10, 5, 0), wantEnd: utc(2024, 3, 11, 4, 0),
		},
		{
			name: "WeeklyNewYorkDSTWeek", loc: ny, period: tiered.PeriodWeekly,
			at: time.Date(2024, 3, 10, 3, 30, 0, 0, ny), wantStart: utc(2024, 3, 4, 5, 0), wantEnd: utc(2024, 3, 11, 4, 0),
		},
		{
			name: "MonthlyNewYorkFallBack", loc: ny, period: tiered.PeriodMonthly,
			at: time.Date(2024, 11, 15, 9, 0, 0, 0, ny), wantStart: utc(2024, 11, 1, 4, 0), wantEnd: utc(2024, 12, 1, 5, 0),
		},
		{
			// 23:30 on March 31 in New York is already April 1 in UTC.
			name: "QuarterlyNewYorkLocalDateDecides", loc: ny, period: tiered.PeriodQuarterly,
			at: time.Date(2024, 3, 31, 23, 30, 0, 0, ny), wantStart: utc(2024, 1, 1, 5, 0), wantEnd: utc(2024, 4, 1, 4, 0),
		},
		{
			// Chile: Saturday 24:00 becomes Sunday 01:00; Sunday starts at 01:00.
			name: "DailySantiagoSkippedMidnight", loc: santiago, period: tiered.PeriodDaily,
			at: time.Date(2024, 9, 8, 12, 0, 0, 0, santiago), wantStart: utc(2024, 9, 8, 4, 0), wantEnd: utc(2024, 9, 9, 3, 0),
		},
		{
			name: "DailySantiagoDayBeforeTheGap", loc: santiago, period: tiered.PeriodDaily,
			at: time.Date(2024, 9, 7, 23, 59, 0, 0, santiago), wantStart: utc(2024, 9, 7, 4, 0), wantEnd: utc(2024, 9, 8, 4, 0),
		},
		{
			name: "WeeklySantiagoDSTWeek", loc: santiago, period: tiered.PeriodWeekly,
			at: time.Date(2024, 9, 8, 12, 0, 0, 0, santiago), wantStart: utc(2024, 9, 2, 4, 0), wantEnd: utc(2024, 9, 9, 3, 0),
		},
		{
			name: "DailyBeirutSkippedMidnight", loc: beirut, period: tiered.PeriodDaily,
			at: time.Date(2024, 3, 31, 12, 0, 0, 0, beirut), wantStart: utc(2024, 3, 30, 22, 0), wantEnd: utc(2024, 3, 31, 21, 0),
		},
		{
			name: "DailyHavanaSkippedMidnight", loc: havana, period: tiered.PeriodDaily,
			at: time.Date(2024, 3, 10, 12, 0, 0, 0, havana), wantStart: utc(2024, 3, 10, 5, 0), wantEnd: utc(2024, 3, 11, 4, 0),
		},
		{
			// Cuba: 01:00 CDT falls back to 00:00 CST; the first midnight starts the day.
			name: "DailyHavanaRepeatedMidnight", loc: havana, period: tiered.PeriodDaily,
			at: time.Date(2024, 11, 3, 12, 0, 0, 0, havana), wantStart: utc(2024, 11, 3, 4, 0), wantEnd: utc(2024, 11, 4, 5, 0),
		},
		{
			// Jordan 2021: 01:00 EEST fell back to 00:00 EET, and time.Date
			// resolves midnight to the second one; the day starts at the first.
			name: "DailyAmmanRepeatedMidnight", loc: amman, period: tiered.PeriodDaily,
			at: time.Date(2021, 10, 29, 12, 0, 0, 0, amman), wantStart: utc(2021, 10, 28, 21, 0), wantEnd: utc(2021, 10, 29, 22, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := setup(t).rule
			r.Period = tt.period
			if tt.start != "" {
				r.StartDate, r.EndDate = tt.start, tt.end
			}

			start, end := tiered.PeriodOf(r, tt.at, tt.loc)
			require.Equal(t, tt.wantStart, start, "start %s", start)
			require.Equal(t, tt.wantEnd, end, "end %s", end)
			require.Equal(t, time.UTC, start.Location())
			require.Equal(t, time.UTC, end.Location())
			require.False(t, tt.at.Before(start))
			require.True(t, tt.at.Before(end))

			// The next period starts where this one ends.
			if tt.period != tiered.PeriodGlobal {
				nextStart, _ := tiered.PeriodOf(r, end, tt.loc)
				require.Equal(t, end, nextStart)
				prevStart, prevEnd := tiered.PeriodOf(r, start.Add(-time.Nanosecond), tt.loc)
				require.Equal(t, start, prevEnd)
				require.True(t, prevStart.Before(start))
			}
		})
	}

	t.Run("MidnightSkippedDayStartsAtOneAM", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			loc  *time.Location
			date string
		}{{santiago, "2024-09-08"}, {beirut, "2024-03-31"}, {havana, "2024-03-10"}} {
			start, err := tiered.DayStart(c.date, c.loc)
			require.NoError(t, err)
			local := start.In(c.loc)
			require.Equal(t, c.date, local.Format(tiered.DateLayout))
			require.Equal(t, "01:00:00", local.Format("15:04:05"), c.loc.String())
			// Midnight really is skipped: the instant before is the day before.
			before := start.Add(-time.Nanosecond).In(c.loc)
			require.Equal(t, "23:59:59.999999999", before.Format("15:04:05.999999999"), c.loc.String())
			require.NotEqual(t, c.date, before.Format(tiered.DateLayout))
		}
	})

	t.Run("StartAndEndDatesInclusive", func(t *testing.T) {
		t.Parallel()
		for _, loc := range []*time.Location{time.UTC, ny} {
			r := setup(t).rule
			r.StartDate, r.EndDate = "2024-01-01", "2024-01-31"
			f := tiered.Facts{OfferID: 10, PartnerID: 7}
			covers := func(at time.Time) bool {
				f.At = at
				return r.Covers(f, loc)
			}
			require.False(t, covers(time.Date(2023, 12, 31, 23, 59, 59, 999999999, loc)), loc.String())
			require.True(t, covers(time.Date(2024, 1, 1, 0, 0, 0, 0, loc)), loc.String())
			require.True(t, covers(time.Date(2024, 1, 31, 23, 59, 59, 999999000, loc)), loc.String())
			require.True(t, covers(time.Date(2024, 1, 31, 23, 59, 59, 999999999, loc)), loc.String())
			require.False(t, covers(time.Date(2024, 2, 1, 0, 0, 0, 0, loc)), loc.String())

			start, end, err := r.Window(loc)
			require.NoError(t, err)
			require.Equal(t, time.Date(2024, 1, 1, 0, 0, 0, 0, loc).UTC(), start)
			require.Equal(t, time.Date(2024, 2, 1, 0, 0, 0, 0, loc).UTC(), end)
		}
	})

	t.Run("OneDayRule", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.StartDate, r.EndDate = "2024-01-01", "2024-01-01"
		require.NoError(t, r.Validate())
		start, end, err := r.Window(time.UTC)
		require.NoError(t, err)
		require.Equal(t, utc(2024, 1, 1, 0, 0), start)
		require.Equal(t, utc(2024, 1, 2, 0, 0), end)
	})

	t.Run("StartDateOnSkippedMidnight", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.StartDate = "2024-09-08"
		f := tiered.Facts{OfferID: 10, PartnerID: 7}
		f.At = utc(2024, 9, 8, 3, 59) // 23:59 on September 7 in Santiago
		require.False(t, r.Covers(f, santiago))
		f.At = utc(2024, 9, 8, 4, 0) // 01:00 on September 8, its first instant
		require.True(t, r.Covers(f, santiago))
	})

	t.Run("MalformedDates", func(t *testing.T) {
		t.Parallel()
		r := setup(t).rule
		r.StartDate = "2024-1-1"
		_, _, err := r.Window(time.UTC)
		require.ErrorContains(t, err, "start_date")
		require.False(t, r.Covers(tiered.Facts{OfferID: 10, At: utc(2024, 5, 1, 0, 0)}, time.UTC))
		_, err = tiered.DayStart("yesterday", time.UTC)
		require.Error(t, err)
	})
}

func TestPeriodKey(t *testing.T) {
	t.Parallel()
	ny := loadLocation(t, "America/New_York")
	r := setup(t).rule

	start, _ := tiered.PeriodOf(r, time.Date(2024, 3, 15, 9, 0, 0, 0, ny), ny)
	require.Equal(t, "2024-03-01T05:00:00Z", tiered.PeriodKey(start))
	require.Equal(t, "2024-03-01T05:00:00Z", tiered.PeriodKey(start.In(ny)))
	// Every instant of the period has the same key.
	other, _ := tiered.PeriodOf(r, time.Date(2024, 3, 31, 23, 59, 0, 0, ny), ny)
	require.Equal(t, tiered.PeriodKey(start), tiered.PeriodKey(other))
}
