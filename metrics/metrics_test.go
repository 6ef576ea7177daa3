package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// scrape reads a /metrics handler's families by name.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return families
}

// sample is the metric of a family whose labels include those given (name,
// value pairs), nil when there is none.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is a gauge's or a counter's value, 0 when it is not exported.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m := sample(families, name, labels...)
	switch {
	case m == nil:
		return 0
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	default:
		return m.GetCounter().GetValue()
	}
}

// histogramCount is a histogram's number of observations.
func histogramCount(families map[string]*dto.MetricFamily, name string, labels ...string) uint64 {
	return sample(families, name, labels...).GetHistogram().GetSampleCount()
}

type testBundle struct {
	pool  *pgxpool.Pool
	store *store.Store
	reg   *metrics.Registry
}

// setup connects to a fresh database as the binary does (store.Connect: the
// query tracer) and watches its pool and backlog.
func setup(t *testing.T) *testBundle {
	t.Helper()
	pool, err := store.Connect(context.Background(), pgtest.Database(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	b := &testBundle{pool: pool, store: store.New(pool), reg: metrics.NewRegistry(nil)}
	b.reg.WatchPool(pool)
	b.reg.WatchBacklog(b.store)
	return b
}

// conversion stores an approved conversion of a new advertiser, offer and
// partner.
func (b *testBundle) conversion(t *testing.T, key string) store.Conversion {
	t.Helper()
	ctx := context.Background()
	adv, _, err := b.store.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Broker"})
	require.NoError(t, err)
	offer, err := b.store.CreateOffer(ctx, store.OfferInput{
		AdvertiserID: adv.ID, Name: "Offer", Currency: "USD", DestinationURL: "https://example.com/",
		Events: []store.OfferEvent{{
			Payout:  pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: decimal.NewFromInt(1)},
			Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: decimal.NewFromInt(2)},
		}},
	})
	require.NoError(t, err)
	partner, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "Partner"})
	require.NoError(t, err)
	c, _, err := b.store.InsertConversion(ctx, store.NewConversion{
		AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, UserID: "u-" + key, DedupeKey: key,
		Currency: "USD", Status: store.StatusApproved, OccurredAt: time.Now(), WorkflowID: "customer/x/" + key,
	})
	require.NoError(t, err)
	return c
}

// selectOne runs a statement the tracer names after this function.
func selectOne(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, "SELECT 1")
	return err
}

// TestQueryTracerNamesStatements: statements are timed under the name of the
// function that ran them, of their "-- name:" comment, or of their
// transaction keyword, never their SQL; failures are counted; the pool's
// statistics are exported.
func TestQueryTracerNamesStatements(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, selectOne(ctx, b.pool))
	_, err := b.pool.Exec(ctx, "-- name: CountNothing\nSELECT count(*) FROM (SELECT 1 WHERE false) nothing")
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return nil }))
	_, err = b.pool.Exec(ctx, "-- name: FailOnPurpose\nSELECT 1/0")
	require.Error(t, err)

	families := scrape(t, b.reg.Handler())
	for _, name := range []string{"metrics_test.selectOne", "CountNothing", "begin", "commit", "FailOnPurpose"} {
		require.NotNil(t, sample(families, "tierwise_pg_query_duration_seconds", "statement", name), "statement %s", name)
	}
	for _, m := range families["tierwise_pg_query_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			require.NotContains(t, l.GetValue(), "SELECT", "a statement is never labelled by its SQL")
		}
	}
	require.GreaterOrEqual(t, value(families, "tierwise_pg_query_errors_total", "statement", "FailOnPurpose"), 1.0)
	require.Zero(t, value(families, "tierwise_pg_query_errors_total", "statement", "CountNothing"))
	require.Equal(t, float64(store.DefaultMaxConns), value(families, "tierwise_pg_pool_max_connections"))
	require.GreaterOrEqual(t, value(families, "tierwise_pg_pool_acquires_total"), 4.0)
}

