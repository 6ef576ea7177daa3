package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConversionFilter selects conversions for the conversion report. Zero
// fields do not filter.
type ConversionFilter struct {
	From, To     time.Time // occurred_at in [From, To)
	PartnerID    int64
	OfferID      int64
	AdvertiserID int64
	TierID       int64 // partners currently in the tier, whatever the date of the activity
	Status       string
	// RejectionReason selects rejected conversions with this reason.
	RejectionReason string
	UserID          string
	After           int64 // cursor: ids greater than this
	Limit           int

	// Priced, when set, keeps the priced conversions (true) or the backlog
	// (false): approved conversions not priced yet. Pending and rejected
	// conversions wait for no pricing and are never in the backlog.
	Priced *bool
}

// ListConversions returns conversions matching f in id order.
func (s *Store) ListConversions(ctx context.Context, f ConversionFilter) ([]Conversion, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	add("id > $%d", f.After)
	if !f.From.IsZero() {
		add("occurred_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < $%d", f.To)
	}
	if f.PartnerID != 0 {
		add("partner_id = $%d", f.PartnerID)
	}
	if f.OfferID != 0 {
		add("offer_id = $%d", f.OfferID)
	}
	if f.AdvertiserID != 0 {
		add("advertiser_id = $%d", f.AdvertiserID)
	}
	if f.TierID != 0 {
		add("partner_id IN (SELECT id FROM partners WHERE tier_id = $%d)", f.TierID)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.RejectionReason != "" {
		add("rejection_reason = $%d", f.RejectionReason)
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	switch {
	case f.Priced == nil:
	case *f.Priced:
		where = append(where, "priced_at IS NOT NULL")
	default:
		where = append(where, "priced_at IS NULL AND status = 'approved'")
	}
	args = append(args, f.Limit)
	rows, err := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE `+
		strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list conversions: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversion, error) { return scanConversion(r) })
	if err != nil {
		return nil, fmt.Errorf("list conversions: %w", err)
	}
	return cs, nil
}

// NetworkTimeZone is the network's time zone.
func (s *Store) NetworkTimeZone(ctx context.Context) (*time.Location, error) {
	return networkLocation(ctx, s.pool)
}
