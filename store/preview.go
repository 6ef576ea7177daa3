package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/tiered"
)

// PreviewConversion is a priced conversion as the what-if preview replays
// it: its facts, its layer 1–3 lines by reason (as priced, refunded and
// edited), whether it is paid or reversed, and what the ledger holds for it
// now.
type PreviewConversion struct {
	ID           int64
	AdvertiserID int64
	OfferID      int64
	PartnerID    int64
	Event        string
	UserID       string
	Currency     string
	OccurredAt   time.Time
	PricedAt     time.Time
	// SaleAmount is as the postback sent it; RefundedSale what refunds took
	// off it so far.
	SaleAmount   decimal.Decimal
	RefundedSale decimal.Decimal
	// The sums of its layer 1–3 lines: as priced (reason price), the
	// refunds' differences (refund) and the manual edits' (manual).
	PricedPayout, PricedRevenue decimal.Decimal
	RefundPayout, RefundRevenue decimal.Decimal
	ManualPayout, ManualRevenue decimal.Decimal
	// Paid is true once any of its payout lines is in a payout run; PaidAt
	// is when the first such run was made.
	Paid   bool
	PaidAt time.Time
	// Reversed is true for a conversion reversed (or rejected) after it was
	// priced: its lines are offset and it counts nowhere. ReversedAt is
	// when: its reversal lines' time, else its reversal signal's; zero when
	// neither was written (a conversion of no amount and no customer).
	Reversed   bool
	ReversedAt time.Time
	// Refunds are its partial refunds in the order they were made.
	Refunds []PreviewRefund
	// Payout and Revenue are its totals in the ledger now.
	Payout  decimal.Decimal
	Revenue decimal.Decimal
	Data    map[string]string
}

// PreviewRefund is one partial refund as the preview replays it: when, the
// sale amount it refunded, and its layer 1–3 lines (negative or zero).
type PreviewRefund struct {
	At         time.Time       `json:"at"`
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Payout     decimal.Decimal `json:"payout"`
	Revenue    decimal.Decimal `json:"revenue"`
}

// PreviewFilter selects the conversions a preview replays: priced ones
// that occurred in [From, To), at most Limit of them (the first in pricing
// order).
type PreviewFilter struct {
	From, To time.Time
	Limit    int
}

