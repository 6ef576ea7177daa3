package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/pricing"
)

// PartnerOffer is an offer as a partner sees it: what it pays, never the
// revenue, the tier or the margin behind that, and never the advertiser's
// destination (a partner who linked to it directly would lose the click,
// and the conversion its attribution).
type PartnerOffer struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	// Access is AccessRunnable (the partner may run it: TrackingURL is its
	// link) or AccessRequestable (it requires approval the partner does not
	// have yet: it may ask for it; ApprovalRequestedAt says when it did).
	Access              string     `json:"access"`
	ApprovalRequestedAt *time.Time `json:"approval_requested_at,omitempty"`
	// TrackingURL is the partner's tracking link, the click endpoint with
	// the offer, the partner and sub1–sub5 placeholders to fill in; a path
	// the API makes absolute.
	TrackingURL string              `json:"tracking_url,omitempty"`
	Events      []PartnerOfferEvent `json:"events"`
}

// How a partner may run an offer it sees.
const (
	AccessRunnable    = "runnable"
	AccessRequestable = "requestable"
)

// TrackingPath is a partner's tracking link for an offer, relative to the
// API's address.
func TrackingPath(offerID, partnerID int64) string {
	return fmt.Sprintf("/click?offer_id=%d&partner_id=%d&sub1={sub1}&sub2={sub2}&sub3={sub3}&sub4={sub4}&sub5={sub5}", offerID, partnerID)
}

// requestable reports whether the partner may ask to run the offer: it
// requires approval and the partner, the offer and its advertiser are
// active. Private offers are never shown to partners not approved for them.
func (f runFacts) requestable() bool {
	_, rejection, _ := f.check()
	return rejection == RejectPartnerNotApproved && f.offer.Visibility == VisibilityRequireApproval
}

// PartnerOfferEvent is the payout a partner gets for one event of an offer.
type PartnerOfferEvent struct {
	Event      string             `json:"event"` // "" is the base conversion
	Payout     pricing.PayoutRate `json:"payout"`
	Repeatable bool               `json:"repeatable"`
}

// PartnerOffers lists the offers a partner may run (see MayRun) or may ask
// to run (require-approval offers it is not approved for) in id order, each
// event with the payout rate the partner gets at the instant at
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
			if ok, _ := f.mayRun(); (ok || f.requestable()) && (page.Limit <= 0 || len(runnable) < page.Limit) {
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
	requested, err := approvalRequests(ctx, s.pool, partnerID, offers)
	if err != nil {
		return nil, err
	}

	out := make([]PartnerOffer, len(runnable))
	for i, f := range runnable {
		o := offers[i]
		tier := &pricing.Tier{Active: f.tierActive, Margin: f.tierMargin, OfferListed: f.tierListed, ApplyMargin: f.applyMargin}
		po := PartnerOffer{ID: o.ID, Name: o.Name, Currency: o.Currency, Access: AccessRunnable,
			TrackingURL: TrackingPath(o.ID, partnerID), Events: make([]PartnerOfferEvent, len(o.Events))}
		if ok, _ := f.mayRun(); !ok {
			po.Access, po.TrackingURL, po.ApprovalRequestedAt = AccessRequestable, "", requested[o.ID]
		}
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

// approvalRequests returns when the partner asked to run each of offers,
// by offer id.
func approvalRequests(ctx context.Context, q dbtx, partnerID int64, offers []Offer) (map[int64]*time.Time, error) {
	ids := make([]int64, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	rows, err := q.Query(ctx, `SELECT offer_id, requested_at FROM offer_approval_requests
		WHERE partner_id = $1 AND offer_id = ANY($2)`, partnerID, ids)
	if err != nil {
		return nil, fmt.Errorf("read approval requests of partner %d: %w", partnerID, err)
	}
	defer rows.Close()
	m := map[int64]*time.Time{}
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("read approval requests of partner %d: %w", partnerID, err)
		}
		at = at.UTC()
		m[id] = &at
	}
	return m, rows.Err()
}

// ApprovalRequest is a partner's request to run a require-approval offer;
// an admin grants it with ApproveOffer.
type ApprovalRequest struct {
	PartnerID   int64     `json:"partner_id"`
	OfferID     int64     `json:"offer_id"`
	Note        string    `json:"note,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// RequestApproval records a partner's request to run an offer that requires
// approval; asking twice keeps the first request. An offer the partner may
// run already, or may not ask for (private, inactive, unknown to it), is a
// Conflict or NotFound: a private offer is NotFound, so a partner cannot
// learn of it.
func (s *Store) RequestApproval(ctx context.Context, partnerID, offerID int64, note string) (ApprovalRequest, error) {
	if err := limits.Text(note, limits.MaxNoteLength, true); err != nil {
		return ApprovalRequest{}, Invalid("note", "%v", err)
	}
	f, err := mayRunFacts(ctx, s.pool, partnerID, offerID)
	if err != nil {
		return ApprovalRequest{}, err
	}
	if ok, _ := f.mayRun(); ok {
		return ApprovalRequest{}, Conflict("partner %d may run offer %d already", partnerID, offerID)
	}
	if !f.requestable() {
		return ApprovalRequest{}, NotFound("offer", offerID)
	}
	r := ApprovalRequest{PartnerID: partnerID, OfferID: offerID}
	err = s.pool.QueryRow(ctx, `WITH added AS (
			INSERT INTO offer_approval_requests (partner_id, offer_id, note) VALUES ($1, $2, $3)
			ON CONFLICT (partner_id, offer_id) DO NOTHING RETURNING note, requested_at)
		SELECT note, requested_at FROM added
		UNION ALL SELECT note, requested_at FROM offer_approval_requests WHERE partner_id = $1 AND offer_id = $2`,
		partnerID, offerID, note).Scan(&r.Note, &r.RequestedAt)
	if err != nil {
		return ApprovalRequest{}, fmt.Errorf("request approval of partner %d for offer %d: %w", partnerID, offerID, err)
	}
	r.RequestedAt = r.RequestedAt.UTC()
	return r, nil
}

// ApprovalRequests lists the requests not granted yet, oldest first.
func (s *Store) ApprovalRequests(ctx context.Context, limit int) ([]ApprovalRequest, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.partner_id, r.offer_id, r.note, r.requested_at FROM offer_approval_requests r
		WHERE NOT EXISTS (SELECT 1 FROM offer_approvals a WHERE a.partner_id = r.partner_id AND a.offer_id = r.offer_id)
		ORDER BY r.requested_at, r.partner_id, r.offer_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list approval requests: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ApprovalRequest, error) {
		var a ApprovalRequest
		err := r.Scan(&a.PartnerID, &a.OfferID, &a.Note, &a.RequestedAt)
		a.RequestedAt = a.RequestedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list approval requests: %w", err)
	}
	return rs, nil
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
