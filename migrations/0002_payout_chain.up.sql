-- The payout chain: advertisers, offers, partners, Partner Tiers, custom
-- payouts, clicks, conversions and the append-only ledger.

CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('admin', 'partner')),
    partner_id  bigint,
    name        text        NOT NULL DEFAULT '',
    token_hash  text        NOT NULL UNIQUE, -- sha256 of the key, hex
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((kind = 'partner') = (partner_id IS NOT NULL))
);

CREATE TABLE advertisers (
    id                  bigserial PRIMARY KEY,
    name                text        NOT NULL,
    status              text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    postback_token_hash text        NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offers (
    id              bigserial PRIMARY KEY,
    advertiser_id   bigint      NOT NULL REFERENCES advertisers (id),
    name            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    visibility      text        NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'require_approval', 'private')),
    currency        text        NOT NULL,
    destination_url text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per priced event of an offer; event '' is the base conversion.
CREATE TABLE offer_events (
    offer_id        bigint  NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    event           text    NOT NULL,
    payout_type     text    NOT NULL CHECK (payout_type IN ('cpa', 'cps', 'cpa_cps', 'prv')),
    payout_amount   numeric NOT NULL DEFAULT 0 CHECK (payout_amount >= 0),
    payout_percent  numeric NOT NULL DEFAULT 0 CHECK (payout_percent >= 0),
    revenue_type    text    NOT NULL CHECK (revenue_type IN ('rpa', 'rps', 'rpa_rps')),
    revenue_amount  numeric NOT NULL DEFAULT 0 CHECK (revenue_amount >= 0),
    revenue_percent numeric NOT NULL DEFAULT 0 CHECK (revenue_percent >= 0),
    repeatable      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (offer_id, event)
);

CREATE TABLE partner_tiers (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL,
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    description text        NOT NULL DEFAULT '',
    margin      numeric     NOT NULL DEFAULT 0 CHECK (margin >= 0 AND margin <= 100),
    is_default  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Exactly one default tier: at most one by this index, at least one because
-- the default can only be moved, never removed.
CREATE UNIQUE INDEX partner_tiers_one_default ON partner_tiers (is_default) WHERE is_default;

INSERT INTO partner_tiers (name, description, is_default) VALUES ('Default', 'New partners join this tier.', true);

CREATE TABLE tier_offers (
    tier_id      bigint  NOT NULL REFERENCES partner_tiers (id) ON DELETE CASCADE,
    offer_id     bigint  NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    auto_approve boolean NOT NULL DEFAULT false,
    apply_margin boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tier_id, offer_id)
);

