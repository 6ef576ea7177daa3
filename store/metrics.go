package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tierwise/tierwise/metrics"
)

// observedTx is a store transaction that remembers what it did that the
// metrics count, and tells package metrics once it has committed: an
// attempt that rolled back, and the retry after it, are counted once.
type observedTx struct {
	pgx.Tx
	lines      map[[2]string]int // kind, reason → lines written
	bandRaises int
	priced     []time.Time // the received_at of each conversion priced
}

// observed is the observedTx of a transaction the store began; other
// transactions get one that is never reported.
func observed(tx pgx.Tx) *observedTx {
	if o, ok := tx.(*observedTx); ok {
		return o
	}
	return &observedTx{Tx: tx}
}

// linesWritten records n lines of a kind and reason.
func (o *observedTx) linesWritten(kind, reason string, n int64) {
	if n <= 0 {
		return
	}
	if o.lines == nil {
		o.lines = map[[2]string]int{}
	}
	o.lines[[2]string{kind, reason}] += int(n)
}

// conversionPriced records a conversion accepted at receivedAt priced.
func (o *observedTx) conversionPriced(receivedAt time.Time) {
	o.priced = append(o.priced, receivedAt)
}

// retroLinesWritten records the retro lines of a re-pricing chunk, one per
// kind given. The chunk's conversions are locked and each line's key counts
// the retro lines before it, so all of them are written.
func (o *observedTx) retroLinesWritten(kinds []string) {
	for _, k := range kinds {
		o.linesWritten(k, ReasonRetro, 1)
	}
}

// report tells package metrics what the committed transaction did.
func (o *observedTx) report() {
	for k, n := range o.lines {
		metrics.LedgerLinesWritten(k[0], k[1], n)
	}
	metrics.BandsRaised(o.bandRaises)
	for _, at := range o.priced {
		metrics.ConversionPriced(at)
	}
}

// outboxes are the outbox tables the backlog reports, each with the query
// of its undelivered signals: their count and the age in seconds of the
// oldest. A new outbox is one line here.
var outboxes = []struct{ name, query string }{
	{"cycle_signals", `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM cycle_signals WHERE sent_at IS NULL`},
	{"lifecycle_signals", `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM lifecycle_signals WHERE sent_at IS NULL`},
}

// Backlog reads the work that waits in PostgreSQL, for the metrics: the
// unsignalled conversions and their oldest, the stuck ones (whose signal
// failed StuckAfterAttempts times or more), and each
// outbox's undelivered signals. Every query runs on a partial index of the
// undelivered rows, so it costs what the backlog holds, not the table's
// size. Ages are taken on PostgreSQL's clock, the one that stamped the rows.
func (s *Store) Backlog(ctx context.Context) (metrics.Backlog, error) {
	var b metrics.Backlog
	var oldest float64
	if err := s.pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE signal_attempts >= $1),
			coalesce(extract(epoch FROM now() - min(received_at)), 0)
		FROM conversions WHERE signalled_at IS NULL AND status = 'approved'`, StuckAfterAttempts).
		Scan(&b.Unsignalled, &b.Stuck, &oldest); err != nil {
		return b, fmt.Errorf("read unsignalled conversions: %w", err)
	}
	b.UnsignalledOldest = seconds(oldest)
	for _, o := range outboxes {
		out := metrics.Outbox{Name: o.name}
		if err := s.pool.QueryRow(ctx, o.query).Scan(&out.Unsent, &oldest); err != nil {
			return b, fmt.Errorf("read outbox %s: %w", o.name, err)
		}
		out.Oldest = seconds(oldest)
		b.Outboxes = append(b.Outboxes, out)
	}
	return b, nil
}

// seconds converts an age in seconds read from PostgreSQL; a row stamped a
// moment after the statement began reads as 0, not negative.
func seconds(s float64) time.Duration {
	return max(time.Duration(s*float64(time.Second)), 0)
}
