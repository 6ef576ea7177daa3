package e2e

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tierwise/tierwise/api"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/internal/temporaltest"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/worker"
)

// setupWithMetrics is setup wired as the binary is: the API and the worker
// each with a registry of their own, their own Temporal client reporting
// into it, the pool's statistics and the backlog. It returns the worker's
// /metrics; the API serves its own at /metrics.
func setupWithMetrics(t *testing.T) (*testBundle, http.Handler) {
	t.Helper()
	pool := pgtest.Pool(t)
	ts := temporaltest.Start(t)
	logger := slog.New(slog.DiscardHandler)
	registry := func() *metrics.Registry {
		reg := metrics.NewRegistry(logger)
		reg.WatchPool(pool)
		reg.WatchBacklog(store.New(pool))
		return reg
	}
	dial := func(reg *metrics.Registry) client.Client {
		c, err := client.Dial(client.Options{HostPort: ts.Address(), MetricsHandler: reg.Temporal(),
			Logger: sdklog.NewStructuredLogger(logger)})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}

	apiMetrics := registry()
	apiServer := api.NewServer(api.Config{Pool: pool, Temporal: dial(apiMetrics), AdminKeys: []string{adminKey}, Logger: logger, Metrics: apiMetrics})
	stop := apiServer.Start()
	srv := httptest.NewServer(apiServer.Handler())
	t.Cleanup(func() { srv.Close(); stop() })

	workerMetrics := registry()
	b := &testBundle{t: t, url: srv.URL, pool: pool, store: store.New(pool), temporal: ts, logger: logger}
	b.worker = worker.New(dial(workerMetrics), worker.Config{Pool: pool, Logger: logger, SweepInterval: 200 * time.Millisecond})
	require.NoError(t, b.worker.Start())
	t.Cleanup(b.worker.Stop)
	return b, workerMetrics.Handler()
}

// scrapeMetrics reads a /metrics handler's families by name.
func scrapeMetrics(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return families
}

// scrapeAPI reads the API's GET /metrics.
func (b *testBundle) scrapeAPI() map[string]*dto.MetricFamily {
	b.t.Helper()
	resp, err := http.Get(b.url + "/metrics")
	require.NoError(b.t, err)
	defer resp.Body.Close()
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(b.t, err)
	return families
}

// gauge is the value of a gauge without labels; -1 when it is missing.
func gauge(families map[string]*dto.MetricFamily, name string) float64 {
	f := families[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return -1
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

// slowerThan counts a histogram's observations above bound, a bucket
// boundary.
func slowerThan(t *testing.T, families map[string]*dto.MetricFamily, name string, bound float64) uint64 {
	t.Helper()
	require.Contains(t, families, name)
	h := families[name].GetMetric()[0].GetHistogram()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == bound {
			return h.GetSampleCount() - b.GetCumulativeCount()
		}
	}
	t.Fatalf("%s has no bucket at %v", name, bound)
	return 0
}

// TestMetricsShowBacklog: with Temporal stopped, the accepted postbacks are
// the unsignalled backlog on /metrics, with the age of the oldest; once
// Temporal is back the backlog returns to 0, and the accept → priced
// histogram has counted each of them at the lag it really had.
func TestMetricsShowBacklog(t *testing.T) {
	t.Parallel()
	b, workerMetrics := setupWithMetrics(t)
	adv := b.advertiser()
	offer := b.offer(adv.ID, "public", cpaRPA("5.00", "8.00"))
	partner := b.partner(nil)

	b.temporal.Stop()
	const n = 5
	var ids []int64
	for i := range n {
		status, body := b.postback(params("token", adv.Token, "offer_id", id(offer), "partner_id", id(partner),
			"user_id", fmt.Sprint("u", i%2), "order_id", fmt.Sprint("o", i)))
		require.Equal(t, http.StatusOK, status, "accepted while Temporal is down: %v", body)
		ids = append(ids, int64(body["conversion_id"].(float64)))
	}
	// The API's signals have failed by now (they give up after 2 s), and
	// the backlog is read again every 2 s.
	require.Eventually(t, func() bool {
		f := b.scrapeAPI()
		return gauge(f, "tierwise_unsignalled_conversions") == n && gauge(f, "tierwise_unsignalled_oldest_age_seconds") >= 3
	}, 30*time.Second, 100*time.Millisecond, "the backlog and its age on the API's /metrics")
	families := b.scrapeAPI()
	require.Zero(t, gauge(families, "tierwise_stuck_conversions"), "a few seconds down is not stuck")
	// Each will be priced at least 3 s after its accept.
	lagged := slowerThan(t, scrapeMetrics(t, workerMetrics), "tierwise_accept_to_priced_seconds", 2.5)

	b.temporal.Restart()
	for _, cid := range ids {
		b.waitPriced(cid)
	}
	require.Eventually(t, func() bool {
		return gauge(b.scrapeAPI(), "tierwise_unsignalled_conversions") == 0
	}, 30*time.Second, 100*time.Millisecond, "the backlog returns to 0")
	require.Zero(t, gauge(scrapeMetrics(t, workerMetrics), "tierwise_unsignalled_oldest_age_seconds"))
	// Other tests of the package price too, in the same process: theirs can
	// only add to the count.
	require.GreaterOrEqual(t, slowerThan(t, scrapeMetrics(t, workerMetrics), "tierwise_accept_to_priced_seconds", 2.5)-lagged, uint64(n),
		"the histogram counted the %d conversions at their lag", n)
}
