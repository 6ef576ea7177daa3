package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// Network is the affiliate network a bench run creates through the API:
// what the load generator needs to send postbacks and the checker needs to
// know which rows are the run's.
//
// The rules are chosen so that the checker's recomputation is exact
// whatever order the conversions are processed in (see BENCHMARKS.md):
//   - every tiered rule has retroactive mode "enabled" and bands with a
//     single lower bound each, ascending, so a period's high-water band is
//     the band of its final metrics and every conversion of the period ends
//     at it (no payout runs are made);
//   - the Customer Value rules are instant and judged per customer in the
//     customer's processing order, which the checker replays;
//   - the RevShare override's offer is inside the monthly volume rule for
//     all partners, so retroactive re-pricings reach overridden conversions
//     and must leave their payout at the override's.
type Network struct {
	RunID       string
	Advertisers []Advertiser
	Offers      []Offer
	Partners    []int64
	// HotPartner × HotOffer takes the hot share of the traffic; HotRule is
	// its tiered commission, with HotBands bands.
	HotPartner, HotOffer int64
	HotRule              int64
	HotBands             int
	TieredRules          []int64
	ValueRules           []int64
}

// Advertiser is one of the run's advertisers with its postback token.
type Advertiser struct {
	ID    int64
	Token string
}

// Offer is one of the run's offers.
type Offer struct {
	ID           int64
	AdvertiserID int64
	Token        string   // its advertiser's postback token
	Events       []string // the named events, all repeatable
}

// OfferIDs lists the run's offers.
func (n *Network) OfferIDs() []int64 {
	ids := make([]int64, len(n.Offers))
	for i, o := range n.Offers {
		ids[i] = o.ID
	}
	return ids
}

// partnerCount is how many partners the network has; partner 1 is the hot
// one, partner overridePartner has the RevShare override.
const (
	partnerCount    = 40
	overridePartner = 30 // 1-based
)

func amount(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func cpa(a string) pricing.PayoutRate {
	return pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: amount(a)}
}

func cps(p string) pricing.PayoutRate {
	return pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: amount(p)}
}

func cpaCPS(a, p string) pricing.PayoutRate {
	return pricing.PayoutRate{Type: pricing.PayoutCPACPS, Amount: amount(a), Percent: amount(p)}
}

func prv(p string) pricing.PayoutRate {
	return pricing.PayoutRate{Type: pricing.PayoutPRV, Percent: amount(p)}
}

func rpa(a string) pricing.RevenueRate {
	return pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: amount(a)}
}

func rps(p string) pricing.RevenueRate {
	return pricing.RevenueRate{Type: pricing.RevenueRPS, Percent: amount(p)}
}

func rpaRPS(a, p string) pricing.RevenueRate {
	return pricing.RevenueRate{Type: pricing.RevenueRPARPS, Amount: amount(a), Percent: amount(p)}
}

// offerPlans are the network's offers: advertiser index, name, and the base
// conversion and two repeatable events with every payout and revenue type.
var offerPlans = []struct {
	advertiser int
	name       string
	events     []store.OfferEvent
}{
	{0, "Broker sign-up", []store.OfferEvent{
		{Event: "", Payout: cpa("50"), Revenue: rpa("80")},
		{Event: "deposit", Payout: cps("5"), Revenue: rps("10"), Repeatable: true},
		{Event: "trade", Payout: cpa("0"), Revenue: rpa("1"), Repeatable: true},
	}},
	{0, "Crypto app", []store.OfferEvent{
		{Event: "", Payout: cps("10"), Revenue: rps("30")},
		{Event: "deposit", Payout: cpaCPS("1", "2"), Revenue: rpaRPS("2", "5"), Repeatable: true},
		{Event: "trade", Payout: prv("50"), Revenue: rpa("3"), Repeatable: true},
	}},
	{1, "Forex academy", []store.OfferEvent{
		{Event: "", Payout: prv("40"), Revenue: rpa("20")},
		{Event: "deposit", Payout: cpa("2"), Revenue: rps("8"), Repeatable: true},
		{Event: "trade", Payout: cps("1"), Revenue: rpaRPS("0.5", "1"), Repeatable: true},
	}},
	{1, "Casino", []store.OfferEvent{
		{Event: "", Payout: cpaCPS("5", "10"), Revenue: rpaRPS("10", "25")},
		{Event: "deposit", Payout: cps("15"), Revenue: rps("30"), Repeatable: true},
		{Event: "trade", Payout: cpa("0.25"), Revenue: rpa("0.75"), Repeatable: true},
	}},
}

