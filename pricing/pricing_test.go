package pricing_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
)

type testBundle struct {
	at time.Time
	in pricing.Input
}

// setup returns a USD conversion by partner 7 with a $2 CPA / $5 RPA default,
// no tier and no custom settings.
func setup(t testing.TB) *testBundle {
	t.Helper()
	at := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	return &testBundle{
		at: at,
		in: pricing.Input{
			PartnerID:      7,
			At:             at,
			Currency:       "USD",
			DefaultPayout:  pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("2")},
			DefaultRevenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("5")},
		},
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decPtr(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

func timePtr(t time.Time) *time.Time { return &t }

func price(t *testing.T, in pricing.Input) pricing.Result {
	t.Helper()
	res, err := pricing.Price(in)
	require.NoError(t, err)
	return res
}

func requireAmount(t *testing.T, want string, got decimal.Decimal) {
	t.Helper()
	require.Truef(t, dec(want).Equal(got), "want %s, got %s", want, got)
}

func step(t *testing.T, e pricing.Explanation, layer pricing.Layer) pricing.Step {
	t.Helper()
	for _, s := range e.Steps {
		if s.Layer == layer {
			return s
		}
	}
	require.FailNow(t, "no step", "layer %s", layer)
	return pricing.Step{}
}

func TestPayoutTypes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		payout      pricing.PayoutRate
		revenue     pricing.RevenueRate
		sale        string
		postback    *decimal.Decimal
		wantPayout  string
		wantFormula string
		wantNote    string
	}{
		{
			name:        "CPA",
			payout:      pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("3")},
			wantPayout:  "3.00",
			wantFormula: "3.00 fixed = 3.00",
		},
		{
			name:        "CPS",
			payout:      pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: dec("10")},
			sale:        "25.05",
			wantPayout:  "2.51",
			wantFormula: "10% × 25.05 sale amount = 2.505, rounded to 2.51",
		},
		{
			name:        "CPSWithoutSaleAmount",
			payout:      pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: dec("10")},
			wantPayout:  "0",
			wantFormula: "10% × 0.00 sale amount = 0.00",
			wantNote:    "the postback sent no sale amount, so the percent part is 0",
		},
		{
			name:        "CPACPS",
			payout:      pricing.PayoutRate{Type: pricing.PayoutCPACPS, Amount: dec("3"), Percent: dec("10")},
			sale:        "25.05",
			wantPayout:  "5.51",
			wantFormula: "3.00 fixed + 10% × 25.05 sale amount = 5.505, rounded to 5.51",
		},
		{
			name:        "PRV",
			payout:      pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")},
			revenue:     pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("20")},
			sale:        "40",
			wantPayout:  "4.00",
			wantFormula: "50% × 8.00 revenue (from offer_default) = 4.00",
		},
		{
			// 50% of the rounded revenue 8.01 is 4.005 → 4.01; of the
			// unrounded 8.005 it would have been 4.0025 → 4.00.
			name:        "PRVOnRoundedPostbackRevenue",
			payout:      pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")},
			postback:    decPtr("8.005"),
			wantPayout:  "4.01",
			wantFormula: "50% × 8.01 revenue (from postback) = 4.005, rounded to 4.01",
		},
		{
			name:        "PRVWithoutRevenue",
			payout:      pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")},
			revenue:     pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("0")},
			wantPayout:  "0",
			wantFormula: "50% × 0.00 revenue (from offer_default) = 0.00",
			wantNote:    "there is no revenue, so the percent of revenue pays 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.DefaultPayout = tt.payout
			if tt.revenue.Type != "" {
				b.in.DefaultRevenue = tt.revenue
			}
			if tt.sale != "" {
				b.in.SaleAmount = dec(tt.sale)
			}
			b.in.PostbackRevenue = tt.postback

			res := price(t, b.in)
			requireAmount(t, tt.wantPayout, res.Payout)
			require.Equal(t, pricing.LayerOfferDefault, res.Explanation.PayoutLayer)
			calc := step(t, res.Explanation, pricing.LayerOfferDefault).Payout
			require.NotNil(t, calc)
			require.Equal(t, string(tt.payout.Type), calc.Type)
			require.Equal(t, tt.wantFormula, calc.Formula)
			require.Equal(t, tt.wantNote, calc.Note)
			require.Empty(t, calc.SupersededBy)
		})
	}
}

