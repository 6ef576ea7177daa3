package metrics

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	queryDuration = factory.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tierwise_pg_query_duration_seconds",
		Help:    "Duration of PostgreSQL statements, by statement name (see QueryTracer), never by SQL text.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"statement"})

	queryErrors = factory.NewCounterVec(prometheus.CounterOpts{
		Name: "tierwise_pg_query_errors_total",
		Help: "PostgreSQL statements that failed, by statement name.",
	}, []string{"statement"})
)

// QueryTracer is a pgx query tracer that times every statement into
// tierwise_pg_query_duration_seconds. A statement is named, in this order:
//   - by a leading "-- name: X" comment (sqlc's convention), X;
//   - begin, commit, rollback, savepoint and release by that word;
//   - otherwise by the function that ran it: the first caller outside pgx,
//     package-qualified and without closures' suffixes, e.g.
//     store.Store.PriceConversion or store.appendLines.
//
// The store's SQL is written by hand, so the call site is the one name that
// is stable, needs no bookkeeping and never carries an argument or a
// literal.
type QueryTracer struct{}

type queryStart struct {
	name string
	at   time.Time
}

type queryKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (QueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, queryKey{}, queryStart{name: statementName(data.SQL), at: time.Now()})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	q, ok := ctx.Value(queryKey{}).(queryStart)
	if !ok {
		return
	}
	queryDuration.WithLabelValues(q.name).Observe(time.Since(q.at).Seconds())
	if data.Err != nil {
		queryErrors.WithLabelValues(q.name).Inc()
	}
}

// statementName names a statement (see QueryTracer).
func statementName(sql string) string {
	sql = strings.TrimSpace(sql)
	if rest, ok := strings.CutPrefix(sql, "-- name:"); ok {
		if f := strings.Fields(rest); len(f) > 0 {
			return f[0]
		}
	}
	word, _, _ := strings.Cut(sql, " ")
	switch w := strings.ToLower(word); w {
	case "begin", "commit", "rollback", "savepoint", "release":
		return w
	}
	return callSite()
}

// callSites caches, per program counter, the function name a frame gives
// ("" for frames of pgx, of this package and of the runtime).
var callSites sync.Map

// callSite names the first function on the stack outside pgx and this
// package.
func callSite() string {
	var pcs [32]uintptr
	n := runtime.Callers(3, pcs[:])
	for _, pc := range pcs[:n] {
		if name, ok := callSites.Load(pc); ok {
			if name != "" {
				return name.(string)
			}
			continue
		}
		name := frameName(pc)
		callSites.Store(pc, name)
		if name != "" {
			return name
		}
	}
	return "unknown"
}

// frameName is the caller's name of pc, "" when it is not a caller to name.
func frameName(pc uintptr) string {
	frames := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := frames.Next()
		if name := callerName(f.Function); name != "" {
			return name
		}
		if !more {
			return ""
		}
	}
}

// callerName shortens a function's full name
// (github.com/tierwise/tierwise/store.(*Store).PriceConversion.func1) to
// store.Store.PriceConversion, or returns "" for functions that do not name
// a statement.
func callerName(full string) string {
	if full == "" || strings.HasPrefix(full, "github.com/jackc/") || strings.HasPrefix(full, "runtime.") ||
		strings.HasPrefix(full, "github.com/tierwise/tierwise/metrics.") {
		return ""
	}
	name := full[strings.LastIndex(full, "/")+1:]
	if i := strings.Index(name, ".func"); i >= 0 {
		name = name[:i]
	}
	if i := strings.Index(name, "["); i >= 0 {
		name = name[:i]
	}
	return strings.NewReplacer("(*", "", ")", "").Replace(name)
}

// poolCollector reports a pgxpool's statistics when scraped.
type poolCollector struct {
	pool *pgxpool.Pool
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("tierwise_pg_pool_"+name, help, nil, nil)
}

var (
	poolAcquired     = poolDesc("acquired_connections", "Connections in use.")
	poolIdle         = poolDesc("idle_connections", "Idle connections.")
	poolConstructing = poolDesc("constructing_connections", "Connections being opened.")
	poolTotal        = poolDesc("total_connections", "Connections open or being opened.")
	poolMax          = poolDesc("max_connections", "The pool's maximum size.")
	poolAcquires     = poolDesc("acquires_total", "Connections acquired from the pool.")
	poolEmpty        = poolDesc("empty_acquires_total", "Acquires that had to wait because no connection was idle.")
	poolEmptyWait    = poolDesc("empty_acquire_wait_seconds_total", "Time acquires spent waiting because no connection was idle.")
	poolCanceled     = poolDesc("canceled_acquires_total", "Acquires cancelled (by their context) while waiting.")
	poolNew          = poolDesc("new_connections_total", "Connections opened.")
)

// Describe implements prometheus.Collector.
func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolConstructing, poolTotal, poolMax,
		poolAcquires, poolEmpty, poolEmptyWait, poolCanceled, poolNew} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolAcquired, float64(s.AcquiredConns()))
	gauge(poolIdle, float64(s.IdleConns()))
	gauge(poolConstructing, float64(s.ConstructingConns()))
	gauge(poolTotal, float64(s.TotalConns()))
	gauge(poolMax, float64(s.MaxConns()))
	counter(poolAcquires, float64(s.AcquireCount()))
	counter(poolEmpty, float64(s.EmptyAcquireCount()))
	counter(poolEmptyWait, s.EmptyAcquireWaitTime().Seconds())
	counter(poolCanceled, float64(s.CanceledAcquireCount()))
	counter(poolNew, float64(s.NewConnsCount()))
}
