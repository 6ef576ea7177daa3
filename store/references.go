package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tierwise/tierwise/tiered"
)

// tieredRuleReferences checks that the ids a tiered rule names exist and,
// for a rule on one event, that its offers have that event: a rule on
// offer 999 or on an event no offer sends would silently never apply.
func tieredRuleReferences(ctx context.Context, q dbtx, r tiered.Rule) error {
	var p Problems
	for _, ref := range []struct {
		field, table, what string
		ids                []int64
	}{
		{"offer_ids", "offers", "offer", r.OfferIDs},
		{"partner_ids", "partners", "partner", r.PartnerIDs},
		{"advertiser_ids", "advertisers", "advertiser", r.AdvertiserIDs},
	} {
		missing, err := missingIDs(ctx, q, ref.table, ref.ids)
		if err != nil {
			return err
		}
		for i, id := range ref.ids {
			for _, m := range missing {
				if id == m {
					p.Add(fmt.Sprintf("%s[%d]", ref.field, i), "no %s %d", ref.what, id)
				}
			}
		}
	}
	if err := p.Err(); err != nil || r.AppliesTo != tiered.AppliesToEvent || r.Event == "" {
		return err
	}
	// Every listed offer has the event, and each listed advertiser has an
	// offer with it.
	rows, err := q.Query(ctx, `SELECT o.id FROM unnest($1::bigint[]) AS o (id)
		WHERE NOT EXISTS (SELECT 1 FROM offer_events e WHERE e.offer_id = o.id AND e.event = $2) ORDER BY o.id`, r.OfferIDs, r.Event)
	if err != nil {
		return fmt.Errorf("check events of offers: %w", err)
	}
	offers, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("check events of offers: %w", err)
	}
	for _, id := range offers {
		p.Add("event", "offer %d has no event %q", id, r.Event)
	}
	rows, err = q.Query(ctx, `SELECT a.id FROM unnest($1::bigint[]) AS a (id)
		WHERE NOT EXISTS (SELECT 1 FROM offers o JOIN offer_events e ON e.offer_id = o.id
			WHERE o.advertiser_id = a.id AND e.event = $2) ORDER BY a.id`, r.AdvertiserIDs, r.Event)
	if err != nil {
		return fmt.Errorf("check events of advertisers: %w", err)
	}
	advertisers, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("check events of advertisers: %w", err)
	}
	for _, id := range advertisers {
		p.Add("event", "no offer of advertiser %d has an event %q", id, r.Event)
	}
	return p.Err()
}
