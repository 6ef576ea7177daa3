package customervalue

import (
	"sort"
	"time"
)

// ContinuousCycleID is the id of the one cycle of a continuous rule.
const ContinuousCycleID = "continuous"

// window is the span of time a rule counts for one customer: [Start, End),
// End nil when it never ends.
type window struct {
	Start  time.Time
	End    *time.Time
	Anchor time.Time
}

func (w window) contains(t time.Time) bool {
	return !t.Before(w.Start) && (w.End == nil || t.Before(*w.End))
}

// window returns the rule's window for this customer, and false when it has
// none yet (anchored on the first conversion, and there is no conversion in
// the rule's scope). The window is [anchor, anchor + N × 24 h) cut by the
// rule's dates; without a duration it is the rule's dates.
func (s *State) window(r *Rule) (window, bool) {
	start := r.StartsAt.UTC()
	var end *time.Time
	if r.EndsAt != nil {
		e := r.EndsAt.UTC()
		end = &e
	}
	anchor := start
	if r.Timeframe.Anchor == AnchorFirstConversion {
		a, ok := s.firstInScope(r)
		if !ok {
			return window{}, false
		}
		anchor = a
	}
	if anchor.After(start) {
		start = anchor
	}
	if n := r.Timeframe.DurationDays; n > 0 {
		e := anchor.Add(time.Duration(n) * 24 * time.Hour)
		if end == nil || e.Before(*end) {
			end = &e
		}
	}
	return window{Start: start, End: end, Anchor: anchor}, true
}

// CycleRef names one cycle of a rule: its id ("continuous", or the local
// date its calendar period starts on, "2006-01-02") and its bounds, cut by
// the rule's window: [Start, End), End nil when it never ends.
type CycleRef struct {
	ID    string     `json:"id"`
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
}

// cycleAt returns the cycle of the rule that holds instant at.
func cycleAt(r *Rule, w window, at time.Time, loc *time.Location) CycleRef {
	if !r.recurring() {
		return CycleRef{ID: ContinuousCycleID, Start: w.Start, End: w.End}
	}
	return periodBounds(r.Timeframe.Cycle, periodDate(r.Timeframe.Cycle, at, loc), w, loc)
}

// cycleByID returns the bounds of the rule's cycle with this id, and false
// when the id does not parse.
func cycleByID(r *Rule, id string, w window, loc *time.Location) (CycleRef, bool) {
	if id == ContinuousCycleID || !r.recurring() {
		return CycleRef{ID: id, Start: w.Start, End: w.End}, id == ContinuousCycleID
	}
	t, err := time.Parse(time.DateOnly, id)
	if err != nil {
		return CycleRef{}, false
	}
	return periodBounds(r.Timeframe.Cycle, civilOf(t), w, loc), true
}

func (r *Rule) recurring() bool {
	switch r.Timeframe.Cycle {
	case CycleDaily, CycleWeekly, CycleMonthly, CycleQuarterly:
		return true
	}
	return false
}

// periodBounds returns the calendar period starting on local date d, cut by
// the window.
func periodBounds(cycle Cycle, d civil, w window, loc *time.Location) CycleRef {
	start := d.start(loc)
	end := nextPeriod(cycle, d).start(loc)
	if w.Start.After(start) {
		start = w.Start
	}
	if w.End != nil && w.End.Before(end) {
		end = *w.End
	}
	return CycleRef{ID: d.String(), Start: start, End: &end}
}

// civil is a calendar date.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

func (c civil) String() string { return c.noon().Format(time.DateOnly) }

func (c civil) noon() time.Time { return time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC) }

func (c civil) addDays(n int) civil { return civilOf(c.noon().AddDate(0, 0, n)) }

func (c civil) before(o civil) bool {
	if c.y != o.y {
		return c.y < o.y
	}
	if c.m != o.m {
		return c.m < o.m
	}
	return c.d < o.d
}

// start returns the first instant of the date in loc, in UTC: local midnight,
// or the first instant after it where midnight is skipped by a DST change
// (DESIGN §13.18).
func (c civil) start(loc *time.Location) time.Time {
	// Every zone is within −12 h and +14 h of UTC, so 15 h before UTC
	// midnight of the date it is still the day before there, and 13 h after
	// it the date has begun. Search the first second of the date between.
	midnight := time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Unix()
	lo, hi := midnight-15*3600, midnight+13*3600
	n := sort.Search(int(hi-lo), func(i int) bool {
		return !civilOf(time.Unix(lo+int64(i), 0).In(loc)).before(c)
	})
	return time.Unix(lo+int64(n), 0).UTC()
}

// periodDate returns the local date the calendar period holding at starts
// on: the day, the Monday, the first of the month or of the quarter.
func periodDate(cycle Cycle, at time.Time, loc *time.Location) civil {
	d := civilOf(at.In(loc))
	switch cycle {
	case CycleWeekly:
		return d.addDays(-((int(d.noon().Weekday()) + 6) % 7))
	case CycleMonthly:
		return civil{d.y, d.m, 1}
	case CycleQuarterly:
		return civil{d.y, (d.m-1)/3*3 + 1, 1}
	}
	return d
}

// nextPeriod returns the start date of the period after the one starting on d.
func nextPeriod(cycle Cycle, d civil) civil {
	switch cycle {
	case CycleWeekly:
		return d.addDays(7)
	case CycleMonthly:
		return civilOf(time.Date(d.y, d.m+1, 1, 12, 0, 0, 0, time.UTC))
	case CycleQuarterly:
		return civilOf(time.Date(d.y, d.m+3, 1, 12, 0, 0, 0, time.UTC))
	}
	return d.addDays(1)
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
