package bench

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Statements per priced conversion come from pg_stat_statements: the calls
// of every statement run in the stack's database (tierwise's; an embedded
// Temporal server's databases are others) from the start of the load until
// the backlog has drained and every re-pricing is done, less the bench's
// own queries in that time, divided by the run's conversions priced. So
// they are everything tierwise sends PostgreSQL for a run's conversions
// (accepts, signalling marks, pricing, Customer Value records, retroactive
// re-pricing, the sweeper's polls), each BEGIN and COMMIT included, one per
// statement whether or not a batch carried several in one round trip.

// ownStatements is a pgx tracer on the bench's pool that counts the
// statements it sends, to take them out of pg_stat_statements' count.
type ownStatements struct{ n atomic.Int64 }

func (o *ownStatements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	o.n.Add(1)
	return ctx
}

func (o *ownStatements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// statementCount is a reading of pg_stat_statements for the stack's
// database.
type statementCount struct {
	calls   int64 // statements executed in the database so far
	dealloc int64 // entries pg_stat_statements has evicted so far (their calls are lost)
	own     int64 // the bench's own statements so far
}

// enableStatements creates the pg_stat_statements extension in the stack's
// database where it is missing. It reports why statements cannot be
// counted, or "" when they can: the server must load the library
// (shared_preload_libraries, as the dev stack's cluster does).
func (d *db) enableStatements(ctx context.Context) string {
	if _, err := d.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return err.Error()
	}
	if _, err := d.statements(ctx); err != nil {
		return err.Error()
	}
	return ""
}

// statements reads the count of statements executed in the stack's
// database. pg_stat_statements(false) leaves the query texts unread.
func (d *db) statements(ctx context.Context) (statementCount, error) {
	var c statementCount
	err := d.pool.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint,
			(SELECT dealloc FROM pg_stat_statements_info)
		FROM pg_stat_statements(false) WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&c.calls, &c.dealloc)
	if err != nil {
		return statementCount{}, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	if d.own != nil {
		c.own = d.own.n.Load()
	}
	return c, nil
}

// perConversion returns the statements per priced conversion between two
// readings, false when they cannot say (entries were evicted in between,
// or nothing was priced).
func perConversion(before, after statementCount, priced int64) (float64, bool) {
	if priced <= 0 || after.dealloc != before.dealloc {
		return 0, false
	}
	n := (after.calls - before.calls) - (after.own - before.own)
	return float64(max(n, 0)) / float64(priced), true
}
