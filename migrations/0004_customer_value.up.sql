-- Customer Value: rules, the customers' workflow snapshots, and which rule
-- wrote a ledger line.

CREATE TABLE customer_value_rules (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    definition jsonb       NOT NULL, -- the rule as the customervalue package defines it
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The last state of each customer's workflow, so a finished or reset
-- workflow resumes where it was.
CREATE TABLE customer_snapshots (
    advertiser_id bigint      NOT NULL REFERENCES advertisers (id),
    user_id       text        NOT NULL,
    state         jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advertiser_id, user_id)
);

ALTER TABLE ledger_lines ADD COLUMN rule_id bigint; -- the Customer Value rule of a bonus or override line

CREATE OR REPLACE FUNCTION ledger_lines_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger line % is append-only', OLD.id;
    END IF;
    IF OLD.payout_run_id IS NOT NULL
       OR NEW.payout_run_id IS NULL
       OR (NEW.id, NEW.conversion_id, NEW.partner_id, NEW.kind, NEW.amount, NEW.reason, NEW.layer, NEW.note, NEW.key, NEW.created_at, NEW.rule_id)
          IS DISTINCT FROM
          (OLD.id, OLD.conversion_id, OLD.partner_id, OLD.kind, OLD.amount, OLD.reason, OLD.layer, OLD.note, OLD.key, OLD.created_at, OLD.rule_id) THEN
        RAISE EXCEPTION 'ledger line % is append-only: only an unpaid line may be marked paid', OLD.id;
    END IF;
    RETURN NEW;
END;
$$;
