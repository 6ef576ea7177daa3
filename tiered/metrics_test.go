package tiered_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/tiered"
)

func TestBandAt(t *testing.T) {
	t.Parallel()
	conversions, sale, revenue := tiered.MetricConversions, tiered.MetricSaleAmount, tiered.MetricRevenue
	pay := increase(tiered.ByPercent, "10")
	onConversions := []tiered.Band{
		band("Standard", pay, nil, bound(conversions, "0", "100")),
		band("Pro", pay, nil, bound(conversions, "100", "")),
	}
	onSale := []tiered.Band{
		band("Standard", pay, nil, bound(sale, "", "100")),
		band("Pro", pay, nil, bound(sale, "100", "")),
	}
	twoMetrics := []tiered.Band{
		band("Volume", pay, nil, bound(conversions, "", "50")),
		band("Volume and value", pay, nil, bound(conversions, "50", ""), bound(revenue, "1000", "")),
	}

	tests := []struct {
		name    string
		bands   []tiered.Band
		metrics tiered.Metrics
		want    int
	}{
		{name: "NothingYetAboveAnExclusiveZero", bands: onConversions, metrics: tiered.Metrics{}, want: -1},
		{name: "FirstConversion", bands: onConversions, metrics: tiered.Metrics{Conversions: 1}, want: 0},
		{name: "UpperBoundInclusive", bands: onConversions, metrics: tiered.Metrics{Conversions: 100}, want: 0},
		{name: "JustAboveTheBoundary", bands: onConversions, metrics: tiered.Metrics{Conversions: 101}, want: 1},
		{name: "NoUpperBound", bands: onConversions, metrics: tiered.Metrics{Conversions: 1_000_000}, want: 1},
		{name: "OtherMetricsDoNotCount", bands: onConversions, metrics: tiered.Metrics{EventCount: 500, Revenue: dec("1e6")}, want: -1},
		{name: "NoMinHoldsFromZero", bands: onSale, metrics: tiered.Metrics{}, want: 0},
		{name: "AmountAtTheBoundary", bands: onSale, metrics: tiered.Metrics{SaleAmount: dec("100")}, want: 0},
		{name: "AmountACentAbove", bands: onSale, metrics: tiered.Metrics{SaleAmount: dec("100.01")}, want: 1},
		{name: "NegativeAmountHoldsNoBand", bands: onSale, metrics: tiered.Metrics{SaleAmount: dec("-1")}, want: -1},
		{name: "AllBoundsMustHold", bands: twoMetrics, metrics: tiered.Metrics{Conversions: 60, Revenue: dec("1000")}, want: -1},
		{name: "AllBoundsHold", bands: twoMetrics, metrics: tiered.Metrics{Conversions: 60, Revenue: dec("1000.01")}, want: 1},
		{name: "LowerBandOnItsOwnMetric", bands: twoMetrics, metrics: tiered.Metrics{Conversions: 50, Revenue: dec("5000")}, want: 0},
		{name: "NoBands", metrics: tiered.Metrics{Conversions: 5}, want: -1},
		{name: "BandWithoutBoundsNeverHolds", bands: []tiered.Band{band("Empty", pay, nil)}, metrics: tiered.Metrics{Conversions: 5}, want: -1},
		{name: "UnknownMetricNeverHolds", bands: []tiered.Band{band("Clicks", pay, nil, bound("clicks", "", ""))}, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := setup(t).rule
			r.Bands = tt.bands
			require.Equal(t, tt.want, r.BandAt(tt.metrics))
		})
	}
}

func TestBandName(t *testing.T) {
	t.Parallel()
	r := setup(t).rule
	r.Bands[1].Name = ""
	require.Equal(t, `bands[0] "Standard"`, r.BandName(0))
	require.Equal(t, "bands[1]", r.BandName(1))
	require.Equal(t, "no band", r.BandName(-1))
	require.Equal(t, "no band", r.BandName(2))
}

