package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// PartnerOffer is an offer as a partner sees it: what it pays, never the
// revenue, the tier or the margin behind that.
type PartnerOffer struct {
	ID             int64               `json:"id"`
	Name           string              `json:"name"`
	Currency       string              `json:"currency"`
	DestinationURL string              `json:"destination_url"`
	Events         []PartnerOfferEvent `json:"events"`
}

// PartnerOfferEvent is the payout a partner gets for one event of an offer.
type PartnerOfferEvent struct {
	Event      string             `json:"event"` // "" is the base conversion
	Payout     pricing.PayoutRate `json:"payout"`
	Repeatable bool               `json:"repeatable"`
}

// PartnerOffers lists the offers a partner may run (see MayRun) in id order,
// each event with the payout rate the partner gets at the instant at
// (PartnerPayoutRate). An unknown partner is NotFound.
func (s *Store) PartnerOffers(ctx context.Context, partnerID int64, at time.Time, page Page) ([]PartnerOffer, error) {
	ok, err := exists(ctx, s.pool, "partners", partnerID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, NotFound("partner", partnerID)
	}

	// Offers are read in batches and filtered by mayRun until the page is
	// full, so the rule of who may run an offer lives in one place.
	var runnable []runFacts
	after := page.After
	for {
		batch, err := runFactsOf(ctx, s.pool, partnerID, `o.id > $2 ORDER BY o.id LIMIT $3`, after, page.limit())
		if err != nil {
			return nil, err
		}
		for _, f := range batch {
			after = f.offer.ID
			if ok, _ := f.mayRun(); ok && (page.Limit <= 0 || len(runnable) < page.Limit) {
				runnable = append(runnable, f)
			}
		}
		if page.Limit <= 0 || len(batch) < page.Limit || len(runnable) == page.Limit {
			break
		}
	}

	offers := make([]Offer, len(runnable))
	for i, f := range runnable {
		offers[i] = f.offer
	}
	if err := offerEvents(ctx, s.pool, offers); err != nil {
		return nil, err
	}
	custom, err := customSettingsFor(ctx, s.pool, partnerID, offers)
	if err != nil {
		return nil, err
	}

	out := make([]PartnerOffer, len(runnable))
	for i, f := range runnable {
		o := offers[i]
		tier := &pricing.Tier{Active: f.tierActive, Margin: f.tierMargin, OfferListed: f.tierListed, ApplyMargin: f.applyMargin}
		po := PartnerOffer{ID: o.ID, Name: o.Name, Currency: o.Currency, DestinationURL: o.DestinationURL,
			Events: make([]PartnerOfferEvent, len(o.Events))}
		for j, e := range o.Events {
			var winner *pricing.CustomSetting
			if c, ok := pricing.SelectCustom(custom[offerEvent{o.ID, e.Event}], partnerID, at); ok {
				winner = &c
			}
			po.Events[j] = PartnerOfferEvent{Event: e.Event, Payout: PartnerPayoutRate(e, tier, winner, o.Currency), Repeatable: e.Repeatable}
		}
		out[i] = po
	}
	return out, nil
}

type offerEvent struct {
	offerID int64
	event   string
}

// customSettingsFor reads the custom payout settings for partnerID or for all
// partners on offers, by offer and event.
func customSettingsFor(ctx context.Context, q dbtx, partnerID int64, offers []Offer) (map[offerEvent][]pricing.CustomSetting, error) {
	ids := make([]int64, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	rows, err := q.Query(ctx, `SELECT `+customPayoutColumns+` FROM custom_payouts
		WHERE offer_id = ANY($1) AND (partner_id IS NULL OR partner_id = $2) ORDER BY id`, ids, partnerID)
	if err != nil {
		return nil, fmt.Errorf("read custom payouts of partner %d: %w", partnerID, err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomPayout, error) { return scanCustomPayout(r) })
	if err != nil {
		return nil, fmt.Errorf("read custom payouts of partner %d: %w", partnerID, err)
	}
	m := make(map[offerEvent][]pricing.CustomSetting)
	for _, c := range cs {
		k := offerEvent{c.OfferID, c.Event}
		m[k] = append(m[k], c.Setting())
	}
	return m, nil
}

// PartnerPayoutRate is the payout rate a partner gets for one offer event:
// layers 1–3 of DESIGN.md §5 as a rate rather than an amount, for showing to
// the partner. The revenue rate is the custom setting's when it sets one,
// else the offer's. Then the payout is:
//
//  1. the custom setting's payout rate, when it sets one;
//  2. else, when the tier is active and lists the offer with "apply margin"
//     on and the revenue rate is not zero, (100 − margin)% of the revenue
//     rate: RPA becomes CPA, RPS becomes CPS and RPA+RPS becomes CPA+CPS,
//     each part scaled;
//  3. else the offer's default payout rate.
//
// A PRV rate (a percent of the revenue) is shown the same way, as its percent
// of the revenue rate, so the partner never sees the revenue. Fixed amounts
// are rounded to the currency's minor unit like ledger lines (after rounding
// the revenue, as pricing does); percents are exact. When a postback sends
// its own revenue, the margin and PRV follow that revenue instead.
func PartnerPayoutRate(e OfferEvent, tier *pricing.Tier, custom *pricing.CustomSetting, currency string) pricing.PayoutRate {
	revenue := e.Revenue
	if custom != nil && custom.Revenue != nil {
		revenue = *custom.Revenue
	}
	switch {
	case custom != nil && custom.Payout != nil:
		return partnerRate(*custom.Payout, revenue, currency)
	case tier != nil && tier.Active && tier.OfferListed && tier.ApplyMargin && !zeroRevenue(revenue):
		return shareOfRevenue(revenue, hundred.Sub(tier.Margin), currency)
	}
	return partnerRate(e.Payout, revenue, currency)
}

// partnerRate is a payout rate as the partner sees it.
func partnerRate(r pricing.PayoutRate, revenue pricing.RevenueRate, currency string) pricing.PayoutRate {
	switch r.Type {
	case pricing.PayoutPRV:
		return shareOfRevenue(revenue, r.Percent, currency)
	case pricing.PayoutCPA, pricing.PayoutCPACPS:
		r.Amount = pricing.Round(r.Amount, currency)
	}
	return r
}

// revenueParts says which parts of a revenue rate count.
func revenueParts(r pricing.RevenueRate) (fixed, percent bool) {
	switch r.Type {
	case pricing.RevenueRPA:
		return true, false
	case pricing.RevenueRPS:
		return false, true
	case pricing.RevenueRPARPS:
		return true, true
	}
	return false, false
}

// zeroRevenue reports whether a revenue rate can only give 0.
func zeroRevenue(r pricing.RevenueRate) bool {
	fixed, percent := revenueParts(r)
	return !(fixed && !r.Amount.IsZero()) && !(percent && !r.Percent.IsZero())
}

// shareOfRevenue is pct% of a revenue rate as a payout rate.
func shareOfRevenue(r pricing.RevenueRate, pct decimal.Decimal, currency string) pricing.PayoutRate {
	fixed, percent := revenueParts(r)
	var out pricing.PayoutRate
	switch {
	case fixed && percent:
		out.Type = pricing.PayoutCPACPS
	case percent:
		out.Type = pricing.PayoutCPS
	default:
		out.Type = pricing.PayoutCPA
	}
	if fixed {
		out.Amount = pricing.Round(pricing.Round(r.Amount, currency).Mul(pct).Shift(-2), currency)
	}
	if percent {
		out.Percent = r.Percent.Mul(pct).Shift(-2)
	}
	return out
}
