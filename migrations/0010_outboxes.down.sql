ALTER TABLE cycle_signals DROP COLUMN attempts, DROP COLUMN retry_at, DROP COLUMN last_error;
DROP TABLE lifecycle_signals;
DROP INDEX conversions_stuck;
ALTER TABLE conversions DROP COLUMN signal_attempts, DROP COLUMN signal_retry_at, DROP COLUMN signal_error;
