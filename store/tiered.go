package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/tiered"
)

// Ledger reasons of tiered commissions.
const (
	ReasonTiered = "tiered" // the band's adjustment, written when the conversion is priced
	ReasonRetro  = "retro"  // a retroactive re-pricing's delta
)

// CreateTieredRule validates and stores a tiered commission rule.
func (s *Store) CreateTieredRule(ctx context.Context, r tiered.Rule) (tiered.Rule, error) {
	if err := validTieredRule(r); err != nil {
		return tiered.Rule{}, err
	}
	if err := tieredRuleReferences(ctx, s.pool, r); err != nil {
		return tiered.Rule{}, err
	}
	def, err := json.Marshal(r)
	if err != nil {
		return tiered.Rule{}, fmt.Errorf("encode tiered rule: %w", err)
	}
	row := s.pool.QueryRow(ctx, `INSERT INTO tiered_rules (name, active, definition) VALUES ($1, $2, $3)
		RETURNING id, name, active, definition, created_at`, r.Name, r.Active, def)
	return scanTieredRule(row)
}

// validTieredRule turns the rule's problems into an *InvalidError.
func validTieredRule(r tiered.Rule) error {
	var p Problems
	for _, fe := range r.Problems() {
		p.Add(fe.Field, "%s", fe.Problem)
	}
	tieredRuleBounds(&p, r)
	return p.Err()
}

// UpdateTieredRule replaces a rule's definition. Its id and creation time,
// which decide priority, stay.
func (s *Store) UpdateTieredRule(ctx context.Context, id int64, r tiered.Rule) (tiered.Rule, error) {
	if err := validTieredRule(r); err != nil {
		return tiered.Rule{}, err
	}
	if err := tieredRuleReferences(ctx, s.pool, r); err != nil {
		return tiered.Rule{}, err
	}
	def, err := json.Marshal(r)
	if err != nil {
		return tiered.Rule{}, fmt.Errorf("encode tiered rule: %w", err)
	}
	row := s.pool.QueryRow(ctx, `UPDATE tiered_rules SET name = $2, active = $3, definition = $4, updated_at = now()
		WHERE id = $1 RETURNING id, name, active, definition, created_at`, id, r.Name, r.Active, def)
	out, err := scanTieredRule(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return tiered.Rule{}, NotFound("tiered commission", id)
	}
	return out, err
}

