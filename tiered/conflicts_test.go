package tiered_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

func TestConflicts(t *testing.T) {
	t.Parallel()
	// Offers 10 and 11 belong to advertiser 1, offer 20 to advertiser 2.
	offerAdvertiser := map[int64]int64{10: 1, 11: 1, 20: 2}
	revenueAbove := func(minimum string) []tiered.Band {
		return []tiered.Band{band("Above "+minimum, increase(tiered.ByPercent, "10"), nil, bound(tiered.MetricRevenue, minimum, ""))}
	}

	tests := []struct {
		name        string
		edit        func(a, b *tiered.Rule) // a is rule 1 (older), b rule 2 (newer)
		wantWinner  int64                   // 0: no conflict
		wantWhy     string
		wantOverlap string
	}{
		{
			name:        "CommonOffer",
			edit:        func(a, b *tiered.Rule) {},
			wantWinner:  2,
			wantWhy:     "rule 2 wins: the newer rule beats the older",
			wantOverlap: `offer 10; all partners; the base conversion; from 2024-01-01; bands[0] "Standard" of rule 1 and bands[0] "Standard" of rule 2 both hold when conversions in (0, 100]`,
		},
		{
			name:        "OfferOfListedAdvertiser",
			edit:        func(a, b *tiered.Rule) { b.OfferIDs, b.AdvertiserIDs = nil, []int64{1} },
			wantWinner:  2,
			wantWhy:     "rule 2 wins: the newer rule beats the older",
			wantOverlap: `offer 10; all partners; the base conversion; from 2024-01-01; bands[0] "Standard" of rule 1 and bands[0] "Standard" of rule 2 both hold when conversions in (0, 100]`,
		},
		{
			name: "CommonAdvertiser",
			edit: func(a, b *tiered.Rule) {
				a.OfferIDs, a.AdvertiserIDs, b.OfferIDs, b.AdvertiserIDs = nil, []int64{1, 2}, nil, []int64{2}
			},
			wantWinner: 2,
			wantWhy:    "rule 2 wins: the newer rule beats the older",
		},
		{
			name: "OfferOfOtherAdvertiser",
			edit: func(a, b *tiered.Rule) { b.OfferIDs, b.AdvertiserIDs = nil, []int64{2} },
		},
		{
			name: "DisjointOffers",
			edit: func(a, b *tiered.Rule) { b.OfferIDs = []int64{11} },
		},
		{
			name:        "SpecificPartnerWinsForItsPartnersOnly",
			edit:        func(a, b *tiered.Rule) { a.PartnerIDs = []int64{7, 8} },
			wantWinner:  1,
			wantWhy:     "rule 1 names partners 7, 8 and wins for them (a rule naming the partner beats a rule for all partners); for every other partner rule 2 applies",
			wantOverlap: `offer 10; partners 7, 8; the base conversion; from 2024-01-01; bands[0] "Standard" of rule 1 and bands[0] "Standard" of rule 2 both hold when conversions in (0, 100]`,
		},
		{
			name:       "CommonPartners",
			edit:       func(a, b *tiered.Rule) { a.PartnerIDs, b.PartnerIDs = []int64{7, 8}, []int64{8, 9} },
			wantWinner: 2,
			wantWhy:    "rule 2 wins: the newer rule beats the older (for partner 8)",
		},
		{
			name: "DisjointPartners",
			edit: func(a, b *tiered.Rule) { a.PartnerIDs, b.PartnerIDs = []int64{7}, []int64{8} },
		},
		{
			name: "BaseAndEventDoNotMeet",
			edit: func(a, b *tiered.Rule) {
				b.AppliesTo, b.Event = tiered.AppliesToEvent, "deposit"
				b.Bands = revenueAbove("0")
			},
		},
		{
			name: "DifferentEventsDoNotMeet",
			edit: func(a, b *tiered.Rule) {
				a.AppliesTo, a.Event, a.Bands = tiered.AppliesToEvent, "trade", revenueAbove("0")
				b.AppliesTo, b.Event, b.Bands = tiered.AppliesToEvent, "deposit", revenueAbove("0")
			},
		},
		{
			name: "AllMeetsAnEvent",
			edit: func(a, b *tiered.Rule) {
				a.AppliesTo, a.Bands = tiered.AppliesToAll, revenueAbove("0")
				b.AppliesTo, b.Event, b.Bands = tiered.AppliesToEvent, "deposit", revenueAbove("100")
			},
			wantWinner:  2,
			wantWhy:     "rule 2 wins: the newer rule beats the older",
			wantOverlap: `offer 10; all partners; event "deposit"; from 2024-01-01; bands[0] "Above 0" of rule 1 and bands[0] "Above 100" of rule 2 both hold when revenue in (100, ∞)`,
		},
		{
			name: "DisjointDates",
			edit: func(a, b *tiered.Rule) { a.EndDate, b.StartDate = "2024-03-31", "2024-04-01" },
		},
		{
			name:        "DatesMeetOnOneDay",
			edit:        func(a, b *tiered.Rule) { a.EndDate, b.StartDate, b.EndDate = "2024-04-01", "2024-04-01", "2024-06-30" },
			wantWinner:  2,
			wantWhy:     "rule 2 wins: the newer rule beats the older",
			wantOverlap: `offer 10; all partners; the base conversion; 2024-04-01 to 2024-04-01; bands[0] "Standard" of rule 1 and bands[0] "Standard" of rule 2 both hold when conversions in (0, 100]`,
		},
		{
			name: "DisjointBands",
			edit: func(a, b *tiered.Rule) {
				a.Bands = []tiered.Band{band("Low", nil, nil, bound(tiered.MetricRevenue, "", "7500"))}
				b.Bands = revenueAbove("60000")
			},
		},
		{
			// The seed's "Avoid This": both hold once revenue exceeds 60,000.
			name:        "SeedAvoidThis",
			edit:        func(a, b *tiered.Rule) { a.Bands, b.Bands = revenueAbove("60000"), revenueAbove("7500") },
			wantWinner:  2,
			wantWhy:     "rule 2 wins: the newer rule beats the older",
			wantOverlap: `offer 10; all partners; the base conversion; from 2024-01-01; bands[0] "Above 60000" of rule 1 and bands[0] "Above 7500" of rule 2 both hold when revenue in (60000, ∞)`,
		},
		{
			name:       "BandsOnDifferentMetricsCanBothHold",
			edit:       func(a, b *tiered.Rule) { b.Bands = revenueAbove("1000") },
			wantWinner: 2,
			wantWhy:    "rule 2 wins: the newer rule beats the older",
		},
		{
			name: "InactiveRulesIgnored",
			edit: func(a, b *tiered.Rule) { b.Active = false },
		},
		{
			name:       "HigherIDBreaksATie",
			edit:       func(a, b *tiered.Rule) { b.CreatedAt = a.CreatedAt },
			wantWinner: 2,
			wantWhy:    "rule 2 wins: the higher id breaks the tie",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := candidateRule(t, 1, 1), candidateRule(t, 2, 20)
			tt.edit(&a, &b)
			require.NoError(t, a.Validate())
			require.NoError(t, b.Validate())

			for _, rules := range [][]tiered.Rule{{a, b}, {b, a}} {
				got := tiered.Conflicts(rules, offerAdvertiser)
				if tt.wantWinner == 0 {
					require.Empty(t, got)
					continue
				}
				require.Len(t, got, 1)
				c := got[0]
				require.Equal(t, int64(1), c.A)
				require.Equal(t, int64(2), c.B)
				require.Equal(t, tt.wantWinner, c.Winner)
				require.Equal(t, tt.wantWhy, c.Why)
				if tt.wantOverlap != "" {
					require.Equal(t, tt.wantOverlap, c.Overlap)
				}

				// The winner is the one Select picks for a conversion both cover.
				if c.Why != "" && a.AppliesTo == b.AppliesTo && len(a.OfferIDs) > 0 && len(b.OfferIDs) > 0 {
					f := tiered.Facts{OfferID: 10, AdvertiserID: 1, PartnerID: 8, At: day(10).AddDate(0, 4, 0)}
					win, ok := tiered.Select(rules, f, nil)
					require.True(t, ok)
					require.Equal(t, c.Winner, win.ID)
				}
			}
		})
	}

	t.Run("EveryPairOrderedByID", func(t *testing.T) {
		t.Parallel()
		rules := []tiered.Rule{candidateRule(t, 3, 3), candidateRule(t, 1, 1), candidateRule(t, 2, 2)}
		other := candidateRule(t, 4, 4)
		other.OfferIDs = []int64{20}
		rules = append(rules, other)

		var pairs [][3]int64
		for _, c := range tiered.Conflicts(rules, offerAdvertiser) {
			pairs = append(pairs, [3]int64{c.A, c.B, c.Winner})
		}
		require.Equal(t, [][3]int64{{1, 2, 2}, {1, 3, 3}, {2, 3, 3}}, pairs)
	})
}
