package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Conversion statuses.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRejected = "rejected"
)

// Why a conversion is rejected (Conversion.RejectionReason).
const (
	// The partner could not run the offer when the postback arrived
	// (DESIGN §14.1).
	RejectPartnerNotApproved = "partner_not_approved"
	RejectPartnerInactive    = "partner_inactive"
	RejectOfferInactive      = "offer_inactive"
	RejectAdvertiserInactive = "advertiser_inactive"
	// A pending conversion was reversed (§14.10).
	RejectReversed = "reversed"
	// The postback itself said status=rejected.
	RejectPostback = "postback"
	// An admin rejected it (PATCH status).
	RejectManual = "manual"
)

// Conversion is one accepted postback: a base conversion or a named event.
type Conversion struct {
	ID              int64               `json:"id"`
	AdvertiserID    int64               `json:"advertiser_id"`
	OfferID         int64               `json:"offer_id"`
	PartnerID       int64               `json:"partner_id"`
	Event           string              `json:"event"`
	UserID          string              `json:"user_id,omitempty"`
	TransactionID   string              `json:"transaction_id,omitempty"`
	OrderID         string              `json:"order_id,omitempty"`
	Currency        string              `json:"currency"`
	SaleAmount      decimal.Decimal     `json:"sale_amount"`
	PostbackRevenue decimal.NullDecimal `json:"postback_revenue"`
	Status          string              `json:"status"`
	// RejectionReason says why a rejected conversion is rejected; empty
	// otherwise.
	RejectionReason string    `json:"rejection_reason,omitempty"`
	OccurredAt      time.Time `json:"occurred_at"`
	ReceivedAt      time.Time `json:"received_at"`
	Adv             []string  `json:"adv"`
	CouponCode      string    `json:"coupon_code,omitempty"`
	// EmailSHA256 is the SHA-256 (hex) of the lower-cased email the
	// postback sent; tierwise never stores the address itself.
	EmailSHA256 string         `json:"email_sha256,omitempty"`
	SourceID    string         `json:"source_id,omitempty"` // the click's source_id
	Data        map[string]any `json:"data"`
	WorkflowID  string         `json:"workflow_id"`
	SignalledAt *time.Time     `json:"signalled_at,omitempty"`
	// SignalAttempts counts the failed signals of the conversion to its
	// customer's workflow, SignalError the last one's error; Stuck is set
	// after StuckAfterAttempts of them (the sweeper still retries).
	SignalAttempts int        `json:"signal_attempts,omitempty"`
	SignalError    string     `json:"signal_error,omitempty"`
	Stuck          bool       `json:"stuck,omitempty"`
	PricedAt       *time.Time `json:"priced_at,omitempty"`
	// Priced says whether the conversion has been priced (its lines are
	// written); Pending lists the work still to come that may change its
	// amounts (PendingPricing, PendingCustomerValue, PendingRepricing), filled
	// in by WithPending; empty: the amounts are final until a refund, a
	// reversal, a later band or the end of a Customer Value cycle.
	Priced     bool            `json:"priced"`
	Pending    []string        `json:"pending"`
	ReversedAt *time.Time      `json:"reversed_at,omitempty"`
	Payout     decimal.Decimal `json:"payout"`
	Revenue    decimal.Decimal `json:"revenue"`
	Pricing    json.RawMessage `json:"-"`
	// TieredRuleID is the tiered commission that adjusted the conversion
	// (0: none), TieredBand the band it was priced at (-1: none).
	TieredRuleID   int64  `json:"tiered_rule_id,omitempty"`
	TieredRuleName string `json:"tiered_rule_name,omitempty"`
	TieredBand     int    `json:"tiered_band"`
	// ValueRuleNames are the Customer Value rules whose bonus or override
	// the conversion got.
	ValueRuleNames []string        `json:"customer_value_rules,omitempty"`
	Tiered         json.RawMessage `json:"-"`
}