// TieredRule returns one rule.
func (s *Store) TieredRule(ctx context.Context, id int64) (tiered.Rule, error) {
	r, err := scanTieredRule(s.pool.QueryRow(ctx, `SELECT id, name, active, definition, created_at FROM tiered_rules WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return tiered.Rule{}, NotFound("tiered commission", id)
	}
	return r, err
}

// TieredRules lists the rules in id order; activeOnly leaves out inactive ones.
func (s *Store) TieredRules(ctx context.Context, activeOnly bool) ([]tiered.Rule, error) {
	return tieredRules(ctx, s.pool, activeOnly)
}

func tieredRules(ctx context.Context, q querier, activeOnly bool) ([]tiered.Rule, error) {
	rows, err := q.Query(ctx, `SELECT id, name, active, definition, created_at FROM tiered_rules
		WHERE active OR NOT $1 ORDER BY id`, activeOnly)
	if err != nil {
		return nil, fmt.Errorf("list tiered rules: %w", err)
	}
	rules, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tiered.Rule, error) { return scanTieredRule(r) })
	if err != nil {
		return nil, fmt.Errorf("list tiered rules: %w", err)
	}
	return rules, nil
}

func scanTieredRule(row pgx.Row) (tiered.Rule, error) {
	var r tiered.Rule
	var def []byte
	var id int64
	var name string
	var active bool
	var created time.Time
	if err := row.Scan(&id, &name, &active, &def, &created); err != nil {
		return tiered.Rule{}, err
	}
	if err := json.Unmarshal(def, &r); err != nil {
		return tiered.Rule{}, fmt.Errorf("decode tiered rule %d: %w", id, err)
	}
	r.ID, r.Name, r.Active, r.CreatedAt = id, name, active, created.UTC()
	return r, nil
}

// OfferAdvertisers maps every offer to its advertiser, for rule conflicts.
func (s *Store) OfferAdvertisers(ctx context.Context) (map[int64]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, advertiser_id FROM offers`)
	if err != nil {
		return nil, fmt.Errorf("read offers: %w", err)
	}
	defer rows.Close()
	m := map[int64]int64{}
	for rows.Next() {
		var o, a int64
		if err := rows.Scan(&o, &a); err != nil {
			return nil, fmt.Errorf("read offers: %w", err)
		}
		m[o] = a
	}
	return m, rows.Err()
}

// TieredRules reads the active rules and the network's time zone, in the
// pricing transaction.
func (p *PricingTx) TieredRules(ctx context.Context) ([]tiered.Rule, *time.Location, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cfg.tiered, cfg.location, nil
}

// rowQuerier is what reads one row: the pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// networkLocation reads the network's time zone.
func networkLocation(ctx context.Context, q rowQuerier) (*time.Location, error) {
	var tz string
	if err := q.QueryRow(ctx, `SELECT time_zone FROM network`).Scan(&tz); err != nil {
		return nil, fmt.Errorf("read network time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("network time zone %q: %w", tz, err)
	}
	return loc, nil
}

// CycleKey names a commission cycle.
type CycleKey struct {
	RuleID      int64
	PartnerID   int64
	OfferID     int64
	PeriodStart time.Time
}

// CycleSignal is an outbox entry: tell the cycle's workflow its band.
type CycleSignal struct {
	ID        int64
	Key       CycleKey
	PeriodEnd time.Time
	Band      int
	Closed    bool // the cycle is closed: re-price in place, do not signal
}

// CycleCount is a cycle's state after counting a conversion.
type CycleCount struct {
	Metrics tiered.Metrics
	Band    int // the high-water band
}

// Count adds the conversion's contribution to the rule's cycle of the
// conversion's partner and offer, creating the cycle when it is the period's
// first conversion, and raises the high-water band. Opening a cycle and
// raising its band write an outbox signal. Callers count rules in id order,
// so concurrent pricings lock cycles in one order.
func (p *PricingTx) Count(ctx context.Context, r tiered.Rule, start, end time.Time, c tiered.Contribution) (CycleCount, error) {
	key := CycleKey{RuleID: r.ID, PartnerID: p.Conversion.PartnerID, OfferID: p.Conversion.OfferID, PeriodStart: start}
	var endArg *time.Time
	if e := finite(end); !e.IsZero() {
		endArg = &e
	}
	// Open the cycle or add to it, locked by the upsert, and read what it
	// holds now and the band it held before.
	conversions, events := int64(0), int64(0)
	if c.Base {
		conversions = c.Count
	} else {
		events = c.Count
	}
	var m tiered.Metrics
	var band int
	var closed *time.Time
	var opened bool
	if err := p.tx.QueryRow(ctx, `INSERT INTO commission_cycles AS cc (rule_id, partner_id, offer_id, period_start, period_end,
			conversions, event_count, sale_amount, revenue, payout)
		VALUES ($1, $2, $3, $4, coalesce($5, 'infinity'::timestamptz), $6, $7, $8, $9, $10)
		ON CONFLICT (rule_id, partner_id, offer_id, period_start) DO UPDATE SET
			conversions = cc.conversions + excluded.conversions, event_count = cc.event_count + excluded.event_count,
			sale_amount = cc.sale_amount + excluded.sale_amount, revenue = cc.revenue + excluded.revenue,
			payout = cc.payout + excluded.payout
		RETURNING conversions, event_count, sale_amount, revenue, payout, band, closed_at, xmax = 0`,
		key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart, endArg,
		conversions, events, c.SaleAmount, c.Revenue, c.Payout).
		Scan(&m.Conversions, &m.EventCount, &m.SaleAmount, &m.Revenue, &m.Payout, &band, &closed, &opened); err != nil {
		return CycleCount{}, fmt.Errorf("count in commission cycle: %w", err)
	}
	newBand := tiered.HighWater(band, r.BandAt(m))

	// The rest in one round trip: the band raised, what the rule counted of
	// the conversion, and the outbox signal of a new period or band.
	batch := &pgx.Batch{}
	if newBand > band {
		batch.Queue(`UPDATE commission_cycles SET band = $5, band_reached_at = now()
			WHERE rule_id = $1 AND partner_id = $2 AND offer_id = $3 AND period_start = $4`,
			key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart, newBand)
	}
	batch.Queue(`INSERT INTO tiered_counts (conversion_id, rule_id, period_start, base, sale_amount, revenue, payout)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.Conversion.ID, r.ID, start, c.Base, c.SaleAmount, c.Revenue, c.Payout)
	signal := opened || newBand > band
	if signal {
		batch.Queue(`INSERT INTO cycle_signals (rule_id, partner_id, offer_id, period_start, band)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart, newBand)
	}
	br := p.tx.SendBatch(ctx, batch)
	defer br.Close()
	for range batch.Len() - btoi(signal) {
		if _, err := br.Exec(); err != nil {
			return CycleCount{}, fmt.Errorf("count in commission cycle: %w", err)
		}
	}
	if newBand > band {
		observed(p.tx).bandRaises++
	}
	if signal {
		sig := CycleSignal{Key: key, PeriodEnd: finite(end), Band: newBand, Closed: closed != nil}
		if err := br.QueryRow().Scan(&sig.ID); err != nil {
			return CycleCount{}, fmt.Errorf("write cycle signal: %w", err)
		}
		p.signals = append(p.signals, sig)
	}
	if err := br.Close(); err != nil {
		return CycleCount{}, fmt.Errorf("count in commission cycle: %w", err)
	}
	return CycleCount{Metrics: m, Band: newBand}, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MarkCycleSignalSent records that an outbox signal was delivered.
func (s *Store) MarkCycleSignalSent(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE cycle_signals SET sent_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("mark cycle signal %d sent: %w", id, err)
	}
	return nil
}

// UnsentCycleSignals lists outbox signals written before the given time and
// not delivered, oldest first.
func (s *Store) UnsentCycleSignals(ctx context.Context, before time.Time, limit int) ([]CycleSignal, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.id, s.rule_id, s.partner_id, s.offer_id, s.period_start,
			nullif(c.period_end, 'infinity'::timestamptz), s.band, c.closed_at IS NOT NULL
		FROM cycle_signals s
		JOIN commission_cycles c USING (rule_id, partner_id, offer_id, period_start)
		WHERE s.sent_at IS NULL AND s.created_at < $1 AND (s.retry_at IS NULL OR s.retry_at <= now())
		ORDER BY s.id LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list unsent cycle signals: %w", err)
	}
	sigs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CycleSignal, error) {
		var s CycleSignal
		var end *time.Time // nil for a global period, whose end is infinity
		err := r.Scan(&s.ID, &s.Key.RuleID, &s.Key.PartnerID, &s.Key.OfferID, &s.Key.PeriodStart, &end, &s.Band, &s.Closed)
		if end != nil {
			s.PeriodEnd = end.UTC()
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list unsent cycle signals: %w", err)
	}
	return sigs, nil
}

