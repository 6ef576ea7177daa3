package tiered

import (
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// interval is the set of values a bound admits: from lo (excluded when
// loOpen) to hi (included; nil for no upper bound).
type interval struct {
	lo     decimal.Decimal
	loOpen bool
	hi     *decimal.Decimal
}

// everything is the interval of a metric that a band does not bound.
var everything = interval{}

func (b Bound) interval() interval {
	if b.Min != nil {
		return interval{lo: *b.Min, loOpen: true, hi: b.Max}
	}
	return interval{hi: b.Max}
}

func (i interval) contains(v decimal.Decimal) bool {
	if c := v.Cmp(i.lo); c < 0 || (c == 0 && i.loOpen) {
		return false
	}
	return i.hi == nil || v.LessThanOrEqual(*i.hi)
}

// intersect returns the values both intervals admit, and false when there is
// none.
func (i interval) intersect(j interval) (interval, bool) {
	r := i
	switch c := j.lo.Cmp(i.lo); {
	case c > 0:
		r.lo, r.loOpen = j.lo, j.loOpen
	case c == 0:
		r.loOpen = i.loOpen || j.loOpen
	}
	if j.hi != nil && (r.hi == nil || j.hi.LessThan(*r.hi)) {
		r.hi = j.hi
	}
	if r.hi == nil {
		return r, true
	}
	c := r.lo.Cmp(*r.hi)
	return r, c < 0 || (c == 0 && !r.loOpen)
}

// String writes the interval as a manager reads it: "(100, 200]", "[0, 50]",
// "(100, ∞)".
func (i interval) String() string {
	var s strings.Builder
	if i.loOpen {
		s.WriteString("(")
	} else {
		s.WriteString("[")
	}
	s.WriteString(i.lo.String())
	s.WriteString(", ")
	if i.hi == nil {
		s.WriteString("∞)")
	} else {
		s.WriteString(i.hi.String())
		s.WriteString("]")
	}
	return s.String()
}

// boundOn returns the interval band b admits for metric m, and false when b
// does not bound m (the first bound counts if there are several).
func (b *Band) boundOn(m Metric) (interval, bool) {
	for _, bound := range b.Bounds {
		if bound.Metric == m {
			return bound.interval(), true
		}
	}
	return everything, false
}

// bandsOverlap reports whether two bands can hold at once for the same
// metric values: every metric both bound has intersecting ranges (bands on
// different metrics always can). The witness describes the values where both
// hold, such as "conversions in (50, 100] and revenue in (500, ∞)".
func bandsOverlap(a, b *Band) (witness string, overlap bool) {
	if len(a.Bounds) == 0 || len(b.Bounds) == 0 {
		return "", false // a band without bounds never holds
	}
	var parts []string
	for _, m := range metrics {
		ia, okA := a.boundOn(m)
		ib, okB := b.boundOn(m)
		if !okA && !okB {
			continue
		}
		both, ok := ia.intersect(ib)
		if !ok {
			return "", false
		}
		parts = append(parts, string(m)+" in "+both.String())
	}
	return strings.Join(parts, " and "), true
}

func bandRef(i int, name string) string {
	ref := "bands[" + strconv.Itoa(i) + "]"
	if name != "" {
		ref += " " + strconv.Quote(name)
	}
	return ref
}

// bandAbove reports whether upper lies above lower on some metric both
// bound: every value upper admits there is above every value lower admits.
func bandAbove(lower, upper *Band) bool {
	for _, m := range metrics {
		il, okL := lower.boundOn(m)
		iu, okU := upper.boundOn(m)
		if !okL || !okU || il.hi == nil {
			continue
		}
		if c := iu.lo.Cmp(*il.hi); c > 0 || (c == 0 && iu.loOpen) {
			return true
		}
	}
	return false
}