// dataPoints are the postback parameters the Customer Value rules read.
var dataPoints = []store.DataPointInput{
	{Name: "Geo", Identifier: "geo", Type: "text"},
	{Name: "Deposit", Identifier: "deposit", Type: "number"},
	{Name: "Trade", Identifier: "trade", Type: "number"},
	{Name: "Level", Identifier: "level", Type: "number"},
}

// ruleStart is when the bench's rules start: long before any run.
var ruleStart = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// HotBandThresholds returns the conversion counts above which the hot
// partner × offer reaches each band, for an expected hot volume: an early
// band, then bands at an eighth, a third and two thirds of the volume, so
// that a run re-prices the period retroactively several times, the last
// time thousands of conversions at once.
func HotBandThresholds(expected int) []int64 {
	want := []int64{10, int64(expected / 8), int64(expected / 3), int64(expected * 2 / 3)}
	out := make([]int64, len(want))
	for i, t := range want {
		if i > 0 && t <= out[i-1] {
			t = out[i-1] + 1
		}
		out[i] = t
	}
	return out
}

// bound is (min, max] on one metric; max 0 means no upper bound. Bands
// of one rule meet without overlapping: each one's max is the next one's
// min.
func bound(metric tiered.Metric, min, max int64) []tiered.Bound {
	lo := decimal.NewFromInt(min)
	b := tiered.Bound{Metric: metric, Min: &lo}
	if max > 0 {
		hi := decimal.NewFromInt(max)
		b.Max = &hi
	}
	return []tiered.Bound{b}
}

func adjust(action, way, value string) *tiered.Adjustment {
	a := &tiered.Adjustment{Action: action, Value: amount(value)}
	if action == tiered.ActionSet {
		a.Rate = way
	} else {
		a.By = way
	}
	return a
}

// HotRule is the hot partner × offer's tiered commission: bands on the
// number of base conversions, one from each threshold to the next,
// retroactive.
func HotRule(partner, offer int64, thresholds []int64) tiered.Rule {
	adjustments := []struct {
		name            string
		payout, revenue *tiered.Adjustment
	}{
		{"Bronze", adjust(tiered.ActionIncrease, tiered.ByPercent, "5"), nil},
		{"Silver", adjust(tiered.ActionIncrease, tiered.ByPercent, "10"), adjust(tiered.ActionDecrease, tiered.ByFlat, "1")},
		{"Gold", adjust(tiered.ActionSet, tiered.RateSalePercent, "25"), nil},
		{"Platinum", adjust(tiered.ActionIncrease, tiered.ByFlat, "7.5"), adjust(tiered.ActionDecrease, tiered.ByPercent, "2")},
	}
	r := tiered.Rule{
		Name: "Hot partner volume", Active: true, OfferIDs: []int64{offer}, PartnerIDs: []int64{partner},
		AppliesTo: tiered.AppliesToBase, StartDate: ruleStart.Format(tiered.DateLayout), Period: tiered.PeriodGlobal,
		Retro: tiered.RetroEnabled,
	}
	for i, t := range thresholds {
		a := adjustments[i%len(adjustments)]
		var next int64
		if i+1 < len(thresholds) {
			next = thresholds[i+1]
		}
		r.Bands = append(r.Bands, tiered.Band{Name: a.name, Bounds: bound(tiered.MetricConversions, t, next), Payout: a.payout, Revenue: a.revenue})
	}
	return r
}