func TestRevenueTypes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		revenue     pricing.RevenueRate
		sale        string
		wantRevenue string
		wantFormula string
	}{
		{
			name:        "RPA",
			revenue:     pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("5")},
			wantRevenue: "5.00",
			wantFormula: "5.00 fixed = 5.00",
		},
		{
			name:        "RPS",
			revenue:     pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("20")},
			sale:        "40",
			wantRevenue: "8.00",
			wantFormula: "20% × 40.00 sale amount = 8.00",
		},
		{
			name:        "RPARPS",
			revenue:     pricing.RevenueRate{Type: pricing.RevenueRPARPS, Amount: dec("1"), Percent: dec("2.5")},
			sale:        "10.10",
			wantRevenue: "1.25",
			wantFormula: "1.00 fixed + 2.5% × 10.10 sale amount = 1.2525, rounded to 1.25",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.DefaultRevenue = tt.revenue
			if tt.sale != "" {
				b.in.SaleAmount = dec(tt.sale)
			}

			res := price(t, b.in)
			requireAmount(t, tt.wantRevenue, res.Revenue)
			require.Equal(t, pricing.LayerOfferDefault, res.Explanation.RevenueLayer)
			calc := step(t, res.Explanation, pricing.LayerOfferDefault).Revenue
			require.NotNil(t, calc)
			require.Equal(t, string(tt.revenue.Type), calc.Type)
			require.Equal(t, tt.wantFormula, calc.Formula)
		})
	}
}

func TestRevenuePrecedence(t *testing.T) {
	t.Parallel()

	customRevenue := pricing.CustomSetting{
		ID:        11,
		PartnerID: 7,
		Revenue:   &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("7")},
	}
	tests := []struct {
		name        string
		custom      []pricing.CustomSetting
		postback    *decimal.Decimal
		wantRevenue string
		wantLayer   pricing.Layer
		wantPayout  string // PRV 50% of the revenue
	}{
		{name: "OfferDefault", wantRevenue: "5.00", wantLayer: pricing.LayerOfferDefault, wantPayout: "2.50"},
		{name: "CustomBeatsDefault", custom: []pricing.CustomSetting{customRevenue}, wantRevenue: "7.00", wantLayer: pricing.LayerCustomPayout, wantPayout: "3.50"},
		{name: "PostbackBeatsCustom", custom: []pricing.CustomSetting{customRevenue}, postback: decPtr("9"), wantRevenue: "9.00", wantLayer: pricing.LayerPostback, wantPayout: "4.50"},
		{name: "PostbackBeatsDefault", postback: decPtr("9"), wantRevenue: "9.00", wantLayer: pricing.LayerPostback, wantPayout: "4.50"},
		{name: "PostbackZeroIsARevenue", custom: []pricing.CustomSetting{customRevenue}, postback: decPtr("0"), wantRevenue: "0", wantLayer: pricing.LayerPostback, wantPayout: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")}
			b.in.Custom = tt.custom
			b.in.PostbackRevenue = tt.postback

			res := price(t, b.in)
			requireAmount(t, tt.wantRevenue, res.Revenue)
			requireAmount(t, tt.wantPayout, res.Payout)
			e := res.Explanation
			require.Equal(t, tt.wantLayer, e.RevenueLayer)
			require.Equal(t, tt.wantLayer, step(t, e, pricing.LayerOfferDefault).Payout.BaseLayer)

			// Every revenue below the winner says what superseded it.
			for _, s := range e.Steps {
				if s.Revenue == nil {
					continue
				}
				if s.Layer == tt.wantLayer {
					require.Empty(t, s.Revenue.SupersededBy, s.Layer)
				} else {
					require.Equal(t, tt.wantLayer, s.Revenue.SupersededBy, s.Layer)
				}
			}
			pb := step(t, e, pricing.LayerPostback)
			require.Equal(t, tt.postback != nil, pb.Applied)
			if tt.postback == nil {
				require.Equal(t, "the postback sent no revenue", pb.Reason)
			}
		})
	}
}

