package tiered

import (
	"slices"
	"strconv"
	"time"
)

// Facts are what rule selection needs to know about a conversion.
type Facts struct {
	OfferID      int64     `json:"offer_id"`
	AdvertiserID int64     `json:"advertiser_id"` // the offer's advertiser
	PartnerID    int64     `json:"partner_id"`
	Event        string    `json:"event,omitempty"` // "" for the base conversion
	At           time.Time `json:"at"`              // the conversion's own timestamp
}

// Covers reports whether the rule covers the conversion: its offer or its
// offer's advertiser is in scope, the partner is listed (or the rule is for
// all partners), the event matches applies-to (event names match exactly,
// case-sensitive), and At is within the rule's dates in loc (nil: UTC). It
// does not look at Active or at the bands. A rule with malformed dates
// covers nothing.
func (r Rule) Covers(f Facts, loc *time.Location) bool {
	return r.mismatch(f, loc) == ""
}

// mismatch says why r does not cover f, "" when it does.
func (r Rule) mismatch(f Facts, loc *time.Location) string {
	if !r.inScope(f) {
		return "the offer is not in the rule's scope"
	}
	if !r.AllPartners() && !slices.Contains(r.PartnerIDs, f.PartnerID) {
		return "the rule does not list partner " + strconv.FormatInt(f.PartnerID, 10)
	}
	switch r.AppliesTo {
	case AppliesToBase:
		if f.Event != "" {
			return "the rule applies to the base conversion only, this is event " + strconv.Quote(f.Event)
		}
	case AppliesToEvent:
		if f.Event != r.Event {
			return "the rule applies to event " + strconv.Quote(r.Event) + " only, this is " + eventName(f.Event)
		}
	case AppliesToAll:
	default:
		return "the rule's applies_to " + strconv.Quote(string(r.AppliesTo)) + " is unknown"
	}
	start, end, err := r.Window(loc)
	switch {
	case err != nil:
		return "the rule's dates are malformed: " + err.Error()
	case f.At.Before(start):
		return "the conversion is before the rule's start date " + r.StartDate
	case !f.At.Before(end):
		return "the conversion is after the rule's end date " + r.EndDate
	}
	return ""
}

func (r Rule) inScope(f Facts) bool {
	return slices.Contains(r.OfferIDs, f.OfferID) ||
		(f.AdvertiserID != 0 && slices.Contains(r.AdvertiserIDs, f.AdvertiserID))
}

func eventName(event string) string {
	if event == "" {
		return "the base conversion"
	}
	return "event " + strconv.Quote(event)
}

// Select returns the one rule that adjusts the conversion (DESIGN.md §8,
// §13.9), and false when none does. Candidates are the active rules that
// cover it; among them a rule naming the partner beats a rule for all
// partners, then the newest CreatedAt wins, then the higher ID. Bands are
// not looked at: when the winner has no band that holds, the conversion
// gets no tiered adjustment, and no lower-priority rule is tried.
func Select(rules []Rule, f Facts, loc *time.Location) (Rule, bool) {
	i := selectIndex(rules, f, loc)
	if i < 0 {
		return Rule{}, false
	}
	return rules[i], true
}

// selectIndex returns the index of Select's winner, or -1.
func selectIndex(rules []Rule, f Facts, loc *time.Location) int {
	best := -1
	for i := range rules {
		if !rules[i].Active || !rules[i].Covers(f, loc) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		if _, wins := beats(&rules[i], &rules[best]); wins {
			best = i
		}
	}
	return best
}

// Covering returns every active rule that covers the conversion, in the
// order given. Each counts it in its own metrics, whichever wins Select
// (DESIGN.md §13.9).
func Covering(rules []Rule, f Facts, loc *time.Location) []Rule {
	var out []Rule
	for _, r := range rules {
		if r.Active && r.Covers(f, loc) {
			out = append(out, r)
		}
	}
	return out
}

// Candidate is one rule considered for a conversion and what became of it,
// for the conversion's explanation.
type Candidate struct {
	RuleID   int64  `json:"rule_id"`
	RuleName string `json:"rule_name"`
	Won      bool   `json:"won"`
	Reason   string `json:"reason"`
}

// Candidates explains Select: every rule whose scope includes the
// conversion's offer and partner, with why it won, lost or does not apply
// (inactive, another event, outside its dates). Rules for other offers or
// other partners are left out. It returns nil when there is none.
func Candidates(rules []Rule, f Facts, loc *time.Location) []Candidate {
	win := selectIndex(rules, f, loc)
	var out []Candidate
	matching := 0
	for i := range rules {
		r := &rules[i]
		if !r.inScope(f) || (!r.AllPartners() && !slices.Contains(r.PartnerIDs, f.PartnerID)) {
			continue
		}
		c := Candidate{RuleID: r.ID, RuleName: r.Name}
		switch why := r.mismatch(f, loc); {
		case !r.Active:
			c.Reason = "does not apply: the rule is inactive"
		case why != "":
			c.Reason = "does not apply: " + why
		default:
			matching++
			if i == win {
				c.Won = true // its reason is written once all matches are counted
				break
			}
			rule, _ := beats(&rules[win], r)
			if rule == "" {
				rule = "the same rule is listed twice; the first one counts"
			}
			c.Reason = "lost to rule " + strconv.FormatInt(rules[win].ID, 10) + ": " + rule
		}
		out = append(out, c)
	}
	for i := range out {
		if out[i].Won {
			if matching == 1 {
				out[i].Reason = "won: the only rule that applies"
			} else {
				out[i].Reason = "won: first in priority among " + strconv.Itoa(matching) + " rules that apply (no fall-through to the others, whatever their bands)"
			}
		}
	}
	return out
}

// The priority rules, as explanations word them.
const (
	ruleSpecificPartner = "a rule naming the partner beats a rule for all partners"
	ruleNewer           = "the newer rule beats the older"
	ruleHigherID        = "the higher id breaks the tie"
)

// beats reports the first priority rule that tells a from b, and whether a
// wins by it. The rule is "" when a and b are equal in every rule.
func beats(a, b *Rule) (rule string, wins bool) {
	if aSpecific, bSpecific := !a.AllPartners(), !b.AllPartners(); aSpecific != bSpecific {
		return ruleSpecificPartner, aSpecific
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return ruleNewer, a.CreatedAt.After(b.CreatedAt)
	}
	if a.ID != b.ID {
		return ruleHigherID, a.ID > b.ID
	}
	return "", false
}
