DROP INDEX IF EXISTS commission_cycles_band_reached;
DROP INDEX IF EXISTS ledger_lines_payout_run;
DROP INDEX IF EXISTS ledger_lines_rule;
DROP INDEX IF EXISTS commission_cycles_report;
DROP TABLE IF EXISTS console_sessions;
