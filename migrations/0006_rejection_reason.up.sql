-- Why a conversion is rejected: a postback whose partner may not run the
-- offer when it arrives is stored rejected with a reason and never priced
-- (DESIGN §14.1); a reversed pending conversion becomes rejected (§14.10).
ALTER TABLE conversions ADD COLUMN rejection_reason text
    CHECK (rejection_reason IN ('partner_not_approved', 'partner_inactive', 'offer_inactive', 'advertiser_inactive',
                                'reversed', 'postback', 'manual'));

UPDATE conversions SET rejection_reason = 'postback' WHERE status = 'rejected' AND reversed_at IS NULL;
UPDATE conversions SET rejection_reason = 'manual' WHERE status = 'rejected' AND reversed_at IS NOT NULL;

ALTER TABLE conversions ADD CONSTRAINT conversions_rejection_reason
    CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL));

CREATE INDEX conversions_rejection_reason ON conversions (rejection_reason) WHERE rejection_reason IS NOT NULL;
