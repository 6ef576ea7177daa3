DROP TABLE conversion_edits;
DROP TRIGGER ledger_lines_no_truncate ON ledger_lines;
DROP FUNCTION ledger_lines_no_truncate();
