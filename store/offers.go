package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tierwise/tierwise/pricing"
)

// Offer statuses.
const (
	OfferActive = "active"
	OfferPaused = "paused"
)

// Offer visibilities: who may run an offer without a Partner Tier's
// auto-approval (see MayRun).
const (
	VisibilityPublic          = "public"           // every active partner
	VisibilityRequireApproval = "require_approval" // partners approved for it
	VisibilityPrivate         = "private"          // partners approved for it; not listed to others
)

// Offer is what partners promote: an advertiser's destination with the
// default payout and revenue of its base conversion and of each named event.
type Offer struct {
	ID           int64  `json:"id"`
	AdvertiserID int64  `json:"advertiser_id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	Visibility   string `json:"visibility"`
	Currency     string `json:"currency"`
	// DestinationURL is where a click is sent; the macros {transaction_id},
	// {offer_id}, {partner_id} and {sub1}–{sub5} are filled in, URL-escaped.
	DestinationURL string       `json:"destination_url"`
	Events         []OfferEvent `json:"events"`
	CreatedAt      time.Time    `json:"created_at"`
}

// Event returns the offer's event with this name ("" is the base
// conversion).
func (o Offer) Event(name string) (OfferEvent, bool) {
	for _, e := range o.Events {
		if e.Event == name {
			return e, true
		}
	}
	return OfferEvent{}, false
}

// OfferEvent is the default payout and revenue of one event of an offer:
// layer 1 of DESIGN.md §5. Event "" is the base conversion.
type OfferEvent struct {
	// ID is the event's stable numeric id, assigned by tierwise: a postback
	// may name the event by it (event_id). It stays while the event exists,
	// whatever else changes.
	ID      int64               `json:"id"`
	Event   string              `json:"event"`
	Payout  pricing.PayoutRate  `json:"payout"`
	Revenue pricing.RevenueRate `json:"revenue"`
	// Repeatable events (deposits, trades) may convert many times per click;
	// their postbacks need an order_id.
	Repeatable bool `json:"repeatable"`
}

// OfferInput creates an offer.
type OfferInput struct {
	AdvertiserID   int64        `json:"advertiser_id"`
	Name           string       `json:"name"`
	Status         string       `json:"status"`     // default active
	Visibility     string       `json:"visibility"` // default public
	Currency       string       `json:"currency"`   // default the network currency
	DestinationURL string       `json:"destination_url"`
	Events         []OfferEvent `json:"events"`
}

// Validate returns every problem with the input at once.
func (in OfferInput) Validate() error {
	var p Problems
	checkID(&p, "advertiser_id", in.AdvertiserID)
	checkName(&p, "name", in.Name)
	if in.Status != "" {
		checkOneOf(&p, "status", in.Status, OfferActive, OfferPaused)
	}
	if in.Visibility != "" {
		checkOneOf(&p, "visibility", in.Visibility, VisibilityPublic, VisibilityRequireApproval, VisibilityPrivate)
	}
	if in.Currency != "" {
		checkCurrency(&p, "currency", in.Currency)
	}
	checkDestinationURL(&p, "destination_url", in.DestinationURL)
	checkEvents(&p, in.Events)
	return p.Err()
}

// OfferPatch changes the fields it sets; Events, when set, replaces the whole
// list. The advertiser of an offer never changes.
type OfferPatch struct {
	Name           *string       `json:"name"`
	Status         *string       `json:"status"`
	Visibility     *string       `json:"visibility"`
	Currency       *string       `json:"currency"`
	DestinationURL *string       `json:"destination_url"`
	Events         *[]OfferEvent `json:"events"`
}

// Validate returns every problem with the patch at once.
func (in OfferPatch) Validate() error {
	var p Problems
	if in.Name != nil {
		checkName(&p, "name", *in.Name)
	}
	if in.Status != nil {
		checkOneOf(&p, "status", *in.Status, OfferActive, OfferPaused)
	}
	if in.Visibility != nil {
		checkOneOf(&p, "visibility", *in.Visibility, VisibilityPublic, VisibilityRequireApproval, VisibilityPrivate)
	}
	if in.Currency != nil {
		checkCurrency(&p, "currency", *in.Currency)
	}
	if in.DestinationURL != nil {
		checkDestinationURL(&p, "destination_url", *in.DestinationURL)
	}
	if in.Events != nil {
		checkEvents(&p, *in.Events)
	}
	return p.Err()
}

// checkEvents requires exactly one base conversion, unique lower-case event
// names and valid rates.
func checkEvents(p *Problems, events []OfferEvent) {
	if len(events) == 0 {
		p.Add("events", `is required: at least the base conversion (an entry with event "")`)
		return
	}
	seen := make(map[string]int, len(events))
	base := false
	for i, e := range events {
		field := fmt.Sprintf("events[%d]", i)
		checkEventName(p, field+".event", e.Event)
		if j, dup := seen[e.Event]; dup {
			p.Add(field+".event", "%q is listed twice (also events[%d])", e.Event, j)
		} else {
			seen[e.Event] = i
		}
		base = base || e.Event == ""
		addRateProblems(p, field+".payout", e.Payout.Validate())
		addRateProblems(p, field+".revenue", e.Revenue.Validate())
		payoutRateBounds(p, field+".payout", e.Payout)
		revenueRateBounds(p, field+".revenue", e.Revenue)
	}
	if !base {
		p.Add("events", `must include the base conversion (an entry with event "")`)
	}
}

// addRateProblems turns the problems of a pricing rate's Validate into
// problems naming the field under prefix ("events[0].payout.type").
func addRateProblems(p *Problems, prefix string, err error) {
	if err == nil {
		return
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var fe *pricing.FieldError
		if errors.As(e, &fe) {
			p.Add(prefix+"."+strings.ToLower(fe.Field), "%s", fe.Problem)
		} else {
			p.Add(prefix, "%v", e)
		}
	}
}

const offerColumns = `id, advertiser_id, name, status, visibility, currency, destination_url, created_at`

func scanOffer(row pgx.Row) (Offer, error) {
	var o Offer
	err := row.Scan(&o.ID, &o.AdvertiserID, &o.Name, &o.Status, &o.Visibility, &o.Currency, &o.DestinationURL, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	o.Events = []OfferEvent{}
	return o, err
}

// offerEvents fills in the events of offers, base conversion first.
func offerEvents(ctx context.Context, q dbtx, offers []Offer) error {
	if len(offers) == 0 {
		return nil
	}
	index := make(map[int64]int, len(offers))
	ids := make([]int64, len(offers))
	for i, o := range offers {
		index[o.ID] = i
		ids[i] = o.ID
	}
	rows, err := q.Query(ctx, `SELECT offer_id, id, event, payout_type, payout_amount, payout_percent,
			revenue_type, revenue_amount, revenue_percent, repeatable
		FROM offer_events WHERE offer_id = ANY($1) ORDER BY offer_id, event`, ids)
	if err != nil {
		return fmt.Errorf("read offer events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e OfferEvent
		if err := rows.Scan(&id, &e.ID, &e.Event, &e.Payout.Type, &e.Payout.Amount, &e.Payout.Percent,
			&e.Revenue.Type, &e.Revenue.Amount, &e.Revenue.Percent, &e.Repeatable); err != nil {
			return fmt.Errorf("read offer events: %w", err)
		}
		o := &offers[index[id]]
		o.Events = append(o.Events, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read offer events: %w", err)
	}
	return nil
}

// upsertOfferEvents writes an offer's events, keeping the id of each event
// that already exists.
func upsertOfferEvents(ctx context.Context, tx pgx.Tx, offerID int64, events []OfferEvent) error {
	for _, e := range events {
		if _, err := tx.Exec(ctx, `INSERT INTO offer_events (offer_id, event, payout_type, payout_amount, payout_percent,
				revenue_type, revenue_amount, revenue_percent, repeatable)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (offer_id, event) DO UPDATE SET payout_type = excluded.payout_type,
				payout_amount = excluded.payout_amount, payout_percent = excluded.payout_percent,
				revenue_type = excluded.revenue_type, revenue_amount = excluded.revenue_amount,
				revenue_percent = excluded.revenue_percent, repeatable = excluded.repeatable`,
			offerID, e.Event, e.Payout.Type, e.Payout.Amount, e.Payout.Percent,
			e.Revenue.Type, e.Revenue.Amount, e.Revenue.Percent, e.Repeatable); err != nil {
			return fmt.Errorf("store event %q of offer %d: %w", e.Event, offerID, err)
		}
	}
	return nil
}

// CreateOffer stores an offer with its events. An unknown advertiser is a
// problem with advertiser_id.
func (s *Store) CreateOffer(ctx context.Context, in OfferInput) (Offer, error) {
	if err := in.Validate(); err != nil {
		return Offer{}, err
	}
	if in.Status == "" {
		in.Status = OfferActive
	}
	if in.Visibility == "" {
		in.Visibility = VisibilityPublic
	}
	var o Offer
	err := s.tx(ctx, func(tx pgx.Tx) error {
		ok, err := exists(ctx, tx, "advertisers", in.AdvertiserID)
		if err != nil {
			return err
		}
		if !ok {
			return Invalid("advertiser_id", "no advertiser %d", in.AdvertiserID)
		}
		if in.Currency == "" {
			n, err := network(ctx, tx)
			if err != nil {
				return err
			}
			in.Currency = n.Currency
		}
		o, err = scanOffer(tx.QueryRow(ctx, `INSERT INTO offers (advertiser_id, name, status, visibility, currency, destination_url)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+offerColumns,
			in.AdvertiserID, in.Name, in.Status, in.Visibility, in.Currency, in.DestinationURL))
		if err != nil {
			return fmt.Errorf("create offer: %w", err)
		}
		return upsertOfferEvents(ctx, tx, o.ID, in.Events)
	})
	if err != nil {
		return Offer{}, err
	}
	return s.Offer(ctx, o.ID)
}

