package tiered_test

import (
	"encoding/json"
	"testing"
	"time"
	_ "time/tzdata" // the zones the period tests use, whatever the machine has

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

type testBundle struct {
	rule    tiered.Rule
	amounts tiered.Amounts
}

// setup returns an active monthly rule for offer 10, all partners, base
// conversions, from 2024-01-01, with two bands on conversions: "Standard"
// (0, 100] pays 10% more and "Pro" (100, ∞) sets the payout to 20% of the
// sale amount; and a USD conversion with a $50 sale, $10 payout and $8
// revenue.
func setup(t testing.TB) *testBundle {
	t.Helper()
	return &testBundle{
		rule: tiered.Rule{
			ID:        1,
			Name:      "Volume",
			Active:    true,
			OfferIDs:  []int64{10},
			AppliesTo: tiered.AppliesToBase,
			StartDate: "2024-01-01",
			Period:    tiered.PeriodMonthly,
			Bands: []tiered.Band{
				{
					Name:   "Standard",
					Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: decPtr("0"), Max: decPtr("100")}},
					Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: dec("10")},
				},
				{
					Name:   "Pro",
					Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: decPtr("100")}},
					Payout: &tiered.Adjustment{Action: tiered.ActionSet, Rate: tiered.RateSalePercent, Value: dec("20")},
				},
			},
			CreatedAt: time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC),
		},
		amounts: tiered.Amounts{SaleAmount: dec("50"), Payout: dec("10.00"), Revenue: dec("8.00"), Currency: "USD"},
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decPtr(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

func requireAmount(t *testing.T, want string, got decimal.Decimal) {
	t.Helper()
	require.Truef(t, dec(want).Equal(got), "want %s, got %s", want, got)
}

func band(name string, payout, revenue *tiered.Adjustment, bounds ...tiered.Bound) tiered.Band {
	return tiered.Band{Name: name, Bounds: bounds, Payout: payout, Revenue: revenue}
}

func bound(metric tiered.Metric, minimum, maximum string) tiered.Bound {
	b := tiered.Bound{Metric: metric}
	if minimum != "" {
		b.Min = decPtr(minimum)
	}
	if maximum != "" {
		b.Max = decPtr(maximum)
	}
	return b
}

func increase(by, value string) *tiered.Adjustment {
	return &tiered.Adjustment{Action: tiered.ActionIncrease, By: by, Value: dec(value)}
}

func decrease(by, value string) *tiered.Adjustment {
	return &tiered.Adjustment{Action: tiered.ActionDecrease, By: by, Value: dec(value)}
}

func set(rate, value string) *tiered.Adjustment {
	return &tiered.Adjustment{Action: tiered.ActionSet, Rate: rate, Value: dec(value)}
}

func TestSeedPercentAndFlatAdjustments(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		adj         *tiered.Adjustment
		onRevenue   bool // adjust the revenue instead of the payout
		amounts     tiered.Amounts
		wantTarget  string
		wantLine    string
		wantFormula string
	}{
		{
			name:        "TenPercentIncreaseOnTenDollars",
			adj:         increase(tiered.ByPercent, "10"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "11.00",
			wantLine:    "1.00",
			wantFormula: "10% increase of 10.00 payout = 11.00",
		},
		{
			name:        "ThreeDollarIncreaseOnTenDollars",
			adj:         increase(tiered.ByFlat, "3"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "13.00",
			wantLine:    "3.00",
			wantFormula: "3.00 flat increase of 10.00 payout = 13.00",
		},
		{
			name:        "TenPercentDecreaseOnTenDollars",
			adj:         decrease(tiered.ByPercent, "10"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "9.00",
			wantLine:    "-1.00",
			wantFormula: "10% decrease of 10.00 payout = 9.00",
		},
		{
			name:        "FourDollarDecreaseOnTenDollars",
			adj:         decrease(tiered.ByFlat, "4"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "6.00",
			wantLine:    "-4.00",
			wantFormula: "4.00 flat decrease of 10.00 payout = 6.00",
		},
		{
			name:        "FlatDecreaseNeverBelowZero",
			adj:         decrease(tiered.ByFlat, "15"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "0",
			wantLine:    "-10.00",
			wantFormula: "15.00 flat decrease of 10.00 payout = -5.00, floored at 0.00",
		},
		{
			name:        "HundredPercentDecreaseIsZero",
			adj:         decrease(tiered.ByPercent, "100"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "0",
			wantLine:    "-10.00",
			wantFormula: "100% decrease of 10.00 payout = 0.00",
		},
		{
			name:        "SetToTwentyPercentOfSale",
			adj:         set(tiered.RateSalePercent, "20"),
			amounts:     tiered.Amounts{SaleAmount: dec("50"), Payout: dec("5.00"), Currency: "USD"},
			wantTarget:  "10.00",
			wantLine:    "5.00",
			wantFormula: "set to 20% × 50.00 sale amount = 10.00",
		},
		{
			name:        "SetToPercentOfRevenue",
			adj:         set(tiered.RateRevenuePercent, "50"),
			amounts:     tiered.Amounts{SaleAmount: dec("50"), Payout: dec("2.00"), Revenue: dec("8.00"), Currency: "USD"},
			wantTarget:  "4.00",
			wantLine:    "2.00",
			wantFormula: "set to 50% × 8.00 layer 1–3 revenue = 4.00",
		},
		{
			name:        "SetToFixedBelowCurrent",
			adj:         set(tiered.RateFixed, "7.5"),
			amounts:     tiered.Amounts{Payout: dec("10.00"), Currency: "USD"},
			wantTarget:  "7.50",
			wantLine:    "-2.50",
			wantFormula: "set to 7.50 fixed = 7.50",
		},
		{
			// Layer 3 set $3; the increase applies to it, whatever layer set it.
			name:        "CustomThreeDollarsPlusTenPercent",
			adj:         increase(tiered.ByPercent, "10"),
			amounts:     tiered.Amounts{Payout: dec("3.00"), Currency: "USD"},
			wantTarget:  "3.30",
			wantLine:    "0.30",
			wantFormula: "10% increase of 3.00 payout = 3.30",
		},
		{
			name:        "RoundsTiesAwayFromZero",
			adj:         increase(tiered.ByPercent, "10"),
			amounts:     tiered.Amounts{Payout: dec("10.05"), Currency: "USD"},
			wantTarget:  "11.06",
			wantLine:    "1.01",
			wantFormula: "10% increase of 10.05 payout = 11.055, rounded to 11.06",
		},
		{
			name:        "SalePercentOnUnroundedSale",
			adj:         set(tiered.RateSalePercent, "10"),
			amounts:     tiered.Amounts{SaleAmount: dec("25.05"), Payout: dec("2.00"), Currency: "USD"},
			wantTarget:  "2.51",
			wantLine:    "0.51",
			wantFormula: "set to 10% × 25.05 sale amount = 2.505, rounded to 2.51",
		},
		{
			name:        "ZeroDecimalCurrency",
			adj:         increase(tiered.ByPercent, "10"),
			amounts:     tiered.Amounts{Payout: dec("105"), Currency: "jpy"},
			wantTarget:  "116",
			wantLine:    "11",
			wantFormula: "10% increase of 105 payout = 115.5, rounded to 116",
		},
		{
			name:        "TenPercentIncreaseOnRevenue",
			adj:         increase(tiered.ByPercent, "10"),
			onRevenue:   true,
			amounts:     tiered.Amounts{Payout: dec("4.00"), Revenue: dec("10.00"), Currency: "USD"},
			wantTarget:  "11.00",
			wantLine:    "1.00",
			wantFormula: "10% increase of 10.00 revenue = 11.00",
		},
		{
			name:        "FlatRevenueDecreaseNeverBelowZero",
			adj:         decrease(tiered.ByFlat, "15"),
			onRevenue:   true,
			amounts:     tiered.Amounts{Payout: dec("4.00"), Revenue: dec("10.00"), Currency: "USD"},
			wantTarget:  "0",
			wantLine:    "-10.00",
			wantFormula: "15.00 flat decrease of 10.00 revenue = -5.00, floored at 0.00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.rule.Bands[0].Payout = nil
			if tt.onRevenue {
				b.rule.Bands[0].Revenue = tt.adj
			} else {
				b.rule.Bands[0].Payout = tt.adj
			}

			res := tiered.Apply(b.rule, 0, tt.amounts)
			adjusted, other := res.Explanation.Payout, res.Explanation.Revenue
			line, otherLine := res.Payout, res.Revenue
			if tt.onRevenue {
				adjusted, other = other, adjusted
				line, otherLine = otherLine, line
			}
			requireAmount(t, tt.wantLine, line)
			require.True(t, adjusted.Adjusted)
			requireAmount(t, tt.wantTarget, adjusted.Target)
			requireAmount(t, tt.wantLine, adjusted.Amount)
			require.Equal(t, tt.wantFormula, adjusted.Formula)
			require.False(t, adjusted.Target.IsNegative())
			// The line brings the layer 1–3 amount to the target exactly.
			require.True(t, adjusted.Base.Add(line).Equal(adjusted.Target))

			requireAmount(t, "0", otherLine)
			require.False(t, other.Adjusted)
			require.Contains(t, other.Reason, "does not change")
		})
	}
}

func TestApplyLineFormulaAndBand(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res := tiered.Apply(b.rule, 1, b.amounts) // Pro: 20% of the $50 sale
	e := res.Explanation
	requireAmount(t, "0", res.Payout) // 20% of 50 is the current 10.00
	require.Equal(t, int64(1), e.RuleID)
	require.Equal(t, "Volume", e.RuleName)
	require.Equal(t, 1, e.Band)
	require.Equal(t, "Pro", e.BandName)
	require.Equal(t, []tiered.Bound{bound(tiered.MetricConversions, "100", "")}, e.Bounds)
	require.Equal(t, "USD", e.Currency)
	require.Equal(t, int32(2), e.MinorUnits)
	require.False(t, e.Retroactive)
	require.Equal(t, "10.00 target − 10.00 layer 1–3 payout = 0.00", e.Payout.LineFormula)

	res = tiered.Apply(b.rule, 0, b.amounts)
	require.Equal(t, "11.00 target − 10.00 layer 1–3 payout = 1.00", res.Explanation.Payout.LineFormula)
	require.Equal(t, tiered.ActionIncrease, res.Explanation.Payout.Adjustment.Action)
}

func TestApplyNoBand(t *testing.T) {
	t.Parallel()

	for _, idx := range []int{-1, 2} {
		b := setup(t)
		res := tiered.Apply(b.rule, idx, b.amounts)
		requireAmount(t, "0", res.Payout)
		requireAmount(t, "0", res.Revenue)
		e := res.Explanation
		require.Equal(t, -1, e.Band)
		require.Empty(t, e.BandName)
		require.Equal(t, "no band of the rule holds for the period's metrics", e.Reason)
		require.False(t, e.Payout.Adjusted)
		requireAmount(t, "10", e.Payout.Target)
		require.Equal(t, "no band: the payout stays 10.00", e.Payout.Reason)
	}
}

func TestApplyRetro(t *testing.T) {
	t.Parallel()

	retroRule := func(mode tiered.RetroMode) tiered.Rule {
		r := setup(t).rule
		r.Retro = mode
		r.Bands[1].Revenue = increase(tiered.ByFlat, "1")
		if mode == tiered.RetroCustom {
			r.Bands[1].RetroPayout = increase(tiered.ByPercent, "15")
		}
		return r
	}
	tests := []struct {
		name         string
		mode         tiered.RetroMode
		band         int
		wantPayout   string
		wantRevenue  string
		wantKeepPay  bool
		wantKeepRev  bool
		wantReason   string
		wantFormula  string
		wantAdjusted bool
	}{
		{
			name:         "EnabledUsesTheBandAdjustment",
			mode:         tiered.RetroEnabled,
			band:         1,
			wantPayout:   "0", // 20% of 50 = 10.00, the current payout
			wantRevenue:  "1.00",
			wantReason:   `retroactive mode enabled: re-priced to bands[1] "Pro"`,
			wantFormula:  "set to 20% × 50.00 sale amount = 10.00",
			wantAdjusted: true,
		},
		{
			name:         "CustomUsesTheRetroAdjustment",
			mode:         tiered.RetroCustom,
			band:         1,
			wantPayout:   "1.50",
			wantRevenue:  "0",
			wantKeepRev:  true, // no retro_revenue: the revenue keeps its tiered line
			wantReason:   `retroactive mode custom: the retroactive adjustments of bands[1] "Pro"`,
			wantFormula:  "15% increase of 10.00 payout = 11.50",
			wantAdjusted: true,
		},
		{
			name:        "DisabledChangesNothing",
			mode:        tiered.RetroDisabled,
			band:        1,
			wantPayout:  "0",
			wantRevenue: "0",
			wantKeepPay: true,
			wantKeepRev: true,
			wantReason:  "retroactive mode is disabled: earlier conversions keep their lines",
		},
		{
			name:        "EmptyModeIsDisabled",
			band:        1,
			wantPayout:  "0",
			wantRevenue: "0",
			wantKeepPay: true,
			wantKeepRev: true,
			wantReason:  "retroactive mode is disabled: earlier conversions keep their lines",
		},
		{
			name:        "NoBand",
			mode:        tiered.RetroEnabled,
			band:        -1,
			wantPayout:  "0",
			wantRevenue: "0",
			wantKeepPay: true,
			wantKeepRev: true,
			wantReason:  "no band holds: nothing to re-price",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := tiered.ApplyRetro(retroRule(tt.mode), tt.band, setup(t).amounts)
			e := res.Explanation
			requireAmount(t, tt.wantPayout, res.Payout)
			requireAmount(t, tt.wantRevenue, res.Revenue)
			require.True(t, e.Retroactive)
			require.Equal(t, tt.wantKeepPay, e.Payout.Keep)
			require.Equal(t, tt.wantKeepRev, e.Revenue.Keep)
			require.Equal(t, tt.wantReason, e.Reason)
			require.Equal(t, tt.wantAdjusted, e.Payout.Adjusted)
			require.Equal(t, tt.wantFormula, e.Payout.Formula)
		})
	}
}

func TestRuleJSONRoundTrip(t *testing.T) {
	t.Parallel()
	r := tiered.Rule{
		ID:            42,
		Name:          "Deposits Q1",
		Active:        true,
		OfferIDs:      []int64{10, 11},
		AdvertiserIDs: []int64{3},
		PartnerIDs:    []int64{7},
		AppliesTo:     tiered.AppliesToEvent,
		Event:         "deposit",
		StartDate:     "2024-01-01",
		EndDate:       "2024-03-31",
		Period:        tiered.PeriodQuarterly,
		Bands: []tiered.Band{
			{
				Name:         "Silver",
				Bounds:       []tiered.Bound{bound(tiered.MetricEventCount, "", "100")},
				Payout:       increase(tiered.ByPercent, "10"),
				RetroPayout:  increase(tiered.ByPercent, "5"),
				RetroRevenue: decrease(tiered.ByFlat, "0.5"),
			},
			{
				Name:    "Gold",
				Bounds:  []tiered.Bound{bound(tiered.MetricEventCount, "100", ""), bound(tiered.MetricSaleAmount, "1000.5", "")},
				Payout:  set(tiered.RateSalePercent, "20"),
				Revenue: set(tiered.RateFixed, "12.25"),
			},
		},
		Retro:     tiered.RetroCustom,
		CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	require.NoError(t, r.Validate())

	data, err := json.Marshal(r)
	require.NoError(t, err)
	for _, key := range []string{
		`"id":42`, `"offer_ids":[10,11]`, `"advertiser_ids":[3]`, `"partner_ids":[7]`,
		`"applies_to":"event"`, `"event":"deposit"`, `"start_date":"2024-01-01"`, `"end_date":"2024-03-31"`,
		`"period":"quarterly"`, `"retro_mode":"custom"`, `"created_at":"2024-01-02T03:04:05.000000006Z"`,
		`"metric":"event_count"`, `"max":"100"`, `"min":"1000.5"`, `"retro_payout":{`, `"retro_revenue":{`,
		`"action":"set","rate":"sale_percent","value":"20"`, `"action":"increase","by":"percent","value":"10"`,
	} {
		require.Contains(t, string(data), key)
	}

	var back tiered.Rule
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, r, back)
}

func TestExplanationJSONRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.rule.Bands[0].Revenue = decrease(tiered.ByFlat, "20")
	b.amounts.SaleAmount = dec("25.050")

	start := time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC)
	res := tiered.Apply(b.rule, 0, b.amounts)
	e := res.Explanation.
		WithPeriod(start, start.AddDate(0, 1, 0).In(time.FixedZone("x", 3600))).
		WithMetrics(tiered.Metrics{Conversions: 12, SaleAmount: dec("100.50"), Revenue: dec("96.00"), Payout: dec("120")}).
		WithCandidates([]tiered.Candidate{{RuleID: 1, RuleName: "Volume", Won: true, Reason: "won: the only rule that applies"}})
	res.Explanation = e

	data, err := json.Marshal(res)
	require.NoError(t, err)
	require.Contains(t, string(data), `"payout":"1"`)
	require.Contains(t, string(data), `"period_start":"2024-03-01T05:00:00Z"`)

	var back tiered.Result
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, res, back)

	// Retroactive explanations with previous amounts and deltas too.
	b.rule.Retro = tiered.RetroEnabled
	deltas := tiered.Reprice(b.rule, 0, []tiered.Priced{{ConversionID: 5, Amounts: b.amounts, TieredPayout: dec("0.50"), Band: new(-1)}})
	require.Len(t, deltas, 1)
	data, err = json.Marshal(deltas)
	require.NoError(t, err)
	var backDeltas []tiered.Delta
	require.NoError(t, json.Unmarshal(data, &backDeltas))
	require.Equal(t, deltas, backDeltas)
}

func BenchmarkApply(b *testing.B) {
	bundle := setup(b)
	b.ReportAllocs()
	for b.Loop() {
		tiered.Apply(bundle.rule, 0, bundle.amounts)
	}
}
