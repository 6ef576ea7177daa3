package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

// db holds every SQL statement of the bench. It reads the tables directly,
// not through the store, so that the check is independent of the code it
// checks. A run's rows are the conversions after firstID on its offers.
type db struct {
	pool    *pgxpool.Pool
	firstID int64          // the highest conversion id before the run
	offers  []int64        // the run's offers
	own     *ownStatements // the pool's tracer, when it has one
}

func (d *db) maxConversionID(ctx context.Context) (int64, error) {
	var id int64
	if err := d.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM conversions`).Scan(&id); err != nil {
		return 0, fmt.Errorf("read the last conversion id: %w", err)
	}
	return id, nil
}

// pricingNow returns how many of the run's conversions are priced, and the
// 99th percentile of priced_at − received_at over those priced in the last
// second.
func (d *db) pricingNow(ctx context.Context) (priced int64, lagP99 time.Duration, err error) {
	var ms float64
	err = d.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE priced_at IS NOT NULL),
			coalesce(extract(epoch FROM percentile_disc(0.99) WITHIN GROUP (ORDER BY priced_at - received_at)
				FILTER (WHERE priced_at > now() - interval '1 second')) * 1000, 0)
		FROM conversions WHERE id > $1 AND offer_id = ANY($2)`, d.firstID, d.offers).Scan(&priced, &ms)
	if err != nil {
		return 0, 0, fmt.Errorf("read pricing progress: %w", err)
	}
	return priced, time.Duration(ms * float64(time.Millisecond)), nil
}

// unfinished returns the run's approved conversions not priced yet and the
// commission-cycle signals of its rules not delivered yet.
func (d *db) unfinished(ctx context.Context, rules []int64) (unpriced, unsent int64, err error) {
	err = d.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM conversions WHERE id > $1 AND offer_id = ANY($2) AND status = 'approved' AND priced_at IS NULL),
			(SELECT count(*) FROM cycle_signals WHERE rule_id = ANY($3) AND sent_at IS NULL)`,
		d.firstID, d.offers, rules).Scan(&unpriced, &unsent)
	if err != nil {
		return 0, 0, fmt.Errorf("read the backlog: %w", err)
	}
	return unpriced, unsent, nil
}

// cycle is a commission cycle of the run's rules.
type cycle struct {
	RuleID, PartnerID, OfferID int64
	PeriodStart, PeriodEnd     time.Time
	Band                       int
	Closed                     bool
}

// cycles lists the cycles of the given rules.
func (d *db) cycles(ctx context.Context, rules []int64) ([]cycle, error) {
	rows, err := d.pool.Query(ctx, `SELECT rule_id, partner_id, offer_id, period_start, nullif(period_end, 'infinity'), band, closed_at IS NOT NULL
		FROM commission_cycles WHERE rule_id = ANY($1) ORDER BY rule_id, partner_id, offer_id, period_start`, rules)
	if err != nil {
		return nil, fmt.Errorf("list commission cycles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cycle, error) {
		var c cycle
		var end *time.Time // nil: no end ('infinity')
		err := r.Scan(&c.RuleID, &c.PartnerID, &c.OfferID, &c.PeriodStart, &end, &c.Band, &c.Closed)
		c.PeriodStart = c.PeriodStart.UTC()
		if end != nil {
			c.PeriodEnd = end.UTC()
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list commission cycles: %w", err)
	}
	return out, nil
}

// timing is when one of the run's conversions was received, priced and got
// its last ledger line (retroactive deltas left out: they belong to the
// band, not to the postback).
type timing struct {
	ID       int64
	Received time.Time
	Priced   *time.Time
	LastLine *time.Time
	Hot      bool
}

func (d *db) timings(ctx context.Context, hotPartner, hotOffer int64) ([]timing, error) {
	rows, err := d.pool.Query(ctx, `SELECT c.id, c.received_at, c.priced_at,
			(SELECT max(l.created_at) FROM ledger_lines l WHERE l.conversion_id = c.id AND l.reason <> 'retro'),
			c.partner_id = $3 AND c.offer_id = $4 AND c.event = ''
		FROM conversions c WHERE c.id > $1 AND c.offer_id = ANY($2) ORDER BY c.id`, d.firstID, d.offers, hotPartner, hotOffer)
	if err != nil {
		return nil, fmt.Errorf("read conversion timings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timing, error) {
		var t timing
		err := r.Scan(&t.ID, &t.Received, &t.Priced, &t.LastLine, &t.Hot)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read conversion timings: %w", err)
	}
	return out, nil
}

// retroLag is how long after a band was reached the period's earlier
// conversions had their retroactive lines.
type retroLag struct {
	RuleID, PartnerID, OfferID int64
	Band                       int
	Reached                    time.Time
	LastLine                   time.Time
	Lines                      int64
}

// retroLags pairs each band signal of the given rules with the retroactive
// lines written for that band in that cycle.
func (d *db) retroLags(ctx context.Context, rules []int64) ([]retroLag, error) {
	rows, err := d.pool.Query(ctx, `SELECT s.rule_id, s.partner_id, s.offer_id, s.band, s.created_at, max(l.created_at), count(l.id)
		FROM cycle_signals s
		JOIN conversions c ON c.tiered_rule_id = s.rule_id AND c.partner_id = s.partner_id AND c.offer_id = s.offer_id
			AND c.tiered_period_start = s.period_start
		JOIN ledger_lines l ON l.conversion_id = c.id AND l.reason = 'retro'
			AND l.note = format('retroactive: band %s of tiered commission %s', s.band + 1, s.rule_id)
		WHERE s.rule_id = ANY($1)
		GROUP BY s.id ORDER BY s.id`, rules)
	if err != nil {
		return nil, fmt.Errorf("read retroactive lags: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (retroLag, error) {
		var l retroLag
		err := r.Scan(&l.RuleID, &l.PartnerID, &l.OfferID, &l.Band, &l.Reached, &l.LastLine, &l.Lines)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read retroactive lags: %w", err)
	}
	return out, nil
}

// cycleSignals counts the outbox signals a rule's cycles were sent.
func (d *db) cycleSignals(ctx context.Context, rule int64) (int64, error) {
	var n int64
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM cycle_signals WHERE rule_id = $1`, rule).Scan(&n); err != nil {
		return 0, fmt.Errorf("count cycle signals: %w", err)
	}
	return n, nil
}

