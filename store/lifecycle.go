package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/tiered"
)

// RefundInput is a partial refund of a conversion: a refunded sale amount
// and/or revenue.
type RefundInput struct {
	SaleAmount decimal.Decimal `json:"sale_amount"`
	Revenue    decimal.Decimal `json:"revenue"`
	Reason     string          `json:"reason"`
}

// Validate checks the refund on its own.
func (in RefundInput) Validate() error {
	var p Problems
	if in.SaleAmount.IsNegative() {
		p.Add("sale_amount", "must not be negative")
	}
	if in.Revenue.IsNegative() {
		p.Add("revenue", "must not be negative")
	}
	if in.SaleAmount.IsZero() && in.Revenue.IsZero() {
		p.Add("sale_amount", "a refund needs a sale_amount or a revenue above zero")
	}
	return p.Err()
}

// Refund is a stored partial refund.
type Refund struct {
	ID           int64           `json:"id"`
	ConversionID int64           `json:"conversion_id"`
	SaleAmount   decimal.Decimal `json:"sale_amount"`
	Revenue      decimal.Decimal `json:"revenue"`
	Reason       string          `json:"reason"`
	CreatedAt    time.Time       `json:"created_at"`
}

// Repricer computes a conversion's layer 1–3 payout and revenue under its
// original decisions after the given total refunds.
type Repricer func(c Conversion, refundedSale, refundedRevenue decimal.Decimal) (payout, revenue decimal.Decimal, err error)

// RefundConversion records a partial refund and writes the lines that bring
// the conversion's layer 1–3 amounts to what reprice says they are now. Paid
// lines are untouched: the difference is a new, unpaid line.
func (s *Store) RefundConversion(ctx context.Context, id int64, in RefundInput, reprice Repricer) (Conversion, Refund, error) {
	if err := in.Validate(); err != nil {
		return Conversion{}, Refund{}, err
	}
	var c Conversion
	var r Refund
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = lockConversion(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case c.ReversedAt != nil:
			return Conflict("conversion %d is reversed", id)
		case c.Status != StatusApproved || c.PricedAt == nil:
			return Conflict("conversion %d is %s and not priced yet; only priced conversions can be refunded", id, c.Status)
		}
		var sale, revenue decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sale_amount), 0), coalesce(sum(revenue), 0) FROM refunds WHERE conversion_id = $1`, id).
			Scan(&sale, &revenue); err != nil {
			return fmt.Errorf("sum refunds: %w", err)
		}
		sale, revenue = sale.Add(in.SaleAmount), revenue.Add(in.Revenue)
		if sale.GreaterThan(c.SaleAmount) {
			return Invalid("sale_amount", "refunds total %s, more than the sale amount %s", sale, c.SaleAmount)
		}
		payout, rev, err := reprice(c, sale, revenue)
		if err != nil {
			return err
		}
		r = Refund{ConversionID: id, SaleAmount: in.SaleAmount, Revenue: in.Revenue, Reason: in.Reason}
		if err := tx.QueryRow(ctx, `INSERT INTO refunds (conversion_id, sale_amount, revenue, reason) VALUES ($1, $2, $3, $4)
			RETURNING id, created_at`, id, in.SaleAmount, in.Revenue, in.Reason).Scan(&r.ID, &r.CreatedAt); err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		var curPayout, curRevenue decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT
				coalesce(sum(amount) FILTER (WHERE kind = 'payout'), 0),
				coalesce(sum(amount) FILTER (WHERE kind = 'revenue'), 0)
			FROM ledger_lines WHERE conversion_id = $1 AND reason IN ('price', 'refund')`, id).Scan(&curPayout, &curRevenue); err != nil {
			return fmt.Errorf("sum layer 1-3 lines: %w", err)
		}
		key := fmt.Sprintf("refund:%d", r.ID)
		note := fmt.Sprintf("refund %d: sale amount %s, revenue %s refunded", r.ID, in.SaleAmount, in.Revenue)
		var lines []NewLine
		if d := payout.Sub(curPayout); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindPayout, Amount: d, Reason: ReasonRefund, Note: note, Key: key})
		}
		if d := rev.Sub(curRevenue); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindRevenue, Amount: d, Reason: ReasonRefund, Note: note, Key: key})
		}
		if c.TieredRuleID != 0 {
			tl, err := retierLines(ctx, tx, c, tiered.Amounts{SaleAmount: c.SaleAmount.Sub(sale), Payout: payout, Revenue: rev, Currency: c.Currency}, key+":tiered", note)
			if err != nil {
				return err
			}
			lines = append(lines, tl...)
		}
		if err := appendLines(ctx, tx, c, lines); err != nil {
			return err
		}
		if err := retargetOverride(ctx, tx, c, c.SaleAmount.Sub(sale), rev, key, fmt.Sprintf("refund %d", r.ID)); err != nil {
			return err
		}
		if err := recount(ctx, tx, c, in.SaleAmount.Neg(), rev.Sub(curRevenue), payout.Sub(curPayout)); err != nil {
			return err
		}
		c, err = updateTotals(ctx, tx, id)
		return err
	})
	if err != nil {
		return Conversion{}, Refund{}, fmt.Errorf("refund conversion %d: %w", id, err)
	}
	return c, r, nil
}

