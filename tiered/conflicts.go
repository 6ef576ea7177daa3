package tiered

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Conflict is a pair of active rules that can cover the same conversion with
// bands that can hold at once; only the Winner adjusts such a conversion
// (DESIGN.md §8, §13.9).
type Conflict struct {
	A      int64 `json:"a"` // the lower rule id
	B      int64 `json:"b"`
	Winner int64 `json:"winner"`
	// Why says which priority rule decides, and for whom.
	Why string `json:"why"`
	// Overlap says where the two rules meet: offers or advertisers,
	// partners, conversions, dates and bands.
	Overlap string `json:"overlap"`
}

// Conflicts lists the pairs of active rules that can cover the same
// conversion and whose bands overlap, ordered by A then B. Two rules can
// cover the same conversion when their scopes meet (a common offer, an
// offer of one under an advertiser listed by the other, per
// offerAdvertiser, or a common advertiser), their partners meet (a rule for
// all partners meets every rule), their applies-to meet ("all" meets
// everything, "event" meets "event" with the same name) and their dates
// meet. Their bands overlap when some band of each can hold at once for the
// same metric values: every metric both bound has intersecting ranges
// (bands on different metrics always can). The winner is Select's: a rule
// naming partners wins over a rule for all partners for those partners
// only; otherwise the newer rule, then the higher id.
func Conflicts(rules []Rule, offerAdvertiser map[int64]int64) []Conflict {
	active := make([]*Rule, 0, len(rules))
	for i := range rules {
		if rules[i].Active {
			active = append(active, &rules[i])
		}
	}
	slices.SortStableFunc(active, func(a, b *Rule) int { return cmp.Compare(a.ID, b.ID) })
	var out []Conflict
	for i, a := range active {
		for _, b := range active[i+1:] {
			if c, ok := conflict(a, b, offerAdvertiser); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

func conflict(a, b *Rule, offerAdvertiser map[int64]int64) (Conflict, bool) {
	scope, ok := scopeOverlap(a, b, offerAdvertiser)
	if !ok {
		return Conflict{}, false
	}
	partners, ok := partnerOverlap(a, b)
	if !ok {
		return Conflict{}, false
	}
	applies, ok := appliesOverlap(a, b)
	if !ok {
		return Conflict{}, false
	}
	dates, ok := dateOverlap(a, b)
	if !ok {
		return Conflict{}, false
	}
	bands, ok := bandOverlap(a, b)
	if !ok {
		return Conflict{}, false
	}
	winner, loser := a, b
	rule, wins := beats(b, a)
	if wins {
		winner, loser = b, a
	}
	why := ruleRef(winner.ID) + " wins: " + rule
	if rule == ruleSpecificPartner {
		why = ruleRef(winner.ID) + " names " + plural("partner", winner.PartnerIDs) +
			" and wins for them (" + ruleSpecificPartner + "); for every other partner " + ruleRef(loser.ID) + " applies"
	} else if !a.AllPartners() {
		why += " (for " + partners + ")"
	}
	return Conflict{
		A:       a.ID,
		B:       b.ID,
		Winner:  winner.ID,
		Why:     why,
		Overlap: strings.Join([]string{scope, partners, applies, dates, bands}, "; "),
	}, true
}

func scopeOverlap(a, b *Rule, offerAdvertiser map[int64]int64) (string, bool) {
	var offers, advertisers []int64
	for _, o := range a.OfferIDs {
		if slices.Contains(b.OfferIDs, o) {
			offers = append(offers, o)
		} else if adv, ok := offerAdvertiser[o]; ok && slices.Contains(b.AdvertiserIDs, adv) {
			offers = append(offers, o)
		}
	}
	for _, o := range b.OfferIDs {
		if adv, ok := offerAdvertiser[o]; ok && slices.Contains(a.AdvertiserIDs, adv) && !slices.Contains(offers, o) {
			offers = append(offers, o)
		}
	}
	for _, adv := range a.AdvertiserIDs {
		if slices.Contains(b.AdvertiserIDs, adv) {
			advertisers = append(advertisers, adv)
		}
	}
	slices.Sort(offers)
	offers = slices.Compact(offers)
	slices.Sort(advertisers)
	advertisers = slices.Compact(advertisers)
	var parts []string
	if len(offers) > 0 {
		parts = append(parts, plural("offer", offers))
	}
	if len(advertisers) > 0 {
		parts = append(parts, plural("advertiser", advertisers))
	}
	return strings.Join(parts, " and "), len(parts) > 0
}

func partnerOverlap(a, b *Rule) (string, bool) {
	switch {
	case a.AllPartners() && b.AllPartners():
		return "all partners", true
	case a.AllPartners():
		return plural("partner", b.PartnerIDs), true
	case b.AllPartners():
		return plural("partner", a.PartnerIDs), true
	}
	var common []int64
	for _, p := range a.PartnerIDs {
		if slices.Contains(b.PartnerIDs, p) {
			common = append(common, p)
		}
	}
	slices.Sort(common)
	common = slices.Compact(common)
	return plural("partner", common), len(common) > 0
}

func appliesOverlap(a, b *Rule) (string, bool) {
	describe := func(r *Rule) string {
		switch r.AppliesTo {
		case AppliesToBase:
			return "the base conversion"
		case AppliesToEvent:
			return "event " + strconv.Quote(r.Event)
		}
		return "the base conversion and every event"
	}
	switch {
	case a.AppliesTo == AppliesToAll:
		return describe(b), true
	case b.AppliesTo == AppliesToAll:
		return describe(a), true
	case a.AppliesTo == AppliesToBase && b.AppliesTo == AppliesToBase:
		return describe(a), true
	case a.AppliesTo == AppliesToEvent && b.AppliesTo == AppliesToEvent && a.Event == b.Event:
		return describe(a), true
	}
	return "", false
}

// dateOverlap compares the rules' dates as local dates (both are in the
// network's zone). A malformed date counts as open, so a broken rule is
// reported rather than hidden.
func dateOverlap(a, b *Rule) (string, bool) {
	aStart, aEnd := dateRange(a)
	bStart, bEnd := dateRange(b)
	start, end := aStart, aEnd
	if bStart.After(start) {
		start = bStart
	}
	if bEnd.Before(end) {
		end = bEnd
	}
	if start.After(end) {
		return "", false
	}
	if end.Equal(FarFuture) {
		return "from " + start.Format(DateLayout), true
	}
	return start.Format(DateLayout) + " to " + end.Format(DateLayout), true
}

// dateRange returns the first and last day of r as UTC midnights.
func dateRange(r *Rule) (first, last time.Time) {
	first, err := time.Parse(DateLayout, r.StartDate)
	if err != nil {
		first = time.Time{}
	}
	last, err = time.Parse(DateLayout, r.EndDate)
	if err != nil {
		last = FarFuture
	}
	return first, last
}

func bandOverlap(a, b *Rule) (string, bool) {
	for i := range a.Bands {
		for j := range b.Bands {
			if witness, ok := bandsOverlap(&a.Bands[i], &b.Bands[j]); ok {
				return bandRef(i, a.Bands[i].Name) + " of " + ruleRef(a.ID) + " and " +
					bandRef(j, b.Bands[j].Name) + " of " + ruleRef(b.ID) + " both hold when " + witness, true
			}
		}
	}
	return "", false
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// ruleRef names a rule in a conflict: "rule 3", or "this rule" for a draft
// not saved yet (id 0).
func ruleRef(n int64) string {
	if n == 0 {
		return "this rule"
	}
	return "rule " + id(n)
}

// DraftConflicts lists the active rules that conflict with draft, a rule
// being edited (saved or not, active or paused): those Conflicts would pair
// with it were it saved active as it stands. A rule of the draft's own id is
// the draft's saved version and is left out. A draft not saved yet (id 0,
// no creation time) counts as the newest rule, as it will be once saved, and
// is called "this rule". Each conflict has A the other rule and B the draft.
func DraftConflicts(draft Rule, rules []Rule, offerAdvertiser map[int64]int64) []Conflict {
	draft.Active = true
	if draft.ID == 0 && draft.CreatedAt.IsZero() {
		for _, r := range rules {
			if !r.CreatedAt.Before(draft.CreatedAt) {
				draft.CreatedAt = r.CreatedAt.Add(time.Microsecond)
			}
		}
	}
	others := make([]*Rule, 0, len(rules))
	for i := range rules {
		if rules[i].Active && rules[i].ID != draft.ID {
			others = append(others, &rules[i])
		}
	}
	slices.SortStableFunc(others, func(a, b *Rule) int { return cmp.Compare(a.ID, b.ID) })
	var out []Conflict
	for _, r := range others {
		if c, ok := conflict(r, &draft, offerAdvertiser); ok {
			out = append(out, c)
		}
	}
	return out
}

// plural writes "offer 3" or "offers 3, 4".
func plural(noun string, ids []int64) string {
	s := make([]string, len(ids))
	for i, n := range ids {
		s[i] = id(n)
	}
	if len(ids) != 1 {
		noun += "s"
	}
	return noun + " " + strings.Join(s, ", ")
}
