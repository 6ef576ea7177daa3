package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Partner statuses.
const (
	PartnerActive    = "active"
	PartnerPending   = "pending"
	PartnerSuspended = "suspended"
)

// Partner is an affiliate. It always belongs to exactly one Partner Tier; new
// partners join the default tier.
type Partner struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	TierID    int64     `json:"tier_id"`
	CreatedAt time.Time `json:"created_at"`
}

// PartnerInput creates a partner.
type PartnerInput struct {
	Name   string `json:"name"`
	Status string `json:"status"` // default active
	// TierID is the partner's tier; nil joins the current default tier.
	TierID *int64 `json:"tier_id"`
}

// Validate returns every problem with the input at once.
func (in PartnerInput) Validate() error {
	var p Problems
	checkName(&p, "name", in.Name)
	if in.Status != "" {
		checkOneOf(&p, "status", in.Status, PartnerActive, PartnerPending, PartnerSuspended)
	}
	if in.TierID != nil {
		checkID(&p, "tier_id", *in.TierID)
	}
	return p.Err()
}

// PartnerPatch changes the fields it sets.
type PartnerPatch struct {
	Name   *string `json:"name"`
	Status *string `json:"status"`
	TierID *int64  `json:"tier_id"`
}

// Validate returns every problem with the patch at once.
func (in PartnerPatch) Validate() error {
	var p Problems
	if in.Name != nil {
		checkName(&p, "name", *in.Name)
	}
	if in.Status != nil {
		checkOneOf(&p, "status", *in.Status, PartnerActive, PartnerPending, PartnerSuspended)
	}
	if in.TierID != nil {
		checkID(&p, "tier_id", *in.TierID)
	}
	return p.Err()
}

const partnerColumns = `id, name, status, tier_id, created_at`

func scanPartner(row pgx.Row) (Partner, error) {
	var p Partner
	err := row.Scan(&p.ID, &p.Name, &p.Status, &p.TierID, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

// CreatePartner stores a partner in the given tier or, without one, in the
// current default tier. An unknown tier is a problem with tier_id.
func (s *Store) CreatePartner(ctx context.Context, in PartnerInput) (Partner, error) {
	if err := in.Validate(); err != nil {
		return Partner{}, err
	}
	if in.Status == "" {
		in.Status = PartnerActive
	}
	var p Partner
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tierID, err := memberTier(ctx, tx, in.TierID)
		if err != nil {
			return err
		}
		p, err = scanPartner(tx.QueryRow(ctx, `INSERT INTO partners (name, status, tier_id) VALUES ($1, $2, $3)
			RETURNING `+partnerColumns, in.Name, in.Status, tierID))
		if err != nil {
			return fmt.Errorf("create partner: %w", err)
		}
		return nil
	})
	return p, err
}

// memberTier locks the tiers and returns the tier a partner joins: the given
// one, which must exist, or the default one.
func memberTier(ctx context.Context, tx pgx.Tx, tierID *int64) (int64, error) {
	if err := lockTiers(ctx, tx); err != nil {
		return 0, err
	}
	if tierID == nil {
		return defaultTierID(ctx, tx)
	}
	ok, err := exists(ctx, tx, "partner_tiers", *tierID)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, Invalid("tier_id", "no tier %d", *tierID)
	}
	return *tierID, nil
}

// Partner returns one partner.
func (s *Store) Partner(ctx context.Context, id int64) (Partner, error) {
	p, err := scanPartner(s.pool.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Partner{}, NotFound("partner", id)
	}
	if err != nil {
		return Partner{}, fmt.Errorf("read partner %d: %w", id, err)
	}
	return p, nil
}

// PartnerFilter selects partners; zero fields select all.
type PartnerFilter struct {
	// TierID selects the tier's current members.
	TierID int64
	Page
}

// Partners lists partners in id order.
func (s *Store) Partners(ctx context.Context, f PartnerFilter) ([]Partner, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+partnerColumns+` FROM partners
		WHERE id > $1 AND ($2 = 0 OR tier_id = $2) ORDER BY id LIMIT $3`, f.After, f.TierID, f.limit())
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partner, error) { return scanPartner(r) })
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	return ps, nil
}

