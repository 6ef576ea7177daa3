ALTER TABLE conversion_edits DROP CONSTRAINT conversion_edits_bounds;
ALTER TABLE partner_tiers DROP CONSTRAINT partner_tiers_margin_scale;
ALTER TABLE custom_payouts DROP CONSTRAINT custom_payouts_bounds;
ALTER TABLE offer_events DROP CONSTRAINT offer_events_bounds;
ALTER TABLE refunds DROP CONSTRAINT refunds_bounds;
ALTER TABLE ledger_lines DROP CONSTRAINT ledger_lines_amount_bounds;
ALTER TABLE conversions
    DROP CONSTRAINT conversions_sale_amount_bounds,
    DROP CONSTRAINT conversions_postback_revenue_bounds,
    DROP CONSTRAINT conversions_totals_bounds;
DROP TABLE offer_approval_requests;
ALTER TABLE commission_cycles DROP COLUMN repriced_band;
ALTER TABLE clicks DROP COLUMN source_id;
ALTER TABLE conversions DROP COLUMN coupon_code, DROP COLUMN email_sha256, DROP COLUMN source_id, DROP COLUMN value_evaluated_at;
ALTER TABLE offer_events DROP COLUMN id;