// Offer returns one offer with its events.
func (s *Store) Offer(ctx context.Context, id int64) (Offer, error) {
	return offer(ctx, s.pool, id, "")
}

// offer reads one offer with its events; lock is "" or a locking clause.
func offer(ctx context.Context, q dbtx, id int64, lock string) (Offer, error) {
	o, err := scanOffer(q.QueryRow(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Offer{}, NotFound("offer", id)
	}
	if err != nil {
		return Offer{}, fmt.Errorf("read offer %d: %w", id, err)
	}
	offers := []Offer{o}
	if err := offerEvents(ctx, q, offers); err != nil {
		return Offer{}, err
	}
	return offers[0], nil
}

// OfferFilter selects offers; zero fields select all.
type OfferFilter struct {
	AdvertiserID int64
	Page
}

// Offers lists offers with their events in id order.
func (s *Store) Offers(ctx context.Context, f OfferFilter) ([]Offer, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+offerColumns+` FROM offers
		WHERE id > $1 AND ($2 = 0 OR advertiser_id = $2) ORDER BY id LIMIT $3`, f.After, f.AdvertiserID, f.limit())
	if err != nil {
		return nil, fmt.Errorf("list offers: %w", err)
	}
	offers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Offer, error) { return scanOffer(r) })
	if err != nil {
		return nil, fmt.Errorf("list offers: %w", err)
	}
	if err := offerEvents(ctx, s.pool, offers); err != nil {
		return nil, err
	}
	return offers, nil
}

