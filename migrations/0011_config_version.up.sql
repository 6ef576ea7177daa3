-- The network's configuration version: every change to what prices a
-- conversion (offers and their events, partners, tiers, approvals, custom
-- payouts, tiered and Customer Value rules, data points, the network's own
-- settings) bumps it in its own transaction. A process that keeps the
-- configuration in memory, and a customer workflow that keeps the Customer
-- Value rules, reads the version where it matters and reloads when it
-- moved: as fresh as the database, with several processes.
ALTER TABLE network ADD COLUMN config_version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE network SET config_version = config_version + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER advertisers_config AFTER INSERT OR UPDATE OR DELETE ON advertisers FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER offers_config AFTER INSERT OR UPDATE OR DELETE ON offers FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER offer_events_config AFTER INSERT OR UPDATE OR DELETE ON offer_events FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER partners_config AFTER INSERT OR UPDATE OR DELETE ON partners FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER partner_tiers_config AFTER INSERT OR UPDATE OR DELETE ON partner_tiers FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER tier_offers_config AFTER INSERT OR UPDATE OR DELETE ON tier_offers FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER offer_approvals_config AFTER INSERT OR UPDATE OR DELETE ON offer_approvals FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER custom_payouts_config AFTER INSERT OR UPDATE OR DELETE ON custom_payouts FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER tiered_rules_config AFTER INSERT OR UPDATE OR DELETE ON tiered_rules FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER customer_value_rules_config AFTER INSERT OR UPDATE OR DELETE ON customer_value_rules FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER data_points_config AFTER INSERT OR UPDATE OR DELETE ON data_points FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();

-- The network's own settings bump it in the same row.
CREATE FUNCTION bump_network_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.time_zone, NEW.currency) IS DISTINCT FROM (OLD.time_zone, OLD.currency) THEN
        NEW.config_version := OLD.config_version + 1;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER network_config BEFORE UPDATE ON network FOR EACH ROW EXECUTE FUNCTION bump_network_config_version();

-- A customer's lifecycle signals, read when one of its conversions is
-- priced: those its workflow may not have applied yet.
CREATE INDEX lifecycle_signals_workflow ON lifecycle_signals (workflow_id, id);