func TestTierMargin(t *testing.T) {
	t.Parallel()

	tier := &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true}
	tests := []struct {
		name          string
		revenue       pricing.RevenueRate
		custom        []pricing.CustomSetting
		postback      *decimal.Decimal
		wantPayout    string
		wantBaseLayer pricing.Layer
		wantFormula   string
	}{
		{
			name:          "ThirtyPercentOfOneDollar",
			revenue:       pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("1")},
			wantPayout:    "0.70",
			wantBaseLayer: pricing.LayerOfferDefault,
			wantFormula:   "(100% − 30% margin) × 1.00 revenue (from offer_default) = 0.70",
		},
		{
			name:    "OnCustomRevenue",
			revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("1")},
			custom: []pricing.CustomSetting{{
				ID: 21, PartnerID: 7, Revenue: &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("10")},
			}},
			wantPayout:    "7.00",
			wantBaseLayer: pricing.LayerCustomPayout,
			wantFormula:   "(100% − 30% margin) × 10.00 revenue (from custom_payout) = 7.00",
		},
		{
			name:          "OnRoundedPostbackRevenue",
			revenue:       pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("1")},
			postback:      decPtr("2.005"),
			wantPayout:    "1.41",
			wantBaseLayer: pricing.LayerPostback,
			wantFormula:   "(100% − 30% margin) × 2.01 revenue (from postback) = 1.407, rounded to 1.41",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.Tier = tier
			b.in.DefaultRevenue = tt.revenue
			b.in.Custom = tt.custom
			b.in.PostbackRevenue = tt.postback

			res := price(t, b.in)
			requireAmount(t, tt.wantPayout, res.Payout)
			e := res.Explanation
			require.Equal(t, pricing.LayerPartnerTier, e.PayoutLayer)
			s := step(t, e, pricing.LayerPartnerTier)
			require.True(t, s.Applied)
			require.Empty(t, s.Reason)
			require.Equal(t, int64(3), s.Tier.ID)
			require.Equal(t, "Gold", s.Tier.Name)
			requireAmount(t, "30", s.Tier.MarginPercent)
			require.Equal(t, "margin", s.Payout.Type)
			requireAmount(t, "70", *s.Payout.Percent)
			require.Equal(t, tt.wantBaseLayer, s.Payout.BaseLayer)
			require.Equal(t, tt.wantFormula, s.Payout.Formula)
			require.Equal(t, pricing.LayerPartnerTier, step(t, e, pricing.LayerOfferDefault).Payout.SupersededBy)
		})
	}
}

func TestTierNotApplied(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		tier       *pricing.Tier
		wantReason string
	}{
		{name: "NoTier", wantReason: "the partner has no tier"},
		{name: "TierInactive", tier: &pricing.Tier{ID: 3, Name: "Gold", Active: false, Margin: dec("30"), OfferListed: true, ApplyMargin: true}, wantReason: "tier inactive"},
		{name: "OfferNotInTier", tier: &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: false, ApplyMargin: true}, wantReason: "offer not in tier"},
		{name: "ApplyMarginOff", tier: &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: false}, wantReason: "apply margin off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.Tier = tt.tier

			res := price(t, b.in)
			requireAmount(t, "2.00", res.Payout)
			requireAmount(t, "5.00", res.Revenue)
			e := res.Explanation
			require.Equal(t, pricing.LayerOfferDefault, e.PayoutLayer)
			s := step(t, e, pricing.LayerPartnerTier)
			require.False(t, s.Applied)
			require.Equal(t, tt.wantReason, s.Reason)
			require.Nil(t, s.Payout)
			if tt.tier != nil {
				require.Equal(t, tt.tier.ID, s.Tier.ID)
				require.Equal(t, tt.tier.Name, s.Tier.Name)
			}
		})
	}
}

func TestTierSkippedWhenRevenueIsZero(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		revenue  pricing.RevenueRate
		postback *decimal.Decimal
	}{
		{name: "DefaultRevenueZero", revenue: pricing.RevenueRate{Type: pricing.RevenueRPA}},
		{name: "RPSWithoutSaleAmount", revenue: pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("20")}},
		{name: "PostbackRevenueZero", revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("5")}, postback: decPtr("0")},
		{name: "PostbackRevenueRoundsToZero", revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("5")}, postback: decPtr("0.004")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.Tier = &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true}
			b.in.DefaultRevenue = tt.revenue
			b.in.PostbackRevenue = tt.postback

			res := price(t, b.in)
			requireAmount(t, "0", res.Revenue)
			requireAmount(t, "2.00", res.Payout)
			e := res.Explanation
			require.Equal(t, pricing.LayerOfferDefault, e.PayoutLayer)
			s := step(t, e, pricing.LayerPartnerTier)
			require.False(t, s.Applied)
			require.Equal(t, "no revenue: the margin needs a revenue", s.Reason)
			require.Nil(t, s.Payout)
			require.Equal(t, int64(3), s.Tier.ID)
		})
	}
}

