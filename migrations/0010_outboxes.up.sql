-- Nothing lost between the ledger and the workflows (issue: durability):
-- every signal that moves money has a row written in the same transaction
-- as its ledger lines, delivered after commit and swept when that fails,
-- with its failures counted so that one that never goes through backs off
-- alone, in order per customer, and shows as stuck.

-- Conversions: the accept's signal to the customer's workflow.
ALTER TABLE conversions
    ADD COLUMN signal_attempts integer NOT NULL DEFAULT 0, -- failed signals so far
    ADD COLUMN signal_retry_at timestamptz,                -- not before then
    ADD COLUMN signal_error    text;                       -- the last failure, clipped

CREATE INDEX conversions_stuck ON conversions (received_at) WHERE signalled_at IS NULL AND signal_attempts > 0;

-- Lifecycle signals: a reversal or a refund, for the customer's workflow
-- (its rule progress and outcomes), written with the ledger lines.
CREATE TABLE lifecycle_signals (
    id               bigserial PRIMARY KEY,
    conversion_id    bigint      NOT NULL REFERENCES conversions (id),
    workflow_id      text        NOT NULL,
    advertiser_id    bigint      NOT NULL,
    user_id          text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('reversal', 'refund')),
    -- A refund's totals so far (what all of the conversion's refunds took
    -- off it), so delivering the same row twice changes nothing.
    refunded_sale    numeric,
    refunded_revenue numeric,
    refunded_payout  numeric,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    retry_at         timestamptz,
    last_error       text
);

CREATE INDEX lifecycle_signals_unsent ON lifecycle_signals (id) WHERE sent_at IS NULL;

-- Cycle signals: the same bookkeeping of failures.
ALTER TABLE cycle_signals
    ADD COLUMN attempts   integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at   timestamptz,
    ADD COLUMN last_error text;