// Anonymous reports whether the conversion has no customer (no user_id).
func (c Conversion) Anonymous() bool { return c.UserID == "" }

const conversionColumns = conversionRowColumns + `,
	coalesce((SELECT name FROM tiered_rules WHERE id = tiered_rule_id), ''),
	array(SELECT DISTINCT r.name FROM ledger_lines l JOIN customer_value_rules r ON r.id = l.rule_id
		WHERE l.conversion_id = conversions.id ORDER BY r.name)`

// conversionRowColumns are the conversion's own columns, conversionColumns
// with the names of the rules that touched it; lockedColumns the same
// without those names, for the pricing's read, which does not show them.
const (
	conversionRowColumns = `id, advertiser_id, offer_id, partner_id, event, coalesce(user_id, ''),
	coalesce(transaction_id, ''), coalesce(order_id, ''), currency, sale_amount, postback_revenue,
	status, occurred_at, received_at, adv, data, workflow_id, signalled_at, priced_at, reversed_at,
	payout, revenue, pricing, coalesce(tiered_rule_id, 0), coalesce(tiered_band, -1), tiered, coalesce(rejection_reason, ''),
	coalesce(coupon_code, ''), coalesce(email_sha256, ''), coalesce(source_id, ''),
	signal_attempts, coalesce(signal_error, '')`
	lockedColumns = conversionRowColumns + `, '', '{}'::text[]`
)

func scanConversion(row pgx.Row) (Conversion, error) {
	var c Conversion
	err := row.Scan(&c.ID, &c.AdvertiserID, &c.OfferID, &c.PartnerID, &c.Event, &c.UserID,
		&c.TransactionID, &c.OrderID, &c.Currency, &c.SaleAmount, &c.PostbackRevenue,
		&c.Status, &c.OccurredAt, &c.ReceivedAt, &c.Adv, &c.Data, &c.WorkflowID, &c.SignalledAt, &c.PricedAt, &c.ReversedAt,
		&c.Payout, &c.Revenue, &c.Pricing, &c.TieredRuleID, &c.TieredBand, &c.Tiered, &c.RejectionReason,
		&c.CouponCode, &c.EmailSHA256, &c.SourceID, &c.SignalAttempts, &c.SignalError, &c.TieredRuleName, &c.ValueRuleNames)
	c.OccurredAt, c.ReceivedAt = c.OccurredAt.UTC(), c.ReceivedAt.UTC()
	c.Priced = c.PricedAt != nil
	c.Stuck = c.SignalledAt == nil && c.SignalAttempts >= StuckAfterAttempts
	return c, err
}

// The work that may still change a conversion's amounts (DESIGN §14.12).
const (
	// PendingPricing: approved and accepted, not priced yet.
	PendingPricing = "pricing"
	// PendingCustomerValue: priced; the customer's Customer Value rules have
	// not seen it yet (a bonus or an override may follow).
	PendingCustomerValue = "customer_value"
	// PendingRepricing: its commission cycle reached a higher band and the
	// retroactive re-pricing of the cycle has not reached it yet.
	PendingRepricing = "retroactive_repricing"
)

