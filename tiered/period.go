package tiered

import (
	"fmt"
	"time"
)

// DateLayout is the layout of a rule's StartDate and EndDate.
const DateLayout = "2006-01-02"

// FarFuture is the end of a rule without an end date, and so of its global
// period: 9999-12-31 00:00 UTC, the latest day that every consumer
// (encoding/json, PostgreSQL, Temporal) accepts. Callers compare with Equal
// before setting a timer to it.
var FarFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// DayStart returns the first instant of the local date ("YYYY-MM-DD") in
// loc (nil: UTC), in UTC. A day starts at local midnight, or where midnight
// is skipped by a DST change at the first instant after the gap (01:00
// local), and where midnight happens twice at the first of the two
// (DESIGN.md §13.18).
func DayStart(date string, loc *time.Location) (time.Time, error) {
	d, err := time.Parse(DateLayout, date)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	return dayStart(d.Year(), d.Month(), d.Day(), orUTC(loc)), nil
}

// Window returns when the rule is in effect: from the first instant of
// StartDate (inclusive) to the first instant of the day after EndDate
// (exclusive), or to FarFuture without an end date, both in UTC. It fails
// when a date is malformed.
func (r Rule) Window(loc *time.Location) (start, end time.Time, err error) {
	start, err = DayStart(r.StartDate, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("start_date: %w", err)
	}
	if r.EndDate == "" {
		return start, FarFuture, nil
	}
	d, err := time.Parse(DateLayout, r.EndDate)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("end_date: date %q is not YYYY-MM-DD", r.EndDate)
	}
	return start, dayStart(d.Year(), d.Month(), d.Day()+1, orUTC(loc)), nil
}

// PeriodOf returns the period of rule r that contains at, as [start, end) in
// UTC. Periods are calendar periods in loc (nil: UTC): a local day, a week
// from Monday, a month, a quarter from Jan 1, Apr 1, Jul 1 or Oct 1, each
// starting at its first day's first local instant. They are not cut by the
// rule's dates (a rule starting on the 15th still has the calendar month as
// its period; it counts nothing before its start). The global period is the
// rule's Window, whatever at is: [start date, end of end date or FarFuture);
// when the rule's dates are malformed it is [zero time, FarFuture). An
// unknown period is treated as global.
func PeriodOf(r Rule, at time.Time, loc *time.Location) (start, end time.Time) {
	loc = orUTC(loc)
	y, m, d := at.In(loc).Date()
	switch r.Period {
	case PeriodDaily:
		return dayStart(y, m, d, loc), dayStart(y, m, d+1, loc)
	case PeriodWeekly:
		monday := d - (int(at.In(loc).Weekday())+6)%7
		return dayStart(y, m, monday, loc), dayStart(y, m, monday+7, loc)
	case PeriodMonthly:
		return dayStart(y, m, 1, loc), dayStart(y, m+1, 1, loc)
	case PeriodQuarterly:
		q := m - (m-1)%3
		return dayStart(y, q, 1, loc), dayStart(y, q+3, 1, loc)
	}
	start, end, err := r.Window(loc)
	if err != nil {
		return time.Time{}, FarFuture
	}
	return start, end
}

// PeriodKey is the stable id of the period starting at start: the start in
// UTC as RFC 3339 ("2024-03-01T05:00:00Z" for March 2024 in New York), for
// workflow ids such as cycle/<rule>/<partner>/<offer>/<period key>.
func PeriodKey(start time.Time) string {
	return start.UTC().Format(time.RFC3339Nano)
}

// dayStart returns the first instant of local date y-m-d in loc, in UTC. The
// date is normalised first (day 32 of January is February 1).
func dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// time.Date resolves a skipped or repeated midnight to either side of
	// the transition; move to the day's first instant.
	lt := t.In(loc)
	if ly, lm, ld := lt.Date(); ly != y || lm != m || ld != d {
		// Midnight was skipped and t landed on the day before, in the old
		// offset: the day starts where the new offset does.
		_, next := lt.ZoneBounds()
		return next.UTC()
	}
	if sinceMidnight(lt) != 0 {
		// Midnight was skipped and t landed after the gap: the day starts
		// at the transition.
		start, _ := lt.ZoneBounds()
		return start.UTC()
	}
	// Midnight exists; if it happened twice, the earlier one starts the day.
	if start, _ := lt.ZoneBounds(); !start.IsZero() {
		before := start.Add(-time.Nanosecond).In(loc)
		if by, bm, bd := before.Date(); by == y && bm == m && bd == d {
			return before.Add(-sinceMidnight(before)).UTC()
		}
	}
	return t.UTC()
}

func sinceMidnight(t time.Time) time.Duration {
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}
