package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
)

// Ledger line kinds and reasons.
const (
	KindPayout  = "payout"
	KindRevenue = "revenue"

	ReasonPrice    = "price"
	ReasonRefund   = "refund"
	ReasonReversal = "reversal"
)

// LedgerLine is one append-only entry of what a partner earns (payout) or the
// network earns (revenue) on a conversion.
type LedgerLine struct {
	ID           int64           `json:"id"`
	ConversionID int64           `json:"conversion_id"`
	PartnerID    int64           `json:"partner_id"`
	Kind         string          `json:"kind"`
	Amount       decimal.Decimal `json:"amount"`
	Reason       string          `json:"reason"`
	Layer        string          `json:"layer,omitempty"`
	Note         string          `json:"note,omitempty"`
	Key          string          `json:"-"`
	PayoutRunID  *int64          `json:"payout_run_id,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`

	// RuleID is the Customer Value rule of a bonus or override line.
	RuleID int64 `json:"rule_id,omitempty"`
}

// NewLine is a line to append. Key makes the append idempotent: a line with
// the same conversion, kind and key is written once.
type NewLine struct {
	Kind   string
	Amount decimal.Decimal
	Reason string
	Layer  string
	Note   string
	Key    string
}

// PricingData is what layers 1–3 need to know about a conversion, read in the
// transaction that prices it.
type PricingData struct {
	DefaultPayout  pricing.PayoutRate
	DefaultRevenue pricing.RevenueRate
	Tier           *pricing.Tier
	Custom         []pricing.CustomSetting
}

// Priced is what pricing a conversion decided.
type Priced struct {
	Lines   []NewLine
	Pricing any // stored as the conversion's layer 1–3 record

	// The tiered commission that adjusted the conversion, if any.
	TieredRuleID      int64
	TieredPeriodStart time.Time
	TieredBand        int
	Tiered            any // its explanation

	// ValueEvaluated is true when no Customer Value rule will look at the
	// conversion (it has no customer, or no rule is active): its amounts
	// are final once priced.
	ValueEvaluated bool
}

// PricingTx is the transaction that prices one conversion. The conversion's
// row is locked for its whole length, so a conversion is priced once.
type PricingTx struct {
	tx         pgx.Tx
	Conversion Conversion
	signals    []CycleSignal
	cache      *configCache
	cfg        *networkConfig // read at the first need
}