// CountPreviewConversions counts the conversions f selects, up to
// f.Limit + 1, so a caller learns whether f.Limit cuts them.
func (s *Store) CountPreviewConversions(ctx context.Context, f PreviewFilter) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM conversions
			WHERE priced_at IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2 LIMIT $3) c`,
		f.From, f.To, f.Limit+1).Scan(&n); err != nil {
		return 0, fmt.Errorf("count conversions to preview: %w", err)
	}
	return n, nil
}

// EachPreviewConversion calls fn with each conversion f selects, in the
// order they were priced (priced_at, then id), reading them in one
// statement; an error of fn stops it and is returned.
func (s *Store) EachPreviewConversion(ctx context.Context, f PreviewFilter, fn func(PreviewConversion) error) error {
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.advertiser_id, c.offer_id, c.partner_id, c.event, coalesce(c.user_id, ''),
			c.currency, c.occurred_at, c.priced_at, c.sale_amount,
			coalesce((SELECT sum(sale_amount) FROM refunds r WHERE r.conversion_id = c.id), 0),
			coalesce(l.priced_payout, 0), coalesce(l.priced_revenue, 0),
			coalesce(l.refund_payout, 0), coalesce(l.refund_revenue, 0),
			coalesce(l.manual_payout, 0), coalesce(l.manual_revenue, 0),
			coalesce(l.paid, false), (SELECT min(pr.created_at) FROM ledger_lines pl JOIN payout_runs pr ON pr.id = pl.payout_run_id
				WHERE pl.conversion_id = c.id AND pl.kind = 'payout'),
			c.reversed_at IS NOT NULL OR c.status <> 'approved',
			CASE WHEN c.reversed_at IS NOT NULL OR c.status <> 'approved' THEN coalesce(c.reversed_at, l.reversed_at,
				(SELECT min(created_at) FROM lifecycle_signals s WHERE s.conversion_id = c.id AND s.kind = 'reversal')) END,
			coalesce((SELECT json_agg(json_build_object('at', r.created_at, 'sale_amount', r.sale_amount,
					'payout', coalesce(rl.payout, 0), 'revenue', coalesce(rl.revenue, 0)) ORDER BY r.created_at, r.id)
				FROM refunds r
				LEFT JOIN LATERAL (SELECT sum(amount) FILTER (WHERE kind = 'payout') AS payout,
						sum(amount) FILTER (WHERE kind = 'revenue') AS revenue
					FROM ledger_lines WHERE conversion_id = c.id AND reason = 'refund' AND key = 'refund:' || r.id) rl ON true
				WHERE r.conversion_id = c.id), '[]'),
			c.payout, c.revenue, c.data
		FROM conversions c
		LEFT JOIN LATERAL (SELECT
				sum(amount) FILTER (WHERE kind = 'payout' AND reason = 'price') AS priced_payout,
				sum(amount) FILTER (WHERE kind = 'revenue' AND reason = 'price') AS priced_revenue,
				sum(amount) FILTER (WHERE kind = 'payout' AND reason = 'refund') AS refund_payout,
				sum(amount) FILTER (WHERE kind = 'revenue' AND reason = 'refund') AS refund_revenue,
				sum(amount) FILTER (WHERE kind = 'payout' AND reason = 'manual') AS manual_payout,
				sum(amount) FILTER (WHERE kind = 'revenue' AND reason = 'manual') AS manual_revenue,
				bool_or(kind = 'payout' AND payout_run_id IS NOT NULL) AS paid,
				min(created_at) FILTER (WHERE reason = 'reversal') AS reversed_at
			FROM ledger_lines WHERE conversion_id = c.id) l ON true
		WHERE c.priced_at IS NOT NULL AND c.occurred_at >= $1 AND c.occurred_at < $2
		ORDER BY c.priced_at, c.id LIMIT $3`, f.From, f.To, f.Limit)
	if err != nil {
		return fmt.Errorf("read conversions to preview: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c PreviewConversion
		var data map[string]any
		var paidAt, reversedAt *time.Time
		var refunds []byte
		if err := rows.Scan(&c.ID, &c.AdvertiserID, &c.OfferID, &c.PartnerID, &c.Event, &c.UserID, &c.Currency,
			&c.OccurredAt, &c.PricedAt, &c.SaleAmount, &c.RefundedSale,
			&c.PricedPayout, &c.PricedRevenue, &c.RefundPayout, &c.RefundRevenue, &c.ManualPayout, &c.ManualRevenue,
			&c.Paid, &paidAt, &c.Reversed, &reversedAt, &refunds, &c.Payout, &c.Revenue, &data); err != nil {
			return fmt.Errorf("read conversion to preview: %w", err)
		}
		c.OccurredAt, c.PricedAt = c.OccurredAt.UTC(), c.PricedAt.UTC()
		if paidAt != nil {
			c.PaidAt = paidAt.UTC()
		}
		if reversedAt != nil {
			c.ReversedAt = reversedAt.UTC()
		}
		if err := json.Unmarshal(refunds, &c.Refunds); err != nil {
			return fmt.Errorf("read refunds of conversion %d to preview: %w", c.ID, err)
		}
		for i := range c.Refunds {
			c.Refunds[i].At = c.Refunds[i].At.UTC()
		}
		if len(data) > 0 {
			c.Data = make(map[string]string, len(data))
			for k, v := range data {
				c.Data[k] = fmt.Sprint(v)
			}
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read conversions to preview: %w", err)
	}
	return nil
}

// errDryRun rolls back a transaction that only checks.
var errDryRun = errors.New("dry run")

// ValidateCustomerValueRule checks a rule and its inline data points as
// CreateCustomerValueRule does (the same checks, in a transaction that
// writes nothing) and returns the rule with its condition types resolved
// and Active as in.Active says (nil: active). Problems name fields as
// CreateCustomerValueRule's do: "rule.conditions[1].operator",
// "data_points[0].identifier".
func (s *Store) ValidateCustomerValueRule(ctx context.Context, in CustomerValueRuleInput) (customervalue.Rule, error) {
	rule := in.Rule
	rule.Active = in.Active == nil || *in.Active
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := checkCustomerValueRule(ctx, tx, &rule, in.DataPoints); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return rule, nil
	}
	return customervalue.Rule{}, err
}

// ValidateTieredRule checks a rule as CreateTieredRule does, writing
// nothing: its own problems and the ids it names.
func (s *Store) ValidateTieredRule(ctx context.Context, r tiered.Rule) error {
	if err := validTieredRule(r); err != nil {
		return err
	}
	return tieredRuleReferences(ctx, s.pool, r)
}

// DataPointNames maps the identifier of every data point to its
// name, for rule summaries.
func (s *Store) DataPointNames(ctx context.Context) (map[string]string, error) {
	dps, err := allDataPoints(ctx, s.pool, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(dps))
	for _, dp := range dps {
		out[dp.Identifier] = dp.Name
	}
	return out, nil
}
