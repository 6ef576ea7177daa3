ALTER TABLE conversions DROP COLUMN rejection_reason;
