CREATE OR REPLACE FUNCTION ledger_lines_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE ledger_lines DROP COLUMN rule_id;
DROP TABLE customer_snapshots;
DROP TABLE customer_value_rules;
