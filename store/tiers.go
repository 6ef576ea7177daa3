package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/limits"
)

// Partner Tier statuses.
const (
	TierActive   = "active"
	TierInactive = "inactive"
)

// PartnerTier is a group of partners with a margin goal (seed 002, DESIGN.md
// §6). Exactly one tier is the default, which new partners join; it is
// always active. Partners never see tiers.
type PartnerTier struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Description string `json:"description"` // internal only
	// Margin is the network's share of the revenue in percent (0–100): with
	// "apply margin" on, a partner earns (100 − margin)% of the revenue.
	Margin       decimal.Decimal `json:"margin"`
	IsDefault    bool            `json:"is_default"`
	PartnerCount int64           `json:"partner_count"`
	CreatedAt    time.Time       `json:"created_at"`
}

// TierDetail is a tier with the offers it lists and its members.
type TierDetail struct {
	PartnerTier
	Offers     []TierOffer `json:"offers"`
	PartnerIDs []int64     `json:"partner_ids"`
}

// TierOffer is an offer listed in a tier with its two toggles, which override
// the offer's own settings for the tier's members.
type TierOffer struct {
	OfferID   int64  `json:"offer_id"`
	OfferName string `json:"offer_name"`
	// AutoApprove lets the tier's members run the offer even when it is
	// private or requires approval.
	AutoApprove bool `json:"auto_approve"`
	// ApplyMargin pays the tier's members (100 − margin)% of the revenue
	// instead of the offer's default payout.
	ApplyMargin bool `json:"apply_margin"`
}

// TierInput creates a tier.
type TierInput struct {
	Name        string          `json:"name"`
	Status      string          `json:"status"` // default active
	Description string          `json:"description"`
	Margin      decimal.Decimal `json:"margin"`
	// PartnerIDs move into the new tier from whichever tier they are in.
	PartnerIDs []int64 `json:"partner_ids"`
	// IsDefault makes the new tier the default one (the old default stops
	// being it); the default tier must be active.
	IsDefault bool `json:"is_default"`
}

// Validate returns every problem with the input at once.
func (in TierInput) Validate() error {
	var p Problems
	checkName(&p, "name", in.Name)
	if in.Status != "" {
		checkOneOf(&p, "status", in.Status, TierActive, TierInactive)
		if in.IsDefault && in.Status != TierActive {
			p.Add("status", "must be active for the default tier")
		}
	}
	checkText(&p, "description", in.Description, maxDescriptionLength, true)
	checkMargin(&p, in.Margin)
	checkPartnerIDs(&p, in.PartnerIDs)
	return p.Err()
}

// TierPatch changes the fields it sets. The default tier cannot be
// deactivated (Conflict); make another tier the default first.
type TierPatch struct {
	Name        *string          `json:"name"`
	Status      *string          `json:"status"`
	Description *string          `json:"description"`
	Margin      *decimal.Decimal `json:"margin"`
}

// Validate returns every problem with the patch at once.
func (in TierPatch) Validate() error {
	var p Problems
	if in.Name != nil {
		checkName(&p, "name", *in.Name)
	}
	if in.Status != nil {
		checkOneOf(&p, "status", *in.Status, TierActive, TierInactive)
	}
	if in.Margin != nil {
		checkMargin(&p, *in.Margin)
	}
	if in.Description != nil {
		checkText(&p, "description", *in.Description, maxDescriptionLength, true)
	}
	return p.Err()
}

// TierOfferInput sets the toggles of an offer in a tier.
type TierOfferInput struct {
	AutoApprove bool `json:"auto_approve"`
	ApplyMargin bool `json:"apply_margin"`
}

var hundred = decimal.NewFromInt(100)

// maxDescriptionLength bounds a tier's internal description.
const maxDescriptionLength = 2000

func checkMargin(p *Problems, margin decimal.Decimal) {
	if margin.IsNegative() || margin.GreaterThan(hundred) {
		p.Add("margin", "must be a percent from 0 to 100, got %s", limits.Clip(margin.String()))
		return
	}
	checkBound(p, "margin", margin, limits.Percent)
}

