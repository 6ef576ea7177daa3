package customervalue

import (
	"slices"
	"time"
)

// ClosedCycleRetention is how long Due keeps a cycle after it ended and was
// settled, so a late conversion (a pending one approved weeks later, a
// backdated postback) still lands in it with the cycle's other conversions
// and its spent outcomes. After that the cycle is dropped and a conversion
// into it no longer counts for the rule.
const ClosedCycleRetention = 90 * 24 * time.Hour

// Due settles every cycle that ended at or before now and is not settled
// yet, and returns the end-of-cycle outcomes they give, by rule id, cycle
// and group. The goal is judged on the group's whole cycle; the surviving
// conversions are replayed in processing order to find the one from which
// all conditions held through the end, and that conversion's partner gets
// the bonus (§13.16); a percent is of the whole cycle net of refunds. An
// every-conversion end-of-cycle bonus pays each surviving conversion of a
// cycle whose goal is met, of its own amount. Due also drops cycles that
// ended more than ClosedCycleRetention before now. A paused or unknown rule
// settles its cycles without outcomes.
func (s *State) Due(rules []Rule, now time.Time, loc *time.Location) []Outcome {
	loc = orUTC(loc)
	now = now.UTC()
	byID := rulesByID(rules)
	var out []Outcome
	for _, rs := range s.Rules {
		r := byID[rs.RuleID]
		var w window
		hasWindow := false
		if r != nil {
			w, hasWindow = s.window(r)
		}
		for _, cs := range rs.Cycles {
			if hasWindow {
				if ref, ok := cycleByID(r, cs.CycleID, w, loc); ok {
					cs.Start, cs.End = ref.Start, ref.End
				}
			}
			if cs.Settled || cs.End == nil || now.Before(*cs.End) {
				continue
			}
			if hasWindow && r.Active && r.Outcome.Trigger == TriggerEndOfCycle && r.Outcome.Kind == KindBonus {
				out = append(out, settle(r, rs, cs, w)...)
			}
			cs.Settled = true
		}
		rs.prune(now)
	}
	s.Rules = slices.DeleteFunc(s.Rules, func(rs *RuleState) bool {
		return len(rs.Cycles) == 0 && len(rs.Spent) == 0 && rs.DroppedThrough == nil
	})
	return out
}

// settle returns the end-of-cycle outcomes of one cycle and group.
func settle(r *Rule, rs *RuleState, cs *CycleState, w window) []Outcome {
	ev := newEvaluator(r.Conditions)
	completing := -1
	for i := range cs.Entries {
		ev.add(&cs.Entries[i])
		switch {
		case !ev.allMet():
			completing = -1
		case completing < 0:
			completing = i
		}
	}
	if completing < 0 {
		return nil
	}
	by := &cs.Entries[completing]
	if r.Outcome.Frequency != EveryConversion {
		if rs.isSpent(r, cs, cs.Group) {
			return nil
		}
		o := newOutcome(r, cs, by.ConversionID, by.PartnerID, by.Currency, w, ev, cycleBases(cs.Entries, by.Currency, ScopeCycle))
		rs.spend(r, cs, o)
		return []Outcome{o}
	}
	var out []Outcome
	for i := range cs.Entries {
		e := &cs.Entries[i]
		if slices.Contains(cs.Paid, e.ConversionID) {
			continue
		}
		own := bases{scope: ScopeConversion, sale: e.net(MetricSaleAmount), revenue: e.net(MetricRevenue), n: 1}
		o := newOutcome(r, cs, e.ConversionID, e.PartnerID, e.Currency, w, ev, own)
		o.Explanation.CompletedBy = by.ConversionID
		cs.Paid = append(cs.Paid, e.ConversionID)
		out = append(out, o)
	}
	return out
}

// prune drops the cycles that were settled and ended at or before now −
// ClosedCycleRetention.
func (rs *RuleState) prune(now time.Time) {
	cut := now.Add(-ClosedCycleRetention)
	rs.Cycles = slices.DeleteFunc(rs.Cycles, func(cs *CycleState) bool {
		if !cs.Settled || cs.End == nil || cs.End.After(cut) {
			return false
		}
		if rs.DroppedThrough == nil || cs.End.After(*rs.DroppedThrough) {
			rs.DroppedThrough = timePtr(*cs.End)
		}
		return true
	})
}

// NextWakeUp returns the earliest end of a cycle that is not settled yet: an
// end-of-cycle outcome pending, a recurring cycle's reset, a window's end.
// The workflow sleeps until then and calls Due; an instant at or before now
// means Due is due at once (a late conversion reopened an ended cycle). It
// returns false when nothing is pending.
func (s *State) NextWakeUp(rules []Rule, loc *time.Location) (time.Time, bool) {
	loc = orUTC(loc)
	byID := rulesByID(rules)
	var next time.Time
	found := false
	for _, rs := range s.Rules {
		r := byID[rs.RuleID]
		var w window
		hasWindow := false
		if r != nil {
			w, hasWindow = s.window(r)
		}
		for _, cs := range rs.Cycles {
			if cs.Settled {
				continue
			}
			end := cs.End
			if hasWindow {
				if ref, ok := cycleByID(r, cs.CycleID, w, loc); ok {
					end = ref.End
				}
			}
			if end != nil && (!found || end.Before(next)) {
				next, found = *end, true
			}
		}
	}
	return next, found
}

// rulesByID indexes rules by id for lookups (never iterated).
func rulesByID(rules []Rule) map[int64]*Rule {
	m := make(map[int64]*Rule, len(rules))
	for _, r := range sortedRules(rules) {
		if _, dup := m[r.ID]; !dup {
			m[r.ID] = r
		}
	}
	return m
}
