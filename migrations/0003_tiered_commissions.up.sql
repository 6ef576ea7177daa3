-- Tiered Commissions: rules, per-period metrics (commission cycles), what
-- each rule counted of each conversion, and the outbox that tells the
-- commission-cycle workflows of new periods and bands.

CREATE TABLE tiered_rules (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL,
    active     boolean     NOT NULL DEFAULT true,
    definition jsonb       NOT NULL, -- the rule as the tiered package defines it
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per rule × partner × offer × period: the metrics, counted in the
-- transaction that prices each conversion, and the period's high-water band.
CREATE TABLE commission_cycles (
    rule_id      bigint      NOT NULL REFERENCES tiered_rules (id),
    partner_id   bigint      NOT NULL REFERENCES partners (id),
    offer_id     bigint      NOT NULL REFERENCES offers (id),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    conversions  bigint      NOT NULL DEFAULT 0,
    event_count  bigint      NOT NULL DEFAULT 0,
    sale_amount  numeric     NOT NULL DEFAULT 0,
    revenue      numeric     NOT NULL DEFAULT 0,
    payout       numeric     NOT NULL DEFAULT 0,
    band         integer     NOT NULL DEFAULT -1, -- the highest band held in the period; -1: none
    band_reached_at timestamptz,
    closed_at    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, partner_id, offer_id, period_start)
);

CREATE INDEX commission_cycles_open ON commission_cycles (period_end) WHERE closed_at IS NULL;

-- What each matching rule counted of each conversion, so refunds and
-- reversals subtract exactly that.
CREATE TABLE tiered_counts (
    conversion_id bigint      NOT NULL REFERENCES conversions (id),
    rule_id       bigint      NOT NULL REFERENCES tiered_rules (id),
    period_start  timestamptz NOT NULL,
    base          boolean     NOT NULL,
    counted       boolean     NOT NULL DEFAULT true, -- false once reversed
    sale_amount   numeric     NOT NULL,
    revenue       numeric     NOT NULL,
    payout        numeric     NOT NULL,
    PRIMARY KEY (conversion_id, rule_id)
);

-- The rule that priced a conversion's tiered adjustment, and its period.
ALTER TABLE conversions
    ADD COLUMN tiered_rule_id      bigint REFERENCES tiered_rules (id),
    ADD COLUMN tiered_period_start timestamptz,
    ADD COLUMN tiered_band         integer,
    ADD COLUMN tiered              jsonb; -- the tiered explanation

CREATE INDEX conversions_tiered ON conversions (tiered_rule_id, partner_id, offer_id, tiered_period_start)
    WHERE tiered_rule_id IS NOT NULL;

-- Outbox: a new period or a higher band, written with the pricing, sent to
-- the commission-cycle workflow after commit (or by the sweeper).
CREATE TABLE cycle_signals (
    id           bigserial PRIMARY KEY,
    rule_id      bigint      NOT NULL,
    partner_id   bigint      NOT NULL,
    offer_id     bigint      NOT NULL,
    period_start timestamptz NOT NULL,
    band         integer     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);

CREATE INDEX cycle_signals_unsent ON cycle_signals (id) WHERE sent_at IS NULL;
