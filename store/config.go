package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/tiered"
)

// networkConfig is what pricing reads of the network's configuration, as of
// one configuration version: every offer event's default rates, every
// partner's tier and the tiers' offers, the custom payout settings, the
// active tiered rules, the network's zone and how many Customer Value rules
// are active. A store keeps the latest it read (configCache); a pricing
// transaction reads the version, one statement, and reads the rest again
// only when the version moved (migration 0011 bumps it in every
// configuration change's own transaction). So pricing sees exactly what it
// would read from the tables at that moment, with any number of API and
// worker processes, for one statement instead of six.
type networkConfig struct {
	version     int64
	timeZone    string
	location    *time.Location
	activeRules int // Customer Value rules with status active
	tiered      []tiered.Rule
	events      map[offerEvent]eventRates
	partnerTier map[int64]int64 // partner id → tier id
	tiers       map[int64]tierRow
	tierOffers  map[[2]int64]bool // tier id, offer id → apply margin (listed when present)
	custom      map[offerEvent][]pricing.CustomSetting
}

type eventRates struct {
	payout  pricing.PayoutRate
	revenue pricing.RevenueRate
}

type tierRow struct {
	name   string
	active bool
	margin decimal.Decimal
}

// configCache is a store's copy of the configuration.
type configCache struct {
	mu  sync.Mutex
	cfg *networkConfig
}

// config returns the configuration of the version the transaction sees,
// from the cache when it is of that version.
func (c *configCache) config(ctx context.Context, tx pgx.Tx) (*networkConfig, error) {
	var version int64
	if err := tx.QueryRow(ctx, `SELECT config_version FROM network`).Scan(&version); err != nil {
		return nil, fmt.Errorf("read configuration version: %w", err)
	}
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg != nil && cfg.version == version {
		return cfg, nil
	}
	cfg, err := loadConfig(ctx, tx, version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cfg == nil || c.cfg.version < cfg.version {
		c.cfg = cfg
	}
	c.mu.Unlock()
	return cfg, nil
}

// loadConfig reads the configuration. The version was read first, so what
// is read is at least as new as it: a change committed in between is read
// under the older version and read again at the next pricing, never the
// other way round.
func loadConfig(ctx context.Context, tx pgx.Tx, version int64) (*networkConfig, error) {
	cfg := &networkConfig{
		version:     version,
		events:      map[offerEvent]eventRates{},
		partnerTier: map[int64]int64{},
		tiers:       map[int64]tierRow{},
		tierOffers:  map[[2]int64]bool{},
		custom:      map[offerEvent][]pricing.CustomSetting{},
	}
	if err := tx.QueryRow(ctx, `SELECT time_zone, (SELECT count(*) FROM customer_value_rules WHERE status = 'active') FROM network`).
		Scan(&cfg.timeZone, &cfg.activeRules); err != nil {
		return nil, fmt.Errorf("read network: %w", err)
	}
	loc, err := time.LoadLocation(cfg.timeZone)
	if err != nil {
		return nil, fmt.Errorf("network time zone %q: %w", cfg.timeZone, err)
	}
	cfg.location = loc

	rows, err := tx.Query(ctx, `SELECT offer_id, event, payout_type, payout_amount, payout_percent, revenue_type, revenue_amount, revenue_percent
		FROM offer_events`)
	if err != nil {
		return nil, fmt.Errorf("read offer events: %w", err)
	}
	if err := forEach(rows, func(r pgx.Rows) error {
		var k offerEvent
		var e eventRates
		if err := r.Scan(&k.offerID, &k.event, &e.payout.Type, &e.payout.Amount, &e.payout.Percent,
			&e.revenue.Type, &e.revenue.Amount, &e.revenue.Percent); err != nil {
			return err
		}
		cfg.events[k] = e
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read offer events: %w", err)
	}

	if rows, err = tx.Query(ctx, `SELECT id, tier_id FROM partners`); err != nil {
		return nil, fmt.Errorf("read partners: %w", err)
	}
	if err := forEach(rows, func(r pgx.Rows) error {
		var p, t int64
		if err := r.Scan(&p, &t); err != nil {
			return err
		}
		cfg.partnerTier[p] = t
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read partners: %w", err)
	}

	if rows, err = tx.Query(ctx, `SELECT id, name, status, margin FROM partner_tiers`); err != nil {
		return nil, fmt.Errorf("read partner tiers: %w", err)
	}
	if err := forEach(rows, func(r pgx.Rows) error {
		var id int64
		var t tierRow
		var status string
		if err := r.Scan(&id, &t.name, &status, &t.margin); err != nil {
			return err
		}
		t.active = status == TierActive
		cfg.tiers[id] = t
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read partner tiers: %w", err)
	}

	if rows, err = tx.Query(ctx, `SELECT tier_id, offer_id, apply_margin FROM tier_offers`); err != nil {
		return nil, fmt.Errorf("read tier offers: %w", err)
	}
	if err := forEach(rows, func(r pgx.Rows) error {
		var k [2]int64
		var apply bool
		if err := r.Scan(&k[0], &k[1], &apply); err != nil {
			return err
		}
		cfg.tierOffers[k] = apply
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read tier offers: %w", err)
	}

	if rows, err = tx.Query(ctx, `SELECT `+customPayoutColumns+` FROM custom_payouts ORDER BY id`); err != nil {
		return nil, fmt.Errorf("read custom payouts: %w", err)
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomPayout, error) { return scanCustomPayout(r) })
	if err != nil {
		return nil, fmt.Errorf("read custom payouts: %w", err)
	}
	for _, c := range cps {
		k := offerEvent{c.OfferID, c.Event}
		cfg.custom[k] = append(cfg.custom[k], c.Setting())
	}

	if cfg.tiered, err = tieredRules(ctx, tx, true); err != nil {
		return nil, err
	}
	return cfg, nil
}

// forEach calls fn for every row and closes them.
func forEach(rows pgx.Rows, fn func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// pricingData is what layers 1–3 need of a conversion, from the
// configuration.
func (cfg *networkConfig) pricingData(c Conversion) (PricingData, error) {
	var d PricingData
	e, ok := cfg.events[offerEvent{c.OfferID, c.Event}]
	if !ok {
		return d, NotFound(fmt.Sprintf("event %q of offer", c.Event), c.OfferID)
	}
	d.DefaultPayout, d.DefaultRevenue = e.payout, e.revenue
	if tierID, ok := cfg.partnerTier[c.PartnerID]; ok {
		if t, ok := cfg.tiers[tierID]; ok {
			apply, listed := cfg.tierOffers[[2]int64{tierID, c.OfferID}]
			d.Tier = &pricing.Tier{ID: tierID, Name: t.name, Active: t.active, Margin: t.margin, OfferListed: listed, ApplyMargin: apply}
		}
	}
	for _, s := range cfg.custom[offerEvent{c.OfferID, c.Event}] {
		if s.PartnerID == 0 || s.PartnerID == c.PartnerID {
			d.Custom = append(d.Custom, s)
		}
	}
	return d, nil
}