// ReverseConversion reverses every line of a conversion with one negative
// line per kind. Reversing twice changes nothing more.
func (s *Store) ReverseConversion(ctx context.Context, id int64, note string) (Conversion, error) {
	var c Conversion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = lockConversion(ctx, tx, id); err != nil {
			return err
		}
		if c.ReversedAt != nil {
			return nil
		}
		if c, err = reverse(ctx, tx, c, note); err != nil {
			return err
		}
		c, err = scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET reversed_at = now() WHERE id = $1 RETURNING `+conversionColumns, id))
		return err
	})
	if err != nil {
		return Conversion{}, fmt.Errorf("reverse conversion %d: %w", id, err)
	}
	return c, nil
}

// retierLines returns the lines that bring a conversion's tiered adjustment
// to what its band gives on its new layer 1–3 amounts (DESIGN §13.13:
// percentage parts follow, flat amounts stay).
func retierLines(ctx context.Context, tx pgx.Tx, c Conversion, a tiered.Amounts, key, note string) ([]NewLine, error) {
	r, err := scanTieredRule(tx.QueryRow(ctx, `SELECT id, name, active, definition, created_at FROM tiered_rules WHERE id = $1`, c.TieredRuleID))
	if err != nil {
		return nil, fmt.Errorf("read tiered rule %d: %w", c.TieredRuleID, err)
	}
	var curPayout, curRevenue decimal.Decimal
	if err := tx.QueryRow(ctx, `SELECT
			coalesce(sum(amount) FILTER (WHERE kind = 'payout'), 0),
			coalesce(sum(amount) FILTER (WHERE kind = 'revenue'), 0)
		FROM ledger_lines WHERE conversion_id = $1 AND reason IN ('tiered', 'retro')`, c.ID).Scan(&curPayout, &curRevenue); err != nil {
		return nil, fmt.Errorf("sum tiered lines: %w", err)
	}
	res := tiered.Apply(r, c.TieredBand, a)
	var lines []NewLine
	if d := res.Payout.Sub(curPayout); !d.IsZero() {
		lines = append(lines, NewLine{Kind: KindPayout, Amount: d, Reason: ReasonTiered, Layer: "tiered_commission", Note: note, Key: key})
	}
	if d := res.Revenue.Sub(curRevenue); !d.IsZero() {
		lines = append(lines, NewLine{Kind: KindRevenue, Amount: d, Reason: ReasonTiered, Layer: "tiered_commission", Note: note, Key: key})
	}
	return lines, nil
}

func reverse(ctx context.Context, tx pgx.Tx, c Conversion, note string) (Conversion, error) {
	if err := uncount(ctx, tx, c); err != nil {
		return Conversion{}, err
	}
	var lines []NewLine
	if !c.Payout.IsZero() {
		lines = append(lines, NewLine{Kind: KindPayout, Amount: c.Payout.Neg(), Reason: ReasonReversal, Note: note, Key: "reversal"})
	}
	if !c.Revenue.IsZero() {
		lines = append(lines, NewLine{Kind: KindRevenue, Amount: c.Revenue.Neg(), Reason: ReasonReversal, Note: note, Key: "reversal"})
	}
	if err := appendLines(ctx, tx, c, lines); err != nil {
		return Conversion{}, err
	}
	return updateTotals(ctx, tx, c.ID)
}

// SetStatus moves a conversion pending → approved or rejected, or approved →
// rejected (which reverses its lines). signal reports whether the
// conversion's workflow must now be told, to price it as a new arrival.
func (s *Store) SetStatus(ctx context.Context, id int64, status string) (c Conversion, signal bool, err error) {
	if status != StatusApproved && status != StatusRejected {
		return Conversion{}, false, Invalid("status", "must be approved or rejected")
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if c, err = lockConversion(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case c.Status == status:
			return nil
		case c.Status == StatusRejected:
			return Conflict("conversion %d is rejected; a rejected conversion stays rejected", id)
		case c.Status == StatusApproved && status == StatusRejected:
			if c, err = reverse(ctx, tx, c, "status changed to rejected"); err != nil {
				return err
			}
		}
		// An approval is a new arrival: the sweeper signals it if the caller
		// cannot.
		var reason *string
		if status == StatusRejected {
			reason = nullIfEmpty(RejectManual)
		}
		c, err = scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET status = $2, rejection_reason = $3, signalled_at = NULL
			WHERE id = $1 RETURNING `+conversionColumns, id, status, reason))
		signal = err == nil && status == StatusApproved
		return err
	})
	if err != nil {
		return Conversion{}, false, fmt.Errorf("set status of conversion %d: %w", id, err)
	}
	return c, signal, nil
}

