package pricing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
)

// TestCustomPayoutFieldsResolvedIndependently: for the payout and for the
// revenue the winner is the first in the conflict order among the settings
// that set that field (DESIGN §14.9), and the explanation names each.
func TestCustomPayoutFieldsResolvedIndependently(t *testing.T) {
	t.Parallel()

	// The offer pays a $10 CPA and earns a $20 RPA; the conversion is
	// partner 7's.
	offer := func(t *testing.T) *testBundle {
		b := setup(t)
		b.in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("10")}
		b.in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("20")}
		return b
	}
	cpa := func(amount string) *pricing.PayoutRate {
		return &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec(amount)}
	}
	rpa := func(amount string) *pricing.RevenueRate {
		return &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec(amount)}
	}
	older := setup(t).at.Add(-48 * time.Hour)
	newer := older.Add(24 * time.Hour)

	tests := []struct {
		name                string
		settings            []pricing.CustomSetting
		tier                *pricing.Tier
		wantPayout          string
		wantRevenue         string
		wantPayoutLayer     pricing.Layer
		wantPayoutSetting   int64 // 0: none
		wantRevenueSetting  int64
		wantCandidateReason map[int64]string
	}{
		{
			// Partner 7's setting sets only the payout; the one for all
			// partners only the revenue. Each decides its own field.
			name: "PartnerPayoutAndAllPartnersRevenue",
			settings: []pricing.CustomSetting{
				{ID: 1, PartnerID: 7, Payout: cpa("5"), CreatedAt: older},
				{ID: 2, PartnerID: 0, Revenue: rpa("33"), CreatedAt: newer},
			},
			wantPayout: "5", wantRevenue: "33", wantPayoutLayer: pricing.LayerCustomPayout,
			wantPayoutSetting: 1, wantRevenueSetting: 2,
			wantCandidateReason: map[int64]string{
				1: "won the payout: the only matching setting that sets it",
				2: "won the revenue: the only matching setting that sets it",
			},
		},
		{
			// A newer, undated revenue-only setting leaves the older $6
			// payout setting deciding the payout.
			name: "NewerRevenueOnlyKeepsOlderPayout",
			settings: []pricing.CustomSetting{
				{ID: 3, PartnerID: 0, Payout: cpa("6"), CreatedAt: older},
				{ID: 4, PartnerID: 0, Revenue: rpa("25"), CreatedAt: newer},
			},
			wantPayout: "6", wantRevenue: "25", wantPayoutLayer: pricing.LayerCustomPayout,
			wantPayoutSetting: 3, wantRevenueSetting: 4,
		},
		{
			// A setting that sets both fields can win one and lose the other.
			name: "OneSettingWinsOneFieldAndLosesTheOther",
			settings: []pricing.CustomSetting{
				{ID: 5, PartnerID: 0, Payout: cpa("6"), Revenue: rpa("30"), CreatedAt: newer},
				{ID: 6, PartnerID: 7, Revenue: rpa("33"), CreatedAt: older},
			},
			wantPayout: "6", wantRevenue: "33", wantPayoutLayer: pricing.LayerCustomPayout,
			wantPayoutSetting: 5, wantRevenueSetting: 6,
			wantCandidateReason: map[int64]string{
				5: "won the payout: the only matching setting that sets it; lost the revenue to setting 6: a setting for this partner beats one for all partners",
				6: "won the revenue: first in the conflict order among 2 matching settings that set it",
			},
		},
		{
			// No setting sets the payout: the margin decides it, on the
			// revenue the custom setting set.
			name: "RevenueOnlyFeedsTheMargin",
			settings: []pricing.CustomSetting{
				{ID: 7, PartnerID: 7, Revenue: rpa("33"), CreatedAt: older},
			},
			tier:       &pricing.Tier{ID: 2, Name: "Margin 30", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true},
			wantPayout: "23.1", wantRevenue: "33", wantPayoutLayer: pricing.LayerPartnerTier,
			wantRevenueSetting: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := offer(t)
			b.in.Custom = tt.settings
			b.in.Tier = tt.tier

			res := price(t, b.in)
			requireAmount(t, tt.wantPayout, res.Payout)
			requireAmount(t, tt.wantRevenue, res.Revenue)
			require.Equal(t, tt.wantPayoutLayer, res.Explanation.PayoutLayer)
			require.Equal(t, pricing.LayerCustomPayout, res.Explanation.RevenueLayer)

			s := step(t, res.Explanation, pricing.LayerCustomPayout)
			require.True(t, s.Applied)
			if tt.wantPayoutSetting == 0 {
				require.Nil(t, s.PayoutSetting)
				require.Equal(t, tt.wantRevenueSetting, s.CustomSetting.ID, "without a payout setting, the revenue's")
			} else {
				require.Equal(t, tt.wantPayoutSetting, s.PayoutSetting.ID)
				require.Equal(t, tt.wantPayoutSetting, s.CustomSetting.ID)
			}
			require.Equal(t, tt.wantRevenueSetting, s.RevenueSetting.ID)
			reasons := map[int64]string{}
			for _, c := range s.Candidates {
				reasons[c.ID] = c.Reason
				require.True(t, c.Won, "every candidate here decides a field")
			}
			for id, want := range tt.wantCandidateReason {
				require.Equal(t, want, reasons[id], "setting %d", id)
			}

			// The effective setting the partner API shows merges the two.
			eff, ok := pricing.SelectCustom(tt.settings, b.in.PartnerID, b.in.At)
			require.True(t, ok)
			require.Equal(t, tt.wantPayoutSetting != 0, eff.Payout != nil)
			require.NotNil(t, eff.Revenue)
			requireAmount(t, tt.wantRevenue, eff.Revenue.Amount)

			// The record keeps both winners, so a refund re-prices under
			// them.
			_, rec, err := pricing.NewRecord(b.in)
			require.NoError(t, err)
			kept := map[int64]bool{}
			for _, c := range rec.Input.Custom {
				kept[c.ID] = true
			}
			want := map[int64]bool{tt.wantRevenueSetting: true}
			if tt.wantPayoutSetting != 0 {
				want[tt.wantPayoutSetting] = true
			}
			require.Equal(t, want, kept)
			again, err := pricing.Reprice(rec, dec("0"), dec("0"))
			require.NoError(t, err)
			requireAmount(t, tt.wantPayout, again.Payout)
			requireAmount(t, tt.wantRevenue, again.Revenue)
		})
	}
}
