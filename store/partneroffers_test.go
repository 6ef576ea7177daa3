package store

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
)

func TestPartnerPayoutRate(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	payout := func(typ pricing.PayoutType, amount, percent string) pricing.PayoutRate {
		return pricing.PayoutRate{Type: typ, Amount: d(amount), Percent: d(percent)}
	}
	revenue := func(typ pricing.RevenueType, amount, percent string) pricing.RevenueRate {
		return pricing.RevenueRate{Type: typ, Amount: d(amount), Percent: d(percent)}
	}
	margin30 := &pricing.Tier{Active: true, Margin: d("30"), OfferListed: true, ApplyMargin: true}
	event := OfferEvent{Payout: payout(pricing.PayoutCPA, "5", "0"), Revenue: revenue(pricing.RevenueRPA, "10", "0")}

	for _, tc := range []struct {
		name     string
		event    OfferEvent
		tier     *pricing.Tier
		custom   *pricing.CustomSetting
		currency string
		want     pricing.PayoutRate
	}{
		{name: "OfferDefault", event: event, want: payout(pricing.PayoutCPA, "5", "0")},
		{name: "MarginOnRPA", event: event, tier: margin30, want: payout(pricing.PayoutCPA, "7", "0")},
		{
			name:  "MarginOnRPS",
			event: OfferEvent{Payout: payout(pricing.PayoutCPS, "0", "5"), Revenue: revenue(pricing.RevenueRPS, "0", "12.5")},
			tier:  margin30,
			want:  payout(pricing.PayoutCPS, "0", "8.75"),
		},
		{
			name:  "MarginOnRPAPlusRPS",
			event: OfferEvent{Payout: payout(pricing.PayoutCPA, "1", "0"), Revenue: revenue(pricing.RevenueRPARPS, "2.5", "4")},
			tier:  margin30,
			want:  payout(pricing.PayoutCPACPS, "1.75", "2.8"),
		},
		{
			name:  "MarginRoundsTiesAwayFromZero",
			event: OfferEvent{Payout: payout(pricing.PayoutCPA, "1", "0"), Revenue: revenue(pricing.RevenueRPA, "10.05", "0")},
			tier:  margin30,
			want:  payout(pricing.PayoutCPA, "7.04", "0"), // 7.035
		},
		{
			name:     "MarginRoundsToTheCurrency",
			event:    OfferEvent{Payout: payout(pricing.PayoutCPA, "100", "0"), Revenue: revenue(pricing.RevenueRPA, "1005", "0")},
			tier:     margin30,
			currency: "JPY",
			want:     payout(pricing.PayoutCPA, "704", "0"), // 703.5
		},
		{name: "ZeroMarginPaysTheRevenue", event: event, tier: &pricing.Tier{Active: true, OfferListed: true, ApplyMargin: true}, want: payout(pricing.PayoutCPA, "10", "0")},
		{name: "FullMarginPaysNothing", event: event, tier: &pricing.Tier{Active: true, Margin: d("100"), OfferListed: true, ApplyMargin: true}, want: payout(pricing.PayoutCPA, "0", "0")},
		{name: "TierInactive", event: event, tier: &pricing.Tier{Margin: d("30"), OfferListed: true, ApplyMargin: true}, want: event.Payout},
		{name: "OfferNotInTier", event: event, tier: &pricing.Tier{Active: true, Margin: d("30")}, want: event.Payout},
		{name: "ApplyMarginOff", event: event, tier: &pricing.Tier{Active: true, Margin: d("30"), OfferListed: true}, want: event.Payout},
		{
			name:  "NoRevenueSkipsTheMargin",
			event: OfferEvent{Payout: payout(pricing.PayoutCPA, "5", "0"), Revenue: revenue(pricing.RevenueRPA, "0", "0")},
			tier:  margin30,
			want:  payout(pricing.PayoutCPA, "5", "0"),
		},
		{
			name:   "CustomPayoutBeatsTheTier",
			event:  event,
			tier:   margin30,
			custom: &pricing.CustomSetting{Payout: &pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: d("15")}},
			want:   payout(pricing.PayoutCPS, "0", "15"),
		},
		{
			name:   "CustomRevenueFeedsTheMargin",
			event:  event,
			tier:   margin30,
			custom: &pricing.CustomSetting{Revenue: &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: d("20")}},
			want:   payout(pricing.PayoutCPA, "14", "0"),
		},
		{
			name:   "CustomRevenueWithoutMarginKeepsTheDefault",
			event:  event,
			custom: &pricing.CustomSetting{Revenue: &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: d("20")}},
			want:   payout(pricing.PayoutCPA, "5", "0"),
		},
		{
			name:  "PRVShownAsShareOfTheRevenue",
			event: OfferEvent{Payout: payout(pricing.PayoutPRV, "0", "40"), Revenue: revenue(pricing.RevenueRPARPS, "10", "5")},
			want:  payout(pricing.PayoutCPACPS, "4", "2"),
		},
		{
			name:   "CustomPRVUsesTheCustomRevenue",
			event:  event,
			custom: &pricing.CustomSetting{Payout: &pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: d("50")}, Revenue: &pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: d("8")}},
			want:   payout(pricing.PayoutCPS, "0", "4"),
		},
		{
			name:  "DefaultAmountRounded",
			event: OfferEvent{Payout: payout(pricing.PayoutCPACPS, "1.005", "3"), Revenue: revenue(pricing.RevenueRPA, "2", "0")},
			want:  payout(pricing.PayoutCPACPS, "1.01", "3"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			currency := tc.currency
			if currency == "" {
				currency = "USD"
			}
			got := PartnerPayoutRate(tc.event, tc.tier, tc.custom, currency)
			require.Equal(t, tc.want.Type, got.Type)
			require.True(t, tc.want.Amount.Equal(got.Amount), "amount: want %s, got %s", tc.want.Amount, got.Amount)
			require.True(t, tc.want.Percent.Equal(got.Percent), "percent: want %s, got %s", tc.want.Percent, got.Percent)
		})
	}
}
