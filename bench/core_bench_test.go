package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/tiered"
)

// The pure calculation core, without I/O, on the bench network's rules:
//
//	go test -run '^$' -bench . -benchmem ./bench/

var (
	benchAt    = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	benchRules = func() []tiered.Rule {
		created := benchAt.AddDate(0, -1, 0)
		rules := []tiered.Rule{
			HotRule(1, 11, HotBandThresholds(12000)),
			VolumeRule([]int64{11, 12, 13}),
			DepositRule(2, []int64{16, 17, 18, 19, 20}),
		}
		for i := range rules {
			rules[i].ID, rules[i].CreatedAt = int64(i+1), created.Add(time.Duration(i)*time.Minute)
		}
		return rules
	}()
	benchValueRules = func() []customervalue.Rule {
		rules := SeedValueRules([]int64{1, 2}, 30, 14)
		for i := range rules {
			rules[i].ID, rules[i].CreatedAt = int64(i+1), benchAt.AddDate(0, -1, 0)
		}
		return rules
	}()
)

// benchInput is the hot partner's conversion on the hot offer: an offer
// default, a Partner Tier with the margin on, and custom settings of which
// the partner's own wins.
func benchInput() pricing.Input {
	margin := decimal.RequireFromString("20")
	return pricing.Input{
		PartnerID: 1, At: benchAt, Currency: "USD", SaleAmount: decimal.RequireFromString("120.50"),
		DefaultPayout: cpa("50"), DefaultRevenue: rpa("80"),
		Tier: &pricing.Tier{ID: 3, Name: "Gold", Active: true, Margin: margin, OfferListed: true, ApplyMargin: true},
		Custom: []pricing.CustomSetting{
			{ID: 1, PartnerID: 1, Payout: ptr(cpa("55")), CreatedAt: benchAt.AddDate(0, -1, 0)},
			{ID: 2, PartnerID: 0, Payout: ptr(cpaCPS("1.5", "3")), CreatedAt: benchAt.AddDate(0, -1, 0)},
		},
	}
}

// BenchmarkPriceAllLayers prices one conversion through layers 1–5 as the
// pricing activity and the customer's workflow do, without the database:
// layers 1–3 (pricing.Price), the metrics of every covering tiered rule,
// the winning rule's adjustment at its band (tiered.Apply), and the
// Customer Value rules on the customer's first conversion
// (customervalue.State.Apply).
func BenchmarkPriceAllLayers(b *testing.B) {
	in := benchInput()
	facts := tiered.Facts{OfferID: 11, AdvertiserID: 1, PartnerID: 1, At: benchAt}
	metrics := tiered.Metrics{Conversions: 5000, SaleAmount: decimal.RequireFromString("600000")}
	data := map[string]string{"geo": "EU1", "level": "11"}
	b.ReportAllocs()
	var id int64
	for b.Loop() {
		id++
		res, err := pricing.Price(in)
		if err != nil {
			b.Fatal(err)
		}
		amounts := tiered.Amounts{SaleAmount: in.SaleAmount, Payout: res.Payout, Revenue: res.Revenue, Currency: in.Currency}
		band := -1
		for _, r := range tiered.Covering(benchRules, facts, time.UTC) {
			m := metrics.Add(tiered.Arrival("", amounts))
			if r.ID == 1 {
				band = tiered.HighWater(band, r.BandAt(m))
			}
		}
		win, ok := tiered.Select(benchRules, facts, time.UTC)
		if !ok || win.ID != 1 {
			b.Fatalf("the hot partner's rule should win, got %d", win.ID)
		}
		t := tiered.Apply(win, band, amounts)
		var s customervalue.State
		out := s.Apply(benchValueRules, customervalue.Conversion{
			ID: id, PartnerID: 1, OfferID: 11, AdvertiserID: 1, At: benchAt, Currency: "USD",
			SaleAmount: in.SaleAmount, Revenue: res.Revenue, Payout: res.Payout.Add(t.Payout), Data: data,
		}, time.UTC)
		if len(out) != 1 {
			b.Fatalf("the Level 10 bonus should fire, got %d outcomes", len(out))
		}
	}
}

// customerHistory is a customer's 100 conversions over two months: a
// sign-up from EU1, then deposits, trades and level-ups, from three
// partners and two offers.
func customerHistory() []customervalue.Conversion {
	var cs []customervalue.Conversion
	for i := range 100 {
		c := customervalue.Conversion{
			ID: int64(i + 1), PartnerID: int64(1 + i%3), OfferID: int64(11 + i%2), AdvertiserID: 1,
			At: benchAt.Add(time.Duration(i) * 13 * time.Hour), Currency: "USD",
			SaleAmount: decimal.NewFromInt(int64(20 + i%7*30)), Revenue: decimal.NewFromInt(8), Payout: decimal.NewFromInt(5),
		}
		switch {
		case i == 0:
			c.Data = map[string]string{"geo": "EU1"}
		case i%3 == 1:
			c.Event, c.Data = "deposit", map[string]string{"deposit": c.SaleAmount.String()}
		case i%3 == 2:
			c.Event, c.Data = "trade", map[string]string{"trade": c.SaleAmount.String()}
		default:
			c.Event, c.Data = "deposit", map[string]string{"deposit": "5", "level": fmt.Sprint(i / 8)}
		}
		cs = append(cs, c)
	}
	return cs
}

// BenchmarkCustomerRules evaluates a customer's 100 conversions, in order,
// against the three seed rules (High-Value Trader, Level 10, the 30-day
// RevShare override) with a fresh State: what the customer's workflow does
// over the customer's lifetime.
func BenchmarkCustomerRules(b *testing.B) {
	history := customerHistory()
	b.ReportAllocs()
	for b.Loop() {
		var s customervalue.State
		outcomes := 0
		for _, c := range history {
			outcomes += len(s.Apply(benchValueRules, c, time.UTC))
		}
		if outcomes != 2 {
			b.Fatalf("the trader and level bonuses should fire once each, got %d outcomes", outcomes)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(history)), "ns/conversion")
}
