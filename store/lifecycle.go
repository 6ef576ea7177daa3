package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
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

// ReasonManual is the ledger reason of a manual edit's line.
const ReasonManual = "manual"

// layer13 is the SQL list of the reasons of a conversion's layer 1–3 lines:
// the pricing, refunds and manual edits.
const layer13 = `('price', 'refund', 'manual')`

// RefundConversion records a partial refund and writes the lines that bring
// the conversion's layer 1–3 amounts down by what the refund changes in
// them under the conversion's original decisions (pricing.Reprice, DESIGN
// §13.13, §14.4), manual edits kept on top, never below zero; then its
// tiered lines follow under the adjustments it carries, and an override is
// re-targeted. A refund never raises an amount. Refunds beyond the sale
// amount, or a revenue beyond the revenue left, are problems with that
// field. Paid lines are untouched: the differences are new, unpaid lines.
func (s *Store) RefundConversion(ctx context.Context, id int64, in RefundInput) (Conversion, Refund, error) {
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
		var rec pricing.Record
		if err := json.Unmarshal(c.Pricing, &rec); err != nil {
			return fmt.Errorf("decode pricing of conversion %d: %w", id, err)
		}
		var salePrev, revenuePrev decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sale_amount), 0), coalesce(sum(revenue), 0) FROM refunds WHERE conversion_id = $1`, id).
			Scan(&salePrev, &revenuePrev); err != nil {
			return fmt.Errorf("sum refunds: %w", err)
		}
		sale, revenue := salePrev.Add(in.SaleAmount), revenuePrev.Add(in.Revenue)
		if sale.GreaterThan(c.SaleAmount) {
			return Invalid("sale_amount", "refunds total %s, more than the sale amount %s", sale, c.SaleAmount)
		}
		reprice := func(sale, revenue decimal.Decimal) (pricing.Result, error) {
			res, err := pricing.Reprice(rec, sale, revenue)
			if err != nil {
				return pricing.Result{}, fmt.Errorf("reprice conversion %d: %w", id, err)
			}
			return res, nil
		}
		// The layers' amounts before and after the refund, and the revenue
		// they give with the sale refunds alone: the revenue the sale part
		// of this refund leaves, which its revenue part may not exceed.
		before, err := reprice(salePrev, revenuePrev)
		if err != nil {
			return err
		}
		after, err := reprice(sale, revenue)
		if err != nil {
			return err
		}
		grossBefore, err := reprice(salePrev, decimal.Zero)
		if err != nil {
			return err
		}
		grossAfter, err := reprice(sale, decimal.Zero)
		if err != nil {
			return err
		}
		cur, err := layer13Amounts(ctx, tx, id)
		if err != nil {
			return err
		}
		left := decimal.Max(decimal.Zero, cur.revenue.Add(grossAfter.Revenue.Sub(grossBefore.Revenue)))
		if in.Revenue.GreaterThan(left) {
			return Invalid("revenue", "refunds %s of revenue, more than the %s of revenue left on the conversion", in.Revenue, left)
		}
		payout := decimal.Max(decimal.Zero, cur.payout.Add(after.Payout.Sub(before.Payout)))
		rev := left.Sub(in.Revenue)

		r = Refund{ConversionID: id, SaleAmount: in.SaleAmount, Revenue: in.Revenue, Reason: in.Reason}
		if err := tx.QueryRow(ctx, `INSERT INTO refunds (conversion_id, sale_amount, revenue, reason) VALUES ($1, $2, $3, $4)
			RETURNING id, created_at`, id, in.SaleAmount, in.Revenue, in.Reason).Scan(&r.ID, &r.CreatedAt); err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		key := fmt.Sprintf("refund:%d", r.ID)
		note := fmt.Sprintf("refund %d: sale amount %s, revenue %s refunded", r.ID, in.SaleAmount, in.Revenue)
		var lines []NewLine
		if d := payout.Sub(cur.payout); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindPayout, Amount: d, Reason: ReasonRefund, Note: note, Key: key})
		}
		if d := rev.Sub(cur.revenue); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindRevenue, Amount: d, Reason: ReasonRefund, Note: note, Key: key})
		}
		if err := appendLines(ctx, tx, c, lines); err != nil {
			return err
		}
		net := c.SaleAmount.Sub(sale)
		if err := retier(ctx, tx, c, tiered.Amounts{SaleAmount: net, Payout: payout, Revenue: rev, Currency: c.Currency}, key+":tiered", note); err != nil {
			return err
		}
		if err := retargetOverride(ctx, tx, c, net, rev, key, fmt.Sprintf("refund %d", r.ID)); err != nil {
			return err
		}
		if err := recount(ctx, tx, c, in.SaleAmount.Neg(), rev.Sub(cur.revenue), payout.Sub(cur.payout)); err != nil {
			return err
		}
		if c, err = updateTotals(ctx, tx, id); err != nil {
			return err
		}
		return writeLifecycleSignal(ctx, tx, c, LifecycleRefund)
	})
	if err != nil {
		return Conversion{}, Refund{}, fmt.Errorf("refund conversion %d: %w", id, err)
	}
	return c, r, nil
}

// amounts13 are a conversion's layer 1–3 payout and revenue: the sums of its
// price, refund and manual lines.
type amounts13 struct{ payout, revenue decimal.Decimal }

func layer13Amounts(ctx context.Context, tx pgx.Tx, id int64) (amounts13, error) {
	var a amounts13
	if err := tx.QueryRow(ctx, `SELECT
			coalesce(sum(amount) FILTER (WHERE kind = 'payout'), 0),
			coalesce(sum(amount) FILTER (WHERE kind = 'revenue'), 0)
		FROM ledger_lines WHERE conversion_id = $1 AND reason IN `+layer13, id).Scan(&a.payout, &a.revenue); err != nil {
		return amounts13{}, fmt.Errorf("sum layer 1-3 lines of conversion %d: %w", id, err)
	}
	return a, nil
}

// RefundTotals is what a conversion's refunds took off it so far: the sale
// amount refunded, and the layer 1–3 revenue and payout that came off with
// them (a refunded sale lowers a revenue share and a percent payout too).
// The customer's workflow keeps its amounts net of these.
type RefundTotals struct {
	SaleAmount decimal.Decimal
	Revenue    decimal.Decimal
	Payout     decimal.Decimal
}

// RefundTotals returns what the refunds of a conversion took off it so far.
func (s *Store) RefundTotals(ctx context.Context, id int64) (RefundTotals, error) {
	return refundTotals(ctx, s.pool, id)
}

// ReverseConversion reverses a conversion; a reversal is final (DESIGN
// §13.14, §14.10). An approved conversion gets one negative line per kind
// for all of its lines and leaves every cycle's metrics; a pending or
// rejected one, which has no lines, becomes rejected with reason reversed,
// so it can never be approved. Reversing twice changes nothing more. tell
// reports whether the conversion was approved, so its customer's workflow,
// which counted it, must be told.
func (s *Store) ReverseConversion(ctx context.Context, id int64, note string) (c Conversion, tell bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if c, err = lockConversion(ctx, tx, id); err != nil {
			return err
		}
		if c.ReversedAt != nil {
			return nil
		}
		if c.Status != StatusApproved {
			c, err = scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET status = 'rejected', rejection_reason = $2, reversed_at = now()
				WHERE id = $1 RETURNING `+conversionColumns, id, RejectReversed))
			return err
		}
		if c, err = reverse(ctx, tx, c, note); err != nil {
			return err
		}
		if c, err = scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET reversed_at = now() WHERE id = $1 RETURNING `+conversionColumns, id)); err != nil {
			return err
		}
		tell = true
		return writeLifecycleSignal(ctx, tx, c, LifecycleReversal)
	})
	if err != nil {
		return Conversion{}, false, fmt.Errorf("reverse conversion %d: %w", id, err)
	}
	return c, tell, nil
}

// retier brings a conversion's tiered lines to what the adjustments it
// carries give on its new layer 1–3 amounts (tiered.Recompute: percentage
// parts follow, flat amounts stay, a custom retroactive adjustment stays the
// one it carries) and stores the new tiered explanation.
func retier(ctx context.Context, tx pgx.Tx, c Conversion, a tiered.Amounts, key, note string) error {
	if c.TieredRuleID == 0 || len(c.Tiered) == 0 {
		return nil
	}
	var e tiered.Explanation
	if err := json.Unmarshal(c.Tiered, &e); err != nil {
		return fmt.Errorf("decode tiered explanation of conversion %d: %w", c.ID, err)
	}
	var curPayout, curRevenue decimal.Decimal
	if err := tx.QueryRow(ctx, `SELECT
			coalesce(sum(amount) FILTER (WHERE kind = 'payout'), 0),
			coalesce(sum(amount) FILTER (WHERE kind = 'revenue'), 0)
		FROM ledger_lines WHERE conversion_id = $1 AND reason IN ('tiered', 'retro')`, c.ID).Scan(&curPayout, &curRevenue); err != nil {
		return fmt.Errorf("sum tiered lines: %w", err)
	}
	res := tiered.Recompute(e, a)
	var lines []NewLine
	if d := res.Payout.Sub(curPayout); !d.IsZero() && !res.Explanation.Payout.Keep {
		lines = append(lines, NewLine{Kind: KindPayout, Amount: d, Reason: ReasonTiered, Layer: "tiered_commission", Note: note, Key: key})
	}
	if d := res.Revenue.Sub(curRevenue); !d.IsZero() && !res.Explanation.Revenue.Keep {
		lines = append(lines, NewLine{Kind: KindRevenue, Amount: d, Reason: ReasonTiered, Layer: "tiered_commission", Note: note, Key: key})
	}
	if err := appendLines(ctx, tx, c, lines); err != nil {
		return err
	}
	blob, err := json.Marshal(res.Explanation)
	if err != nil {
		return fmt.Errorf("encode tiered explanation: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE conversions SET tiered = $2 WHERE id = $1`, c.ID, blob); err != nil {
		return fmt.Errorf("store tiered explanation of conversion %d: %w", c.ID, err)
	}
	return nil
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