func TestCustomConflictOrder(t *testing.T) {
	t.Parallel()

	at := setup(t).at
	older := at.Add(-48 * time.Hour)
	newer := at.Add(-24 * time.Hour)
	setting := func(id, partner int64, payout string, created time.Time) pricing.CustomSetting {
		return pricing.CustomSetting{
			ID:        id,
			PartnerID: partner,
			Payout:    &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec(payout)},
			CreatedAt: created,
		}
	}
	dated := func(s pricing.CustomSetting, starts, ends *time.Time) pricing.CustomSetting {
		s.StartsAt, s.EndsAt = starts, ends
		return s
	}
	lastMonth := timePtr(at.AddDate(0, -1, 0))
	nextMonth := timePtr(at.AddDate(0, 1, 0))

	tests := []struct {
		name       string
		settings   []pricing.CustomSetting
		wantID     int64 // 0 = none matches
		wantPayout string
		wantReason map[int64]string // candidate id → reason
	}{
		{
			// The all-partners setting is dated, newer and has the lower id,
			// and still loses.
			name: "PartnerBeatsAllPartners",
			settings: []pricing.CustomSetting{
				dated(setting(1, 0, "4", newer), lastMonth, nil),
				setting(2, 7, "3", older),
			},
			wantID:     2,
			wantPayout: "3.00",
			wantReason: map[int64]string{
				1: "lost the payout to setting 2: a setting for this partner beats one for all partners",
				2: "won the payout: first in the conflict order among 2 matching settings that set it",
			},
		},
		{
			name: "DatedBeatsUndated",
			settings: []pricing.CustomSetting{
				setting(1, 7, "4", newer),
				dated(setting(2, 7, "3", older), nil, nextMonth),
			},
			wantID:     2,
			wantPayout: "3.00",
			wantReason: map[int64]string{1: "lost the payout to setting 2: a setting with a date range beats one without"},
		},
		{
			name: "NewerBeatsOlder",
			settings: []pricing.CustomSetting{
				dated(setting(1, 7, "4", older), lastMonth, nextMonth),
				dated(setting(2, 7, "3", newer), lastMonth, nil),
			},
			wantID:     2,
			wantPayout: "3.00",
			wantReason: map[int64]string{1: "lost the payout to setting 2: the newer setting beats the older"},
		},
		{
			name: "LowerIDBreaksTies",
			settings: []pricing.CustomSetting{
				setting(9, 0, "4", older),
				setting(5, 0, "3", older),
			},
			wantID:     5,
			wantPayout: "3.00",
			wantReason: map[int64]string{9: "lost the payout to setting 5: the lower id breaks the tie"},
		},
		{
			name: "EndedDoesNotMatch",
			settings: []pricing.CustomSetting{
				dated(setting(1, 7, "4", newer), lastMonth, timePtr(at.Add(-time.Hour))),
				setting(2, 0, "3", older),
			},
			wantID:     2,
			wantPayout: "3.00",
			wantReason: map[int64]string{
				1: "does not match: ends 2025-03-10T11:00:00Z, at or before the conversion (the end is exclusive)",
				2: "won the payout: the only matching setting that sets it",
			},
		},
		{
			name: "NotStartedDoesNotMatch",
			settings: []pricing.CustomSetting{
				dated(setting(1, 7, "4", newer), timePtr(at.Add(time.Nanosecond)), nil),
				setting(2, 0, "3", older),
			},
			wantID:     2,
			wantPayout: "3.00",
			wantReason: map[int64]string{1: "does not match: starts 2025-03-10T12:00:00.000000001Z, after the conversion"},
		},
		{
			name: "EndsAtIsExclusive",
			settings: []pricing.CustomSetting{
				dated(setting(1, 7, "4", newer), nil, timePtr(at)),
				setting(2, 0, "3", older),
			},
			wantID:     2,
			wantPayout: "3.00",
		},
		{
			name: "StartsAtIsInclusive",
			settings: []pricing.CustomSetting{
				dated(setting(1, 7, "4", newer), timePtr(at), nil),
				setting(2, 0, "3", older),
			},
			wantID:     1,
			wantPayout: "4.00",
		},
		{
			// The same instant as the conversion, written in another zone.
			name: "StartsAtInOtherZone",
			settings: []pricing.CustomSetting{
				dated(setting(1, 7, "4", newer), timePtr(at.In(time.FixedZone("UTC+9", 9*3600))), nil),
			},
			wantID:     1,
			wantPayout: "4.00",
		},
		{
			name: "OtherPartnerDoesNotMatch",
			settings: []pricing.CustomSetting{
				setting(1, 8, "4", newer),
				setting(2, 0, "3", older),
			},
			wantID:     2,
			wantPayout: "3.00",
		},
		{
			name: "SettingThatSetsNothingIsSkipped",
			settings: []pricing.CustomSetting{
				{ID: 1, PartnerID: 7, CreatedAt: newer},
				setting(2, 0, "3", older),
			},
			wantID:     2,
			wantPayout: "3.00",
			wantReason: map[int64]string{1: "does not match: sets neither a payout nor a revenue"},
		},
		{
			name: "NoneMatches",
			settings: []pricing.CustomSetting{
				setting(1, 8, "4", newer),
				dated(setting(2, 7, "3", older), nil, timePtr(at)),
			},
			wantPayout: "2.00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.Custom = tt.settings

			res := price(t, b.in)
			requireAmount(t, tt.wantPayout, res.Payout)
			s := step(t, res.Explanation, pricing.LayerCustomPayout)
			selected, ok := pricing.SelectCustom(tt.settings, b.in.PartnerID, b.in.At)
			if tt.wantID == 0 {
				require.False(t, ok)
				require.False(t, s.Applied)
				require.Equal(t, "no custom setting matches", s.Reason)
				require.Nil(t, s.CustomSetting)
				require.Equal(t, pricing.LayerOfferDefault, res.Explanation.PayoutLayer)
				return
			}
			require.True(t, ok)
			require.Equal(t, tt.wantID, selected.ID)
			require.True(t, s.Applied)
			require.Equal(t, tt.wantID, s.CustomSetting.ID)
			require.Equal(t, pricing.LayerCustomPayout, res.Explanation.PayoutLayer)
			requireAmount(t, tt.wantPayout, s.Payout.Amount)

			reasons := make(map[int64]string)
			for _, c := range s.Candidates {
				require.Equal(t, c.ID == tt.wantID, c.Won, c.ID)
				reasons[c.ID] = c.Reason
			}
			require.NotContains(t, reasons, int64(8), "settings for other partners are not listed")
			for id, want := range tt.wantReason {
				require.Equal(t, want, reasons[id], "setting %d", id)
			}
		})
	}
}

