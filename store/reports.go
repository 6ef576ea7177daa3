package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// ConversionFilter selects conversions for the conversion report. Zero
// fields do not filter.
type ConversionFilter struct {
	From, To     time.Time // occurred_at in [From, To)
	PartnerID    int64
	OfferID      int64
	AdvertiserID int64
	TierID       int64 // partners currently in the tier, whatever the date of the activity
	Status       string
	// RejectionReason selects rejected conversions with that reason.
	RejectionReason string
	// TieredRuleID selects the conversions that tiered commission adjusted,
	// ValueRuleID those a Customer Value rule gave a bonus or an override.
	TieredRuleID int64
	ValueRuleID  int64
	UserID       string
	After        int64 // cursor: ids greater than this
	Limit        int

	// Stuck keeps the conversions whose signal is stuck (StuckAfterAttempts
	// failures or more).
	Stuck bool
	// Priced, when set, keeps the priced conversions (true) or the backlog
	// (false): approved conversions not priced yet. Pending and rejected
	// conversions wait for no pricing and are never in the backlog.
	Priced *bool
}

// where returns the filter's SQL conditions (without the cursor) and their
// arguments.
func (f ConversionFilter) where() (string, []any) {
	where := []string{"true"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !f.From.IsZero() {
		add("occurred_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < $%d", f.To)
	}
	if f.PartnerID != 0 {
		add("partner_id = $%d", f.PartnerID)
	}
	if f.OfferID != 0 {
		add("offer_id = $%d", f.OfferID)
	}
	if f.AdvertiserID != 0 {
		add("advertiser_id = $%d", f.AdvertiserID)
	}
	if f.TierID != 0 {
		add("partner_id IN (SELECT id FROM partners WHERE tier_id = $%d)", f.TierID)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.RejectionReason != "" {
		add("rejection_reason = $%d", f.RejectionReason)
	}
	if f.TieredRuleID != 0 {
		add("tiered_rule_id = $%d", f.TieredRuleID)
	}
	if f.ValueRuleID != 0 {
		add("id IN (SELECT conversion_id FROM ledger_lines WHERE rule_id = $%d)", f.ValueRuleID)
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	if f.Stuck {
		add("signalled_at IS NULL AND status = 'approved' AND signal_attempts >= $%d", StuckAfterAttempts)
	}
	switch {
	case f.Priced == nil:
	case *f.Priced:
		where = append(where, "priced_at IS NOT NULL")
	default:
		where = append(where, "priced_at IS NULL AND status = 'approved'")
	}
	return strings.Join(where, " AND "), args
}

// ListConversions returns conversions matching f in id order.
func (s *Store) ListConversions(ctx context.Context, f ConversionFilter) ([]Conversion, error) {
	where, args := f.where()
	args = append(args, f.After, f.Limit)
	rows, err := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE `+where+
		fmt.Sprintf(" AND id > $%d ORDER BY id LIMIT $%d", len(args)-1, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list conversions: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversion, error) { return scanConversion(r) })
	if err != nil {
		return nil, fmt.Errorf("list conversions: %w", err)
	}
	return cs, nil
}

// ConversionTotal sums the conversions of one currency: currencies are
// never added together.
type ConversionTotal struct {
	Currency    string          `json:"currency"`
	Conversions int64           `json:"conversions"`
	Approved    int64           `json:"approved"`
	Pending     int64           `json:"pending"`
	Rejected    int64           `json:"rejected"`
	SaleAmount  decimal.Decimal `json:"sale_amount"`
	Payout      decimal.Decimal `json:"payout"`
	Revenue     decimal.Decimal `json:"revenue"`
	// Margin is what the network keeps: revenue − payout.
	Margin decimal.Decimal `json:"margin"`
}

// ConversionTotals sums every conversion matching f (its cursor and limit
// aside), per currency in currency order.
func (s *Store) ConversionTotals(ctx context.Context, f ConversionFilter) ([]ConversionTotal, error) {
	where, args := f.where()
	rows, err := s.pool.Query(ctx, `SELECT currency, count(*),
			count(*) FILTER (WHERE status = 'approved'), count(*) FILTER (WHERE status = 'pending'),
			count(*) FILTER (WHERE status = 'rejected'),
			coalesce(sum(sale_amount), 0), coalesce(sum(payout), 0), coalesce(sum(revenue), 0)
		FROM conversions WHERE `+where+` GROUP BY currency ORDER BY currency`, args...)
	if err != nil {
		return nil, fmt.Errorf("sum conversions: %w", err)
	}
	totals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConversionTotal, error) {
		var t ConversionTotal
		err := r.Scan(&t.Currency, &t.Conversions, &t.Approved, &t.Pending, &t.Rejected, &t.SaleAmount, &t.Payout, &t.Revenue)
		t.Margin = t.Revenue.Sub(t.Payout)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("sum conversions: %w", err)
	}
	return totals, nil
}

// NetworkTimeZone is the network's time zone.
func (s *Store) NetworkTimeZone(ctx context.Context) (*time.Location, error) {
	return networkLocation(ctx, s.pool)
}

// LinesOf returns the ledger lines of several conversions in one query, by
// conversion, each conversion's in the order they were written.
func (s *Store) LinesOf(ctx context.Context, conversionIDs []int64) (map[int64][]LedgerLine, error) {
	out := make(map[int64][]LedgerLine, len(conversionIDs))
	if len(conversionIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, conversion_id, partner_id, kind, amount, reason, layer, note, key, payout_run_id,
			coalesce(rule_id, 0), created_at
		FROM ledger_lines WHERE conversion_id = ANY($1) ORDER BY conversion_id, id`, conversionIDs)
	if err != nil {
		return nil, fmt.Errorf("read ledger lines of %d conversions: %w", len(conversionIDs), err)
	}
	defer rows.Close()
	for rows.Next() {
		var l LedgerLine
		if err := rows.Scan(&l.ID, &l.ConversionID, &l.PartnerID, &l.Kind, &l.Amount, &l.Reason, &l.Layer, &l.Note, &l.Key,
			&l.PayoutRunID, &l.RuleID, &l.CreatedAt); err != nil {
			return nil, fmt.Errorf("read ledger lines: %w", err)
		}
		l.CreatedAt = l.CreatedAt.UTC()
		out[l.ConversionID] = append(out[l.ConversionID], l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ledger lines: %w", err)
	}
	return out, nil
}

// CustomerAdvertisers returns the advertisers that have a customer with
// this user_id, in id order: a user_id names a customer only together with
// its advertiser.
func (s *Store) CustomerAdvertisers(ctx context.Context, userID string) ([]Advertiser, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+advertiserColumns+` FROM advertisers a
		WHERE EXISTS (SELECT 1 FROM conversions c WHERE c.advertiser_id = a.id AND c.user_id = $1) ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("find advertisers of user %q: %w", userID, err)
	}
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Advertiser, error) { return scanAdvertiser(r) })
	if err != nil {
		return nil, fmt.Errorf("find advertisers of user %q: %w", userID, err)
	}
	return as, nil
}

// Names maps ids to names for reports, one query per kind.
type Names struct {
	Advertisers map[int64]string
	Offers      map[int64]string
	Partners    map[int64]string
	Tiers       map[int64]string
}

// NamesOf reads the names of the given advertisers, offers, partners and
// tiers; unknown ids are left out.
func (s *Store) NamesOf(ctx context.Context, advertisers, offers, partners, tiers []int64) (Names, error) {
	n := Names{}
	for _, q := range []struct {
		table string
		ids   []int64
		dst   *map[int64]string
	}{{"advertisers", advertisers, &n.Advertisers}, {"offers", offers, &n.Offers}, {"partners", partners, &n.Partners}, {"partner_tiers", tiers, &n.Tiers}} {
		*q.dst = map[int64]string{}
		if len(q.ids) == 0 {
			continue
		}
		rows, err := s.pool.Query(ctx, `SELECT id, name FROM `+q.table+` WHERE id = ANY($1)`, q.ids)
		if err != nil {
			return Names{}, fmt.Errorf("read names of %s: %w", q.table, err)
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return Names{}, fmt.Errorf("read names of %s: %w", q.table, err)
			}
			(*q.dst)[id] = name
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Names{}, fmt.Errorf("read names of %s: %w", q.table, err)
		}
	}
	return n, nil
}
