package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pipeline is how far pricing is behind the postbacks.
type Pipeline struct {
	// Unpriced counts approved conversions accepted but not priced yet;
	// OldestUnpriced is when the oldest of them was accepted.
	Unpriced       int64      `json:"unpriced"`
	OldestUnpriced *time.Time `json:"oldest_unpriced,omitempty"`
	// Stuck counts the conversions whose signal to their customer's
	// workflow failed StuckAfterAttempts times or more: they need an
	// operator (GET /conversions?state=stuck lists them).
	Stuck int64 `json:"stuck"`
	// LagP50 and LagP95 are the time from accept to priced of the
	// conversions priced in the last LagWindow (nil when none were).
	LagP50    *time.Duration `json:"lag_p50,omitempty"`
	LagP95    *time.Duration `json:"lag_p95,omitempty"`
	LagCount  int64          `json:"lag_count"`
	LagWindow time.Duration  `json:"-"`
}

// The pipeline's thresholds.
const (
	LagWindow = time.Hour
)

// ConversionPipeline measures the pricing backlog at now.
func (s *Store) ConversionPipeline(ctx context.Context, now time.Time) (Pipeline, error) {
	p := Pipeline{LagWindow: LagWindow}
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(received_at),
			count(*) FILTER (WHERE signalled_at IS NULL AND signal_attempts >= $1)
		FROM conversions WHERE status = 'approved' AND priced_at IS NULL`, StuckAfterAttempts).
		Scan(&p.Unpriced, &p.OldestUnpriced, &p.Stuck)
	if err != nil {
		return Pipeline{}, fmt.Errorf("measure the pricing backlog: %w", err)
	}
	p.OldestUnpriced = utcPtr(p.OldestUnpriced)
	var p50, p95 *float64
	err = s.pool.QueryRow(ctx, `SELECT count(*),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM priced_at - received_at)),
			percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM priced_at - received_at))
		FROM conversions WHERE priced_at >= $1 AND priced_at <= $2`, now.Add(-LagWindow), now).Scan(&p.LagCount, &p50, &p95)
	if err != nil {
		return Pipeline{}, fmt.Errorf("measure the pricing lag: %w", err)
	}
	seconds := func(f *float64) *time.Duration {
		if f == nil {
			return nil
		}
		d := time.Duration(*f * float64(time.Second)).Round(time.Millisecond)
		return &d
	}
	p.LagP50, p.LagP95 = seconds(p50), seconds(p95)
	return p, nil
}

// BandChange is a commission cycle that reached a band.
type BandChange struct {
	CycleKey
	Band      int       `json:"band"`
	ReachedAt time.Time `json:"reached_at"`
}

// BandChanges lists the cycles whose band rose most recently, newest first.
func (s *Store) BandChanges(ctx context.Context, limit int) ([]BandChange, error) {
	rows, err := s.pool.Query(ctx, `SELECT rule_id, partner_id, offer_id, period_start, band, band_reached_at
		FROM commission_cycles WHERE band_reached_at IS NOT NULL ORDER BY band_reached_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list band changes: %w", err)
	}
	changes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (BandChange, error) {
		var c BandChange
		err := r.Scan(&c.RuleID, &c.PartnerID, &c.OfferID, &c.PeriodStart, &c.Band, &c.ReachedAt)
		c.PeriodStart, c.ReachedAt = c.PeriodStart.UTC(), c.ReachedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list band changes: %w", err)
	}
	return changes, nil
}