// VolumeRule is a tiered commission for all partners on some offers: bands
// on the monthly sale amount, retroactive.
func VolumeRule(offers []int64) tiered.Rule {
	return tiered.Rule{
		Name: "Monthly sales volume", Active: true, OfferIDs: offers,
		AppliesTo: tiered.AppliesToAll, StartDate: ruleStart.Format(tiered.DateLayout), Period: tiered.PeriodMonthly,
		Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{
			{Name: "Over 1,000", Bounds: bound(tiered.MetricSaleAmount, 1000, 10000), Payout: adjust(tiered.ActionIncrease, tiered.ByFlat, "0.5")},
			{Name: "Over 10,000", Bounds: bound(tiered.MetricSaleAmount, 10000, 0), Payout: adjust(tiered.ActionIncrease, tiered.ByPercent, "3")},
		},
	}
}

// DepositRule is a tiered commission for named partners on an advertiser's
// deposits: bands on the daily event count, retroactive. It names its
// partners, so it wins over VolumeRule where both cover a conversion.
func DepositRule(advertiser int64, partners []int64) tiered.Rule {
	return tiered.Rule{
		Name: "Daily deposit streak", Active: true, AdvertiserIDs: []int64{advertiser}, PartnerIDs: partners,
		AppliesTo: tiered.AppliesToEvent, Event: "deposit", StartDate: ruleStart.Format(tiered.DateLayout), Period: tiered.PeriodDaily,
		Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{
			{Name: "Over 3", Bounds: bound(tiered.MetricEventCount, 3, 15), Payout: adjust(tiered.ActionIncrease, tiered.ByPercent, "2")},
			{Name: "Over 15", Bounds: bound(tiered.MetricEventCount, 15, 0), Payout: adjust(tiered.ActionIncrease, tiered.ByPercent, "4"),
				Revenue: adjust(tiered.ActionIncrease, tiered.ByFlat, "0.1")},
		},
	}
}

func valueRule(name string) customervalue.Rule {
	return customervalue.Rule{
		Name: name, Active: true, AppliesOn: customervalue.AppliesOnAll, StartsAt: ruleStart,
		Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion},
		Grouping:  customervalue.GroupAll,
		Outcome: customervalue.RuleOutcome{
			Frequency: customervalue.OncePerCustomer, Trigger: customervalue.TriggerInstant, Kind: customervalue.KindBonus,
		},
	}
}

// SeedValueRules are seed 000's three Customer Value rules, scoped to the
// run's advertisers: the High-Value Trader bonus ($200 once, geo EU1 +
// deposits over $200 + a trade of at least $100, in any order), the Level 10
// bonus ($25 once when level ≥ 10) and the 30-day 10% RevShare override for
// one partner on one offer.
func SeedValueRules(advertisers []int64, overridePartner, overrideOffer int64) []customervalue.Rule {
	trader := valueRule("High-Value Trader")
	trader.AdvertiserIDs = advertisers[:1]
	trader.Conditions = []customervalue.Condition{
		{Source: "geo", Type: customervalue.TypeText, Aggregation: customervalue.AggAny, Operator: customervalue.OpEq, Value: "EU1"},
		{Source: "deposit", Type: customervalue.TypeNumber, Aggregation: customervalue.AggSum, Operator: customervalue.OpGt, Value: "200"},
		{Source: "trade", Type: customervalue.TypeNumber, Aggregation: customervalue.AggAny, Operator: customervalue.OpGte, Value: "100"},
	}
	trader.Outcome.Payout = customervalue.Rate{Type: customervalue.RateFixed, Amount: amount("200")}

	level := valueRule("Level 10 Bonus")
	level.AdvertiserIDs = advertisers
	level.Conditions = []customervalue.Condition{
		{Source: "level", Type: customervalue.TypeNumber, Aggregation: customervalue.AggAny, Operator: customervalue.OpGte, Value: "10"},
	}
	level.Outcome.Payout = customervalue.Rate{Type: customervalue.RateFixed, Amount: amount("25")}

	revshare := valueRule("Partner 30-Day RevShare")
	revshare.PartnerIDs = []int64{overridePartner}
	revshare.OfferIDs = []int64{overrideOffer}
	revshare.Timeframe.DurationDays = 30
	revshare.Outcome = customervalue.RuleOutcome{
		Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant, Kind: customervalue.KindOverride,
		Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: amount("10")},
	}
	return []customervalue.Rule{trader, level, revshare}
}