// finite maps PostgreSQL's 'infinity' (read as a far-future time) to the
// zero time, "no end".
func finite(t time.Time) time.Time {
	if t.Year() > 9000 {
		return time.Time{}
	}
	return t.UTC()
}

// RepriceChunk is one chunk of a retroactive re-pricing.
type RepriceChunk struct {
	Band     int   // the cycle's high-water band
	Seen     int   // conversions looked at
	Repriced int   // conversions that got new lines
	LastID   int64 // the cursor for the next chunk; 0 when done
}

// CycleRepricer computes the retroactive deltas of a chunk of a cycle's
// conversions at a band.
type CycleRepricer func(band int, conversions []tiered.Priced) []tiered.Delta

// RepriceCycleChunk re-prices, in one transaction, up to limit of the
// cycle's conversions with an id after after: those the rule priced in that
// period at a lower band than the period's, not reversed (the conversions
// priced at the band already have it). The chunk's conversions are locked
// first, in id order, and only then read, in a statement of its own: a
// payout run locks the conversions it pays the same way (CreatePayoutRun),
// so a conversion it paid while this chunk waited is read as paid, and a
// paid conversion is never re-banded (DESIGN §13.12). Paid ones are passed
// with Paid set so the repricer leaves them alone, overridden ones with
// PayoutOverridden (RevenueOverridden) so it keeps those amounts, and each
// with the adjustments its tiered lines carry. The deltas are written as
// retro lines and the conversions' bands raised, set-based: a chunk costs a
// handful of statements, not a few per conversion.
func (s *Store) RepriceCycleChunk(ctx context.Context, key CycleKey, after int64, limit int, reprice CycleRepricer) (RepriceChunk, error) {
	var out RepriceChunk
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT band FROM commission_cycles
			WHERE rule_id = $1 AND partner_id = $2 AND offer_id = $3 AND period_start = $4`,
			key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart).Scan(&out.Band); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return NotFound("commission cycle", fmt.Sprintf("%d/%d/%d/%s", key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart.Format(time.RFC3339)))
			}
			return fmt.Errorf("read cycle band: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT id FROM conversions WHERE tiered_rule_id = $1 AND partner_id = $2 AND offer_id = $3
				AND tiered_period_start = $4 AND id > $5 ORDER BY id LIMIT $6 FOR UPDATE`,
			key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart, after, limit)
		if err != nil {
			return fmt.Errorf("lock cycle conversions: %w", err)
		}
		chunk, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("lock cycle conversions: %w", err)
		}
		if len(chunk) == limit {
			out.LastID = chunk[len(chunk)-1]
		}
		rows, err = tx.Query(ctx, `SELECT c.id, c.currency,
				c.sale_amount - coalesce((SELECT sum(sale_amount) FROM refunds r WHERE r.conversion_id = c.id), 0),
				coalesce(sum(l.amount) FILTER (WHERE l.kind = 'payout' AND l.reason IN `+layer13+`), 0),
				coalesce(sum(l.amount) FILTER (WHERE l.kind = 'revenue' AND l.reason IN `+layer13+`), 0),
				coalesce(sum(l.amount) FILTER (WHERE l.kind = 'payout' AND l.reason IN ('tiered', 'retro')), 0),
				coalesce(sum(l.amount) FILTER (WHERE l.kind = 'revenue' AND l.reason IN ('tiered', 'retro')), 0),
				bool_or(l.kind = 'payout' AND l.payout_run_id IS NOT NULL),
				bool_or(l.kind = 'payout' AND l.reason = 'override'),
				bool_or(l.kind = 'revenue' AND l.reason = 'override'),
				count(*) FILTER (WHERE l.reason = 'retro'),
				c.tiered_band,
				c.tiered -> 'payout' -> 'adjustment',
				c.tiered -> 'revenue' -> 'adjustment'
			FROM conversions c JOIN ledger_lines l ON l.conversion_id = c.id
			WHERE c.id = ANY($1) AND c.reversed_at IS NULL AND c.status = 'approved' AND c.tiered_band < $2
			GROUP BY c.id ORDER BY c.id`, chunk, out.Band)
		if err != nil {
			return fmt.Errorf("read cycle conversions: %w", err)
		}
		retros := map[int64]int{} // retro lines each conversion has, for the next line's key
		priced, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tiered.Priced, error) {
			var p tiered.Priced
			var retro int
			var payoutAdj, revenueAdj []byte
			err := r.Scan(&p.ConversionID, &p.Amounts.Currency, &p.Amounts.SaleAmount, &p.Amounts.Payout, &p.Amounts.Revenue,
				&p.TieredPayout, &p.TieredRevenue, &p.Paid, &p.PayoutOverridden, &p.RevenueOverridden, &retro, &p.Band,
				&payoutAdj, &revenueAdj)
			if err != nil {
				return p, err
			}
			retros[p.ConversionID] = retro
			if p.PayoutAdjustment, err = adjustment(payoutAdj); err != nil {
				return p, fmt.Errorf("conversion %d: %w", p.ConversionID, err)
			}
			if p.RevenueAdjustment, err = adjustment(revenueAdj); err != nil {
				return p, fmt.Errorf("conversion %d: %w", p.ConversionID, err)
			}
			return p, nil
		})
		if err != nil {
			return fmt.Errorf("read cycle conversions: %w", err)
		}
		out.Seen = len(priced)
		deltas := reprice(out.Band, priced)
		if len(deltas) == 0 {
			return nil
		}
		note := fmt.Sprintf("retroactive: band %d of tiered commission %d", out.Band+1, key.RuleID)
		var lines struct {
			ids          []int64
			kinds, keys  []string
			amounts      []decimal.Decimal
			bandIDs      []int64
			explanations []string
		}
		for _, d := range deltas {
			lineKey := fmt.Sprintf("retro:%d", retros[d.ConversionID]+1)
			for _, l := range []struct {
				kind   string
				amount decimal.Decimal
			}{{KindPayout, d.Payout}, {KindRevenue, d.Revenue}} {
				if !l.amount.IsZero() {
					lines.ids = append(lines.ids, d.ConversionID)
					lines.kinds = append(lines.kinds, l.kind)
					lines.keys = append(lines.keys, lineKey)
					lines.amounts = append(lines.amounts, l.amount)
				}
			}
			expl, err := json.Marshal(d.Explanation)
			if err != nil {
				return fmt.Errorf("encode retro explanation: %w", err)
			}
			lines.bandIDs = append(lines.bandIDs, d.ConversionID)
			lines.explanations = append(lines.explanations, string(expl))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, layer, note, key)
			SELECT l.id, $2, l.kind, l.amount, 'retro', 'tiered_commission', $3, l.key
			FROM unnest($1::bigint[], $4::text[], $5::numeric[], $6::text[]) AS l(id, kind, amount, key)
			ORDER BY l.id
			ON CONFLICT (conversion_id, kind, key) DO NOTHING`,
			lines.ids, key.PartnerID, note, lines.kinds, lines.amounts, lines.keys); err != nil {
			return fmt.Errorf("append retro lines: %w", err)
		}
		observed(tx).retroLinesWritten(lines.kinds)
		tag, err := tx.Exec(ctx, `UPDATE conversions c SET tiered_band = $2, tiered = d.explanation::jsonb,
				payout = (SELECT coalesce(sum(amount), 0) FROM ledger_lines WHERE conversion_id = c.id AND kind = 'payout'),
				revenue = (SELECT coalesce(sum(amount), 0) FROM ledger_lines WHERE conversion_id = c.id AND kind = 'revenue')
			FROM unnest($1::bigint[], $3::text[]) AS d(id, explanation)
			WHERE c.id = d.id`,
			lines.bandIDs, out.Band, lines.explanations)
		if err != nil {
			return fmt.Errorf("raise conversion bands: %w", err)
		}
		out.Repriced = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return RepriceChunk{}, fmt.Errorf("reprice cycle chunk: %w", err)
	}
	return out, nil
}

// adjustment decodes the adjustment of a stored tiered line, nil for none.
func adjustment(raw []byte) (*tiered.Adjustment, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var a tiered.Adjustment
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode tiered adjustment: %w", err)
	}
	return &a, nil
}

// CloseCycle closes a commission cycle. Closing twice changes nothing.
func (s *Store) CloseCycle(ctx context.Context, key CycleKey) error {
	if _, err := s.pool.Exec(ctx, `UPDATE commission_cycles SET closed_at = now()
		WHERE rule_id = $1 AND partner_id = $2 AND offer_id = $3 AND period_start = $4 AND closed_at IS NULL`,
		key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart); err != nil {
		return fmt.Errorf("close commission cycle: %w", err)
	}
	return nil
}

// uncount removes a reversed conversion from the metrics of every cycle that
// counted it. The cycles' bands stay: a band reached is kept for the period.
func uncount(ctx context.Context, tx pgx.Tx, c Conversion) error {
	if _, err := tx.Exec(ctx, `WITH gone AS (
			UPDATE tiered_counts SET counted = false WHERE conversion_id = $1 AND counted
			RETURNING rule_id, period_start, base, sale_amount, revenue, payout)
		UPDATE commission_cycles cc SET
			conversions = cc.conversions - CASE WHEN g.base THEN 1 ELSE 0 END,
			event_count = cc.event_count - CASE WHEN g.base THEN 0 ELSE 1 END,
			sale_amount = cc.sale_amount - g.sale_amount,
			revenue = cc.revenue - g.revenue,
			payout = cc.payout - g.payout
		FROM gone g
		WHERE cc.rule_id = g.rule_id AND cc.partner_id = $2 AND cc.offer_id = $3 AND cc.period_start = g.period_start`,
		c.ID, c.PartnerID, c.OfferID); err != nil {
		return fmt.Errorf("uncount conversion %d: %w", c.ID, err)
	}
	return nil
}

// recount changes a refunded conversion's amounts in the metrics of every
// cycle that counts it; counts stay.
func recount(ctx context.Context, tx pgx.Tx, c Conversion, sale, revenue, payout decimal.Decimal) error {
	if _, err := tx.Exec(ctx, `WITH changed AS (
			UPDATE tiered_counts SET sale_amount = sale_amount + $4, revenue = revenue + $5, payout = payout + $6
			WHERE conversion_id = $1 AND counted
			RETURNING rule_id, period_start)
		UPDATE commission_cycles cc SET sale_amount = cc.sale_amount + $4, revenue = cc.revenue + $5, payout = cc.payout + $6
		FROM changed g
		WHERE cc.rule_id = g.rule_id AND cc.partner_id = $2 AND cc.offer_id = $3 AND cc.period_start = g.period_start`,
		c.ID, c.PartnerID, c.OfferID, sale, revenue, payout); err != nil {
		return fmt.Errorf("recount conversion %d: %w", c.ID, err)
	}
	return nil
}

// CycleRow is one commission cycle for the commission-cycle report.
type CycleRow struct {
	RuleID        int64           `json:"rule_id"`
	PartnerID     int64           `json:"partner_id"`
	OfferID       int64           `json:"offer_id"`
	PeriodStart   time.Time       `json:"period_start"`
	PeriodEnd     *time.Time      `json:"period_end,omitempty"`
	Metrics       tiered.Metrics  `json:"metrics"`
	Band          int             `json:"band"`
	BandReachedAt *time.Time      `json:"band_reached_at,omitempty"`
	ClosedAt      *time.Time      `json:"closed_at,omitempty"`
	TieredPayout  decimal.Decimal `json:"tiered_payout"` // adjustments written when conversions were priced
	RetroPayout   decimal.Decimal `json:"retro_payout"`  // retroactive adjustments
}

// CycleFilter selects cycles; zero fields do not filter. After is the
// cursor: the cycles that come after it in the report's order.
type CycleFilter struct {
	RuleID, PartnerID, OfferID int64
	After                      *CycleKey
	Limit                      int
}

// CommissionCycles lists cycles newest period first, then by rule, partner
// and offer: the order of the cursor.
func (s *Store) CommissionCycles(ctx context.Context, f CycleFilter) ([]CycleRow, error) {
	var after CycleKey
	if f.After != nil {
		after = *f.After
	}
	rows, err := s.pool.Query(ctx, `SELECT cc.rule_id, cc.partner_id, cc.offer_id, cc.period_start,
			nullif(cc.period_end, 'infinity'::timestamptz), cc.conversions, cc.event_count, cc.sale_amount, cc.revenue, cc.payout, cc.band, cc.band_reached_at, cc.closed_at,
			coalesce((SELECT sum(l.amount) FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
				WHERE c.tiered_rule_id = cc.rule_id AND c.partner_id = cc.partner_id AND c.offer_id = cc.offer_id
					AND c.tiered_period_start = cc.period_start AND l.kind = 'payout' AND l.reason = 'tiered'), 0),
			coalesce((SELECT sum(l.amount) FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
				WHERE c.tiered_rule_id = cc.rule_id AND c.partner_id = cc.partner_id AND c.offer_id = cc.offer_id
					AND c.tiered_period_start = cc.period_start AND l.kind = 'payout' AND l.reason = 'retro'), 0)
		FROM commission_cycles cc
		WHERE ($1 = 0 OR cc.rule_id = $1) AND ($2 = 0 OR cc.partner_id = $2) AND ($3 = 0 OR cc.offer_id = $3)
			AND (NOT $5 OR cc.period_start < $6
				OR (cc.period_start = $6 AND (cc.rule_id, cc.partner_id, cc.offer_id) > ($7, $8, $9)))
		ORDER BY cc.period_start DESC, cc.rule_id, cc.partner_id, cc.offer_id LIMIT $4`,
		f.RuleID, f.PartnerID, f.OfferID, f.Limit, f.After != nil, after.PeriodStart, after.RuleID, after.PartnerID, after.OfferID)
	if err != nil {
		return nil, fmt.Errorf("list commission cycles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CycleRow, error) {
		var c CycleRow
		// A global period never ends: its period_end is infinity, read as nil.
		err := r.Scan(&c.RuleID, &c.PartnerID, &c.OfferID, &c.PeriodStart, &c.PeriodEnd,
			&c.Metrics.Conversions, &c.Metrics.EventCount, &c.Metrics.SaleAmount, &c.Metrics.Revenue, &c.Metrics.Payout,
			&c.Band, &c.BandReachedAt, &c.ClosedAt, &c.TieredPayout, &c.RetroPayout)
		c.PeriodStart = c.PeriodStart.UTC()
		c.PeriodEnd = utcPtr(c.PeriodEnd)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list commission cycles: %w", err)
	}
	return out, nil
}

// EndedOpenCycles lists cycles whose period ended before the given time and
// that are not closed: their workflow is missing or late.
func (s *Store) EndedOpenCycles(ctx context.Context, before time.Time, limit int) ([]CycleKey, []time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT rule_id, partner_id, offer_id, period_start, period_end FROM commission_cycles
		WHERE closed_at IS NULL AND period_end < $1 ORDER BY period_end LIMIT $2`, before, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("list ended cycles: %w", err)
	}
	defer rows.Close()
	var keys []CycleKey
	var ends []time.Time
	for rows.Next() {
		var k CycleKey
		var end time.Time
		if err := rows.Scan(&k.RuleID, &k.PartnerID, &k.OfferID, &k.PeriodStart, &end); err != nil {
			return nil, nil, fmt.Errorf("list ended cycles: %w", err)
		}
		keys, ends = append(keys, k), append(ends, end.UTC())
	}
	return keys, ends, rows.Err()
}

// MarkCycleRepriced records that a cycle's conversions were re-priced to
// band (nil: to whatever band the cycle holds, for a rule whose retroactive
// mode leaves them as they are), so none of them is shown as pending
// re-pricing any more.
func (s *Store) MarkCycleRepriced(ctx context.Context, key CycleKey, band *int) error {
	if _, err := s.pool.Exec(ctx, `UPDATE commission_cycles SET repriced_band = greatest(repriced_band, coalesce($5, band))
		WHERE rule_id = $1 AND partner_id = $2 AND offer_id = $3 AND period_start = $4`,
		key.RuleID, key.PartnerID, key.OfferID, key.PeriodStart, band); err != nil {
		return fmt.Errorf("mark commission cycle re-priced: %w", err)
	}
	return nil
}
