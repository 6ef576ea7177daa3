package pricing

import (
	"strconv"
	"strings"
	"time"
)

// CustomSetting is a custom payout setting for one offer and event: for one
// partner, or for all partners, optionally within an effective date range.
type CustomSetting struct {
	ID        int64        `json:"id"`
	PartnerID int64        `json:"partner_id"`        // 0 = all partners
	Payout    *PayoutRate  `json:"payout,omitempty"`  // nil = this setting does not set the payout
	Revenue   *RevenueRate `json:"revenue,omitempty"` // nil = this setting does not set the revenue
	// StartsAt (inclusive) and EndsAt (exclusive) bound when the setting is
	// effective; both are optional. With either set the setting is "dated".
	StartsAt  *time.Time `json:"starts_at,omitempty"`
	EndsAt    *time.Time `json:"ends_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Dated reports whether the setting has a date range (StartsAt or EndsAt).
func (s *CustomSetting) Dated() bool { return s.StartsAt != nil || s.EndsAt != nil }

// ResolveCustom returns the custom settings that decide a conversion of
// partnerID at at: the one that sets its payout and the one that sets its
// revenue, each nil when none does (DESIGN §14.9). A setting matches when
// it is for that partner or for all partners and at is within [StartsAt,
// EndsAt); for each field the winner is the first in the conflict order
// among the matches that set that field: a specific partner beats all
// partners; then one with a date range beats one without; then the newer
// CreatedAt beats the older; then the lower ID wins. The two may be the
// same setting.
func ResolveCustom(settings []CustomSetting, partnerID int64, at time.Time) (payout, revenue *CustomSetting) {
	w := resolveCustom(settings, partnerID, at)
	if w.payout >= 0 {
		payout = &settings[w.payout]
	}
	if w.revenue >= 0 {
		revenue = &settings[w.revenue]
	}
	return payout, revenue
}

// SelectCustom returns the effective custom setting of a conversion of
// partnerID at at, and false when no setting matches: the payout of the
// setting that decides the payout and the revenue of the one that decides
// the revenue (ResolveCustom). Its ID, partner, dates and creation time are
// those of the payout's setting, or of the revenue's when no setting sets
// the payout.
func SelectCustom(settings []CustomSetting, partnerID int64, at time.Time) (CustomSetting, bool) {
	payout, revenue := ResolveCustom(settings, partnerID, at)
	switch {
	case payout == nil && revenue == nil:
		return CustomSetting{}, false
	case payout == nil:
		return *revenue, true
	}
	s := *payout
	s.Revenue = nil
	if revenue != nil {
		s.Revenue = revenue.Revenue
	}
	return s, true
}

// winners holds the indexes of the settings that decide the payout and the
// revenue, -1 for none.
type winners struct{ payout, revenue int }

func (w winners) any() bool { return w.payout >= 0 || w.revenue >= 0 }

func resolveCustom(settings []CustomSetting, partnerID int64, at time.Time) winners {
	return winners{
		payout:  selectCustom(settings, partnerID, at, fieldPayout),
		revenue: selectCustom(settings, partnerID, at, fieldRevenue),
	}
}

// field is one of the two amounts a setting can set.
type field string

const (
	fieldPayout  field = "payout"
	fieldRevenue field = "revenue"
)

func (s *CustomSetting) sets(f field) bool {
	if f == fieldPayout {
		return s.Payout != nil
	}
	return s.Revenue != nil
}

// selectCustom returns the index of the setting that decides f, or -1.
func selectCustom(settings []CustomSetting, partnerID int64, at time.Time, f field) int {
	best := -1
	for i := range settings {
		if settings[i].mismatch(partnerID, at) != matches || !settings[i].sets(f) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		if _, wins := beats(&settings[i], &settings[best]); wins {
			best = i
		}
	}
	return best
}

type mismatch int

const (
	matches mismatch = iota
	otherPartner
	setsNothing
	notStarted
	ended
)

func (s *CustomSetting) mismatch(partnerID int64, at time.Time) mismatch {
	switch {
	case s.PartnerID != 0 && s.PartnerID != partnerID:
		return otherPartner
	case s.Payout == nil && s.Revenue == nil:
		return setsNothing
	case s.StartsAt != nil && at.Before(*s.StartsAt):
		return notStarted
	case s.EndsAt != nil && !at.Before(*s.EndsAt):
		return ended
	}
	return matches
}

// The conflict rules, as the explanation words them.
const (
	ruleSpecificPartner = "a setting for this partner beats one for all partners"
	ruleDated           = "a setting with a date range beats one without"
	ruleNewer           = "the newer setting beats the older"
	ruleLowerID         = "the lower id breaks the tie"
)

// beats reports the first conflict rule that tells a from b, and whether a
// wins by it. The rule is "" when a and b are equal in every rule.
func beats(a, b *CustomSetting) (rule string, wins bool) {
	if aSpecific, bSpecific := a.PartnerID != 0, b.PartnerID != 0; aSpecific != bSpecific {
		return ruleSpecificPartner, aSpecific
	}
	if aDated, bDated := a.Dated(), b.Dated(); aDated != bDated {
		return ruleDated, aDated
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return ruleNewer, a.CreatedAt.After(b.CreatedAt)
	}
	if a.ID != b.ID {
		return ruleLowerID, a.ID < b.ID
	}
	return "", false
}

// customCandidates explains every setting for this partner or for all
// partners: for each field it sets, whether it decided that field or which
// setting did and by what rule, or why it did not match. It returns nil when
// there is none, so the explanation survives a JSON round trip.
func customCandidates(settings []CustomSetting, w winners, partnerID int64, at time.Time) []CustomCandidate {
	setting := func(f field) int {
		if f == fieldPayout {
			return w.payout
		}
		return w.revenue
	}
	counts := map[field]int{}
	for i := range settings {
		for _, f := range []field{fieldPayout, fieldRevenue} {
			if settings[i].mismatch(partnerID, at) == matches && settings[i].sets(f) {
				counts[f]++
			}
		}
	}
	var candidates []CustomCandidate
	for i := range settings {
		s := &settings[i]
		c := CustomCandidate{ID: s.ID}
		switch s.mismatch(partnerID, at) {
		case otherPartner:
			continue
		case setsNothing:
			c.Reason = "does not match: sets neither a payout nor a revenue"
		case notStarted:
			c.Reason = "does not match: starts " + formatTime(*s.StartsAt) + ", after the conversion"
		case ended:
			c.Reason = "does not match: ends " + formatTime(*s.EndsAt) + ", at or before the conversion (the end is exclusive)"
		case matches:
			var parts []string
			for _, f := range []field{fieldPayout, fieldRevenue} {
				if !s.sets(f) {
					continue
				}
				win := setting(f)
				if win == i {
					c.Won = true
					if counts[f] == 1 {
						parts = append(parts, "won the "+string(f)+": the only matching setting that sets it")
					} else {
						parts = append(parts, "won the "+string(f)+": first in the conflict order among "+strconv.Itoa(counts[f])+" matching settings that set it")
					}
					continue
				}
				rule, _ := beats(&settings[win], s)
				if rule == "" {
					rule = "the same setting is listed twice; the first one counts"
				}
				parts = append(parts, "lost the "+string(f)+" to setting "+strconv.FormatInt(settings[win].ID, 10)+": "+rule)
			}
			c.Reason = strings.Join(parts, "; ")
		}
		candidates = append(candidates, c)
	}
	return candidates
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