// setupNetwork creates the run's network through the admin API.
func setupNetwork(ctx context.Context, api *apiClient, runID string, expectedHot int) (*Network, error) {
	n := &Network{RunID: runID}
	for i := range 2 {
		var out struct {
			ID    int64  `json:"id"`
			Token string `json:"postback_token"`
		}
		if err := api.do(ctx, http.MethodPost, "/advertisers", store.AdvertiserInput{Name: fmt.Sprintf("Bench %s advertiser %d", runID, i+1)}, &out); err != nil {
			return nil, err
		}
		n.Advertisers = append(n.Advertisers, Advertiser{ID: out.ID, Token: out.Token})
	}
	for _, p := range offerPlans {
		adv := n.Advertisers[p.advertiser]
		in := store.OfferInput{
			AdvertiserID: adv.ID, Name: fmt.Sprintf("Bench %s %s", runID, p.name), Visibility: "public", Currency: "USD",
			DestinationURL: "https://advertiser.example/land?click={transaction_id}", Events: p.events,
		}
		var out struct {
			ID int64 `json:"id"`
		}
		if err := api.do(ctx, http.MethodPost, "/offers", in, &out); err != nil {
			return nil, err
		}
		o := Offer{ID: out.ID, AdvertiserID: adv.ID, Token: adv.Token}
		for _, e := range p.events {
			if e.Event != "" {
				o.Events = append(o.Events, e.Event)
			}
		}
		n.Offers = append(n.Offers, o)
	}
	n.HotOffer = n.Offers[0].ID

	// Partners: 2–12 in Silver, 1 and 13–20 in Gold, the others in the
	// default tier.
	for i := range partnerCount {
		var out struct {
			ID int64 `json:"id"`
		}
		if err := api.do(ctx, http.MethodPost, "/partners", store.PartnerInput{Name: fmt.Sprintf("Bench %s partner %d", runID, i+1)}, &out); err != nil {
			return nil, err
		}
		n.Partners = append(n.Partners, out.ID)
	}
	n.HotPartner = n.Partners[0]
	partner := func(k int) int64 { return n.Partners[k-1] } // 1-based
	between := func(from, to int) []int64 {
		var ids []int64
		for k := from; k <= to; k++ {
			ids = append(ids, partner(k))
		}
		return ids
	}
	tiers := []struct {
		name     string
		margin   string
		partners []int64
		offers   []int // offer indexes with apply margin on
	}{
		{"Silver", "30", between(2, 12), []int{1, 2}},
		{"Gold", "20", append([]int64{partner(1)}, between(13, 20)...), []int{0, 3}},
	}
	for _, t := range tiers {
		var out struct {
			ID int64 `json:"id"`
		}
		in := store.TierInput{Name: fmt.Sprintf("Bench %s %s", runID, t.name), Status: "active", Margin: amount(t.margin), PartnerIDs: t.partners}
		if err := api.do(ctx, http.MethodPost, "/tiers", in, &out); err != nil {
			return nil, err
		}
		for _, o := range t.offers {
			path := fmt.Sprintf("/tiers/%d/offers/%d", out.ID, n.Offers[o].ID)
			if err := api.do(ctx, http.MethodPut, path, store.TierOfferInput{AutoApprove: true, ApplyMargin: true}, nil); err != nil {
				return nil, err
			}
		}
	}

	// Custom payouts: a partner's own rate, a dated setting for all
	// partners, a revenue-only setting under a tier margin, a PRV payout.
	now := time.Now().UTC()
	from, to := now.AddDate(0, 0, -1), now.AddDate(0, 0, 30)
	p1, p5, p14 := partner(1), partner(5), partner(14)
	customs := []store.CustomPayoutInput{
		{PartnerID: &p1, OfferID: n.Offers[0].ID, Payout: ptr(cpa("55"))},
		{OfferID: n.Offers[1].ID, Event: "deposit", Payout: ptr(cpaCPS("1.5", "3")), StartsAt: &from, EndsAt: &to},
		{PartnerID: &p5, OfferID: n.Offers[2].ID, Revenue: ptr(rpa("25"))},
		{PartnerID: &p14, OfferID: n.Offers[3].ID, Event: "trade", Payout: ptr(prv("60"))},
	}
	for _, c := range customs {
		if err := api.do(ctx, http.MethodPost, "/custom-payouts", c, nil); err != nil {
			return nil, err
		}
	}

	// Tiered commissions, all retroactive.
	thresholds := HotBandThresholds(expectedHot)
	rules := []tiered.Rule{
		HotRule(n.HotPartner, n.HotOffer, thresholds),
		VolumeRule([]int64{n.Offers[0].ID, n.Offers[1].ID, n.Offers[2].ID}),
		DepositRule(n.Advertisers[1].ID, between(16, 20)),
	}
	for i, r := range rules {
		r.Name = fmt.Sprintf("Bench %s %s", runID, r.Name)
		var out struct {
			ID int64 `json:"id"`
		}
		if err := api.do(ctx, http.MethodPost, "/tiered-commissions", r, &out); err != nil {
			return nil, err
		}
		n.TieredRules = append(n.TieredRules, out.ID)
		if i == 0 {
			n.HotRule, n.HotBands = out.ID, len(r.Bands)
		}
	}

	// Customer Value: the data points (created once per network), then the
	// seed rules.
	if err := ensureDataPoints(ctx, api); err != nil {
		return nil, err
	}
	advertisers := []int64{n.Advertisers[0].ID, n.Advertisers[1].ID}
	for _, r := range SeedValueRules(advertisers, partner(overridePartner), n.Offers[2].ID) {
		r.Name = fmt.Sprintf("Bench %s %s", runID, r.Name)
		var out struct {
			ID int64 `json:"id"`
		}
		if err := api.do(ctx, http.MethodPost, "/customer-value-rules", map[string]any{"rule": r}, &out); err != nil {
			return nil, err
		}
		n.ValueRules = append(n.ValueRules, out.ID)
	}
	return n, nil
}

func ptr[T any](v T) *T { return &v }

// ensureDataPoints creates the data points the rules read, unless a network
// already has them (with the right types).
func ensureDataPoints(ctx context.Context, api *apiClient) error {
	existing := map[string]string{}
	after := ""
	for {
		var page struct {
			Items []struct {
				Identifier string `json:"identifier"`
				Type       string `json:"type"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		path := "/data-points?limit=100"
		if after != "" {
			path += "&after=" + after
		}
		if err := api.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		for _, dp := range page.Items {
			existing[dp.Identifier] = dp.Type
		}
		if page.NextCursor == "" {
			break
		}
		after = page.NextCursor
	}
	for _, dp := range dataPoints {
		typ, ok := existing[dp.Identifier]
		switch {
		case ok && typ != dp.Type:
			return fmt.Errorf("the network's data point %q is a %s; the bench needs a %s", dp.Identifier, typ, dp.Type)
		case ok:
			continue
		}
		if err := api.do(ctx, http.MethodPost, "/data-points", dp, nil); err != nil {
			return err
		}
	}
	return nil
}