// UpdateOffer changes an offer. Its currency cannot change once it has
// conversions, and an event cannot be removed while custom payout settings
// name it (both Conflict).
func (s *Store) UpdateOffer(ctx context.Context, id int64, in OfferPatch) (Offer, error) {
	if err := in.Validate(); err != nil {
		return Offer{}, err
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		o, err := offer(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if in.Currency != nil && *in.Currency != o.Currency {
			var converted bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conversions WHERE offer_id = $1)`, id).Scan(&converted); err != nil {
				return fmt.Errorf("check conversions of offer %d: %w", id, err)
			}
			if converted {
				return Conflict("offer %d has conversions in %s; its currency cannot change", id, o.Currency)
			}
		}
		if in.Events != nil {
			if err := checkRemovedEvents(ctx, tx, o, *in.Events); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE offers SET name = coalesce($2, name), status = coalesce($3, status),
				visibility = coalesce($4, visibility), currency = coalesce($5, currency),
				destination_url = coalesce($6, destination_url)
			WHERE id = $1`, id, in.Name, in.Status, in.Visibility, in.Currency, in.DestinationURL); err != nil {
			return fmt.Errorf("update offer %d: %w", id, err)
		}
		if in.Events == nil {
			return nil
		}
		names := make([]string, len(*in.Events))
		for i, e := range *in.Events {
			names[i] = e.Event
		}
		if _, err := tx.Exec(ctx, `DELETE FROM offer_events WHERE offer_id = $1 AND NOT event = ANY($2)`, id, names); err != nil {
			return fmt.Errorf("replace events of offer %d: %w", id, err)
		}
		return upsertOfferEvents(ctx, tx, id, *in.Events)
	})
	if err != nil {
		return Offer{}, err
	}
	return s.Offer(ctx, id)
}

// checkRemovedEvents refuses to drop an event that custom payout settings
// still name: they would silently stop applying.
func checkRemovedEvents(ctx context.Context, tx pgx.Tx, o Offer, events []OfferEvent) error {
	var removed []string
	for _, e := range o.Events {
		if !slices.ContainsFunc(events, func(n OfferEvent) bool { return n.Event == e.Event }) {
			removed = append(removed, e.Event)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM custom_payouts WHERE offer_id = $1 AND event = ANY($2) ORDER BY id`, o.ID, removed)
	if err != nil {
		return fmt.Errorf("check custom payouts of offer %d: %w", o.ID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("check custom payouts of offer %d: %w", o.ID, err)
	}
	if len(ids) > 0 {
		return Conflict("custom payout settings %s name events this change removes; delete them first", idList(ids))
	}
	return nil
}