// WithPending reads the conversions again together with the work still
// pending on them, in one statement, so that what a conversion says of
// itself (priced, its amounts) and what it says is pending are of one
// moment: a client that waits for pending to be empty never reads an
// unpriced conversion as final.
func (s *Store) WithPending(ctx context.Context, cs []Conversion) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+conversionColumns+`,
			status = 'approved' AND priced_at IS NULL,
			status = 'approved' AND priced_at IS NOT NULL AND reversed_at IS NULL AND value_evaluated_at IS NULL,
			status = 'approved' AND reversed_at IS NULL AND EXISTS (SELECT 1 FROM commission_cycles cc
				WHERE cc.rule_id = conversions.tiered_rule_id AND cc.partner_id = conversions.partner_id
					AND cc.offer_id = conversions.offer_id AND cc.period_start = conversions.tiered_period_start
					AND conversions.tiered_band < cc.band AND cc.repriced_band < cc.band)
				AND (SELECT coalesce(definition->>'retro_mode', '') NOT IN ('', 'disabled') FROM tiered_rules WHERE id = conversions.tiered_rule_id)
				AND NOT EXISTS (SELECT 1 FROM ledger_lines l WHERE l.conversion_id = conversions.id AND l.kind = 'payout' AND l.payout_run_id IS NOT NULL)
		FROM conversions WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("read pending work: %w", err)
	}
	fresh, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversion, error) {
		var pricing, value, repricing bool
		c, err := scanConversion(extraColumns{r, []any{&pricing, &value, &repricing}})
		c.Pending = []string{}
		if pricing {
			c.Pending = append(c.Pending, PendingPricing)
		}
		if value {
			c.Pending = append(c.Pending, PendingCustomerValue)
		}
		if repricing {
			c.Pending = append(c.Pending, PendingRepricing)
		}
		return c, err
	})
	if err != nil {
		return fmt.Errorf("read pending work: %w", err)
	}
	byID := make(map[int64]Conversion, len(fresh))
	for _, c := range fresh {
		byID[c.ID] = c
	}
	for i := range cs {
		if c, ok := byID[cs[i].ID]; ok {
			cs[i] = c
		}
	}
	return nil
}

// extraColumns scans a conversion's columns and then more.
type extraColumns struct {
	row   pgx.Row
	extra []any
}

func (e extraColumns) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// NewConversion is a validated postback, ready to store.
type NewConversion struct {
	AdvertiserID    int64
	OfferID         int64
	PartnerID       int64
	Event           string
	UserID          string
	TransactionID   string
	OrderID         string
	DedupeKey       string
	Currency        string
	SaleAmount      decimal.Decimal
	PostbackRevenue decimal.NullDecimal
	Status          string
	RejectionReason string // set with Status rejected
	OccurredAt      time.Time
	Adv             []string
	CouponCode      string
	EmailSHA256     string
	SourceID        string
	Data            map[string]any
	WorkflowID      string
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InsertConversion stores a conversion unless one with the same dedupe key
// exists; then it returns that one and duplicate = true. Concurrent inserts of
// one key store exactly one row.
func (s *Store) InsertConversion(ctx context.Context, n NewConversion) (c Conversion, duplicate bool, err error) {
	if n.Adv == nil {
		n.Adv = []string{}
	}
	if n.Data == nil {
		n.Data = map[string]any{}
	}
	c, err = scanConversion(s.pool.QueryRow(ctx, `
		INSERT INTO conversions (advertiser_id, offer_id, partner_id, event, user_id, transaction_id, order_id,
			dedupe_key, currency, sale_amount, postback_revenue, status, occurred_at, adv, data, workflow_id, rejection_reason,
			coupon_code, email_sha256, source_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (dedupe_key) DO NOTHING
		RETURNING `+conversionColumns,
		n.AdvertiserID, n.OfferID, n.PartnerID, n.Event, nullIfEmpty(n.UserID), nullIfEmpty(n.TransactionID),
		nullIfEmpty(n.OrderID), n.DedupeKey, n.Currency, n.SaleAmount, n.PostbackRevenue, n.Status,
		n.OccurredAt, n.Adv, n.Data, n.WorkflowID, nullIfEmpty(n.RejectionReason),
		nullIfEmpty(n.CouponCode), nullIfEmpty(n.EmailSHA256), nullIfEmpty(n.SourceID)))
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Conversion{}, false, fmt.Errorf("insert conversion: %w", err)
	}
	c, err = scanConversion(s.pool.QueryRow(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE dedupe_key = $1`, n.DedupeKey))
	if err != nil {
		return Conversion{}, false, fmt.Errorf("read duplicate conversion: %w", err)
	}
	return c, true, nil
}

