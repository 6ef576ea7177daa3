// Package metrics is what tierwise tells its operator, in the Prometheus
// exposition format: its own metrics (named tierwise_…, with their units in
// their names), the Temporal SDK's metrics of its client and worker, the
// PostgreSQL pool and query durations, and the backlog that waits in
// PostgreSQL, read when /metrics is scraped.
//
// tierwise's own counters and histograms belong to the process: the hooks
// that feed them (PostbackAnswered in the API, ConversionPriced and
// LedgerLinesWritten in the store once a transaction commits,
// ObserveReprice and SafetyNetClosedCycle in the activities, …) are plain
// function calls. What is tied to one pool, one Temporal client or one
// database is registered in a Registry, so that a process running several
// of them (a test) keeps them apart; a Registry's Handler serves both.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/shopspring/decimal"
)

// own holds the process-wide metrics: tierwise's counters and histograms,
// the Go runtime's and the process's.
var own = prometheus.NewRegistry()

var factory = promauto.With(own)

func init() {
	own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Results of a postback (the result label of tierwise_postbacks_total).
const (
	ResultAccepted  = "accepted"
	ResultDuplicate = "duplicate"
	ResultRejected  = "rejected"
	ResultRefused   = "refused"
)

var (
	postbacks = factory.NewCounterVec(prometheus.CounterOpts{
		Name: "tierwise_postbacks_total",
		Help: "Postbacks answered, by result: accepted, duplicate, rejected (stored and never priced; reason is the rejection reason) or refused (nothing stored; reason is the HTTP status code).",
	}, []string{"result", "reason"})

	acceptDuration = factory.NewHistogram(prometheus.HistogramOpts{
		Name:    "tierwise_postback_accept_duration_seconds",
		Help:    "Time from a postback's arrival to its answer, for postbacks answered 200: the durable accept.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .25, .5, 1, 2.5, 5},
	})

	acceptToPriced = factory.NewHistogram(prometheus.HistogramOpts{
		Name:    "tierwise_accept_to_priced_seconds",
		Help:    "Time from a conversion's accept (its received_at) to the commit of its pricing transaction: the measure of 'applied within a second'.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600},
	})

	priced = factory.NewCounter(prometheus.CounterOpts{
		Name: "tierwise_conversions_priced_total",
		Help: "Conversions priced (their layer 1–4 lines written); rate() of it is the priced rate.",
	})

	ledgerLines = factory.NewCounterVec(prometheus.CounterOpts{
		Name: "tierwise_ledger_lines_written_total",
		Help: "Ledger lines written by committed transactions, by kind (payout, revenue) and reason (price, tiered, retro, refund, reversal, bonus, override, …).",
	}, []string{"kind", "reason"})

	bandRaises = factory.NewCounter(prometheus.CounterOpts{
		Name: "tierwise_commission_band_raises_total",
		Help: "Commission cycles whose high-water band rose; each is re-priced retroactively when its rule says so.",
	})

	repriceDuration = factory.NewHistogram(prometheus.HistogramOpts{
		Name:    "tierwise_retro_reprice_duration_seconds",
		Help:    "Duration of one retroactive re-pricing of a commission cycle, all its chunks.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
	})

	safetyNetClosed = factory.NewCounter(prometheus.CounterOpts{
		Name: "tierwise_safety_net_cycles_closed_total",
		Help: "Commission cycles the safety-net schedule had to close because their workflow was not running when their period ended.",
	})

	sweeperDelivered = factory.NewCounterVec(prometheus.CounterOpts{
		Name: "tierwise_sweeper_delivered_total",
		Help: "What the worker's sweeper delivered because its first delivery failed, by outbox (conversions: unsignalled conversions; cycle_signals: band signals).",
	}, []string{"outbox"})

	payoutRuns = factory.NewCounter(prometheus.CounterOpts{
		Name: "tierwise_payout_runs_total",
		Help: "Payout runs created.",
	})

	payoutRunLines = factory.NewCounter(prometheus.CounterOpts{
		Name: "tierwise_payout_run_lines_total",
		Help: "Payout lines marked paid by payout runs.",
	})

	// A gauge, not a counter: a run's total may be negative (refunds of
	// paid conversions), and counters never go down.
	payoutRunAmount = factory.NewGauge(prometheus.GaugeOpts{
		Name: "tierwise_payout_runs_amount",
		Help: "Sum of the totals of the payout runs this process created since it started, in the network's currency (a float, for monitoring; the ledger has the exact amounts).",
	})
)

func init() {
	// Series that exist from the start, so rate() and the dashboard see a
	// zero rather than nothing.
	postbacks.WithLabelValues(ResultAccepted, "")
	postbacks.WithLabelValues(ResultDuplicate, "")
	for _, kind := range []string{"payout", "revenue"} {
		ledgerLines.WithLabelValues(kind, "price")
		ledgerLines.WithLabelValues(kind, "retro")
	}
	sweeperDelivered.WithLabelValues(OutboxConversions)
	sweeperDelivered.WithLabelValues(OutboxCycleSignals)
	sweeperDelivered.WithLabelValues(OutboxLifecycleSignals)
}

// The outboxes the sweeper delivers from (the outbox label of
// tierwise_sweeper_delivered_total).
const (
	OutboxConversions  = "conversions"
	OutboxCycleSignals = "cycle_signals"
	// OutboxLifecycleSignals are reversals and refunds told to customers.
	OutboxLifecycleSignals = "lifecycle_signals"
)

// ConversionPriced records that a conversion accepted at receivedAt has just
// been priced: call it once its pricing transaction has committed.
func ConversionPriced(receivedAt time.Time) {
	priced.Inc()
	acceptToPriced.Observe(max(time.Since(receivedAt), 0).Seconds())
}

// LedgerLinesWritten records n ledger lines of a kind and reason written by a
// transaction that has committed.
func LedgerLinesWritten(kind, reason string, n int) {
	if n > 0 {
		ledgerLines.WithLabelValues(kind, reason).Add(float64(n))
	}
}

// BandsRaised records n commission cycles whose band rose in a committed
// transaction.
func BandsRaised(n int) {
	if n > 0 {
		bandRaises.Add(float64(n))
	}
}

// ObserveReprice records a retroactive re-pricing of a cycle that started
// at start and ends now: defer metrics.ObserveReprice(time.Now()).
func ObserveReprice(start time.Time) {
	repriceDuration.Observe(time.Since(start).Seconds())
}

// SafetyNetClosedCycle records a cycle the safety net closed.
func SafetyNetClosedCycle() {
	safetyNetClosed.Inc()
}

// SweeperDelivered records n items the sweeper delivered from an outbox.
func SweeperDelivered(outbox string, n int) {
	if n > 0 {
		sweeperDelivered.WithLabelValues(outbox).Add(float64(n))
	}
}

// PayoutRunCreated records a payout run of lines paid lines totalling total.
func PayoutRunCreated(lines int, total decimal.Decimal) {
	payoutRuns.Inc()
	payoutRunLines.Add(float64(lines))
	payoutRunAmount.Add(total.InexactFloat64())
}
