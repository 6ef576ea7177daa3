package tiered_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

func day(d int) time.Time { return time.Date(2024, 1, d, 12, 0, 0, 0, time.UTC) }

// candidateRule returns an active rule for offer 10 created on day created
// of January 2024, for partners (none: all partners).
func candidateRule(t *testing.T, id int64, created int, partners ...int64) tiered.Rule {
	t.Helper()
	r := setup(t).rule
	r.ID = id
	r.Name = "rule " + string(rune('A'+id-1))
	r.CreatedAt = day(created)
	r.PartnerIDs = partners
	return r
}

func TestTieredPriority(t *testing.T) {
	t.Parallel()
	facts := tiered.Facts{OfferID: 10, AdvertiserID: 3, PartnerID: 7, At: time.Date(2024, 5, 10, 0, 0, 0, 0, time.UTC)}

	tests := []struct {
		name   string
		rules  func(t *testing.T) []tiered.Rule
		wantID int64 // 0: none
	}{
		{
			name: "PartnerSpecificBeatsAllPartnersEvenIfOlder",
			rules: func(t *testing.T) []tiered.Rule {
				return []tiered.Rule{candidateRule(t, 1, 1, 7), candidateRule(t, 2, 20)}
			},
			wantID: 1,
		},
		{
			name: "PartnerSpecificBeatsAllPartnersWhateverTheOrder",
			rules: func(t *testing.T) []tiered.Rule {
				return []tiered.Rule{candidateRule(t, 2, 20), candidateRule(t, 1, 1, 7, 8)}
			},
			wantID: 1,
		},
		{
			name: "NewestWinsAmongAllPartners",
			rules: func(t *testing.T) []tiered.Rule {
				return []tiered.Rule{candidateRule(t, 2, 20), candidateRule(t, 1, 1), candidateRule(t, 3, 5)}
			},
			wantID: 2,
		},
		{
			name: "NewestWinsAmongPartnerSpecific",
			rules: func(t *testing.T) []tiered.Rule {
				return []tiered.Rule{candidateRule(t, 1, 1, 7), candidateRule(t, 2, 3, 7, 9), candidateRule(t, 3, 30)}
			},
			wantID: 2,
		},
		{
			name: "HigherIDBreaksATie",
			rules: func(t *testing.T) []tiered.Rule {
				return []tiered.Rule{candidateRule(t, 5, 1), candidateRule(t, 4, 1)}
			},
			wantID: 5,
		},
		{
			name: "InactiveNeverSelected",
			rules: func(t *testing.T) []tiered.Rule {
				newest, specific := candidateRule(t, 2, 20), candidateRule(t, 3, 25, 7)
				newest.Active, specific.Active = false, false
				return []tiered.Rule{candidateRule(t, 1, 1), newest, specific}
			},
			wantID: 1,
		},
		{
			name: "OnlyInactiveSelectsNone",
			rules: func(t *testing.T) []tiered.Rule {
				r := candidateRule(t, 1, 1, 7)
				r.Active = false
				return []tiered.Rule{r}
			},
		},
		{
			name: "RuleForOtherPartnersDoesNotApply",
			rules: func(t *testing.T) []tiered.Rule {
				return []tiered.Rule{candidateRule(t, 1, 1), candidateRule(t, 2, 20, 8)}
			},
			wantID: 1,
		},
		{
			name: "EndedRuleDoesNotApply",
			rules: func(t *testing.T) []tiered.Rule {
				ended := candidateRule(t, 2, 20, 7)
				ended.EndDate = "2024-05-09"
				return []tiered.Rule{candidateRule(t, 1, 1), ended}
			},
			wantID: 1,
		},
		{
			name:  "NoRules",
			rules: func(t *testing.T) []tiered.Rule { return nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules := tt.rules(t)
			got, ok := tiered.Select(rules, facts, time.UTC)
			require.Equal(t, tt.wantID != 0, ok)
			require.Equal(t, tt.wantID, got.ID)

			candidates := tiered.Candidates(rules, facts, time.UTC)
			won := 0
			for _, c := range candidates {
				if c.Won {
					won++
					require.Equal(t, tt.wantID, c.RuleID)
				}
			}
			require.Equal(t, min(1, int(tt.wantID)), won)
		})
	}

	t.Run("NoFallThrough", func(t *testing.T) {
		t.Parallel()
		// The newest rule wins before bands are looked at: its only band
		// needs more than 100 conversions, so the conversion gets no tiered
		// line, although the older rule's band would hold.
		older := candidateRule(t, 1, 1)
		newest := candidateRule(t, 2, 20)
		newest.Bands = newest.Bands[1:]
		rules := []tiered.Rule{older, newest}
		m := tiered.Metrics{Conversions: 5}

		win, ok := tiered.Select(rules, facts, time.UTC)
		require.True(t, ok)
		require.Equal(t, int64(2), win.ID)
		require.Equal(t, -1, win.BandAt(m))
		require.Equal(t, 0, older.BandAt(m))
		res := tiered.Apply(win, win.BandAt(m), setup(t).amounts)
		requireAmount(t, "0", res.Payout)
		requireAmount(t, "0", res.Revenue)
		require.Equal(t, int64(2), res.Explanation.RuleID)

		// Both still count the conversion in their own metrics.
		require.Len(t, tiered.Covering(rules, facts, time.UTC), 2)

		candidates := tiered.Candidates(rules, facts, time.UTC)
		require.Equal(t, []tiered.Candidate{
			{RuleID: 1, RuleName: "rule A", Reason: "lost to rule 2: the newer rule beats the older"},
			{RuleID: 2, RuleName: "rule B", Won: true, Reason: "won: first in priority among 2 rules that apply (no fall-through to the others, whatever their bands)"},
		}, candidates)
	})

	t.Run("CandidatesExplainEveryRuleForTheOfferAndPartner", func(t *testing.T) {
		t.Parallel()
		inactive := candidateRule(t, 3, 2)
		inactive.Active = false
		event := candidateRule(t, 4, 2)
		event.AppliesTo, event.Event = tiered.AppliesToEvent, "deposit"
		otherPartner := candidateRule(t, 5, 2, 8)
		otherOffer := candidateRule(t, 6, 2)
		otherOffer.OfferIDs = []int64{11}
		later := candidateRule(t, 7, 2)
		later.StartDate = "2024-06-01"
		rules := []tiered.Rule{candidateRule(t, 1, 1), candidateRule(t, 2, 1, 7), inactive, event, otherPartner, otherOffer, later}

		require.Equal(t, []tiered.Candidate{
			{RuleID: 1, RuleName: "rule A", Reason: "lost to rule 2: a rule naming the partner beats a rule for all partners"},
			{RuleID: 2, RuleName: "rule B", Won: true, Reason: "won: first in priority among 2 rules that apply (no fall-through to the others, whatever their bands)"},
			{RuleID: 3, RuleName: "rule C", Reason: "does not apply: the rule is inactive"},
			{RuleID: 4, RuleName: "rule D", Reason: `does not apply: the rule applies to event "deposit" only, this is the base conversion`},
			{RuleID: 7, RuleName: "rule G", Reason: "does not apply: the conversion is before the rule's start date 2024-06-01"},
		}, tiered.Candidates(rules, facts, time.UTC))
	})
}