func checkPartnerIDs(p *Problems, ids []int64) {
	for i, id := range ids {
		if id <= 0 {
			p.Add(fmt.Sprintf("partner_ids[%d]", i), "must be a positive id, got %d", id)
		}
	}
}

// tiersLock serialises the writes that move partners between tiers or move
// the default flag, so there is always exactly one default tier and no
// partner is left in a deleted tier.
const tiersLock = 0x7469657273 // "tiers"

func lockTiers(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(tiersLock)); err != nil {
		return fmt.Errorf("lock partner tiers: %w", err)
	}
	return nil
}

// defaultTierID returns the id of the default tier.
func defaultTierID(ctx context.Context, q dbtx) (int64, error) {
	var id int64
	if err := q.QueryRow(ctx, `SELECT id FROM partner_tiers WHERE is_default`).Scan(&id); err != nil {
		return 0, fmt.Errorf("read default tier: %w", err)
	}
	return id, nil
}

const tierColumns = `id, name, status, description, margin, is_default,
	(SELECT count(*) FROM partners p WHERE p.tier_id = partner_tiers.id), created_at`

func scanTier(row pgx.Row) (PartnerTier, error) {
	var t PartnerTier
	err := row.Scan(&t.ID, &t.Name, &t.Status, &t.Description, &t.Margin, &t.IsDefault, &t.PartnerCount, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// tier reads one tier.
func tier(ctx context.Context, q dbtx, id int64) (PartnerTier, error) {
	t, err := scanTier(q.QueryRow(ctx, `SELECT `+tierColumns+` FROM partner_tiers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return PartnerTier{}, NotFound("tier", id)
	}
	if err != nil {
		return PartnerTier{}, fmt.Errorf("read tier %d: %w", id, err)
	}
	return t, nil
}

// checkPartnersExist returns a problem with partner_ids naming the unknown
// ones.
func checkPartnersExist(ctx context.Context, q dbtx, ids []int64) error {
	missing, err := missingIDs(ctx, q, "partners", ids)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return Invalid("partner_ids", "no partners %s", idList(missing))
	}
	return nil
}

// CreateTier stores a tier, moves the given partners into it and, with
// IsDefault, makes it the default tier, all in one transaction.
func (s *Store) CreateTier(ctx context.Context, in TierInput) (TierDetail, error) {
	if err := in.Validate(); err != nil {
		return TierDetail{}, err
	}
	if in.Status == "" {
		in.Status = TierActive
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockTiers(ctx, tx); err != nil {
			return err
		}
		if err := checkPartnersExist(ctx, tx, in.PartnerIDs); err != nil {
			return err
		}
		if in.IsDefault {
			if _, err := tx.Exec(ctx, `UPDATE partner_tiers SET is_default = false WHERE is_default`); err != nil {
				return fmt.Errorf("move the default tier: %w", err)
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO partner_tiers (name, status, description, margin, is_default)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, in.Name, in.Status, in.Description, in.Margin, in.IsDefault).Scan(&id); err != nil {
			return fmt.Errorf("create tier: %w", err)
		}
		return movePartners(ctx, tx, id, in.PartnerIDs)
	})
	if err != nil {
		return TierDetail{}, err
	}
	return s.Tier(ctx, id)
}

func movePartners(ctx context.Context, tx pgx.Tx, tierID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE partners SET tier_id = $1 WHERE id = ANY($2) AND tier_id <> $1`, tierID, ids); err != nil {
		return fmt.Errorf("move partners into tier %d: %w", tierID, err)
	}
	return nil
}

// Tier returns a tier with its offers and members.
func (s *Store) Tier(ctx context.Context, id int64) (TierDetail, error) {
	t, err := tier(ctx, s.pool, id)
	if err != nil {
		return TierDetail{}, err
	}
	d := TierDetail{PartnerTier: t}
	rows, err := s.pool.Query(ctx, `SELECT o.offer_id, f.name, o.auto_approve, o.apply_margin
		FROM tier_offers o JOIN offers f ON f.id = o.offer_id WHERE o.tier_id = $1 ORDER BY o.offer_id`, id)
	if err != nil {
		return TierDetail{}, fmt.Errorf("read offers of tier %d: %w", id, err)
	}
	d.Offers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[TierOffer])
	if err != nil {
		return TierDetail{}, fmt.Errorf("read offers of tier %d: %w", id, err)
	}
	rows, err = s.pool.Query(ctx, `SELECT id FROM partners WHERE tier_id = $1 ORDER BY id`, id)
	if err != nil {
		return TierDetail{}, fmt.Errorf("read partners of tier %d: %w", id, err)
	}
	d.PartnerIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return TierDetail{}, fmt.Errorf("read partners of tier %d: %w", id, err)
	}
	return d, nil
}

// Tiers lists tiers in id order.
func (s *Store) Tiers(ctx context.Context, page Page) ([]PartnerTier, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tierColumns+` FROM partner_tiers WHERE id > $1 ORDER BY id LIMIT $2`,
		page.After, page.limit())
	if err != nil {
		return nil, fmt.Errorf("list tiers: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartnerTier, error) { return scanTier(r) })
	if err != nil {
		return nil, fmt.Errorf("list tiers: %w", err)
	}
	return ts, nil
}

// UpdateTier changes a tier. Deactivating the default tier is a Conflict.
func (s *Store) UpdateTier(ctx context.Context, id int64, in TierPatch) (PartnerTier, error) {
	if err := in.Validate(); err != nil {
		return PartnerTier{}, err
	}
	var t PartnerTier
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockTiers(ctx, tx); err != nil {
			return err
		}
		old, err := tier(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.IsDefault && in.Status != nil && *in.Status != TierActive {
			return Conflict("tier %d is the default tier and must stay active; make another tier the default first", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE partner_tiers SET name = coalesce($2, name), status = coalesce($3, status),
				description = coalesce($4, description), margin = coalesce($5, margin)
			WHERE id = $1`, id, in.Name, in.Status, in.Description, in.Margin); err != nil {
			return fmt.Errorf("update tier %d: %w", id, err)
		}
		t, err = tier(ctx, tx, id)
		return err
	})
	return t, err
}

// MakeDefaultTier makes an active tier the default one, in one transaction
// with removing the flag from the old default. New partners join it from now
// on; existing members of the old default stay where they are.
func (s *Store) MakeDefaultTier(ctx context.Context, id int64) (PartnerTier, error) {
	var t PartnerTier
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockTiers(ctx, tx); err != nil {
			return err
		}
		old, err := tier(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.Status != TierActive {
			return Conflict("tier %d is inactive; activate it before making it the default", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE partner_tiers SET is_default = false WHERE is_default AND id <> $1`, id); err != nil {
			return fmt.Errorf("move the default tier: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE partner_tiers SET is_default = true WHERE id = $1`, id); err != nil {
			return fmt.Errorf("move the default tier: %w", err)
		}
		t, err = tier(ctx, tx, id)
		return err
	})
	return t, err
}

// DeleteTier deletes a tier that is not the default one (Conflict) and moves
// its partners to the default tier.
func (s *Store) DeleteTier(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockTiers(ctx, tx); err != nil {
			return err
		}
		t, err := tier(ctx, tx, id)
		if err != nil {
			return err
		}
		if t.IsDefault {
			return Conflict("tier %d is the default tier; make another tier the default before deleting it", id)
		}
		def, err := defaultTierID(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE partners SET tier_id = $2 WHERE tier_id = $1`, id, def); err != nil {
			return fmt.Errorf("move partners of tier %d to the default tier: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM partner_tiers WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete tier %d: %w", id, err)
		}
		return nil
	})
}

// TierPartnersInput is the full list of a tier's members.
type TierPartnersInput struct {
	PartnerIDs []int64 `json:"partner_ids"`
}

// Validate returns every problem with the input at once.
func (in TierPartnersInput) Validate() error {
	var p Problems
	if in.PartnerIDs == nil {
		p.Add("partner_ids", "is required: the full list of the tier's partners ([] for none)")
	}
	checkPartnerIDs(&p, in.PartnerIDs)
	return p.Err()
}

// SetTierPartners makes the listed partners the tier's members: they move
// into it from wherever they are, and members not listed go back to the
// default tier. The default tier's members can leave only by joining another
// tier, so leaving one out here is a Conflict.
func (s *Store) SetTierPartners(ctx context.Context, id int64, in TierPartnersInput) (TierDetail, error) {
	if err := in.Validate(); err != nil {
		return TierDetail{}, err
	}
	ids := in.PartnerIDs
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockTiers(ctx, tx); err != nil {
			return err
		}
		t, err := tier(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkPartnersExist(ctx, tx, ids); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM partners WHERE tier_id = $1 AND NOT (id = ANY($2)) ORDER BY id`, id, ids)
		if err != nil {
			return fmt.Errorf("read partners leaving tier %d: %w", id, err)
		}
		leaving, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("read partners leaving tier %d: %w", id, err)
		}
		if len(leaving) > 0 {
			if t.IsDefault {
				return Conflict("tier %d is the default tier: partners %s can leave it only by joining another tier", id, idList(leaving))
			}
			def, err := defaultTierID(ctx, tx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE partners SET tier_id = $2 WHERE id = ANY($1)`, leaving, def); err != nil {
				return fmt.Errorf("move partners back to the default tier: %w", err)
			}
		}
		return movePartners(ctx, tx, id, ids)
	})
	if err != nil {
		return TierDetail{}, err
	}
	return s.Tier(ctx, id)
}

// tierAndOffer returns NotFound unless both exist.
func tierAndOffer(ctx context.Context, q dbtx, tierID, offerID int64) error {
	var tier, offer bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partner_tiers WHERE id = $1), EXISTS (SELECT 1 FROM offers WHERE id = $2)`,
		tierID, offerID).Scan(&tier, &offer)
	switch {
	case err != nil:
		return fmt.Errorf("check tier %d and offer %d: %w", tierID, offerID, err)
	case !tier:
		return NotFound("tier", tierID)
	case !offer:
		return NotFound("offer", offerID)
	}
	return nil
}

// SetTierOffer lists an offer in a tier with the given toggles, or changes
// the toggles of a listed one.
func (s *Store) SetTierOffer(ctx context.Context, tierID, offerID int64, in TierOfferInput) (TierOffer, error) {
	if err := tierAndOffer(ctx, s.pool, tierID, offerID); err != nil {
		return TierOffer{}, err
	}
	rows, err := s.pool.Query(ctx, `WITH set AS (
			INSERT INTO tier_offers (tier_id, offer_id, auto_approve, apply_margin) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tier_id, offer_id) DO UPDATE SET auto_approve = excluded.auto_approve, apply_margin = excluded.apply_margin
			RETURNING offer_id, auto_approve, apply_margin)
		SELECT set.offer_id, o.name, set.auto_approve, set.apply_margin FROM set JOIN offers o ON o.id = set.offer_id`,
		tierID, offerID, in.AutoApprove, in.ApplyMargin)
	if err != nil {
		return TierOffer{}, fmt.Errorf("list offer %d in tier %d: %w", offerID, tierID, err)
	}
	to, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[TierOffer])
	if isForeignKeyViolation(err) { // deleted meanwhile
		return TierOffer{}, NotFound("tier or offer", fmt.Sprintf("%d/%d", tierID, offerID))
	}
	if err != nil {
		return TierOffer{}, fmt.Errorf("list offer %d in tier %d: %w", offerID, tierID, err)
	}
	return to, nil
}

// RemoveTierOffer takes an offer out of a tier, if it is listed.
func (s *Store) RemoveTierOffer(ctx context.Context, tierID, offerID int64) error {
	if err := tierAndOffer(ctx, s.pool, tierID, offerID); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM tier_offers WHERE tier_id = $1 AND offer_id = $2`, tierID, offerID); err != nil {
		return fmt.Errorf("remove offer %d from tier %d: %w", offerID, tierID, err)
	}
	return nil
}