// PriceConversion prices an approved, unpriced conversion in one transaction:
// it locks the row, calls price, appends the lines it returns and sets the
// totals. A conversion that is already priced, not approved, or reversed
// before it was priced (a reversal is final) is returned unchanged with
// priced = false, so running it twice writes nothing. signals
// are the commission-cycle signals the pricing wrote to the outbox.
func (s *Store) PriceConversion(ctx context.Context, id int64, price func(context.Context, *PricingTx) (Priced, error)) (c Conversion, priced bool, signals []CycleSignal, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		c, err = scanConversion(tx.QueryRow(ctx, `SELECT `+lockedColumns+` FROM conversions WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return NotFound("conversion", id)
		}
		if err != nil {
			return fmt.Errorf("lock conversion %d: %w", id, err)
		}
		if c.PricedAt != nil || c.Status != StatusApproved || c.ReversedAt != nil {
			return nil // priced, not approved, or reversed before it was priced
		}
		ptx := &PricingTx{tx: tx, Conversion: c, cache: s.config}
		p, err := price(ctx, ptx)
		if err != nil {
			return err
		}
		blob, err := json.Marshal(p.Pricing)
		if err != nil {
			return fmt.Errorf("encode pricing: %w", err)
		}
		var ruleID *int64
		var periodStart *time.Time
		var band *int
		var tieredBlob []byte
		if p.TieredRuleID != 0 {
			ruleID, periodStart, band = &p.TieredRuleID, &p.TieredPeriodStart, &p.TieredBand
			if tieredBlob, err = json.Marshal(p.Tiered); err != nil {
				return fmt.Errorf("encode tiered explanation: %w", err)
			}
		}
		// The lines, the pricing record and the totals in one statement:
		// the totals are the lines before (the table as the statement
		// began) and the lines it inserts (the CTE's).
		kinds, reasons, layers, notes, keys, amounts := lineColumns(p.Lines)
		var written []string
		c, err = scanConversion(extraColumns{tx.QueryRow(ctx, `WITH l AS (
				INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, layer, note, key)
				SELECT $1, $8, l.kind, l.amount, l.reason, l.layer, l.note, l.key
				FROM unnest($9::text[], $10::numeric[], $11::text[], $12::text[], $13::text[], $14::text[])
					AS l(kind, amount, reason, layer, note, key)
				ON CONFLICT (conversion_id, kind, key) DO NOTHING
				RETURNING kind, amount, reason)
			UPDATE conversions SET priced_at = now(), pricing = $2,
				tiered_rule_id = $3, tiered_period_start = $4, tiered_band = $5, tiered = $6,
				value_evaluated_at = CASE WHEN $7 THEN now() END,
				payout = (SELECT coalesce(sum(amount), 0) FROM ledger_lines WHERE conversion_id = $1 AND kind = 'payout')
					+ (SELECT coalesce(sum(amount), 0) FROM l WHERE kind = 'payout'),
				revenue = (SELECT coalesce(sum(amount), 0) FROM ledger_lines WHERE conversion_id = $1 AND kind = 'revenue')
					+ (SELECT coalesce(sum(amount), 0) FROM l WHERE kind = 'revenue')
			WHERE id = $1
			RETURNING `+conversionColumns+`, (SELECT coalesce(array_agg(kind || ':' || reason), '{}') FROM l)`,
			id, blob, ruleID, periodStart, band, tieredBlob, p.ValueEvaluated, c.PartnerID,
			kinds, amounts, reasons, layers, notes, keys), []any{&written}})
		if err != nil {
			return fmt.Errorf("write the pricing of conversion %d: %w", id, err)
		}
		for _, w := range written {
			kind, reason, _ := strings.Cut(w, ":")
			observed(tx).linesWritten(kind, reason, 1)
		}
		observed(tx).conversionPriced(c.ReceivedAt)
		priced, signals = true, ptx.signals
		return nil
	})
	if err != nil {
		return Conversion{}, false, nil, fmt.Errorf("price conversion %d: %w", id, err)
	}
	return c, priced, signals, nil
}

// ReadAsPricing runs fn in a transaction that reads what the pricing
// transaction of c reads, without pricing it.
func (s *Store) ReadAsPricing(ctx context.Context, c Conversion, fn func(context.Context, *PricingTx) error) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return fn(ctx, &PricingTx{tx: tx, Conversion: c, cache: s.config}) })
}

// Data reads what layers 1–3 need, from the configuration of the version
// the transaction sees.
func (p *PricingTx) Data(ctx context.Context) (PricingData, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return PricingData{}, err
	}
	return cfg.pricingData(p.Conversion)
}

// config is the network's configuration as the transaction sees it, read
// once per transaction.
func (p *PricingTx) config(ctx context.Context) (*networkConfig, error) {
	if p.cfg == nil {
		cfg, err := p.cache.config(ctx, p.tx)
		if err != nil {
			return nil, err
		}
		p.cfg = cfg
	}
	return p.cfg, nil
}

// lineColumns splits lines into the arrays an INSERT … FROM unnest takes.
func lineColumns(lines []NewLine) (kinds, reasons, layers, notes, keys []string, amounts []decimal.Decimal) {
	for _, l := range lines {
		kinds, reasons, layers = append(kinds, l.Kind), append(reasons, l.Reason), append(layers, l.Layer)
		notes, keys, amounts = append(notes, l.Note), append(keys, l.Key), append(amounts, l.Amount)
	}
	return kinds, reasons, layers, notes, keys, amounts
}

// appendLines inserts lines, skipping those whose key was written before.
func appendLines(ctx context.Context, tx pgx.Tx, c Conversion, lines []NewLine) error {
	for _, l := range lines {
		tag, err := tx.Exec(ctx, `INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, layer, note, key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (conversion_id, kind, key) DO NOTHING`,
			c.ID, c.PartnerID, l.Kind, l.Amount, l.Reason, l.Layer, l.Note, l.Key)
		if err != nil {
			return fmt.Errorf("append %s line %q: %w", l.Kind, l.Key, err)
		}
		observed(tx).linesWritten(l.Kind, l.Reason, tag.RowsAffected())
	}
	return nil
}

// updateTotals sets a conversion's payout and revenue to the sums of its lines.
func updateTotals(ctx context.Context, tx pgx.Tx, id int64) (Conversion, error) {
	c, err := scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET
			payout = (SELECT coalesce(sum(amount), 0) FROM ledger_lines WHERE conversion_id = $1 AND kind = 'payout'),
			revenue = (SELECT coalesce(sum(amount), 0) FROM ledger_lines WHERE conversion_id = $1 AND kind = 'revenue')
		WHERE id = $1 RETURNING `+conversionColumns, id))
	if err != nil {
		return Conversion{}, fmt.Errorf("update totals of conversion %d: %w", id, err)
	}
	return c, nil
}

// Lines returns a conversion's ledger lines in the order they were written.
func (s *Store) Lines(ctx context.Context, conversionID int64) ([]LedgerLine, error) {
	return lines(ctx, s.pool, conversionID)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func lines(ctx context.Context, q querier, conversionID int64) ([]LedgerLine, error) {
	rows, err := q.Query(ctx, `SELECT id, conversion_id, partner_id, kind, amount, reason, layer, note, key, payout_run_id,
			coalesce(rule_id, 0), created_at
		FROM ledger_lines WHERE conversion_id = $1 ORDER BY id`, conversionID)
	if err != nil {
		return nil, fmt.Errorf("read ledger lines of conversion %d: %w", conversionID, err)
	}
	ls, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerLine, error) {
		var l LedgerLine
		err := r.Scan(&l.ID, &l.ConversionID, &l.PartnerID, &l.Kind, &l.Amount, &l.Reason, &l.Layer, &l.Note, &l.Key, &l.PayoutRunID,
			&l.RuleID, &l.CreatedAt)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger lines of conversion %d: %w", conversionID, err)
	}
	return ls, nil
}