func TestCovers(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 10, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name  string
		edit  func(r *tiered.Rule)
		facts tiered.Facts
		want  bool
	}{
		{name: "ListedOffer", facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: at}, want: true},
		{name: "OtherOffer", facts: tiered.Facts{OfferID: 11, PartnerID: 7, At: at}},
		{
			name:  "OfferOfListedAdvertiser",
			edit:  func(r *tiered.Rule) { r.OfferIDs, r.AdvertiserIDs = nil, []int64{3} },
			facts: tiered.Facts{OfferID: 11, AdvertiserID: 3, PartnerID: 7, At: at}, want: true,
		},
		{
			name:  "OfferOfOtherAdvertiser",
			edit:  func(r *tiered.Rule) { r.OfferIDs, r.AdvertiserIDs = nil, []int64{3} },
			facts: tiered.Facts{OfferID: 11, AdvertiserID: 4, PartnerID: 7, At: at},
		},
		{
			name:  "ListedPartner",
			edit:  func(r *tiered.Rule) { r.PartnerIDs = []int64{6, 7} },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: at}, want: true,
		},
		{
			name:  "UnlistedPartner",
			edit:  func(r *tiered.Rule) { r.PartnerIDs = []int64{6} },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: at},
		},
		{name: "BaseRuleSkipsEvents", facts: tiered.Facts{OfferID: 10, PartnerID: 7, Event: "deposit", At: at}},
		{
			name:  "EventRuleCoversItsEvent",
			edit:  func(r *tiered.Rule) { r.AppliesTo, r.Event = tiered.AppliesToEvent, "deposit" },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, Event: "deposit", At: at}, want: true,
		},
		{
			name:  "EventNamesAreCaseSensitive",
			edit:  func(r *tiered.Rule) { r.AppliesTo, r.Event = tiered.AppliesToEvent, "deposit" },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, Event: "Deposit", At: at},
		},
		{
			name:  "EventRuleSkipsBase",
			edit:  func(r *tiered.Rule) { r.AppliesTo, r.Event = tiered.AppliesToEvent, "deposit" },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: at},
		},
		{
			name:  "AllCoversBase",
			edit:  func(r *tiered.Rule) { r.AppliesTo = tiered.AppliesToAll },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: at}, want: true,
		},
		{
			name:  "AllCoversEvents",
			edit:  func(r *tiered.Rule) { r.AppliesTo = tiered.AppliesToAll },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, Event: "trade", At: at}, want: true,
		},
		{
			name:  "InactiveIsNotChecked",
			edit:  func(r *tiered.Rule) { r.Active = false },
			facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: at}, want: true,
		},
		{name: "BeforeStart", facts: tiered.Facts{OfferID: 10, PartnerID: 7, At: time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := setup(t).rule
			if tt.edit != nil {
				tt.edit(&r)
			}
			require.Equal(t, tt.want, r.Covers(tt.facts, time.UTC))
		})
	}
}