// storedConversion is a conversion as the checker reads it.
type storedConversion struct {
	ID, AdvertiserID, OfferID, PartnerID int64
	Event, UserID, Currency, Status      string
	SaleAmount                           decimal.Decimal
	PostbackRevenue                      decimal.NullDecimal
	OccurredAt                           time.Time
	PricedAt, ReversedAt                 *time.Time
	Data                                 map[string]any
	Payout, Revenue                      decimal.Decimal
	TieredRuleID                         int64
	TieredBand                           int
}

func (d *db) conversions(ctx context.Context) ([]storedConversion, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, advertiser_id, offer_id, partner_id, event, coalesce(user_id, ''), currency, status,
			sale_amount, postback_revenue, occurred_at, priced_at, reversed_at, data, payout, revenue,
			coalesce(tiered_rule_id, 0), coalesce(tiered_band, -1)
		FROM conversions WHERE id > $1 AND offer_id = ANY($2) ORDER BY id`, d.firstID, d.offers)
	if err != nil {
		return nil, fmt.Errorf("read conversions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedConversion, error) {
		var c storedConversion
		err := r.Scan(&c.ID, &c.AdvertiserID, &c.OfferID, &c.PartnerID, &c.Event, &c.UserID, &c.Currency, &c.Status,
			&c.SaleAmount, &c.PostbackRevenue, &c.OccurredAt, &c.PricedAt, &c.ReversedAt, &c.Data, &c.Payout, &c.Revenue,
			&c.TieredRuleID, &c.TieredBand)
		c.OccurredAt = c.OccurredAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read conversions: %w", err)
	}
	return out, nil
}

// storedLine is a ledger line as the checker reads it.
type storedLine struct {
	ID, ConversionID, PartnerID int64
	Kind, Reason, Key           string
	Amount                      decimal.Decimal
	RuleID                      int64
}

func (d *db) lines(ctx context.Context) ([]storedLine, error) {
	rows, err := d.pool.Query(ctx, `SELECT l.id, l.conversion_id, l.partner_id, l.kind, l.reason, l.key, l.amount, coalesce(l.rule_id, 0)
		FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
		WHERE c.id > $1 AND c.offer_id = ANY($2) ORDER BY l.id`, d.firstID, d.offers)
	if err != nil {
		return nil, fmt.Errorf("read ledger lines: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedLine, error) {
		var l storedLine
		err := r.Scan(&l.ID, &l.ConversionID, &l.PartnerID, &l.Kind, &l.Reason, &l.Key, &l.Amount, &l.RuleID)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger lines: %w", err)
	}
	return out, nil
}

// rate is a payout or revenue rate as stored.
type rate struct {
	Type            *string
	Amount, Percent decimal.Decimal
}

type offerEventRow struct {
	OfferID         int64
	Event           string
	Payout, Revenue rate
}

func (d *db) offerEvents(ctx context.Context) ([]offerEventRow, error) {
	rows, err := d.pool.Query(ctx, `SELECT offer_id, event, payout_type, payout_amount, payout_percent, revenue_type, revenue_amount, revenue_percent
		FROM offer_events WHERE offer_id = ANY($1)`, d.offers)
	if err != nil {
		return nil, fmt.Errorf("read offer events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (offerEventRow, error) {
		var e offerEventRow
		err := r.Scan(&e.OfferID, &e.Event, &e.Payout.Type, &e.Payout.Amount, &e.Payout.Percent,
			&e.Revenue.Type, &e.Revenue.Amount, &e.Revenue.Percent)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read offer events: %w", err)
	}
	return out, nil
}

// partnerTierRow is a partner's tier as it applies to one of the run's
// offers.
type partnerTierRow struct {
	PartnerID, OfferID, TierID int64
	TierName, TierStatus       string
	Margin                     decimal.Decimal
	Listed, ApplyMargin        bool
}

func (d *db) partnerTiers(ctx context.Context, partners []int64) ([]partnerTierRow, error) {
	rows, err := d.pool.Query(ctx, `SELECT p.id, o.id, t.id, t.name, t.status, t.margin, tof.offer_id IS NOT NULL, coalesce(tof.apply_margin, false)
		FROM partners p
		JOIN partner_tiers t ON t.id = p.tier_id
		CROSS JOIN unnest($2::bigint[]) AS o(id)
		LEFT JOIN tier_offers tof ON tof.tier_id = t.id AND tof.offer_id = o.id
		WHERE p.id = ANY($1)`, partners, d.offers)
	if err != nil {
		return nil, fmt.Errorf("read partner tiers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (partnerTierRow, error) {
		var t partnerTierRow
		err := r.Scan(&t.PartnerID, &t.OfferID, &t.TierID, &t.TierName, &t.TierStatus, &t.Margin, &t.Listed, &t.ApplyMargin)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read partner tiers: %w", err)
	}
	return out, nil
}

type customPayoutRow struct {
	ID, PartnerID, OfferID int64
	Event                  string
	Payout, Revenue        rate
	StartsAt, EndsAt       *time.Time
	CreatedAt              time.Time
}

func (d *db) customPayouts(ctx context.Context) ([]customPayoutRow, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, coalesce(partner_id, 0), offer_id, event, payout_type, payout_amount, payout_percent,
			revenue_type, revenue_amount, revenue_percent, starts_at, ends_at, created_at
		FROM custom_payouts WHERE offer_id = ANY($1) ORDER BY id`, d.offers)
	if err != nil {
		return nil, fmt.Errorf("read custom payouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (customPayoutRow, error) {
		var c customPayoutRow
		err := r.Scan(&c.ID, &c.PartnerID, &c.OfferID, &c.Event, &c.Payout.Type, &c.Payout.Amount, &c.Payout.Percent,
			&c.Revenue.Type, &c.Revenue.Amount, &c.Revenue.Percent, &c.StartsAt, &c.EndsAt, &c.CreatedAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read custom payouts: %w", err)
	}
	return out, nil
}

// bulkConversions describes the retro bench's conversions: n base
// conversions of one partner × offer, priced at layers 1–3 below the band of
// one tiered rule.
type bulkConversions struct {
	AdvertiserID, OfferID, PartnerID, RuleID int64
	PeriodStart, At                          time.Time
	N                                        int
	RunID                                    string
	SaleAmount, Payout, Revenue              decimal.Decimal
}

// bulkPricedConversions stores, in one transaction of set-based inserts,
// what pricing n conversions below the band would have stored: the
// conversions with their price lines and tiered counts, and the cycle with
// its metrics and no band yet. It is the retro bench's set-up, faster than
// pricing them one by one.
func (d *db) bulkPricedConversions(ctx context.Context, b bulkConversions) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("bulk conversions: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"conversions", `INSERT INTO conversions (advertiser_id, offer_id, partner_id, event, user_id, order_id, dedupe_key, currency,
				sale_amount, status, occurred_at, received_at, workflow_id, signalled_at, priced_at, payout, revenue,
				tiered_rule_id, tiered_period_start, tiered_band)
			SELECT $1::bigint, $2::bigint, $3, '', $4 || '-' || g, $4 || '-' || g, $2::bigint || '::order:' || $4 || '-' || g, 'USD',
				$5, 'approved', $6, $6, 'customer/' || $1::bigint || '/' || $4 || '-' || g, $6, $6, $7, $8, $9, $10, -1
			FROM generate_series(1, $11::int) g`,
			[]any{b.AdvertiserID, b.OfferID, b.PartnerID, b.RunID, b.SaleAmount, b.At, b.Payout, b.Revenue, b.RuleID, b.PeriodStart, b.N}},
		{"price lines", `INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, layer, key)
			SELECT c.id, c.partner_id, k.kind, CASE k.kind WHEN 'payout' THEN c.payout ELSE c.revenue END, 'price', 'offer_default', 'price'
			FROM conversions c CROSS JOIN (VALUES ('payout'), ('revenue')) AS k(kind)
			WHERE c.offer_id = $1`, []any{b.OfferID}},
		{"tiered counts", `INSERT INTO tiered_counts (conversion_id, rule_id, period_start, base, sale_amount, revenue, payout)
			SELECT id, $2, $3, true, sale_amount, revenue, payout FROM conversions WHERE offer_id = $1`,
			[]any{b.OfferID, b.RuleID, b.PeriodStart}},
		{"cycle", `INSERT INTO commission_cycles (rule_id, partner_id, offer_id, period_start, period_end,
				conversions, sale_amount, revenue, payout)
			VALUES ($1, $2, $3, $4, 'infinity', $5::bigint, $6::numeric * $5::bigint, $7::numeric * $5::bigint, $8::numeric * $5::bigint)`,
			[]any{b.RuleID, b.PartnerID, b.OfferID, b.PeriodStart, b.N, b.SaleAmount, b.Revenue, b.Payout}},
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("bulk %s: %w", s.what, err)
		}
	}
	if _, err := tx.Exec(ctx, `ANALYZE conversions, ledger_lines`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return tx.Commit(ctx)
}

// wrongRetro counts the offer's conversions not at the band (band 0) or
// whose tiered and retroactive payout lines do not add up to want.
func (d *db) wrongRetro(ctx context.Context, offer int64, want decimal.Decimal) (int64, error) {
	var n int64
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM conversions c
		WHERE c.offer_id = $1 AND (c.tiered_band IS DISTINCT FROM 0 OR (SELECT coalesce(sum(l.amount), 0) FROM ledger_lines l
			WHERE l.conversion_id = c.id AND l.kind = 'payout' AND l.reason IN ('tiered', 'retro')) <> $2)`, offer, want).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("check the re-pricing: %w", err)
	}
	return n, nil
}

// lineCount counts the ledger lines of an offer's conversions.
func (d *db) lineCount(ctx context.Context, offer int64) (int64, error) {
	var n int64
	err := d.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lines l JOIN conversions c ON c.id = l.conversion_id
		WHERE c.offer_id = $1`, offer).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count ledger lines: %w", err)
	}
	return n, nil
}
