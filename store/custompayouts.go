package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// CustomPayout is a custom payout setting: layer 3 of DESIGN.md §5. It sets
// the payout, the revenue or both of one offer event for one partner or for
// all partners, optionally within effective dates.
type CustomPayout struct {
	ID int64 `json:"id"`
	// PartnerID is the partner it is for; nil means all partners.
	PartnerID *int64               `json:"partner_id"`
	OfferID   int64                `json:"offer_id"`
	Event     string               `json:"event"`   // "" is the base conversion
	Payout    *pricing.PayoutRate  `json:"payout"`  // nil: does not set the payout
	Revenue   *pricing.RevenueRate `json:"revenue"` // nil: does not set the revenue
	// StartsAt (inclusive) and EndsAt (exclusive) bound when it applies; nil
	// is open-ended.
	StartsAt  *time.Time `json:"starts_at"`
	EndsAt    *time.Time `json:"ends_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// Setting is the setting as the pricing core takes it.
func (c CustomPayout) Setting() pricing.CustomSetting {
	s := pricing.CustomSetting{ID: c.ID, Payout: c.Payout, Revenue: c.Revenue, StartsAt: c.StartsAt, EndsAt: c.EndsAt, CreatedAt: c.CreatedAt}
	if c.PartnerID != nil {
		s.PartnerID = *c.PartnerID
	}
	return s
}

// CustomPayoutInput creates a custom payout setting.
type CustomPayoutInput struct {
	PartnerID *int64               `json:"partner_id"` // nil: all partners
	OfferID   int64                `json:"offer_id"`
	Event     string               `json:"event"`
	Payout    *pricing.PayoutRate  `json:"payout"`
	Revenue   *pricing.RevenueRate `json:"revenue"`
	StartsAt  *time.Time           `json:"starts_at"`
	EndsAt    *time.Time           `json:"ends_at"`
}

// Validate returns every problem with the input at once.
func (in CustomPayoutInput) Validate() error {
	var p Problems
	if in.PartnerID != nil {
		checkID(&p, "partner_id", *in.PartnerID)
	}
	checkID(&p, "offer_id", in.OfferID)
	checkEventName(&p, "event", in.Event)
	if in.Payout == nil && in.Revenue == nil {
		p.Add("payout", "set a payout rate, a revenue rate or both")
	}
	if in.Payout != nil {
		addRateProblems(&p, "payout", in.Payout.Validate())
		payoutRateBounds(&p, "payout", *in.Payout)
	}
	if in.Revenue != nil {
		addRateProblems(&p, "revenue", in.Revenue.Validate())
		revenueRateBounds(&p, "revenue", *in.Revenue)
	}
	if in.StartsAt != nil && in.EndsAt != nil && !in.StartsAt.Before(*in.EndsAt) {
		p.Add("ends_at", "must be after starts_at")
	}
	return p.Err()
}

const customPayoutColumns = `id, partner_id, offer_id, event, payout_type, payout_amount, payout_percent,
	revenue_type, revenue_amount, revenue_percent, starts_at, ends_at, created_at`

func scanCustomPayout(row pgx.Row) (CustomPayout, error) {
	var c CustomPayout
	var payoutType, revenueType *string
	var pa, pp, ra, rp decimal.Decimal
	err := row.Scan(&c.ID, &c.PartnerID, &c.OfferID, &c.Event, &payoutType, &pa, &pp,
		&revenueType, &ra, &rp, &c.StartsAt, &c.EndsAt, &c.CreatedAt)
	if payoutType != nil {
		c.Payout = &pricing.PayoutRate{Type: pricing.PayoutType(*payoutType), Amount: pa, Percent: pp}
	}
	if revenueType != nil {
		c.Revenue = &pricing.RevenueRate{Type: pricing.RevenueType(*revenueType), Amount: ra, Percent: rp}
	}
	c.StartsAt, c.EndsAt, c.CreatedAt = utcPtr(c.StartsAt), utcPtr(c.EndsAt), c.CreatedAt.UTC()
	return c, err
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateCustomPayout stores a custom payout setting. An unknown offer or
// partner, or an event the offer does not have, is a problem with that field.
func (s *Store) CreateCustomPayout(ctx context.Context, in CustomPayoutInput) (CustomPayout, error) {
	if err := in.Validate(); err != nil {
		return CustomPayout{}, err
	}
	var payoutType, revenueType *string
	var pa, pp, ra, rp decimal.Decimal
	if in.Payout != nil {
		t := string(in.Payout.Type)
		payoutType, pa, pp = &t, in.Payout.Amount, in.Payout.Percent
	}
	if in.Revenue != nil {
		t := string(in.Revenue.Type)
		revenueType, ra, rp = &t, in.Revenue.Amount, in.Revenue.Percent
	}
	var c CustomPayout
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var p Problems
		var offerFound, eventFound, partnerFound bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM offers WHERE id = $1 FOR SHARE),
				EXISTS (SELECT 1 FROM offer_events WHERE offer_id = $1 AND event = $2 FOR SHARE),
				$3::bigint IS NULL OR EXISTS (SELECT 1 FROM partners WHERE id = $3)`,
			in.OfferID, in.Event, in.PartnerID).Scan(&offerFound, &eventFound, &partnerFound); err != nil {
			return fmt.Errorf("check custom payout references: %w", err)
		}
		switch {
		case !offerFound:
			p.Add("offer_id", "no offer %d", in.OfferID)
		case !eventFound && in.Event == "":
			p.Add("event", "offer %d has no base conversion", in.OfferID)
		case !eventFound:
			p.Add("event", "offer %d has no event %q", in.OfferID, in.Event)
		}
		if !partnerFound {
			p.Add("partner_id", "no partner %d", *in.PartnerID)
		}
		if err := p.Err(); err != nil {
			return err
		}
		var err error
		c, err = scanCustomPayout(tx.QueryRow(ctx, `INSERT INTO custom_payouts (partner_id, offer_id, event,
				payout_type, payout_amount, payout_percent, revenue_type, revenue_amount, revenue_percent, starts_at, ends_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+customPayoutColumns,
			in.PartnerID, in.OfferID, in.Event, payoutType, pa, pp, revenueType, ra, rp, in.StartsAt, in.EndsAt))
		if err != nil {
			return fmt.Errorf("create custom payout: %w", err)
		}
		return nil
	})
	return c, err
}

// CustomPayout returns one custom payout setting.
func (s *Store) CustomPayout(ctx context.Context, id int64) (CustomPayout, error) {
	c, err := scanCustomPayout(s.pool.QueryRow(ctx, `SELECT `+customPayoutColumns+` FROM custom_payouts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomPayout{}, NotFound("custom payout", id)
	}
	if err != nil {
		return CustomPayout{}, fmt.Errorf("read custom payout %d: %w", id, err)
	}
	return c, nil
}

// CustomPayoutFilter selects custom payout settings; zero fields select all.
type CustomPayoutFilter struct {
	OfferID int64
	// PartnerID selects the settings for that partner (not those for all
	// partners).
	PartnerID int64
	Page
}

// CustomPayouts lists custom payout settings in id order.
func (s *Store) CustomPayouts(ctx context.Context, f CustomPayoutFilter) ([]CustomPayout, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+customPayoutColumns+` FROM custom_payouts
		WHERE id > $1 AND ($2 = 0 OR offer_id = $2) AND ($3 = 0 OR partner_id = $3) ORDER BY id LIMIT $4`,
		f.After, f.OfferID, f.PartnerID, f.limit())
	if err != nil {
		return nil, fmt.Errorf("list custom payouts: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomPayout, error) { return scanCustomPayout(r) })
	if err != nil {
		return nil, fmt.Errorf("list custom payouts: %w", err)
	}
	return cs, nil
}

// DeleteCustomPayout deletes a custom payout setting. Conversions priced with
// it keep their amounts and explanations.
func (s *Store) DeleteCustomPayout(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM custom_payouts WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete custom payout %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return NotFound("custom payout", id)
	}
	return nil
}
