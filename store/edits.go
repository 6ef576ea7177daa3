package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/tiered"
)

// EditInput is a manual edit of a conversion's layer 1–3 payout and/or
// revenue (DESIGN §14.11), with why it was made and by whom.
type EditInput struct {
	Payout  *decimal.Decimal `json:"payout"`  // the new layer 1–3 payout; nil: unchanged
	Revenue *decimal.Decimal `json:"revenue"` // the new layer 1–3 revenue; nil: unchanged
	Reason  string           `json:"reason"`
	// By names who made the edit (the API key's name); set by the caller.
	By string `json:"-"`
}

// The bounds of a manual edit.
const (
	maxReasonLength = 500
	maxEditAmount   = 1_000_000_000
)

// Validate returns every problem with the edit at once; the amounts' scale
// is checked against the conversion's currency by EditConversion.
func (in EditInput) Validate() error {
	var p Problems
	if in.Payout == nil && in.Revenue == nil {
		p.Add("payout", "an edit sets a payout, a revenue or both")
	}
	for _, a := range []struct {
		field  string
		amount *decimal.Decimal
	}{{"payout", in.Payout}, {"revenue", in.Revenue}} {
		switch {
		case a.amount == nil:
		case a.amount.IsNegative():
			p.Add(a.field, "must not be negative")
		case a.amount.GreaterThan(decimal.NewFromInt(maxEditAmount)):
			p.Add(a.field, "must be at most %d", maxEditAmount)
		}
	}
	reason := strings.TrimSpace(in.Reason)
	switch {
	case reason == "":
		p.Add("reason", "is required: say why the amount changes")
	case utf8.RuneCountInString(reason) > maxReasonLength:
		p.Add("reason", "must be at most %d characters", maxReasonLength)
	case strings.ContainsRune(reason, 0) || !utf8.ValidString(reason):
		p.Add("reason", "must be valid text without NUL bytes")
	}
	return p.Err()
}

// Edit is a stored manual edit: the layer 1–3 amounts before and after, who
// and why.
type Edit struct {
	ID           int64            `json:"id"`
	ConversionID int64            `json:"conversion_id"`
	PayoutFrom   *decimal.Decimal `json:"payout_from,omitempty"`
	PayoutTo     *decimal.Decimal `json:"payout_to,omitempty"`
	RevenueFrom  *decimal.Decimal `json:"revenue_from,omitempty"`
	RevenueTo    *decimal.Decimal `json:"revenue_to,omitempty"`
	Reason       string           `json:"reason"`
	EditedBy     string           `json:"edited_by"`
	CreatedAt    time.Time        `json:"created_at"`
}

// EditConversion sets a priced conversion's layer 1–3 payout and/or revenue
// (DESIGN §13.6, §14.11): each change is a manual ledger line for the
// difference, new and unpaid even when the conversion is paid (paid lines
// never change). Its tiered lines are recomputed at once on the new amounts
// under the adjustments it carries (a percent follows, a flat one does not);
// its band and the tiered metrics stay as they were counted. A Customer
// Value override still decides the payout (and the revenue it sets): it is
// re-targeted, so the total stays the override's. Later refunds and
// retroactive re-pricing start from the edited amounts. An edit that changes
// nothing writes nothing.
func (s *Store) EditConversion(ctx context.Context, id int64, in EditInput) (Conversion, error) {
	if err := in.Validate(); err != nil {
		return Conversion{}, err
	}
	var c Conversion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = lockConversion(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case c.ReversedAt != nil:
			return Conflict("conversion %d is reversed; a reversed conversion cannot be edited", id)
		case c.Status != StatusApproved || c.PricedAt == nil:
			return Conflict("conversion %d is %s and not priced; only priced conversions can be edited", id, c.Status)
		}
		units := pricing.MinorUnits(c.Currency)
		var p Problems
		for _, a := range []struct {
			field  string
			amount *decimal.Decimal
		}{{"payout", in.Payout}, {"revenue", in.Revenue}} {
			if a.amount != nil && !a.amount.Equal(a.amount.Round(units)) {
				p.Add(a.field, "%s has more decimals than %s's %d", a.amount, c.Currency, units)
			}
		}
		if err := p.Err(); err != nil {
			return err
		}
		cur, err := layer13Amounts(ctx, tx, id)
		if err != nil {
			return err
		}
		e := Edit{ConversionID: id, Reason: strings.TrimSpace(in.Reason), EditedBy: in.By}
		payout, revenue := cur.payout, cur.revenue
		if in.Payout != nil && !in.Payout.Equal(cur.payout) {
			e.PayoutFrom, e.PayoutTo, payout = &cur.payout, in.Payout, *in.Payout
		}
		if in.Revenue != nil && !in.Revenue.Equal(cur.revenue) {
			e.RevenueFrom, e.RevenueTo, revenue = &cur.revenue, in.Revenue, *in.Revenue
		}
		if e.PayoutTo == nil && e.RevenueTo == nil {
			return nil
		}
		if err := tx.QueryRow(ctx, `INSERT INTO conversion_edits (conversion_id, payout_from, payout_to, revenue_from, revenue_to, reason, edited_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			id, e.PayoutFrom, e.PayoutTo, e.RevenueFrom, e.RevenueTo, e.Reason, e.EditedBy).Scan(&e.ID); err != nil {
			return fmt.Errorf("insert edit: %w", err)
		}
		key := fmt.Sprintf("edit:%d", e.ID)
		note := fmt.Sprintf("manual edit %d by %s: %s", e.ID, e.EditedBy, e.Reason)
		var lines []NewLine
		if d := payout.Sub(cur.payout); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindPayout, Amount: d, Reason: ReasonManual, Layer: "manual", Note: note, Key: key})
		}
		if d := revenue.Sub(cur.revenue); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindRevenue, Amount: d, Reason: ReasonManual, Layer: "manual", Note: note, Key: key})
		}
		if err := appendLines(ctx, tx, c, lines); err != nil {
			return err
		}
		var refunded decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sale_amount), 0) FROM refunds WHERE conversion_id = $1`, id).Scan(&refunded); err != nil {
			return fmt.Errorf("sum refunds: %w", err)
		}
		net := c.SaleAmount.Sub(refunded)
		if err := retier(ctx, tx, c, tiered.Amounts{SaleAmount: net, Payout: payout, Revenue: revenue, Currency: c.Currency}, key+":tiered", note); err != nil {
			return err
		}
		if err := retargetOverride(ctx, tx, c, net, revenue, key, fmt.Sprintf("manual edit %d", e.ID)); err != nil {
			return err
		}
		c, err = updateTotals(ctx, tx, id)
		return err
	})
	if err != nil {
		return Conversion{}, fmt.Errorf("edit conversion %d: %w", id, err)
	}
	return c, nil
}

// Edits returns a conversion's manual edits, oldest first.
func (s *Store) Edits(ctx context.Context, conversionID int64) ([]Edit, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, conversion_id, payout_from, payout_to, revenue_from, revenue_to, reason, edited_by, created_at
		FROM conversion_edits WHERE conversion_id = $1 ORDER BY id`, conversionID)
	if err != nil {
		return nil, fmt.Errorf("read edits of conversion %d: %w", conversionID, err)
	}
	edits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Edit, error) {
		var e Edit
		err := r.Scan(&e.ID, &e.ConversionID, &e.PayoutFrom, &e.PayoutTo, &e.RevenueFrom, &e.RevenueTo, &e.Reason, &e.EditedBy, &e.CreatedAt)
		e.CreatedAt = e.CreatedAt.UTC()
		return e, err
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read edits of conversion %d: %w", conversionID, err)
	}
	return edits, nil
}