// PayoutRun is a batch of payout lines marked paid.
type PayoutRun struct {
	ID        int64           `json:"id"`
	PartnerID *int64          `json:"partner_id,omitempty"`
	Cutoff    string          `json:"cutoff"` // YYYY-MM-DD, inclusive, in the network time zone
	Total     decimal.Decimal `json:"total"`
	LineCount int             `json:"line_count"`
	CreatedAt time.Time       `json:"created_at"`
}

// CreatePayoutRun marks paid every unpaid payout line (negative ones too) of
// the partner's conversions (all partners when partnerID is nil) that
// occurred before the end of the cutoff day, and records the total. Lines
// taken by a concurrent run are not taken twice.
func (s *Store) CreatePayoutRun(ctx context.Context, partnerID *int64, cutoff string) (PayoutRun, error) {
	var run PayoutRun
	err := s.tx(ctx, func(tx pgx.Tx) error {
		loc, err := networkLocation(ctx, tx)
		if err != nil {
			return err
		}
		day, err := time.ParseInLocation(time.DateOnly, cutoff, loc)
		if err != nil {
			return Invalid("cutoff", "must be a date YYYY-MM-DD")
		}
		end := day.AddDate(0, 0, 1)
		if partnerID != nil {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1)`, *partnerID).Scan(&exists); err != nil {
				return fmt.Errorf("check partner: %w", err)
			}
			if !exists {
				return NotFound("partner", *partnerID)
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO payout_runs (partner_id, cutoff, total, line_count) VALUES ($1, $2, 0, 0)
			RETURNING id, created_at`, partnerID, day).Scan(&run.ID, &run.CreatedAt); err != nil {
			return fmt.Errorf("insert payout run: %w", err)
		}
		err = tx.QueryRow(ctx, `WITH paid AS (
				UPDATE ledger_lines l SET payout_run_id = $1
				FROM conversions c
				WHERE c.id = l.conversion_id AND l.kind = 'payout' AND l.payout_run_id IS NULL
					AND c.occurred_at < $2 AND ($3::bigint IS NULL OR l.partner_id = $3)
				RETURNING l.amount)
			UPDATE payout_runs SET total = (SELECT coalesce(sum(amount), 0) FROM paid), line_count = (SELECT count(*) FROM paid)
			WHERE id = $1 RETURNING total, line_count`, run.ID, end, partnerID).Scan(&run.Total, &run.LineCount)
		if err != nil {
			return fmt.Errorf("mark lines paid: %w", err)
		}
		run.PartnerID, run.Cutoff = partnerID, cutoff
		return nil
	})
	if err != nil {
		return PayoutRun{}, fmt.Errorf("create payout run: %w", err)
	}
	return run, nil
}

// RefundTotals returns what was refunded of a conversion so far.
func (s *Store) RefundTotals(ctx context.Context, id int64) (sale, revenue decimal.Decimal, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce(sum(sale_amount), 0), coalesce(sum(revenue), 0) FROM refunds WHERE conversion_id = $1`, id).
		Scan(&sale, &revenue)
	if err != nil {
		return decimal.Zero, decimal.Zero, fmt.Errorf("sum refunds of conversion %d: %w", id, err)
	}
	return sale, revenue, nil
}
