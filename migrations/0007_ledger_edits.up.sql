-- The ledger is append-only (DESIGN §12, §13.12): the row trigger of 0002
-- refuses DELETE and every UPDATE but marking an unpaid line paid; row
-- triggers do not fire on TRUNCATE, so a statement trigger refuses it too
-- (also when it comes by TRUNCATE … CASCADE from conversions).
CREATE FUNCTION ledger_lines_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_lines is append-only: TRUNCATE is refused';
END;
$$;

CREATE TRIGGER ledger_lines_no_truncate BEFORE TRUNCATE ON ledger_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_lines_no_truncate();

-- Manual edits of a conversion's layer 1-3 payout or revenue (DESIGN
-- §14.11): who made each, why, and the amounts before and after. Each edit
-- writes its difference as a manual ledger line keyed by the edit's id.
CREATE TABLE conversion_edits (
    id            bigserial PRIMARY KEY,
    conversion_id bigint      NOT NULL REFERENCES conversions (id),
    payout_from   numeric,
    payout_to     numeric CHECK (payout_to >= 0),
    revenue_from  numeric,
    revenue_to    numeric CHECK (revenue_to >= 0),
    reason        text        NOT NULL CHECK (reason <> ''),
    edited_by     text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (payout_to IS NOT NULL OR revenue_to IS NOT NULL)
);

CREATE INDEX conversion_edits_conversion ON conversion_edits (conversion_id);