CREATE TABLE partners (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'suspended')),
    tier_id    bigint      NOT NULL REFERENCES partner_tiers (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX partners_tier ON partners (tier_id);

ALTER TABLE api_keys ADD FOREIGN KEY (partner_id) REFERENCES partners (id);

CREATE TABLE offer_approvals (
    partner_id bigint      NOT NULL REFERENCES partners (id),
    offer_id   bigint      NOT NULL REFERENCES offers (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, offer_id)
);

CREATE TABLE custom_payouts (
    id              bigserial PRIMARY KEY,
    partner_id      bigint REFERENCES partners (id), -- NULL: all partners
    offer_id        bigint      NOT NULL REFERENCES offers (id),
    event           text        NOT NULL DEFAULT '',
    payout_type     text CHECK (payout_type IN ('cpa', 'cps', 'cpa_cps', 'prv')),
    payout_amount   numeric     NOT NULL DEFAULT 0,
    payout_percent  numeric     NOT NULL DEFAULT 0,
    revenue_type    text CHECK (revenue_type IN ('rpa', 'rps', 'rpa_rps')),
    revenue_amount  numeric     NOT NULL DEFAULT 0,
    revenue_percent numeric     NOT NULL DEFAULT 0,
    starts_at       timestamptz,
    ends_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (payout_type IS NOT NULL OR revenue_type IS NOT NULL),
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);

CREATE INDEX custom_payouts_offer ON custom_payouts (offer_id, event);

CREATE TABLE clicks (
    transaction_id text PRIMARY KEY,
    offer_id       bigint      NOT NULL REFERENCES offers (id),
    partner_id     bigint      NOT NULL REFERENCES partners (id),
    sub1           text        NOT NULL DEFAULT '',
    sub2           text        NOT NULL DEFAULT '',
    sub3           text        NOT NULL DEFAULT '',
    sub4           text        NOT NULL DEFAULT '',
    sub5           text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversions (
    id               bigserial PRIMARY KEY,
    advertiser_id    bigint      NOT NULL REFERENCES advertisers (id),
    offer_id         bigint      NOT NULL REFERENCES offers (id),
    partner_id       bigint      NOT NULL REFERENCES partners (id),
    event            text        NOT NULL DEFAULT '',
    user_id          text,                -- NULL: anonymous, no lifetime
    transaction_id   text,
    order_id         text,
    dedupe_key       text        NOT NULL UNIQUE,
    currency         text        NOT NULL,
    sale_amount      numeric     NOT NULL DEFAULT 0,
    postback_revenue numeric,             -- the postback's revenue parameter
    status           text        NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    occurred_at      timestamptz NOT NULL, -- the conversion's own time: decides periods and windows
    received_at      timestamptz NOT NULL DEFAULT now(),
    adv              text[]      NOT NULL DEFAULT '{}',
    data             jsonb       NOT NULL DEFAULT '{}',
    workflow_id      text        NOT NULL,
    signalled_at     timestamptz,         -- NULL: the workflow has not been told yet
    priced_at        timestamptz,
    payout           numeric     NOT NULL DEFAULT 0, -- sum of its payout lines
    revenue          numeric     NOT NULL DEFAULT 0, -- sum of its revenue lines
    pricing          jsonb,               -- the decisions and explanation of layers 1-3
    reversed_at      timestamptz
);

CREATE INDEX conversions_unsignalled ON conversions (received_at) WHERE signalled_at IS NULL AND status = 'approved';
CREATE INDEX conversions_occurred ON conversions (occurred_at);
CREATE INDEX conversions_partner ON conversions (partner_id, occurred_at);
CREATE INDEX conversions_customer ON conversions (advertiser_id, user_id, occurred_at);
CREATE INDEX conversions_transaction ON conversions (transaction_id, event);
CREATE INDEX conversions_order ON conversions (offer_id, order_id);

CREATE TABLE payout_runs (
    id          bigserial PRIMARY KEY,
    partner_id  bigint REFERENCES partners (id), -- NULL: all partners
    cutoff      date        NOT NULL,
    total       numeric     NOT NULL,
    line_count  integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The ledger is append-only: lines are inserted, and later only marked paid.
CREATE TABLE ledger_lines (
    id            bigserial PRIMARY KEY,
    conversion_id bigint      NOT NULL REFERENCES conversions (id),
    partner_id    bigint      NOT NULL REFERENCES partners (id),
    kind          text        NOT NULL CHECK (kind IN ('payout', 'revenue')),
    amount        numeric     NOT NULL,
    reason        text        NOT NULL, -- price, refund, reversal
    layer         text        NOT NULL DEFAULT '',
    note          text        NOT NULL DEFAULT '',
    key           text        NOT NULL, -- makes writing a line idempotent
    payout_run_id bigint REFERENCES payout_runs (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversion_id, kind, key)
);

CREATE INDEX ledger_lines_unpaid ON ledger_lines (partner_id) WHERE payout_run_id IS NULL AND kind = 'payout';

-- Paid lines never change; only marking an unpaid line paid is allowed.
CREATE FUNCTION ledger_lines_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger line % is append-only', OLD.id;
    END IF;
    IF OLD.payout_run_id IS NOT NULL
       OR NEW.payout_run_id IS NULL
       OR (NEW.id, NEW.conversion_id, NEW.partner_id, NEW.kind, NEW.amount, NEW.reason, NEW.layer, NEW.note, NEW.key, NEW.created_at)
          IS DISTINCT FROM
          (OLD.id, OLD.conversion_id, OLD.partner_id, OLD.kind, OLD.amount, OLD.reason, OLD.layer, OLD.note, OLD.key, OLD.created_at) THEN
        RAISE EXCEPTION 'ledger line % is append-only: only an unpaid line may be marked paid', OLD.id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ledger_lines_immutable BEFORE UPDATE OR DELETE ON ledger_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_lines_immutable();

CREATE TABLE refunds (
    id            bigserial PRIMARY KEY,
    conversion_id bigint      NOT NULL REFERENCES conversions (id),
    sale_amount   numeric     NOT NULL DEFAULT 0 CHECK (sale_amount >= 0),
    revenue       numeric     NOT NULL DEFAULT 0 CHECK (revenue >= 0),
    reason        text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Data points: postback parameters captured on conversions, typed.
CREATE TABLE data_points (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL,
    identifier text        NOT NULL UNIQUE CHECK (identifier ~ '^[a-z][a-z0-9_]*$'),
    type       text        NOT NULL CHECK (type IN ('text', 'number')),
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
