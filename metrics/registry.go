package metrics

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Registry holds the metrics one /metrics serves besides the process-wide
// ones: the Temporal SDK's of a client (and the workers on it), a
// PostgreSQL pool's, the backlog of a database. The API, the worker and
// `tierwise dev` (API and worker on one client and one pool) each make one.
type Registry struct {
	reg      *prometheus.Registry
	temporal client.MetricsHandler
	logger   *slog.Logger
}

// temporalBuckets are the bounds of the Temporal SDK's latency histograms,
// in seconds (OpenTelemetry's defaults are meant for milliseconds).
var temporalBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewRegistry returns an empty registry; logger receives the errors of
// reading the backlog and of gathering.
func NewRegistry(logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Registry{reg: prometheus.NewRegistry(), logger: logger}
	// The SDK's metrics through its OpenTelemetry handler, exported into
	// this registry; the SDK's own names (temporal_…) are kept, with the
	// unit and _total suffixes Prometheus expects.
	exporter, err := otelprometheus.New(otelprometheus.WithRegisterer(r.reg),
		otelprometheus.WithoutScopeInfo(), otelprometheus.WithoutTargetInfo())
	if err != nil {
		// Only a registration conflict fails, and the registry is new.
		panic(fmt.Sprintf("metrics: Prometheus exporter: %v", err))
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalBuckets}},
	)))
	r.temporal = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		// The default panics; a metric the meter refuses is not worth a
		// crash.
		OnError: func(err error) { logger.Warn("Temporal SDK metric", "error", err) },
	})
	return r
}

// Temporal is the Temporal SDK's metrics handler for client.Options: the
// client's requests and the workers' task latencies, failures, sticky cache
// and polls.
func (r *Registry) Temporal() client.MetricsHandler {
	return r.temporal
}

// WatchPool reports the pool's statistics (tierwise_pg_pool_…). Call it once
// per pool.
func (r *Registry) WatchPool(pool *pgxpool.Pool) {
	r.reg.MustRegister(poolCollector{pool: pool})
}

// WatchBacklog reports the backlog read from b when scraped (the
// unsignalled conversions, the stuck ones, each outbox). Call it once.
func (r *Registry) WatchBacklog(b BacklogReader) {
	r.reg.MustRegister(&backlogCollector{read: b, logger: r.logger})
}

// Handler serves the process-wide metrics and the registry's in the
// Prometheus exposition format. A collector that fails leaves the others
// served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{own, r.reg}, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(r.logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}