func TestCustomPayoutOverTierMargin(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("1")}
	b.in.Tier = &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true}
	b.in.Custom = []pricing.CustomSetting{{
		ID: 40, PartnerID: 7, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("3")},
	}}

	res := price(t, b.in)
	requireAmount(t, "3.00", res.Payout)
	requireAmount(t, "1.00", res.Revenue)
	e := res.Explanation
	require.Equal(t, pricing.LayerCustomPayout, e.PayoutLayer)
	require.Equal(t, pricing.LayerOfferDefault, e.RevenueLayer)

	tier := step(t, e, pricing.LayerPartnerTier)
	require.True(t, tier.Applied)
	requireAmount(t, "0.70", tier.Payout.Amount)
	require.Equal(t, pricing.LayerCustomPayout, tier.Payout.SupersededBy)
	require.Equal(t, pricing.LayerCustomPayout, step(t, e, pricing.LayerOfferDefault).Payout.SupersededBy)

	custom := step(t, e, pricing.LayerCustomPayout)
	require.Equal(t, int64(40), custom.CustomSetting.ID)
	require.True(t, custom.CustomSetting.SetsPayout)
	require.False(t, custom.CustomSetting.SetsRevenue)
	require.Nil(t, custom.Revenue)
	require.Empty(t, custom.Payout.SupersededBy)
}

