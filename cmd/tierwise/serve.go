package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tierwise/tierwise/api"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/worker"
)

const connectionEnv = `  DATABASE_URL        PostgreSQL connection string (required)
  TEMPORAL_ADDRESS    Temporal frontend host:port (default localhost:7233)
  TEMPORAL_NAMESPACE  Temporal namespace (default "default")
  LOG_LEVEL           debug, info, warn or error (default info)
  LOG_FORMAT          json or text (default json)
`

const serveUsage = `Usage: tierwise serve

Serves the HTTP API, the affiliate manager's console (under /console/) and
the metrics at /metrics, on one address.
Stateless: run as many as the load needs.

Environment:
  LISTEN_ADDR         listen address (default :8080)
  TIERWISE_ADMIN_KEY  admin API key(s), comma-separated, accepted as
                      "Authorization: Bearer <key>" and to sign in to the
                      console (required)
  TEMPORAL_UI_URL     the Temporal Web UI's URL, for the console's links to
                      a customer's workflow (default: no links)
  PUBLIC_URL          the address partners' tracking links point at, such as
                      https://track.example.com (default: the address each
                      request came to)
  POSTBACK_MAX_AGE_DAYS  how old a postback's timestamp may be (default 400)
` + connectionEnv + `
The API starts while Temporal is unreachable: postbacks are stored and
signalled once it answers (/readyz says "temporal": "unreachable").
`

const workerUsage = `Usage: tierwise worker

Runs the Temporal worker: customer and commission-cycle workflows and their
activities, and the sweeper. Stateless: run as many as the load needs.

Environment:
  METRICS_ADDR        listen address of the worker's /metrics (default :9464)
` + connectionEnv

// connections are the external PostgreSQL and Temporal of serve and worker,
// and the metrics of both.
type connections struct {
	logger   *slog.Logger
	pool     *pgxpool.Pool
	temporal client.Client
	metrics  *metrics.Registry
}

// connect opens the pool and a Temporal client. With lazy, the client
// connects on first use, so the API starts while Temporal is down.
func connect(ctx context.Context, lazy bool) (*connections, error) {
	logger, err := newLogger(os.Stderr)
	if err != nil {
		return nil, err
	}
	url := env("DATABASE_URL", "")
	if url == "" {
		return nil, errors.New("DATABASE_URL is required")
	}
	pool, err := store.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	reg := metrics.NewRegistry(logger)
	reg.WatchPool(pool)
	reg.WatchBacklog(store.New(pool))
	opts := client.Options{
		HostPort:       env("TEMPORAL_ADDRESS", "localhost:7233"),
		Namespace:      env("TEMPORAL_NAMESPACE", "default"),
		Logger:         sdklog.NewStructuredLogger(logger),
		MetricsHandler: reg.Temporal(),
	}
	dial := client.DialContext
	if lazy {
		dial = func(_ context.Context, opts client.Options) (client.Client, error) { return client.NewLazyClient(opts) }
	}
	tc, err := dial(ctx, opts)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to Temporal at TEMPORAL_ADDRESS: %w", err)
	}
	return &connections{logger: logger, pool: pool, temporal: tc, metrics: reg}, nil
}

func (c *connections) close() {
	c.temporal.Close()
	c.pool.Close()
}

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("serve", serveUsage, stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	adminKeys := splitKeys(env("TIERWISE_ADMIN_KEY", ""))
	if len(adminKeys) == 0 {
		return errors.New("TIERWISE_ADMIN_KEY is required")
	}
	maxAge, err := postbackMaxAge()
	if err != nil {
		return err
	}
	conns, err := connect(ctx, true)
	if err != nil {
		return err
	}
	defer conns.close()
	apiServer := api.NewServer(api.Config{Pool: conns.pool, Temporal: conns.temporal, AdminKeys: adminKeys, Logger: conns.logger,
		Metrics: conns.metrics, PostbackMaxAge: maxAge, PublicURL: env("PUBLIC_URL", ""),
		Console: true, TemporalUIURL: env("TEMPORAL_UI_URL", ""), Namespace: env("TEMPORAL_NAMESPACE", "default")})
	// Deferred before the HTTP server's shutdown, so stopped after it:
	// requests finishing during the shutdown are still signalled.
	defer apiServer.Start()()
	srv := &http.Server{
		Addr:              env("LISTEN_ADDR", ":8080"),
		Handler:           apiServer.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	conns.logger.Info("serving the API and the console", "addr", srv.Addr, "console", "/console/")
	select {
	case err := <-errc:
		return fmt.Errorf("LISTEN_ADDR %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func runWorker(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("worker", workerUsage, stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	conns, err := connect(ctx, false)
	if err != nil {
		return err
	}
	defer conns.close()
	if err := worker.Prepare(ctx, conns.temporal, env("TEMPORAL_NAMESPACE", "default")); err != nil {
		return err
	}
	metricsSrv := &http.Server{
		Addr:              env("METRICS_ADDR", ":9464"),
		Handler:           metricsMux(conns.metrics),
		ReadHeaderTimeout: 10 * time.Second,
	}
	l, err := net.Listen("tcp", metricsSrv.Addr)
	if err != nil {
		return fmt.Errorf("METRICS_ADDR: %w", err)
	}
	go func() { _ = metricsSrv.Serve(l) }()
	defer metricsSrv.Close()

	w := worker.New(conns.temporal, worker.Config{Pool: conns.pool, Logger: conns.logger})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	conns.logger.Info("worker started", "task_queue", worker.TaskQueue, "metrics", "http://"+l.Addr().String()+"/metrics")
	<-ctx.Done()
	w.Stop()
	return nil
}

// postbackMaxAge reads POSTBACK_MAX_AGE_DAYS; 0 when unset (the default).
func postbackMaxAge() (time.Duration, error) {
	v := env("POSTBACK_MAX_AGE_DAYS", "")
	if v == "" {
		return 0, nil
	}
	days, err := strconv.Atoi(v)
	if err != nil || days < 1 || days > 36500 {
		return 0, fmt.Errorf("POSTBACK_MAX_AGE_DAYS: must be a number of days from 1 to 36500, got %q", v)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// metricsMux serves the worker's metrics at /metrics.
func metricsMux(reg *metrics.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	return mux
}

// splitKeys splits a comma-separated list of keys.
func splitKeys(v string) []string {
	var keys []string
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}
