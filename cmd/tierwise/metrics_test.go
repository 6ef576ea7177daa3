package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/internal/temporaltest"
)

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" { // re-executed as the tierwise binary
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	pgtest.Main(m)
}

const testAdminKey = "tw_admin_metrics-test-key"

// binary is `tierwise serve` and `tierwise worker`, run in the test's process
// on the environment an operator would give them, against a real
// PostgreSQL and an embedded Temporal server.
type binary struct {
	t          *testing.T
	apiURL     string
	workerURL  string // the worker's METRICS_ADDR
	token      string // an advertiser's postback token
	offerID    int64
	partnerID  int64
	secretUser string // parameter values no metric may show
	secretAdv  string
}

// startBinary runs serve and worker until the test ends. The configuration
// is the process's environment, so tests that use it do not run in
// parallel.
func startBinary(t *testing.T) *binary {
	t.Helper()
	ts := temporaltest.Start(t)
	b := &binary{t: t, secretUser: "user-9f2c41d7", secretAdv: "adv-5be07a13"}
	apiAddr, metricsAddr := freeAddr(t), freeAddr(t)
	b.apiURL, b.workerURL = "http://"+apiAddr, "http://"+metricsAddr
	for k, v := range map[string]string{
		"DATABASE_URL":       pgtest.Database(t),
		"TEMPORAL_ADDRESS":   ts.Address(),
		"TEMPORAL_NAMESPACE": "default",
		"LISTEN_ADDR":        apiAddr,
		"METRICS_ADDR":       metricsAddr,
		"TIERWISE_ADMIN_KEY": testAdminKey,
		"LOG_LEVEL":          "error",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { errs <- runServe(ctx, nil, io.Discard) }()
	go func() { errs <- runWorker(ctx, nil, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			require.NoError(t, <-errs)
		}
	})
	require.Eventually(t, func() bool {
		return answers(b.apiURL+"/healthz") && answers(b.workerURL+"/metrics")
	}, time.Minute, 50*time.Millisecond, "serve and worker did not start")

	var adv struct {
		ID    int64  `json:"id"`
		Token string `json:"postback_token"`
	}
	b.admin(http.MethodPost, "/advertisers", map[string]any{"name": "Broker"}, &adv)
	b.token = adv.Token
	var offer, partner struct {
		ID int64 `json:"id"`
	}
	b.admin(http.MethodPost, "/offers", map[string]any{
		"advertiser_id": adv.ID, "name": "Sign-up", "visibility": "public", "currency": "USD",
		"destination_url": "https://advertiser.example/?click={transaction_id}",
		"events":          []map[string]any{{"event": "", "payout": map[string]string{"type": "cpa", "amount": "5"}, "revenue": map[string]string{"type": "rpa", "amount": "8"}}},
	}, &offer)
	b.admin(http.MethodPost, "/partners", map[string]any{"name": "Partner"}, &partner)
	b.offerID, b.partnerID = offer.ID, partner.ID
	return b
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func answers(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// admin sends an admin request that must succeed and decodes its answer.
func (b *binary) admin(method, path string, body, out any) {
	b.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(b.t, err)
	req, err := http.NewRequest(method, b.apiURL+path, bytes.NewReader(raw))
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	require.Less(b.t, resp.StatusCode, 300, "%s %s: %s", method, path, answer)
	if out != nil {
		require.NoError(b.t, json.Unmarshal(answer, out))
	}
}

// convert sends a postback with the secret values and waits until its
// conversion is priced.
func (b *binary) convert() {
	b.t.Helper()
	q := url.Values{"token": {b.token}, "offer_id": {strconv.FormatInt(b.offerID, 10)},
		"partner_id": {strconv.FormatInt(b.partnerID, 10)}, "user_id": {b.secretUser}, "adv1": {b.secretAdv}}
	resp, err := http.Get(b.apiURL + "/postback?" + q.Encode())
	require.NoError(b.t, err)
	var res struct {
		ConversionID int64 `json:"conversion_id"`
	}
	require.NoError(b.t, json.NewDecoder(resp.Body).Decode(&res))
	_ = resp.Body.Close()
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
	require.Eventually(b.t, func() bool {
		var c struct {
			PricedAt *time.Time `json:"priced_at"`
		}
		b.admin(http.MethodGet, fmt.Sprintf("/conversions/%d", res.ConversionID), nil, &c)
		return c.PricedAt != nil
	}, 30*time.Second, 20*time.Millisecond, "conversion %d was not priced", res.ConversionID)
}

// scrape reads a /metrics: its text and its families by name.
func scrape(t *testing.T, url string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	require.NoError(t, err, "not the Prometheus text format")
	return string(raw), families
}

// TestMetricsEndpoints: /metrics answers on the API's LISTEN_ADDR and on the
// worker's METRICS_ADDR, with the Temporal SDK's metrics of each one's client
// (the API's requests; the worker's task latencies and polls) and tierwise's,
// and shows no key, token or parameter value.
func TestMetricsEndpoints(t *testing.T) {
	b := startBinary(t)
	b.convert()

	apiText, api := scrape(t, b.apiURL+"/metrics")
	workerText, worker := scrape(t, b.workerURL+"/metrics")

	for _, name := range []string{"tierwise_postbacks_total", "tierwise_postback_accept_duration_seconds",
		"tierwise_unsignalled_conversions", "tierwise_pg_pool_max_connections", "tierwise_pg_query_duration_seconds",
		"temporal_request_total", "temporal_request_latency_seconds"} {
		require.Contains(t, api, name, "the API's /metrics")
	}
	for _, name := range []string{"tierwise_conversions_priced_total", "tierwise_accept_to_priced_seconds",
		"tierwise_unsignalled_conversions", "tierwise_pg_pool_max_connections",
		"temporal_workflow_task_execution_latency_seconds", "temporal_workflow_task_schedule_to_start_latency_seconds",
		"temporal_workflow_task_queue_poll_succeed_total"} {
		require.Contains(t, worker, name, "the worker's /metrics")
	}
	require.NotContains(t, api, "temporal_workflow_task_execution_latency_seconds", "the API runs no worker")

	for _, text := range []string{apiText, workerText} {
		for _, secret := range []string{testAdminKey, b.token, b.secretUser, b.secretAdv} {
			require.NotContains(t, text, secret)
		}
	}
}

// metricName finds the metric names a PromQL expression reads.
var metricName = regexp.MustCompile(`\b(?:tierwise|temporal|go|process)_[a-zA-Z0-9_]+`)

// scrapeHealth matches Prometheus' own series of a target (up), which an
// alert may read instead of tierwise's.
var scrapeHealth = regexp.MustCompile(`^up\{`)

// exported reports whether name is a metric of families: a family's name,
// or a histogram's series.
func exported(families map[string]*dto.MetricFamily, name string) bool {
	if families[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if f := families[strings.TrimSuffix(name, suffix)]; f != nil && strings.HasSuffix(name, suffix) {
			return f.GetType() == dto.MetricType_HISTOGRAM
		}
	}
	return false
}

// TestDashboardQueriesNameExportedMetrics loads the Grafana dashboard and
// the alert rules of deploy/ and checks that every query names a metric that
// serve or worker exports once a conversion has gone through, and that the
// dashboard shows what an operator watches.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	b := startBinary(t)
	b.convert()
	_, families := scrape(t, b.apiURL+"/metrics")
	_, worker := scrape(t, b.workerURL+"/metrics")
	for name, f := range worker {
		families[name] = f
	}

	raw, err := os.ReadFile("../../deploy/grafana/dashboards/tierwise.json")
	require.NoError(t, err)
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dashboard struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dashboard), "the dashboard is not valid JSON")
	require.NotEmpty(t, dashboard.UID)

	queries := map[string][]string{} // where → expressions
	for _, p := range dashboard.Panels {
		if p.Type == "row" {
			require.Empty(t, p.Panels, "row %q: panels go after their row, not inside it", p.Title)
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, target := range p.Targets {
			queries["panel "+p.Title] = append(queries["panel "+p.Title], target.Expr)
		}
	}
	raw, err = os.ReadFile("../../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert] = append(queries["alert "+r.Alert], r.Expr)
		}
	}

	read := map[string]bool{}
	for where, exprs := range queries {
		for _, expr := range exprs {
			names := metricName.FindAllString(expr, -1)
			require.True(t, len(names) > 0 || scrapeHealth.MatchString(expr), "%s: %q names no metric of tierwise", where, expr)
			for _, name := range names {
				require.True(t, exported(families, name), "%s reads %s, which tierwise does not export", where, name)
				read[strings.TrimSuffix(name, "_bucket")] = true
			}
		}
	}
	// What the operator watches: pipeline lag, backlog, accepts, retro work,
	// Temporal task latency, the PostgreSQL pool.
	for _, name := range []string{"tierwise_accept_to_priced_seconds", "tierwise_unsignalled_oldest_age_seconds",
		"tierwise_stuck_conversions", "tierwise_outbox_oldest_age_seconds", "tierwise_postbacks_total",
		"tierwise_postback_accept_duration_seconds", "tierwise_retro_reprice_duration_seconds",
		"temporal_workflow_task_schedule_to_start_latency_seconds", "tierwise_pg_pool_acquired_connections"} {
		require.True(t, read[name], "neither the dashboard nor the alerts read %s", name)
	}
}
