package tiered_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

// problems returns the rule's problems as field → problem (several on one
// field joined with " | "), checking that Validate agrees with Problems.
func problems(t *testing.T, r tiered.Rule) map[string]string {
	t.Helper()
	err := r.Validate()
	list := r.Problems()
	if len(list) == 0 {
		require.NoError(t, err)
		return nil
	}
	require.Error(t, err)
	require.ErrorIs(t, err, tiered.ErrInvalidRule)
	var fe *tiered.FieldError
	require.ErrorAs(t, err, &fe)
	out := make(map[string]string, len(list))
	for _, p := range list {
		if prev, ok := out[p.Field]; ok {
			out[p.Field] = prev + " | " + p.Problem
		} else {
			out[p.Field] = p.Problem
		}
		require.ErrorContains(t, err, p.Field+": "+p.Problem)
	}
	return out
}

func TestOverlappingBandsRejected(t *testing.T) {
	t.Parallel()
	conversions, revenue := tiered.MetricConversions, tiered.MetricRevenue
	pay := increase(tiered.ByPercent, "10")

	tests := []struct {
		name  string
		bands []tiered.Band
		want  map[string]string // field → problem; nil: valid
	}{
		{
			name: "OverlappingRangesRejected",
			bands: []tiered.Band{
				band("Silver", pay, nil, bound(conversions, "0", "100")),
				band("Gold", pay, nil, bound(conversions, "50", "")),
			},
			want: map[string]string{"bands[1]": `bands[1] "Gold" overlaps bands[0] "Silver": both hold when conversions in (50, 100]`},
		},
		{
			name: "AdjacentBandsAccepted",
			bands: []tiered.Band{
				band("Silver", pay, nil, bound(conversions, "0", "100")),
				band("Gold", pay, nil, bound(conversions, "100", "")),
			},
		},
		{
			name: "FromZeroAndAdjacentAccepted",
			bands: []tiered.Band{
				band("Starter", nil, nil, bound(conversions, "", "10")),
				band("Silver", pay, nil, bound(conversions, "10", "100")),
				band("Gold", pay, nil, bound(conversions, "100", "")),
			},
		},
		{
			name: "OnlyZeroMeetsAboveZero",
			bands: []tiered.Band{
				band("A", pay, nil, bound(conversions, "", "0")),
				band("B", pay, nil, bound(conversions, "0", "")),
			},
		},
		{
			name: "SameUpperBoundRejected",
			bands: []tiered.Band{
				band("", pay, nil, bound(conversions, "0", "100")),
				band("", pay, nil, bound(conversions, "99", "100")),
			},
			want: map[string]string{"bands[1]": `bands[1] overlaps bands[0]: both hold when conversions in (99, 100]`},
		},
		{
			name: "DifferentMetricsRejected",
			bands: []tiered.Band{
				band("Volume", pay, nil, bound(conversions, "100", "")),
				band("Value", pay, nil, bound(revenue, "5000", "")),
			},
			want: map[string]string{"bands[1]": `bands[1] "Value" overlaps bands[0] "Volume": both hold when conversions in (100, ∞) and revenue in (5000, ∞)`},
		},
		{
			name: "DisjointOnOneSharedMetricAccepted",
			bands: []tiered.Band{
				band("Silver", pay, nil, bound(conversions, "0", "100"), bound(revenue, "", "1000")),
				band("Gold", pay, nil, bound(revenue, "0", ""), bound(conversions, "100", "")),
			},
		},
		{
			name: "SeedRecommendedStructureAccepted",
			bands: []tiered.Band{
				band("Tier 1", pay, nil, bound(revenue, "60000", "300000")),
				band("Tier 2", pay, nil, bound(revenue, "300000", "500000")),
			},
		},
		{
			name: "SeedAvoidThisRejected",
			bands: []tiered.Band{
				band("Rule 1", pay, nil, bound(revenue, "60000", "")),
				band("Rule 2", pay, nil, bound(revenue, "7500", "")),
			},
			want: map[string]string{"bands[1]": `bands[1] "Rule 2" overlaps bands[0] "Rule 1": both hold when revenue in (60000, ∞)`},
		},
		{
			name: "EveryOverlappingPairNamed",
			bands: []tiered.Band{
				band("A", pay, nil, bound(conversions, "0", "10")),
				band("B", pay, nil, bound(conversions, "10", "20")),
				band("C", pay, nil, bound(conversions, "5", "")),
			},
			want: map[string]string{"bands[2]": `bands[2] "C" overlaps bands[0] "A": both hold when conversions in (5, 10]` +
				` | bands[2] "C" overlaps bands[1] "B": both hold when conversions in (10, 20]`},
		},
		{
			name: "BandsOutOfOrderRejected",
			bands: []tiered.Band{
				band("Gold", pay, nil, bound(conversions, "100", "")),
				band("Silver", pay, nil, bound(conversions, "0", "100")),
			},
			want: map[string]string{"bands[1]": `bands[1] "Silver" is below bands[0] "Gold": bands are ordered lowest first (a period keeps the highest band it reached)`},
		},
		{
			name: "OrderedOnOneOfTwoMetricsAccepted",
			bands: []tiered.Band{
				band("Volume", pay, nil, bound(conversions, "0", "100"), bound(revenue, "1000", "")),
				band("Value", pay, nil, bound(conversions, "100", ""), bound(revenue, "", "1000")),
			},
		},
		{
			name: "OverlapFoundWhateverTheOrder",
			bands: []tiered.Band{
				band("Wide", pay, nil, bound(conversions, "50", "")),
				band("Narrow", pay, nil, bound(conversions, "0", "60")),
			},
			want: map[string]string{"bands[1]": `bands[1] "Narrow" overlaps bands[0] "Wide": both hold when conversions in (50, 60]`},
		},
		{
			name: "NoBand",
			want: map[string]string{"bands": "a rule needs at least one band"},
		},
		{
			name:  "BandWithNoBound",
			bands: []tiered.Band{band("Empty", pay, nil)},
			want:  map[string]string{"bands[0].bounds": "a band needs at least one bound"},
		},
		{
			name:  "BoundWithNoMetric",
			bands: []tiered.Band{band("A", pay, nil, bound("", "0", "10"))},
			want:  map[string]string{"bands[0].bounds[0].metric": "is required (one of conversions, event_count, sale_amount, revenue, payout)"},
		},
		{
			name:  "UnknownMetric",
			bands: []tiered.Band{band("A", pay, nil, bound("clicks", "0", "10"))},
			want:  map[string]string{"bands[0].bounds[0].metric": `unknown metric "clicks" (one of conversions, event_count, sale_amount, revenue, payout)`},
		},
		{
			name: "NegativeValues",
			bands: []tiered.Band{
				band("A", increase(tiered.ByFlat, "-3"), nil, bound(conversions, "-1", "10")),
				band("B", nil, set(tiered.RateFixed, "-0.01"), bound(revenue, "", "-5")),
			},
			want: map[string]string{
				"bands[0].bounds[0].min": "-1 is negative",
				"bands[0].payout.value":  "-3 is negative",
				"bands[1].bounds[0].max": "-5 is negative",
				"bands[1].revenue.value": "-0.01 is negative",
			},
		},
		{
			name:  "MinNotBelowMax",
			bands: []tiered.Band{band("A", pay, nil, bound(conversions, "100", "100"))},
			want:  map[string]string{"bands[0].bounds[0].min": "100 is not below max 100 (the band holds for min < value ≤ max)"},
		},
		{
			name:  "TwoBoundsOnOneMetric",
			bands: []tiered.Band{band("A", pay, nil, bound(conversions, "0", "10"), bound(conversions, "5", "20"))},
			want:  map[string]string{"bands[0].bounds[1].metric": "conversions is already bounded by bounds[0]; give one bound per metric"},
		},
		{
			name:  "BandThatChangesNothingAllowed",
			bands: []tiered.Band{band("Watch", nil, nil, bound(conversions, "", "10"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := setup(t).rule
			r.Bands = tt.bands
			require.Equal(t, tt.want, problems(t, r))
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		edit func(r *tiered.Rule)
		want map[string]string
	}{
		{name: "Valid", edit: func(r *tiered.Rule) {}},
		{name: "MissingName", edit: func(r *tiered.Rule) { r.Name = " " }, want: map[string]string{"name": "is required"}},
		{
			name: "EmptyScope",
			edit: func(r *tiered.Rule) { r.OfferIDs = nil },
			want: map[string]string{"offer_ids": "the scope is empty: list offers in offer_ids or advertisers in advertiser_ids"},
		},
		{name: "AdvertiserScope", edit: func(r *tiered.Rule) { r.OfferIDs, r.AdvertiserIDs = nil, []int64{3} }},
		{
			name: "BadIDs",
			edit: func(r *tiered.Rule) { r.AdvertiserIDs, r.PartnerIDs = []int64{3, 0}, []int64{-7} },
			want: map[string]string{"advertiser_ids[1]": "0 is not a valid id", "partner_ids[0]": "-7 is not a valid id"},
		},
		{
			name: "MissingAppliesTo",
			edit: func(r *tiered.Rule) { r.AppliesTo = "" },
			want: map[string]string{"applies_to": "is required (one of base, event, all)"},
		},
		{
			name: "UnknownAppliesTo",
			edit: func(r *tiered.Rule) { r.AppliesTo = "events" },
			want: map[string]string{"applies_to": `unknown value "events" (one of base, event, all)`},
		},
		{
			name: "EventRequiredForAppliesToEvent",
			edit: func(r *tiered.Rule) { r.AppliesTo = tiered.AppliesToEvent; r.Bands = nil },
			want: map[string]string{"event": `is required when applies_to is "event"`, "bands": "a rule needs at least one band"},
		},
		{
			name: "EventOnlyWithAppliesToEvent",
			edit: func(r *tiered.Rule) { r.AppliesTo, r.Event = tiered.AppliesToAll, "deposit" },
			want: map[string]string{"event": `must be empty unless applies_to is "event" (applies_to is "all")`},
		},
		{
			name: "EventRule",
			edit: func(r *tiered.Rule) {
				r.AppliesTo, r.Event = tiered.AppliesToEvent, "deposit"
				r.Bands = []tiered.Band{band("A", nil, increase(tiered.ByFlat, "1"), bound(tiered.MetricEventCount, "", "10"))}
			},
		},
		{
			name: "ConversionsNeverCountedForAnEvent",
			edit: func(r *tiered.Rule) { r.AppliesTo, r.Event = tiered.AppliesToEvent, "deposit" },
			want: map[string]string{
				"bands[0].bounds[0].metric": "conversions counts base conversions, but the rule applies to one named event only (use event_count)",
				"bands[1].bounds[0].metric": "conversions counts base conversions, but the rule applies to one named event only (use event_count)",
			},
		},
		{
			name: "EventCountNeverCountedForBase",
			edit: func(r *tiered.Rule) { r.Bands[1].Bounds[0].Metric = tiered.MetricEventCount },
			want: map[string]string{"bands[1].bounds[0].metric": "event_count counts named events, but the rule applies to the base conversion only"},
		},
		{name: "MissingStartDate", edit: func(r *tiered.Rule) { r.StartDate = "" }, want: map[string]string{"start_date": "is required (YYYY-MM-DD)"}},
		{
			name: "MalformedStartDate",
			edit: func(r *tiered.Rule) { r.StartDate = "2024-1-1" },
			want: map[string]string{"start_date": `"2024-1-1" is not a date (YYYY-MM-DD)`},
		},
		{
			name: "ImpossibleStartDate",
			edit: func(r *tiered.Rule) { r.StartDate = "2023-02-29" },
			want: map[string]string{"start_date": `"2023-02-29" is not a date (YYYY-MM-DD)`},
		},
		{
			name: "MalformedEndDate",
			edit: func(r *tiered.Rule) { r.EndDate = "31/01/2024" },
			want: map[string]string{"end_date": `"31/01/2024" is not a date (YYYY-MM-DD)`},
		},
		{
			name: "EndBeforeStart",
			edit: func(r *tiered.Rule) { r.EndDate = "2023-12-31" },
			want: map[string]string{"end_date": "2023-12-31 is before start_date 2024-01-01"},
		},
		{
			name: "EndDateTooFarAhead",
			edit: func(r *tiered.Rule) { r.EndDate = "9999-12-31" },
			want: map[string]string{"end_date": "9999-12-31 is too far ahead; leave end_date empty for a rule that never ends"},
		},
		{name: "EndOnStartDay", edit: func(r *tiered.Rule) { r.EndDate = "2024-01-01" }},
		{
			name: "MissingPeriod",
			edit: func(r *tiered.Rule) { r.Period = "" },
			want: map[string]string{"period": "is required (one of daily, weekly, monthly, quarterly, global)"},
		},
		{
			name: "UnknownPeriod",
			edit: func(r *tiered.Rule) { r.Period = "yearly" },
			want: map[string]string{"period": `unknown period "yearly" (one of daily, weekly, monthly, quarterly, global)`},
		},
		{name: "EmptyRetroModeIsDisabled", edit: func(r *tiered.Rule) { r.Retro = "" }},
		{
			name: "UnknownRetroMode",
			edit: func(r *tiered.Rule) { r.Retro = "always" },
			want: map[string]string{"retro_mode": `unknown mode "always" (one of disabled, enabled, custom)`},
		},
		{
			name: "CustomNeedsARetroAdjustment",
			edit: func(r *tiered.Rule) { r.Retro = tiered.RetroCustom },
			want: map[string]string{"retro_mode": `"custom" needs a retro_payout or retro_revenue in at least one band`},
		},
		{
			name: "CustomWithRetroAdjustment",
			edit: func(r *tiered.Rule) {
				r.Retro = tiered.RetroCustom
				r.Bands[1].RetroRevenue = increase(tiered.ByPercent, "5")
			},
		},
		{
			name: "RetroAdjustmentOnlyForCustom",
			edit: func(r *tiered.Rule) {
				r.Retro = tiered.RetroEnabled
				r.Bands[1].RetroPayout = increase(tiered.ByPercent, "5")
			},
			want: map[string]string{"bands[1].retro_payout": `is only for retro_mode "custom" (retro_mode is "enabled")`},
		},
		{
			name: "RetroAdjustmentWithDefaultMode",
			edit: func(r *tiered.Rule) { r.Bands[0].RetroRevenue = increase(tiered.ByPercent, "5") },
			want: map[string]string{"bands[0].retro_revenue": `is only for retro_mode "custom" (retro_mode is "disabled")`},
		},
		{
			name: "InvalidRetroAdjustment",
			edit: func(r *tiered.Rule) {
				r.Retro = tiered.RetroCustom
				r.Bands[1].RetroPayout = &tiered.Adjustment{Action: "double", Value: dec("2")}
			},
			want: map[string]string{"bands[1].retro_payout.action": `unknown action "double" (increase, decrease or set)`},
		},
		{
			name: "MissingAction",
			edit: func(r *tiered.Rule) { r.Bands[0].Payout.Action = "" },
			want: map[string]string{"bands[0].payout.action": "is required (increase, decrease or set)"},
		},
		{
			name: "MissingBy",
			edit: func(r *tiered.Rule) { r.Bands[0].Payout.By = "" },
			want: map[string]string{"bands[0].payout.by": "is required for increase (percent or flat)"},
		},
		{
			name: "UnknownBy",
			edit: func(r *tiered.Rule) { r.Bands[0].Payout.By = "percentage" },
			want: map[string]string{"bands[0].payout.by": `unknown value "percentage" (percent or flat)`},
		},
		{
			name: "RateWithIncrease",
			edit: func(r *tiered.Rule) { r.Bands[0].Payout.Rate = tiered.RateFixed },
			want: map[string]string{"bands[0].payout.rate": `is only for action "set"; increase takes by`},
		},
		{
			name: "MissingRate",
			edit: func(r *tiered.Rule) { r.Bands[1].Payout.Rate = "" },
			want: map[string]string{"bands[1].payout.rate": "is required for set (fixed, sale_percent or revenue_percent)"},
		},
		{
			name: "UnknownRate",
			edit: func(r *tiered.Rule) { r.Bands[1].Payout.Rate = "cps" },
			want: map[string]string{"bands[1].payout.rate": `unknown rate "cps" (fixed, sale_percent or revenue_percent)`},
		},
		{
			name: "ByWithSet",
			edit: func(r *tiered.Rule) { r.Bands[1].Payout.By = tiered.ByFlat },
			want: map[string]string{"bands[1].payout.by": "is only for increase and decrease; set takes rate"},
		},
		{
			name: "DecreaseOverHundredPercent",
			edit: func(r *tiered.Rule) { r.Bands[0].Revenue = decrease(tiered.ByPercent, "150") },
			want: map[string]string{"bands[0].revenue.value": "a decrease of 150% is more than 100%"},
		},
		{
			name: "FlatDecreaseAboveAmountAllowed",
			edit: func(r *tiered.Rule) { r.Bands[0].Revenue = decrease(tiered.ByFlat, "150") },
		},
		{
			name: "IncreaseOverHundredPercentAllowed",
			edit: func(r *tiered.Rule) { r.Bands[0].Revenue = increase(tiered.ByPercent, "150") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := setup(t).rule
			// Deep enough copies for the edits.
			r.Bands = append([]tiered.Band(nil), r.Bands...)
			for i := range r.Bands {
				if p := r.Bands[i].Payout; p != nil {
					c := *p
					r.Bands[i].Payout = &c
				}
				r.Bands[i].Bounds = append([]tiered.Bound(nil), r.Bands[i].Bounds...)
			}
			tt.edit(&r)
			require.Equal(t, tt.want, problems(t, r))
		})
	}

	t.Run("EveryProblemAtOnce", func(t *testing.T) {
		t.Parallel()
		r := tiered.Rule{
			Bands: []tiered.Band{{Bounds: []tiered.Bound{bound("", "-1", "")}}},
		}
		err := r.Validate()
		require.ErrorIs(t, err, tiered.ErrInvalidRule)
		var fields []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var fe *tiered.FieldError
			require.True(t, errors.As(e, &fe))
			fields = append(fields, fe.Field)
		}
		require.Equal(t, []string{
			"name", "offer_ids", "applies_to", "start_date", "period",
			"bands[0].bounds[0].metric", "bands[0].bounds[0].min",
		}, fields)
	})
}