// Conversion returns one conversion.
func (s *Store) Conversion(ctx context.Context, id int64) (Conversion, error) {
	c, err := scanConversion(s.pool.QueryRow(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Conversion{}, NotFound("conversion", id)
	}
	if err != nil {
		return Conversion{}, fmt.Errorf("read conversion %d: %w", id, err)
	}
	return c, nil
}

// ConversionByTransaction finds the conversion of a click's transaction id
// and event.
func (s *Store) ConversionByTransaction(ctx context.Context, transactionID, event string) (Conversion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE transaction_id = $1 AND event = $2 ORDER BY id LIMIT 2`, transactionID, event)
	if err != nil {
		return Conversion{}, fmt.Errorf("find conversion by transaction: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversion, error) { return scanConversion(r) })
	if err != nil {
		return Conversion{}, fmt.Errorf("find conversion by transaction: %w", err)
	}
	switch len(found) {
	case 0:
		return Conversion{}, NotFound("conversion with transaction_id and event", transactionID+"/"+event)
	case 1:
		return found[0], nil
	default:
		// A repeatable event has one conversion per order: the pair is
		// ambiguous, and a reversal must never hit several conversions.
		return Conversion{}, Conflict("transaction_id %q and event %q match several conversions; use the conversion id", transactionID, event)
	}
}

// MarkSignalled records that the conversion's workflow has been told.
func (s *Store) MarkSignalled(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE conversions SET signalled_at = now() WHERE id = $1 AND signalled_at IS NULL`, id); err != nil {
		return fmt.Errorf("mark conversion %d signalled: %w", id, err)
	}
	return nil
}

// Unsignalled lists approved conversions received before the given time whose
// workflow was never told and that are due (not backing off after a failed
// signal), oldest first. A conversion behind one of the same customer that
// is backing off is not listed: a customer's conversions are signalled in
// order, while every other customer's go on (see outbox.go).
func (s *Store) Unsignalled(ctx context.Context, receivedBefore time.Time, limit int) ([]Conversion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE signalled_at IS NULL AND status = 'approved' AND received_at < $1
			AND (signal_retry_at IS NULL OR signal_retry_at <= now())
			AND (workflow_id = '' OR NOT EXISTS (SELECT 1 FROM conversions e
				WHERE e.signalled_at IS NULL AND e.status = 'approved' AND e.workflow_id = conversions.workflow_id
					AND e.received_at < conversions.received_at AND e.signal_retry_at > now()))
		ORDER BY received_at LIMIT $2`, receivedBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list unsignalled conversions: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversion, error) { return scanConversion(r) })
	if err != nil {
		return nil, fmt.Errorf("list unsignalled conversions: %w", err)
	}
	return cs, nil
}

// lockConversion reads a conversion and locks its row for the transaction.
func lockConversion(ctx context.Context, tx pgx.Tx, id int64) (Conversion, error) {
	c, err := scanConversion(tx.QueryRow(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Conversion{}, NotFound("conversion", id)
	}
	if err != nil {
		return Conversion{}, fmt.Errorf("lock conversion %d: %w", id, err)
	}
	return c, nil
}

// RuleNames are the names of every rule that touched the conversion.
func (c Conversion) RuleNames() []string {
	var names []string
	if c.TieredRuleName != "" {
		names = append(names, c.TieredRuleName)
	}
	return append(names, c.ValueRuleNames...)
}

// CustomerConversions returns a customer's conversions in time order.
func (s *Store) CustomerConversions(ctx context.Context, advertiserID int64, userID string) ([]Conversion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE advertiser_id = $1 AND user_id = $2 ORDER BY occurred_at, id`, advertiserID, userID)
	if err != nil {
		return nil, fmt.Errorf("list customer conversions: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversion, error) { return scanConversion(r) })
	if err != nil {
		return nil, fmt.Errorf("list customer conversions: %w", err)
	}
	return cs, nil
}