func TestCustomRevenueOnly(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		payout     pricing.PayoutRate
		tier       *pricing.Tier
		wantPayout string
		wantLayer  pricing.Layer
	}{
		{
			name:       "TierMarginOnCustomRevenue",
			payout:     pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("2")},
			tier:       &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true},
			wantPayout: "7.00",
			wantLayer:  pricing.LayerPartnerTier,
		},
		{
			name:       "PRVOnCustomRevenue",
			payout:     pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("50")},
			wantPayout: "5.00",
			wantLayer:  pricing.LayerOfferDefault,
		},
		{
			name:       "CPAUnchanged",
			payout:     pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("2")},
			wantPayout: "2.00",
			wantLayer:  pricing.LayerOfferDefault,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.in.DefaultPayout = tt.payout
			b.in.Tier = tt.tier
			b.in.Custom = []pricing.CustomSetting{
				// No matching setting sets the payout: setting 51 is for
				// another partner.
				{ID: 50, PartnerID: 7, Revenue: &pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("10")}},
				{ID: 51, PartnerID: 8, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("9")}},
			}

			res := price(t, b.in)
			requireAmount(t, "10.00", res.Revenue)
			requireAmount(t, tt.wantPayout, res.Payout)
			e := res.Explanation
			require.Equal(t, tt.wantLayer, e.PayoutLayer)
			require.Equal(t, pricing.LayerCustomPayout, e.RevenueLayer)
			s := step(t, e, pricing.LayerCustomPayout)
			require.True(t, s.Applied)
			require.Equal(t, int64(50), s.CustomSetting.ID)
			require.Nil(t, s.Payout)
			require.Nil(t, s.PayoutSetting)
			require.Equal(t, int64(50), s.RevenueSetting.ID)
			require.Equal(t, "no matching setting sets the payout; it stays from the "+string(tt.wantLayer)+" layer, computed on that revenue", s.Reason)
		})
	}
}

func TestRound(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		currency string
		amount   string
		want     string
	}{
		{name: "HalfCentUp", currency: "USD", amount: "0.005", want: "0.01"},
		{name: "NegativeHalfCentAwayFromZero", currency: "USD", amount: "-0.005", want: "-0.01"},
		{name: "BelowHalfCent", currency: "USD", amount: "0.00499", want: "0"},
		{name: "HalfCentNotToEven", currency: "USD", amount: "1.125", want: "1.13"},
		{name: "NegativeHalfCentNotToEven", currency: "USD", amount: "-2.245", want: "-2.25"},
		{name: "YenHalfUp", currency: "JPY", amount: "2.5", want: "3"},
		{name: "YenNegativeHalf", currency: "JPY", amount: "-0.5", want: "-1"},
		{name: "YenLowerCase", currency: "jpy", amount: "125.4", want: "125"},
		{name: "WonNoDecimals", currency: "KRW", amount: "999.5", want: "1000"},
		{name: "DinarThreeDecimals", currency: "KWD", amount: "1.0005", want: "1.001"},
		{name: "UnknownCurrencyTwoDecimals", currency: "XYZ", amount: "1.005", want: "1.01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := pricing.Round(dec(tt.amount), tt.currency)
			requireAmount(t, tt.want, got)
			require.Equal(t, dec(tt.want).String(), got.String())
		})
	}
}

func TestMinorUnits(t *testing.T) {
	t.Parallel()

	tests := []struct {
		currency string
		want     int32
	}{
		{"USD", 2}, {"EUR", 2}, {"eur", 2}, {"", 2},
		{"JPY", 0}, {"KRW", 0}, {"VND", 0}, {"CLP", 0}, {"ISK", 0},
		{"BHD", 3}, {"KWD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"IQD", 3}, {"LYD", 3},
		{"CLF", 4},
	}
	for _, tt := range tests {
		t.Run("Code"+tt.currency, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, pricing.MinorUnits(tt.currency))
		})
	}
}

func TestPriceInYen(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.in.Currency = "JPY"
	b.in.SaleAmount = dec("1255")
	b.in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: dec("10")}
	b.in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("15")}
	b.in.Tier = &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("25"), OfferListed: true, ApplyMargin: true}

	res := price(t, b.in)
	// Revenue 15% × 1255 = 188.25 → 188; margin 25% → 75% × 188 = 141.
	requireAmount(t, "188", res.Revenue)
	requireAmount(t, "141", res.Payout)
	e := res.Explanation
	require.Equal(t, "JPY", e.Currency)
	require.Equal(t, int32(0), e.MinorUnits)
	require.Equal(t, "10% × 1255 sale amount = 125.5, rounded to 126", step(t, e, pricing.LayerOfferDefault).Payout.Formula)
	require.Equal(t, "(100% − 25% margin) × 188 revenue (from offer_default) = 141", step(t, e, pricing.LayerPartnerTier).Payout.Formula)
}