// UpdatePartner changes a partner; a new tier_id moves it to that tier.
func (s *Store) UpdatePartner(ctx context.Context, id int64, in PartnerPatch) (Partner, error) {
	if err := in.Validate(); err != nil {
		return Partner{}, err
	}
	var p Partner
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var tierID *int64
		if in.TierID != nil {
			t, err := memberTier(ctx, tx, in.TierID)
			if err != nil {
				return err
			}
			tierID = &t
		}
		var err error
		p, err = scanPartner(tx.QueryRow(ctx, `UPDATE partners SET name = coalesce($2, name), status = coalesce($3, status),
				tier_id = coalesce($4, tier_id)
			WHERE id = $1 RETURNING `+partnerColumns, id, in.Name, in.Status, tierID))
		if errors.Is(err, pgx.ErrNoRows) {
			return NotFound("partner", id)
		}
		if err != nil {
			return fmt.Errorf("update partner %d: %w", id, err)
		}
		return nil
	})
	return p, err
}

// Approval lets a partner run an offer whatever the offer's visibility.
type Approval struct {
	PartnerID int64     `json:"partner_id"`
	OfferID   int64     `json:"offer_id"`
	CreatedAt time.Time `json:"created_at"`
}

// partnerAndOffer returns NotFound unless both exist.
func partnerAndOffer(ctx context.Context, q dbtx, partnerID, offerID int64) error {
	var partner, offer bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1), EXISTS (SELECT 1 FROM offers WHERE id = $2)`,
		partnerID, offerID).Scan(&partner, &offer)
	switch {
	case err != nil:
		return fmt.Errorf("check partner %d and offer %d: %w", partnerID, offerID, err)
	case !partner:
		return NotFound("partner", partnerID)
	case !offer:
		return NotFound("offer", offerID)
	}
	return nil
}

// ApproveOffer approves a partner for an offer; approving twice keeps the
// first approval.
func (s *Store) ApproveOffer(ctx context.Context, partnerID, offerID int64) (Approval, error) {
	if err := partnerAndOffer(ctx, s.pool, partnerID, offerID); err != nil {
		return Approval{}, err
	}
	a := Approval{PartnerID: partnerID, OfferID: offerID}
	err := s.pool.QueryRow(ctx, `WITH added AS (
			INSERT INTO offer_approvals (partner_id, offer_id) VALUES ($1, $2)
			ON CONFLICT (partner_id, offer_id) DO NOTHING RETURNING created_at)
		SELECT created_at FROM added
		UNION ALL SELECT created_at FROM offer_approvals WHERE partner_id = $1 AND offer_id = $2`,
		partnerID, offerID).Scan(&a.CreatedAt)
	if isForeignKeyViolation(err) { // deleted meanwhile
		return Approval{}, NotFound("partner or offer", fmt.Sprintf("%d/%d", partnerID, offerID))
	}
	if err != nil {
		return Approval{}, fmt.Errorf("approve partner %d for offer %d: %w", partnerID, offerID, err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// RevokeApproval removes a partner's approval for an offer, if it has one.
func (s *Store) RevokeApproval(ctx context.Context, partnerID, offerID int64) error {
	if err := partnerAndOffer(ctx, s.pool, partnerID, offerID); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM offer_approvals WHERE partner_id = $1 AND offer_id = $2`, partnerID, offerID); err != nil {
		return fmt.Errorf("revoke approval of partner %d for offer %d: %w", partnerID, offerID, err)
	}
	return nil
}

// Approvals lists a partner's approvals in offer id order; the page cursor
// is the offer id.
func (s *Store) Approvals(ctx context.Context, partnerID int64, page Page) ([]Approval, error) {
	ok, err := exists(ctx, s.pool, "partners", partnerID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, NotFound("partner", partnerID)
	}
	rows, err := s.pool.Query(ctx, `SELECT partner_id, offer_id, created_at FROM offer_approvals
		WHERE partner_id = $1 AND offer_id > $2 ORDER BY offer_id LIMIT $3`, partnerID, page.After, page.limit())
	if err != nil {
		return nil, fmt.Errorf("list approvals of partner %d: %w", partnerID, err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Approval, error) {
		var a Approval
		err := r.Scan(&a.PartnerID, &a.OfferID, &a.CreatedAt)
		a.CreatedAt = a.CreatedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list approvals of partner %d: %w", partnerID, err)
	}
	return as, nil
}