// StatusChange is what a status change did.
type StatusChange struct {
	Conversion Conversion
	// Price is set when the conversion was approved and must now be priced
	// as a new arrival: its workflow is to be signalled (the sweeper does
	// it if the caller cannot).
	Price bool
	// Reversed is set when an approved conversion was rejected: its lines
	// were reversed, and its customer's workflow is to be told.
	Reversed bool
}

// SetStatus changes a conversion's status (DESIGN §13.3, §14.1, §14.10):
//
//   - pending → approved: priced as a new arrival;
//   - pending → rejected: rejected with reason manual, never priced;
//   - rejected → approved: allowed for a conversion that was never priced
//     and not reversed (one the postback's access check rejected, or one
//     rejected while pending); it is then priced as a new arrival;
//   - approved → rejected: every line is reversed, reason manual;
//   - approving a reversed conversion, or one rejected after it was
//     priced, is a conflict naming its status.
//
// Setting the status it has changes nothing.
func (s *Store) SetStatus(ctx context.Context, id int64, status string) (StatusChange, error) {
	if status != StatusApproved && status != StatusRejected {
		return StatusChange{}, Invalid("status", "must be approved or rejected")
	}
	var out StatusChange
	err := s.tx(ctx, func(tx pgx.Tx) error {
		c, err := lockConversion(ctx, tx, id)
		if err != nil {
			return err
		}
		out.Conversion = c
		switch {
		case status == StatusApproved && (c.ReversedAt != nil || c.RejectionReason == RejectReversed):
			return Conflict("conversion %d is %s and reversed: a reversal is final, it cannot be approved", id, c.Status)
		case c.Status == status:
			return nil
		case c.Status == StatusRejected && c.PricedAt != nil:
			return Conflict("conversion %d is rejected (%s) after it was priced and its lines reversed: it stays rejected", id, c.RejectionReason)
		case c.Status == StatusApproved && status == StatusRejected:
			// Decided here, under the row's lock: the workflow is told of
			// the reversal exactly when lines were reversed.
			out.Reversed = c.ReversedAt == nil
			if _, err = reverse(ctx, tx, c, "status changed to rejected"); err != nil {
				return err
			}
			if out.Reversed {
				if err := writeLifecycleSignal(ctx, tx, c, LifecycleReversal); err != nil {
					return err
				}
			}
		}
		var reason *string
		if status == StatusRejected {
			reason = nullIfEmpty(RejectManual)
		}
		out.Conversion, err = scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET status = $2, rejection_reason = $3, signalled_at = NULL
			WHERE id = $1 RETURNING `+conversionColumns, id, status, reason))
		out.Price = err == nil && status == StatusApproved
		return err
	})
	if err != nil {
		return StatusChange{}, fmt.Errorf("set status of conversion %d: %w", id, err)
	}
	return out, nil
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

// CreatePayoutRun marks paid every unpaid non-zero payout line (negative
// ones too) of the partner's conversions (all partners when partnerID is
// nil) that occurred before the end of the cutoff day in the network's time
// zone (23:59:59.999999 local), and records the total. A $0.00 line is
// never paid, so it never makes its conversion paid (DESIGN §14.14).
//
// The run locks the conversions it pays, in id order, before it marks their
// lines, as retroactive re-pricing does (RepriceCycleChunk): a re-pricing
// either writes its lines before the run takes them, or sees the
// conversion paid and leaves it alone (§13.12). Lines taken by a concurrent
// run are not taken twice.
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
		rows, err := tx.Query(ctx, `SELECT c.id FROM conversions c
			WHERE c.occurred_at < $1 AND ($2::bigint IS NULL OR c.partner_id = $2)
				AND EXISTS (SELECT 1 FROM ledger_lines l WHERE l.conversion_id = c.id
					AND l.kind = 'payout' AND l.payout_run_id IS NULL AND l.amount <> 0)
			ORDER BY c.id FOR SHARE OF c`, end, partnerID)
		if err != nil {
			return fmt.Errorf("lock conversions to pay: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("lock conversions to pay: %w", err)
		}
		// A new statement, so lines a re-pricing committed while the run
		// waited for its locks are seen, and paid.
		err = tx.QueryRow(ctx, `WITH paid AS (
				UPDATE ledger_lines SET payout_run_id = $1
				WHERE conversion_id = ANY($2) AND kind = 'payout' AND payout_run_id IS NULL AND amount <> 0
				RETURNING amount)
			UPDATE payout_runs SET total = (SELECT coalesce(sum(amount), 0) FROM paid), line_count = (SELECT count(*) FROM paid)
			WHERE id = $1 RETURNING total, line_count`, run.ID, ids).Scan(&run.Total, &run.LineCount)
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