func TestExplanationJSONRoundTrip(t *testing.T) {
	t.Parallel()

	b := setup(t)
	tokyo := time.FixedZone("JST", 9*3600)
	b.in.SaleAmount = dec("120.50")
	b.in.PostbackRevenue = decPtr("12.345")
	b.in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutCPACPS, Amount: dec("1.50"), Percent: dec("2.5")}
	b.in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPARPS, Amount: dec("1"), Percent: dec("10")}
	b.in.Tier = &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30.0"), OfferListed: true, ApplyMargin: true}
	b.in.Custom = []pricing.CustomSetting{
		{
			ID: 60, PartnerID: 7,
			Payout:    &pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("80")},
			Revenue:   &pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("12")},
			StartsAt:  timePtr(b.at.AddDate(0, -1, 0).In(tokyo)),
			EndsAt:    timePtr(b.at.AddDate(0, 1, 0)),
			CreatedAt: b.at.AddDate(0, -2, 0).In(tokyo),
		},
		{ID: 61, PartnerID: 0, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("100")}},
		{ID: 62, PartnerID: 9, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("100")}},
	}

	res := price(t, b.in)
	// Revenue from the postback: 12.345 → 12.35; custom PRV 80% → 9.88.
	requireAmount(t, "12.35", res.Revenue)
	requireAmount(t, "9.88", res.Payout)
	require.Len(t, res.Explanation.Steps, 4)

	data, err := json.Marshal(res.Explanation)
	require.NoError(t, err)
	var got pricing.Explanation
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, res.Explanation, got)

	// Amounts travel as decimal strings under snake_case keys.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))
	require.Equal(t, "9.88", raw["payout"])
	require.Equal(t, "12.35", raw["revenue"])
	require.Equal(t, "custom_payout", raw["payout_layer"])
	require.Equal(t, "postback", raw["revenue_layer"])
	steps := raw["steps"].([]any)
	custom := steps[2].(map[string]any)
	require.Equal(t, "custom_payout", custom["layer"])
	require.Equal(t, float64(60), custom["custom_setting"].(map[string]any)["id"])
	require.Equal(t, "2025-02-10T12:00:00Z", custom["custom_setting"].(map[string]any)["starts_at"])
	require.Len(t, custom["candidates"], 2)
	tier := steps[1].(map[string]any)
	require.Equal(t, "30", tier["tier"].(map[string]any)["margin_percent"])
	require.Equal(t, "custom_payout", tier["payout"].(map[string]any)["superseded_by"])
	require.Equal(t, "8.645", tier["payout"].(map[string]any)["exact"])
	require.Equal(t, "8.65", tier["payout"].(map[string]any)["amount"])
}

func TestRateValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		rate      interface{ Validate() error }
		wantError string // "" = valid
	}{
		{name: "CPA", rate: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("3")}},
		{name: "CPACPS", rate: pricing.PayoutRate{Type: pricing.PayoutCPACPS, Amount: dec("3"), Percent: dec("10")}},
		{name: "PRVAboveHundredPercent", rate: pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("150")}},
		{name: "RPARPS", rate: pricing.RevenueRate{Type: pricing.RevenueRPARPS, Amount: dec("1"), Percent: dec("5")}},
		{name: "PayoutTypeMissing", rate: pricing.PayoutRate{Amount: dec("3")}, wantError: "Type: is required (one of cpa, cps, cpa_cps, prv)"},
		{name: "PayoutTypeUnknown", rate: pricing.PayoutRate{Type: "rpa", Amount: dec("3")}, wantError: `Type: unknown type "rpa" (one of cpa, cps, cpa_cps, prv)`},
		{name: "RevenueTypeUnknown", rate: pricing.RevenueRate{Type: "cpa"}, wantError: `Type: unknown type "cpa" (one of rpa, rps, rpa_rps)`},
		{name: "NegativeAmount", rate: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("-1")}, wantError: "Amount: -1 is negative"},
		{name: "NegativePercent", rate: pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: dec("-5")}, wantError: "Percent: -5 is negative"},
		{name: "PercentOnCPA", rate: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("3"), Percent: dec("10")}, wantError: "Percent: is 10, but type cpa has no percent"},
		{name: "AmountOnPRV", rate: pricing.PayoutRate{Type: pricing.PayoutPRV, Amount: dec("3"), Percent: dec("10")}, wantError: "Amount: is 3, but type prv has no fixed amount"},
		{name: "AllProblemsAtOnce", rate: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("-1"), Percent: dec("2")}, wantError: "Amount: -1 is negative\nPercent: is 2, but type rpa has no percent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.rate.Validate()
			if tt.wantError == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantError)
			require.ErrorIs(t, err, pricing.ErrInvalidInput)
			var fe *pricing.FieldError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestPriceInvalidInput(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		change    func(in *pricing.Input)
		wantError string // "" = valid
	}{
		{
			name:      "CurrencyMissing",
			change:    func(in *pricing.Input) { in.Currency = "" },
			wantError: `price: Currency: "" is not a three-letter ISO 4217 code`,
		},
		{
			name: "EveryProblemAtOnce",
			change: func(in *pricing.Input) {
				in.SaleAmount = dec("-1")
				in.PostbackRevenue = decPtr("-2")
				in.DefaultPayout.Type = "flat"
				in.DefaultRevenue.Percent = dec("3")
				in.Tier = &pricing.Tier{ID: 3, Margin: dec("120")}
			},
			wantError: "price: SaleAmount: -1 is negative\n" +
				"PostbackRevenue: -2 is negative\n" +
				`DefaultPayout.Type: unknown type "flat" (one of cpa, cps, cpa_cps, prv)` + "\n" +
				"DefaultRevenue.Percent: is 3, but type rpa has no percent\n" +
				"Tier.Margin: 120 is outside 0–100 (tier 3)",
		},
		{
			name: "WinningCustomSettingInvalid",
			change: func(in *pricing.Input) {
				in.Custom = []pricing.CustomSetting{{ID: 17, PartnerID: 7, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: dec("-5")}}}
			},
			wantError: "price: Custom[id=17].Payout.Percent: -5 is negative",
		},
		{
			// Settings that do not win are the API's to validate.
			name: "LosingCustomSettingNotChecked",
			change: func(in *pricing.Input) {
				in.Custom = []pricing.CustomSetting{
					{ID: 17, PartnerID: 8, Payout: &pricing.PayoutRate{Type: "bogus"}},
					{ID: 18, PartnerID: 0, Payout: &pricing.PayoutRate{Type: "bogus"}},
					{ID: 19, PartnerID: 7, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("1")}},
				}
			},
		},
		{
			name:      "InactiveTierMarginStillChecked",
			change:    func(in *pricing.Input) { in.Tier = &pricing.Tier{ID: 4, Margin: dec("-1")} },
			wantError: "price: Tier.Margin: -1 is outside 0–100 (tier 4)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tt.change(&b.in)
			res, err := pricing.Price(b.in)
			if tt.wantError == "" {
				require.NoError(t, err)
				require.NotEmpty(t, res.Explanation.Steps)
				return
			}
			require.EqualError(t, err, tt.wantError)
			require.ErrorIs(t, err, pricing.ErrInvalidInput)
			require.Empty(t, res.Explanation.Steps)
		})
	}
}

func BenchmarkPrice(b *testing.B) {
	bundle := setup(b)
	in := bundle.in
	in.SaleAmount = dec("120.50")
	in.DefaultPayout = pricing.PayoutRate{Type: pricing.PayoutCPACPS, Amount: dec("1.50"), Percent: dec("2.5")}
	in.DefaultRevenue = pricing.RevenueRate{Type: pricing.RevenueRPARPS, Amount: dec("1"), Percent: dec("10")}
	in.Tier = &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: dec("30"), OfferListed: true, ApplyMargin: true}
	in.Custom = []pricing.CustomSetting{
		{ID: 60, PartnerID: 7, Payout: &pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: dec("80")}, StartsAt: timePtr(bundle.at.AddDate(0, -1, 0))},
		{ID: 61, PartnerID: 0, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("100")}},
		{ID: 62, PartnerID: 9, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("100")}},
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := pricing.Price(in)
		if err != nil || res.Explanation.PayoutLayer != pricing.LayerCustomPayout {
			b.Fatalf("unexpected result %v, %v", res.Explanation.PayoutLayer, err)
		}
	}
}