// TestBacklogOnMetrics: /metrics shows the unsignalled conversions and how
// long the oldest has waited, the stuck ones and each outbox's backlog, read
// from PostgreSQL.
func TestBacklogOnMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	families := scrape(t, b.reg.Handler())
	require.Equal(t, 1.0, value(families, "tierwise_backlog_up"))
	require.NotNil(t, sample(families, "tierwise_unsignalled_conversions"))
	require.Zero(t, value(families, "tierwise_unsignalled_conversions"))
	require.Zero(t, value(families, "tierwise_unsignalled_oldest_age_seconds"))
	require.NotNil(t, sample(families, "tierwise_outbox_unsent", "outbox", "cycle_signals"))

	fresh, old, signalled := b.conversion(t, "fresh"), b.conversion(t, "old"), b.conversion(t, "signalled")
	require.NoError(t, b.store.MarkSignalled(ctx, signalled.ID))
	// Accepted long ago, and its signal failed as often as makes it stuck.
	_, err := b.pool.Exec(ctx, `UPDATE conversions SET received_at = now() - interval '10 minutes', signal_attempts = $2 WHERE id = $1`,
		old.ID, store.StuckAfterAttempts)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `INSERT INTO cycle_signals (rule_id, partner_id, offer_id, period_start, band, created_at)
		VALUES (1, $1, $2, now(), 0, now() - interval '30 seconds')`, fresh.PartnerID, fresh.OfferID)
	require.NoError(t, err)

	// The backlog is read at most every two seconds.
	require.Eventually(t, func() bool {
		return value(scrape(t, b.reg.Handler()), "tierwise_unsignalled_conversions") == 2
	}, 10*time.Second, 100*time.Millisecond)
	families = scrape(t, b.reg.Handler())
	require.Equal(t, 1.0, value(families, "tierwise_stuck_conversions"))
	require.InDelta(t, (10 * time.Minute).Seconds(), value(families, "tierwise_unsignalled_oldest_age_seconds"), 60)
	require.Equal(t, 1.0, value(families, "tierwise_outbox_unsent", "outbox", "cycle_signals"))
	require.InDelta(t, 30, value(families, "tierwise_outbox_oldest_age_seconds", "outbox", "cycle_signals"), 15)

	t.Run("DatabaseDown", func(t *testing.T) {
		t.Parallel()
		reg := metrics.NewRegistry(nil)
		reg.WatchBacklog(failingBacklog{})
		families := scrape(t, reg.Handler())
		require.Equal(t, 0.0, value(families, "tierwise_backlog_up"))
		require.Nil(t, sample(families, "tierwise_unsignalled_conversions"), "an unknown backlog is not shown as 0")
	})
}

type failingBacklog struct{}

func (failingBacklog) Backlog(context.Context) (metrics.Backlog, error) {
	return metrics.Backlog{}, errors.New("connection refused")
}

// TestStoreCountsWhatCommitted: ledger lines, the priced conversion and its
// accept → priced lag are counted once the pricing transaction commits; an
// attempt that fails after writing a line counts nothing, and a second
// delivery of a priced conversion counts nothing more. No other test of
// this package prices, so the counters move by exactly this test's work.
func TestStoreCountsWhatCommitted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := b.conversion(t, "priced")
	line := func(kind string) store.NewLine {
		return store.NewLine{Kind: kind, Amount: decimal.NewFromInt(1), Reason: store.ReasonPrice, Key: store.ReasonPrice}
	}
	price := func(lines ...store.NewLine) func(context.Context, *store.PricingTx) (store.Priced, error) {
		return func(context.Context, *store.PricingTx) (store.Priced, error) {
			return store.Priced{Lines: lines, Pricing: map[string]string{}}, nil
		}
	}
	read := func() (payout, revenue, priced float64, lag uint64) {
		f := scrape(t, b.reg.Handler())
		return value(f, "tierwise_ledger_lines_written_total", "kind", "payout", "reason", "price"),
			value(f, "tierwise_ledger_lines_written_total", "kind", "revenue", "reason", "price"),
			value(f, "tierwise_conversions_priced_total"),
			histogramCount(f, "tierwise_accept_to_priced_seconds")
	}
	payout0, revenue0, priced0, lag0 := read()

	// The payout line is written, then the next one breaks the transaction.
	_, _, _, err := b.store.PriceConversion(ctx, c.ID, price(line(store.KindPayout), line("no-such-kind")))
	require.Error(t, err)
	payout, revenue, priced, lag := read()
	require.Equal(t, [4]float64{payout0, revenue0, priced0, float64(lag0)}, [4]float64{payout, revenue, priced, float64(lag)},
		"a rolled-back attempt is not counted")

	_, ok, _, err := b.store.PriceConversion(ctx, c.ID, price(line(store.KindPayout), line(store.KindRevenue)))
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, _, err = b.store.PriceConversion(ctx, c.ID, price(line(store.KindPayout), line(store.KindRevenue)))
	require.NoError(t, err)
	require.False(t, ok, "priced once")

	payout, revenue, priced, lag = read()
	require.Equal(t, payout0+1, payout)
	require.Equal(t, revenue0+1, revenue)
	require.Equal(t, priced0+1, priced)
	require.Equal(t, lag0+1, lag)
}

// TestTemporalSDKNames: the SDK's metrics keep their names, with the unit
// and counter suffixes, and its latencies fall in buckets made for seconds.
func TestTemporalSDKNames(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry(nil)
	h := reg.Temporal().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(3)
	h.Timer("temporal_request_latency").Record(30 * time.Millisecond)

	families := scrape(t, reg.Handler())
	require.Equal(t, 3.0, value(families, "temporal_request_total", "namespace", "default"))
	hist := sample(families, "temporal_request_latency_seconds", "namespace", "default").GetHistogram()
	require.NotNil(t, hist)
	require.Equal(t, uint64(1), hist.GetSampleCount())
	for _, bucket := range hist.GetBucket() {
		if bucket.GetUpperBound() == 0.05 {
			require.Equal(t, uint64(1), bucket.GetCumulativeCount(), "30 ms is under the 50 ms bucket")
			return
		}
	}
	t.Fatal("no 50 ms bucket")
}
