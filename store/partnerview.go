package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// PartnerEarnings is what one partner earned in one period and currency,
// as the partner sees it: conversions awaiting approval (they pay nothing
// until approved), the payout earned and not paid yet, and the payout paid
// in payout runs.
type PartnerEarnings struct {
	Period      string          `json:"period"` // the month, YYYY-MM in the network's time zone
	Currency    string          `json:"currency"`
	Conversions int64           `json:"conversions"`
	Pending     int64           `json:"pending"`  // conversions awaiting approval
	Approved    int64           `json:"approved"` // approved conversions
	Rejected    int64           `json:"rejected"`
	Unpaid      decimal.Decimal `json:"unpaid"` // payout lines not in a payout run yet (negative ones too)
	Paid        decimal.Decimal `json:"paid"`   // payout lines paid in a payout run
}

// PartnerEarnings sums a partner's conversions and payout lines per month
// of the conversions' own time (in loc) and currency, newest month first,
// over conversions that occurred in [from, to) (zero times: no bound).
func (s *Store) PartnerEarnings(ctx context.Context, partnerID int64, from, to time.Time, loc *time.Location) ([]PartnerEarnings, error) {
	var fromArg, toArg *time.Time
	if !from.IsZero() {
		fromArg = &from
	}
	if !to.IsZero() {
		toArg = &to
	}
	rows, err := s.pool.Query(ctx, `SELECT to_char(c.occurred_at AT TIME ZONE $2, 'YYYY-MM'), c.currency, count(*),
			count(*) FILTER (WHERE c.status = 'pending'), count(*) FILTER (WHERE c.status = 'approved'),
			count(*) FILTER (WHERE c.status = 'rejected'),
			coalesce(sum(l.unpaid), 0), coalesce(sum(l.paid), 0)
		FROM conversions c
		LEFT JOIN LATERAL (SELECT sum(amount) FILTER (WHERE payout_run_id IS NULL) AS unpaid,
				sum(amount) FILTER (WHERE payout_run_id IS NOT NULL) AS paid
			FROM ledger_lines WHERE conversion_id = c.id AND kind = 'payout') l ON true
		WHERE c.partner_id = $1 AND ($3::timestamptz IS NULL OR c.occurred_at >= $3) AND ($4::timestamptz IS NULL OR c.occurred_at < $4)
		GROUP BY 1, 2 ORDER BY 1 DESC, 2`, partnerID, loc.String(), fromArg, toArg)
	if err != nil {
		return nil, fmt.Errorf("sum earnings of partner %d: %w", partnerID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartnerEarnings, error) {
		var e PartnerEarnings
		err := r.Scan(&e.Period, &e.Currency, &e.Conversions, &e.Pending, &e.Approved, &e.Rejected, &e.Unpaid, &e.Paid)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("sum earnings of partner %d: %w", partnerID, err)
	}
	return out, nil
}
