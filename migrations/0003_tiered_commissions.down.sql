DROP TABLE cycle_signals;
DROP INDEX conversions_tiered;
ALTER TABLE conversions DROP COLUMN tiered_rule_id, DROP COLUMN tiered_period_start, DROP COLUMN tiered_band, DROP COLUMN tiered;
DROP TABLE tiered_counts;
DROP TABLE commission_cycles;
DROP TABLE tiered_rules;
