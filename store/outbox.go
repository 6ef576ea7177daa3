package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tierwise/tierwise/limits"
)

// The outboxes: every signal that moves money between the ledger and the
// workflows is a row written in the transaction that writes its lines, so it
// is never lost, and is delivered after commit or, failing that, by the
// worker's sweeper (DESIGN §10, STYLE "every signal that moves money goes
// through an outbox"). There are three: a conversion's own signal to its
// customer's workflow (conversions.signalled_at), the lifecycle signals of
// reversals and refunds (lifecycle_signals), and the band changes of
// commission cycles (cycle_signals).
//
// A delivery that fails is counted on its row and retried after a back-off
// that doubles with each failure (RetryAfter); the rows after it of the same
// workflow wait, so a customer's signals keep their order, while every other
// workflow's go on. After StuckAfterAttempts failures a row is stuck: it is
// still retried, but it shows in GET /conversions?state=stuck and in the
// metrics, and the sweeper logs it once.

// StuckAfterAttempts is how many failed deliveries make a signal stuck.
const StuckAfterAttempts = 5

// RetryAfter is the back-off after a signal's attempts-th failure: 2 s, 4 s,
// 8 s, … up to 5 minutes.
func RetryAfter(attempts int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempts && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// retryAfterSQL is RetryAfter in SQL, of a column holding the failures
// before this one (an UPDATE's right-hand side sees the old row).
func retryAfterSQL(attempts string) string {
	return "least(interval '5 minutes', interval '2 seconds' * power(2, " + attempts + "))"
}

// Delivery is what a failed delivery left on its row.
type Delivery struct {
	Attempts int
	Stuck    bool // the failure made it stuck: log it, once
}

func failed(attempts int) Delivery {
	return Delivery{Attempts: attempts, Stuck: attempts == StuckAfterAttempts}
}

// errorText is a failure as a row keeps it: short, valid text.
func errorText(err error) string { return limits.Clip(err.Error()) }

// SignalFailed records a failed signal of a conversion to its customer's
// workflow and sets when to try again.
func (s *Store) SignalFailed(ctx context.Context, id int64, cause error) (Delivery, error) {
	var attempts int
	err := s.pool.QueryRow(ctx, `UPDATE conversions SET signal_attempts = signal_attempts + 1, signal_error = $2,
			signal_retry_at = now() + `+retryAfterSQL("signal_attempts")+`
		WHERE id = $1 RETURNING signal_attempts`, id, errorText(cause)).Scan(&attempts)
	if err != nil {
		return Delivery{}, fmt.Errorf("record failed signal of conversion %d: %w", id, err)
	}
	return failed(attempts), nil
}

// LifecycleSignal is an outbox row: tell a customer's workflow that one of
// its conversions was reversed, or refunded by these totals so far.
type LifecycleSignal struct {
	ID           int64
	ConversionID int64
	WorkflowID   string
	AdvertiserID int64
	UserID       string
	Kind         string // LifecycleReversal or LifecycleRefund
	Refunded     RefundTotals
	Attempts     int
}

// The kinds of lifecycle signals.
const (
	LifecycleReversal = "reversal"
	LifecycleRefund   = "refund"
)

// writeLifecycleSignal adds a lifecycle signal for the conversion's
// customer to the outbox, in the caller's transaction. A conversion without
// a customer has no lifetime to tell. For a refund the totals so far are
// read in the same transaction.
func writeLifecycleSignal(ctx context.Context, tx pgx.Tx, c Conversion, kind string) error {
	if c.Anonymous() {
		return nil
	}
	var t RefundTotals
	if kind == LifecycleRefund {
		var err error
		if t, err = refundTotals(ctx, tx, c.ID); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO lifecycle_signals (conversion_id, workflow_id, advertiser_id, user_id, kind,
			refunded_sale, refunded_revenue, refunded_payout)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.WorkflowID, c.AdvertiserID, c.UserID, kind, t.SaleAmount, t.Revenue, t.Payout); err != nil {
		return fmt.Errorf("write %s signal of conversion %d: %w", kind, c.ID, err)
	}
	return nil
}

// UnsentLifecycleSignals lists lifecycle signals not delivered yet, written
// before the given time (all when zero) and due (not backing off), of one
// workflow when workflowID is set, oldest first. A signal behind one of its
// workflow that is backing off is not listed: a customer's signals are
// delivered in order.
func (s *Store) UnsentLifecycleSignals(ctx context.Context, workflowID string, before time.Time, limit int) ([]LifecycleSignal, error) {
	if before.IsZero() {
		before = time.Now().Add(time.Hour)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, conversion_id, workflow_id, advertiser_id, user_id, kind,
			coalesce(refunded_sale, 0), coalesce(refunded_revenue, 0), coalesce(refunded_payout, 0), attempts
		FROM lifecycle_signals l
		WHERE sent_at IS NULL AND created_at < $2 AND ($1 = '' OR workflow_id = $1)
			AND (retry_at IS NULL OR retry_at <= now())
			AND NOT EXISTS (SELECT 1 FROM lifecycle_signals e WHERE e.sent_at IS NULL AND e.workflow_id = l.workflow_id
				AND e.id < l.id AND e.retry_at > now())
		ORDER BY id LIMIT $3`, workflowID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list unsent lifecycle signals: %w", err)
	}
	sigs, err := pgx.CollectRows(rows, scanLifecycleSignal)
	if err != nil {
		return nil, fmt.Errorf("list unsent lifecycle signals: %w", err)
	}
	return sigs, nil
}

func scanLifecycleSignal(r pgx.CollectableRow) (LifecycleSignal, error) {
	var l LifecycleSignal
	err := r.Scan(&l.ID, &l.ConversionID, &l.WorkflowID, &l.AdvertiserID, &l.UserID, &l.Kind,
		&l.Refunded.SaleAmount, &l.Refunded.Revenue, &l.Refunded.Payout, &l.Attempts)
	return l, err
}

// MarkLifecycleSignalSent records that a lifecycle signal was delivered.
func (s *Store) MarkLifecycleSignalSent(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE lifecycle_signals SET sent_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("mark lifecycle signal %d sent: %w", id, err)
	}
	return nil
}

// LifecycleSignalFailed records a failed delivery and sets when to try
// again.
func (s *Store) LifecycleSignalFailed(ctx context.Context, id int64, cause error) (Delivery, error) {
	return outboxFailed(ctx, s.pool, "lifecycle_signals", id, cause)
}

// CycleSignalFailed records a failed delivery of a cycle signal and sets
// when to try again.
func (s *Store) CycleSignalFailed(ctx context.Context, id int64, cause error) (Delivery, error) {
	return outboxFailed(ctx, s.pool, "cycle_signals", id, cause)
}

func outboxFailed(ctx context.Context, q dbtx, table string, id int64, cause error) (Delivery, error) {
	var attempts int
	err := q.QueryRow(ctx, `UPDATE `+table+` SET attempts = attempts + 1, last_error = $2,
			retry_at = now() + `+retryAfterSQL("attempts")+`
		WHERE id = $1 RETURNING attempts`, id, errorText(cause)).Scan(&attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, NotFound(table+" row", id)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("record failed delivery of %s %d: %w", table, id, err)
	}
	return failed(attempts), nil
}

// RetryStuck makes a conversion whose signal is stuck, and the lifecycle
// signals of its customer that are stuck, due again at once, with their
// failures forgotten: for an operator who fixed the cause.
func (s *Store) RetryStuck(ctx context.Context, id int64) (Conversion, error) {
	var c Conversion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = lockConversion(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE conversions SET signal_attempts = 0, signal_retry_at = NULL WHERE id = $1 AND signalled_at IS NULL`, id); err != nil {
			return fmt.Errorf("retry conversion %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE lifecycle_signals SET attempts = 0, retry_at = NULL
			WHERE workflow_id = $1 AND workflow_id <> '' AND sent_at IS NULL`, c.WorkflowID); err != nil {
			return fmt.Errorf("retry lifecycle signals of conversion %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Conversion{}, fmt.Errorf("retry conversion %d: %w", id, err)
	}
	return s.Conversion(ctx, id)
}

// refundTotals is RefundTotals in a transaction.
func refundTotals(ctx context.Context, q rowQuerier, id int64) (RefundTotals, error) {
	var t RefundTotals
	err := q.QueryRow(ctx, `SELECT
			(SELECT coalesce(sum(sale_amount), 0) FROM refunds WHERE conversion_id = $1),
			coalesce(-sum(amount) FILTER (WHERE kind = 'revenue'), 0),
			coalesce(-sum(amount) FILTER (WHERE kind = 'payout'), 0)
		FROM ledger_lines WHERE conversion_id = $1 AND reason = 'refund'`, id).Scan(&t.SaleAmount, &t.Revenue, &t.Payout)
	if err != nil {
		return RefundTotals{}, fmt.Errorf("sum refunds of conversion %d: %w", id, err)
	}
	return t, nil
}
