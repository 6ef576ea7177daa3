ALTER TABLE customer_value_rules DROP COLUMN goals_locked_at;
