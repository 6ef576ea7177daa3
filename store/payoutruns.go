package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

const payoutRunColumns = `id, partner_id, to_char(cutoff, 'YYYY-MM-DD'), total, line_count, created_at`

func scanPayoutRun(row pgx.Row) (PayoutRun, error) {
	var r PayoutRun
	err := row.Scan(&r.ID, &r.PartnerID, &r.Cutoff, &r.Total, &r.LineCount, &r.CreatedAt)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

// PayoutRuns lists payout runs, newest first; the cursor is the id of the
// last run of the previous page (runs with a lower id follow).
func (s *Store) PayoutRuns(ctx context.Context, page Page) ([]PayoutRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+payoutRunColumns+` FROM payout_runs
		WHERE $1 = 0 OR id < $1 ORDER BY id DESC LIMIT $2`, page.After, page.limit())
	if err != nil {
		return nil, fmt.Errorf("list payout runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PayoutRun, error) { return scanPayoutRun(r) })
	if err != nil {
		return nil, fmt.Errorf("list payout runs: %w", err)
	}
	return runs, nil
}

// PayoutRun returns one payout run.
func (s *Store) PayoutRun(ctx context.Context, id int64) (PayoutRun, error) {
	r, err := scanPayoutRun(s.pool.QueryRow(ctx, `SELECT `+payoutRunColumns+` FROM payout_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return PayoutRun{}, NotFound("payout run", id)
	}
	if err != nil {
		return PayoutRun{}, fmt.Errorf("read payout run %d: %w", id, err)
	}
	return r, nil
}

// PaidLine is a payout line of a run with what finance needs to see of its
// conversion.
type PaidLine struct {
	LedgerLine
	OfferID    int64     `json:"offer_id"`
	Event      string    `json:"event"`
	Currency   string    `json:"currency"`
	OccurredAt time.Time `json:"occurred_at"`
}

// PayoutRunLines lists a run's lines in id order; the cursor is a line id.
func (s *Store) PayoutRunLines(ctx context.Context, runID int64, page Page) ([]PaidLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.id, l.conversion_id, l.partner_id, l.kind, l.amount, l.reason, l.layer, l.note, l.key,
			l.payout_run_id, l.created_at, c.offer_id, c.event, c.currency, c.occurred_at
		FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
		WHERE l.payout_run_id = $1 AND l.id > $2 ORDER BY l.id LIMIT $3`, runID, page.After, page.limit())
	if err != nil {
		return nil, fmt.Errorf("list lines of payout run %d: %w", runID, err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PaidLine, error) {
		var l PaidLine
		err := r.Scan(&l.ID, &l.ConversionID, &l.PartnerID, &l.Kind, &l.Amount, &l.Reason, &l.Layer, &l.Note, &l.Key,
			&l.PayoutRunID, &l.CreatedAt, &l.OfferID, &l.Event, &l.Currency, &l.OccurredAt)
		l.CreatedAt, l.OccurredAt = l.CreatedAt.UTC(), l.OccurredAt.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("list lines of payout run %d: %w", runID, err)
	}
	return lines, nil
}

// PartnerTotal is what one partner is paid in one currency.
type PartnerTotal struct {
	PartnerID int64           `json:"partner_id"`
	Currency  string          `json:"currency"`
	Lines     int64           `json:"lines"`
	Amount    decimal.Decimal `json:"amount"`
}

// PayoutRunTotals sums a run per partner and currency: what finance pays
// each partner.
func (s *Store) PayoutRunTotals(ctx context.Context, runID int64) ([]PartnerTotal, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.partner_id, c.currency, count(*), sum(l.amount)
		FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
		WHERE l.payout_run_id = $1 GROUP BY l.partner_id, c.currency ORDER BY l.partner_id, c.currency`, runID)
	if err != nil {
		return nil, fmt.Errorf("sum payout run %d: %w", runID, err)
	}
	totals, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PartnerTotal])
	if err != nil {
		return nil, fmt.Errorf("sum payout run %d: %w", runID, err)
	}
	return totals, nil
}