func TestHighWater(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		previous, now int
		want          int
	}{
		{name: "NoBandYet", previous: -1, now: -1, want: -1},
		{name: "FirstBand", previous: -1, now: 0, want: 0},
		{name: "Promotion", previous: 0, now: 2, want: 2},
		{name: "SameBand", previous: 1, now: 1, want: 1},
		{name: "NoDemotion", previous: 2, now: 0, want: 2},
		{name: "NoDemotionBelowEveryBand", previous: 1, now: -1, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tiered.HighWater(tt.previous, tt.now))
		})
	}

	t.Run("RefundsKeepTheBand", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := tiered.Amounts{SaleAmount: dec("50"), Payout: dec("10"), Revenue: dec("8"), Currency: "USD"}
		var m tiered.Metrics
		high := -1
		for range 101 {
			m = m.Add(tiered.Arrival("", a))
			high = tiered.HighWater(high, b.rule.BandAt(m))
		}
		require.Equal(t, 1, high)

		m = m.Add(tiered.Reversal("", a))
		require.Equal(t, int64(100), m.Conversions)
		require.Equal(t, 0, b.rule.BandAt(m))
		high = tiered.HighWater(high, b.rule.BandAt(m))
		require.Equal(t, 1, high, "a band reached in the period is kept")

		// The next conversion gets the high-water band.
		m = m.Add(tiered.Arrival("", a))
		res := tiered.Apply(b.rule, tiered.HighWater(high, b.rule.BandAt(m)), a)
		require.Equal(t, 1, res.Explanation.Band)
	})
}

func TestMetricsAdd(t *testing.T) {
	t.Parallel()
	a := tiered.Amounts{SaleAmount: dec("50"), Payout: dec("10.00"), Revenue: dec("8.00"), Currency: "USD"}
	after := tiered.Amounts{SaleAmount: dec("30"), Payout: dec("6.00"), Revenue: dec("8.00"), Currency: "USD"}
	metrics := func(conversions, events int64, sale, revenue, payout string) tiered.Metrics {
		return tiered.Metrics{Conversions: conversions, EventCount: events, SaleAmount: dec(sale), Revenue: dec(revenue), Payout: dec(payout)}
	}

	tests := []struct {
		name  string
		steps []tiered.Contribution
		want  tiered.Metrics
	}{
		{name: "BaseConversionCountsConversions", steps: []tiered.Contribution{tiered.Arrival("", a)}, want: metrics(1, 0, "50", "8", "10")},
		{name: "EventCountsEvents", steps: []tiered.Contribution{tiered.Arrival("deposit", a)}, want: metrics(0, 1, "50", "8", "10")},
		{
			name:  "ReversalSubtractsOneConversion",
			steps: []tiered.Contribution{tiered.Arrival("", a), tiered.Arrival("", a), tiered.Reversal("", a)},
			want:  metrics(1, 0, "50", "8", "10"),
		},
		{
			name:  "EventReversalSubtractsOneEvent",
			steps: []tiered.Contribution{tiered.Arrival("", a), tiered.Arrival("trade", a), tiered.Reversal("trade", a)},
			want:  metrics(1, 0, "50", "8", "10"),
		},
		{
			name:  "PartialRefundReducesSumsNotCounts",
			steps: []tiered.Contribution{tiered.Arrival("", a), tiered.Arrival("", a), tiered.Refund("", a, after)},
			want:  metrics(2, 0, "80", "16", "16"),
		},
		{
			name:  "RefundThenBackRestores",
			steps: []tiered.Contribution{tiered.Arrival("", a), tiered.Refund("", a, after), tiered.Refund("", after, a)},
			want:  metrics(1, 0, "50", "8", "10"),
		},
		{
			name:  "ContributionByHand",
			steps: []tiered.Contribution{{Base: true, Count: 1, SaleAmount: dec("20"), Revenue: dec("2"), Payout: dec("1")}, {Base: true, Count: 0, SaleAmount: dec("-5")}},
			want:  metrics(1, 0, "15", "2", "1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m tiered.Metrics
			for _, c := range tt.steps {
				m = m.Add(c)
			}
			require.Equal(t, tt.want.Conversions, m.Conversions)
			require.Equal(t, tt.want.EventCount, m.EventCount)
			requireAmount(t, tt.want.SaleAmount.String(), m.SaleAmount)
			requireAmount(t, tt.want.Revenue.String(), m.Revenue)
			requireAmount(t, tt.want.Payout.String(), m.Payout)
			for _, metric := range []tiered.Metric{tiered.MetricSaleAmount, tiered.MetricRevenue, tiered.MetricPayout} {
				require.True(t, tt.want.Value(metric).Equal(m.Value(metric)), metric)
			}
			requireAmount(t, "0", m.Value("clicks"))
		})
	}
}
