package pricing_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
)

// TestRepriceKeepsTheDecidedLayer: a refund re-prices under the layers
// decided when the conversion was priced (DESIGN §14.4); a margin on no
// revenue left pays 0 and never falls back to the offer default.
func TestRepriceKeepsTheDecidedLayer(t *testing.T) {
	t.Parallel()

	margin30 := &pricing.Tier{ID: 2, Name: "Margin 30", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true}
	tests := []struct {
		name            string
		change          func(in *pricing.Input)
		refundedSale    string
		refundedRevenue string
		wantBefore      string
		wantPayout      string
		wantRevenue     string
		wantLayer       pricing.Layer
	}{
		{
			name: "MarginOnPostbackRevenueRefundedToZero",
			change: func(in *pricing.Input) {
				in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("10")}
				in.PostbackRevenue = decPtr("10")
				in.Tier = margin30
			},
			refundedRevenue: "10",
			wantBefore:      "7", wantPayout: "0", wantRevenue: "0", wantLayer: pricing.LayerPartnerTier,
		},
		{
			name: "MarginOnRevenueShareWholeSaleRefunded",
			change: func(in *pricing.Input) {
				in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("10")}
				in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("30")}
				in.SaleAmount = dec("100")
				in.Tier = margin30
			},
			refundedSale: "100",
			wantBefore:   "21", wantPayout: "0", wantRevenue: "0", wantLayer: pricing.LayerPartnerTier,
		},
		{
			name: "MarginFollowsAPartialRevenueRefund",
			change: func(in *pricing.Input) {
				in.PostbackRevenue = decPtr("10")
				in.Tier = margin30
			},
			refundedRevenue: "2.50",
			wantBefore:      "7", wantPayout: "5.25", wantRevenue: "7.5", wantLayer: pricing.LayerPartnerTier,
		},
		{
			// The revenue refunded comes off the custom revenue, not off a
			// postback revenue the conversion never had.
			name: "CustomRevenueStaysTheRevenueLayer",
			change: func(in *pricing.Input) {
				in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")}
				in.Custom = []pricing.CustomSetting{{ID: 4, PartnerID: 7, Revenue: &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("12")}}}
			},
			refundedRevenue: "4",
			wantBefore:      "6", wantPayout: "4", wantRevenue: "8", wantLayer: pricing.LayerOfferDefault,
		},
		{
			name: "CustomCPAUnchangedByARefund",
			change: func(in *pricing.Input) {
				in.SaleAmount = dec("80")
				in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("25")}
				in.Tier = margin30
				in.Custom = []pricing.CustomSetting{{ID: 4, PartnerID: 0, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("3")}}}
			},
			refundedSale: "80",
			wantBefore:   "3", wantPayout: "3", wantRevenue: "0", wantLayer: pricing.LayerCustomPayout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tt.change(&b.in)
			res, rec, err := pricing.NewRecord(b.in)
			require.NoError(t, err)
			requireAmount(t, tt.wantBefore, res.Payout)
			require.Equal(t, tt.wantLayer, res.Explanation.PayoutLayer)

			sale, revenue := dec("0"), dec("0")
			if tt.refundedSale != "" {
				sale = dec(tt.refundedSale)
			}
			if tt.refundedRevenue != "" {
				revenue = dec(tt.refundedRevenue)
			}
			got, err := pricing.Reprice(rec, sale, revenue)
			require.NoError(t, err)
			requireAmount(t, tt.wantPayout, got.Payout)
			requireAmount(t, tt.wantRevenue, got.Revenue)
			require.Equal(t, tt.wantLayer, got.Explanation.PayoutLayer, "the layer decided at pricing stays")
			require.Equal(t, rec.Explanation.RevenueLayer, got.Explanation.RevenueLayer)
			require.NotNil(t, got.Explanation.Refunded)
		})
	}
}
