package customervalue

import (
	"slices"
	"time"
)

// RuleProgress is a customer's progress on one rule at one instant, for the
// Conversion Events Report.
type RuleProgress struct {
	RuleID   int64  `json:"rule_id"`
	RuleName string `json:"rule_name"`
	Active   bool   `json:"active"`
	// Anchor, WindowStart and WindowEnd are the rule's window for this
	// customer (nil when anchored on a first conversion the customer has not
	// made in the rule's scope); InWindow says whether the instant is in it.
	Anchor      *time.Time `json:"anchor,omitempty"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	InWindow    bool       `json:"in_window"`
	// Cycle is the cycle holding the instant, nil outside the window.
	Cycle *CycleRef `json:"cycle,omitempty"`
	// Groups holds the progress of every group with activity in the cycle or
	// a once-per-customer outcome spent, by group.
	Groups []GroupProgress `json:"groups,omitempty"`
}

// GroupProgress is the progress of one scope group in the current cycle.
type GroupProgress struct {
	Group string `json:"group"`
	// Conversions is how many of the group's conversions the cycle keeps
	// (0 for a rule that keeps none: no conditions and nothing to replay).
	Conversions int `json:"conversions"`
	// Met is true when every condition holds (always with no conditions).
	Met        bool              `json:"met"`
	Conditions []ConditionResult `json:"conditions,omitempty"`
	Settled    bool              `json:"settled"`
	// Spent lists the once outcomes given: once per customer in any cycle,
	// once per cycle in this one.
	Spent []Spent `json:"spent,omitempty"`
}

// Progress reports the customer's progress on each rule, by rule id, at
// instant at: the rule's window, the cycle holding at, and for each group
// each condition met or not with its aggregate value, and the outcomes
// spent.
func (s *State) Progress(rules []Rule, at time.Time, loc *time.Location) []RuleProgress {
	loc = orUTC(loc)
	at = at.UTC()
	out := make([]RuleProgress, 0, len(rules))
	for _, r := range sortedRules(rules) {
		p := RuleProgress{RuleID: r.ID, RuleName: r.Name, Active: r.Active}
		w, ok := s.window(r)
		if ok {
			p.Anchor = timePtr(w.Anchor)
			p.WindowStart = timePtr(w.Start)
			p.WindowEnd = w.End
			p.InWindow = w.contains(at)
		}
		if p.InWindow {
			c := cycleAt(r, w, at, loc)
			p.Cycle = &c
		}
		if rs := s.ruleState(r.ID, false); rs != nil {
			p.Groups = rs.groupProgress(r, p.Cycle)
		}
		out = append(out, p)
	}
	return out
}

func (rs *RuleState) groupProgress(r *Rule, cyc *CycleRef) []GroupProgress {
	var groups []string
	for _, sp := range rs.Spent {
		groups = append(groups, sp.Group)
	}
	if cyc != nil {
		for _, cs := range rs.Cycles {
			if cs.CycleID == cyc.ID {
				groups = append(groups, cs.Group)
			}
		}
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)

	out := make([]GroupProgress, 0, len(groups))
	for _, g := range groups {
		gp := GroupProgress{Group: g}
		ev := newEvaluator(r.Conditions)
		for _, sp := range rs.Spent {
			if sp.Group == g {
				gp.Spent = append(gp.Spent, sp)
			}
		}
		if cyc != nil {
			for _, cs := range rs.Cycles {
				if cs.CycleID != cyc.ID || cs.Group != g {
					continue
				}
				for i := range cs.Entries {
					ev.add(&cs.Entries[i])
				}
				gp.Conversions = len(cs.Entries)
				gp.Settled = cs.Settled
				gp.Spent = append(gp.Spent, cs.Spent...)
			}
		}
		gp.Met = ev.allMet()
		gp.Conditions = ev.results()
		out = append(out, gp)
	}
	return out
}
