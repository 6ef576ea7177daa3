package pricing

import (
	"strconv"
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

// SelectCustom returns the custom setting that applies to a conversion of
// partnerID at at, and false when none does. A setting matches when it is for
// that partner or for all partners (PartnerID 0), sets a payout or a revenue,
// and at is within [StartsAt, EndsAt). Among the matches: a specific partner
// beats all partners; then one with a date range beats one without; then the
// newer CreatedAt beats the older; then the lower ID wins.
func SelectCustom(settings []CustomSetting, partnerID int64, at time.Time) (CustomSetting, bool) {
	i := selectCustom(settings, partnerID, at)
	if i < 0 {
		return CustomSetting{}, false
	}
	return settings[i], true
}

// selectCustom returns the index of the winning setting, or -1.
func selectCustom(settings []CustomSetting, partnerID int64, at time.Time) int {
	best := -1
	for i := range settings {
		if settings[i].mismatch(partnerID, at) != matches {
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
// partners: the winner (index win, or -1) and why each other one lost or did
// not match. It returns nil when there is none, so the explanation survives a
// JSON round trip.
func customCandidates(settings []CustomSetting, win int, partnerID int64, at time.Time) []CustomCandidate {
	var candidates []CustomCandidate
	matching := 0
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
			matching++
			if i == win {
				c.Won = true // its reason is written once all matches are counted
				break
			}
			rule, _ := beats(&settings[win], s)
			if rule == "" {
				rule = "the same setting is listed twice; the first one counts"
			}
			c.Reason = "lost to setting " + strconv.FormatInt(settings[win].ID, 10) + ": " + rule
		}
		candidates = append(candidates, c)
	}
	for i := range candidates {
		if candidates[i].Won {
			if matching == 1 {
				candidates[i].Reason = "won: the only matching setting"
			} else {
				candidates[i].Reason = "won: first in the conflict order among " + strconv.Itoa(matching) + " matching settings"
			}
		}
	}
	return candidates
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
