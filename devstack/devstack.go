// Package devstack runs all of tierwise in one process for development: an
// embedded Temporal server (on PostgreSQL or SQLite), the Temporal Web UI, a
// throwaway PostgreSQL cluster (unless a database URL is given), the
// migrations, the worker, and the HTTP API with the console. Everything
// persists under one data directory, so a second start finds the workflows
// and the data of the first.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tierwise/tierwise/api"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/migrations"
	"github.com/tierwise/tierwise/pgcluster"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/worker"
)

// Config configures a dev stack. Zero ports pick free ones.
type Config struct {
	DataDir      string // default ./.tierwise
	DatabaseURL  string // empty: a throwaway cluster in DataDir/postgres
	APIAddr      string // host:port of the HTTP API
	TemporalPort int
	UIPort       int
	AdminKeys    []string // empty: one generated and kept in DataDir/admin-key
	Namespace    string   // default "default"
	// PostbackMaxAge and PublicURL are the API's (api.Config).
	PostbackMaxAge time.Duration
	PublicURL      string
	Logger         *slog.Logger // the application's structured log
	Progress       io.Writer    // human-readable start-up lines; nil discards
	// TemporalMetricsAddr, when set, serves the embedded Temporal server's
	// own metrics there (port 0 picks a free one); empty: none.
	TemporalMetricsAddr string
	// TemporalPersistence is where the embedded Temporal server keeps its
	// state. Empty: what the data directory was last started with; for a
	// data directory from before the choice existed that has a temporal.db,
	// SQLite; for a new one, DefaultTemporalPersistence. With PostgreSQL the
	// server has databases of its own (temporal, temporal_visibility) on
	// the stack's PostgreSQL server.
	TemporalPersistence Persistence
}

// DefaultTemporalPersistence is the embedded Temporal server's persistence
// in a new data directory: the faster of the two on the bench
// (BENCHMARKS.md, "Temporal on PostgreSQL or SQLite").
const DefaultTemporalPersistence = PersistenceSQLite

// The databases of the embedded Temporal server on PostgreSQL, on the
// stack's PostgreSQL server.
const (
	temporalDatabase           = "temporal"
	temporalVisibilityDatabase = "temporal_visibility"
)

// temporalPersistenceFile records, in the data directory, the persistence
// the stack's Temporal server was last started with.
const temporalPersistenceFile = "temporal-persistence"

// Stack is a running dev stack.
type Stack struct {
	cfg      Config
	pg       *pgcluster.Cluster
	temporal *Temporal
	ui       *UI
	pool     *pgxpool.Pool
	metrics  *metrics.Registry
	client   client.Client
	worker   *worker.Worker
	http     *http.Server
	stopAPI  func() // stops the API's background signalling
	apiURL   string
	httpDone chan error
	adminKey string

	DatabaseURL string
}

// Start starts every part and returns once the API serves. On error, what
// was started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.DataDir == "" {
		cfg.DataDir = ".tierwise"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	s := &Stack{cfg: cfg, DatabaseURL: cfg.DatabaseURL}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "  %-34s %5.1fs\n", fmt.Sprintf(format, args...), time.Since(start).Seconds())
	}

	if s.DatabaseURL == "" {
		s.pg, err = pgcluster.Start(ctx, pgcluster.Config{
			Dir:     filepath.Join(cfg.DataDir, "postgres"),
			Durable: true,
			LogFile: filepath.Join(cfg.DataDir, "postgres.log"),
			Logger:  cfg.Logger,
			// The bench counts statements per conversion from it.
			TrackStatements: true,
		})
		if err != nil {
			return nil, fmt.Errorf("start PostgreSQL: %w", err)
		}
		s.DatabaseURL = s.pg.URL("postgres")
		step("PostgreSQL on port %d", s.pg.Port())
	}
	version, err := migrations.Up(s.DatabaseURL)
	if err != nil {
		return nil, err
	}
	step("schema at version %d", version)

	persistence, err := temporalPersistence(cfg)
	if err != nil {
		return nil, err
	}
	temporalCfg := TemporalConfig{
		Persistence:  persistence,
		DatabaseFile: filepath.Join(cfg.DataDir, "temporal.db"),
		Port:         cfg.TemporalPort,
		Namespace:    cfg.Namespace,
		LogFile:      filepath.Join(cfg.DataDir, "temporal.log"),
		Logger:       cfg.Logger,
		MetricsAddr:  cfg.TemporalMetricsAddr,
	}
	if persistence == PersistencePostgres {
		if temporalCfg.PostgresURL, err = withDatabase(s.DatabaseURL, temporalDatabase); err != nil {
			return nil, err
		}
		if temporalCfg.PostgresVisibilityURL, err = withDatabase(s.DatabaseURL, temporalVisibilityDatabase); err != nil {
			return nil, err
		}
	}
	s.temporal, err = StartTemporal(ctx, temporalCfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, temporalPersistenceFile), []byte(string(persistence)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("record the Temporal persistence: %w", err)
	}
	step("Temporal server at %s (%s)", s.temporal.Address(), persistence)

	// One registry for the API and the worker: they share the client and
	// the pool, and /metrics on the API's address serves both.
	s.metrics = metrics.NewRegistry(cfg.Logger)
	s.client, err = client.DialContext(ctx, client.Options{
		HostPort:       s.temporal.Address(),
		Namespace:      cfg.Namespace,
		Logger:         sdklog.NewStructuredLogger(cfg.Logger),
		MetricsHandler: s.metrics.Temporal(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal: %w", err)
	}
	if err := worker.Prepare(ctx, s.client, cfg.Namespace); err != nil {
		return nil, err
	}

	s.ui, err = StartUI(ctx, s.temporal.Address(), cfg.Namespace, cfg.UIPort)
	if err != nil {
		return nil, err
	}
	step("Temporal Web UI")

	if s.pool, err = store.Connect(ctx, s.DatabaseURL); err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	s.metrics.WatchPool(s.pool)
	s.metrics.WatchBacklog(store.New(s.pool))
	s.worker = worker.New(s.client, worker.Config{Pool: s.pool, Logger: cfg.Logger})
	if err := s.worker.Start(); err != nil {
		s.worker = nil
		return nil, fmt.Errorf("start worker: %w", err)
	}
	step("worker on task queue %q", worker.TaskQueue)

	l, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("the API's address %s is taken; choose another with --api-addr: %w", cfg.APIAddr, err)
	}
	s.apiURL = "http://" + l.Addr().String()
	if len(cfg.AdminKeys) == 0 {
		key, err := adminKey(filepath.Join(cfg.DataDir, "admin-key"))
		if err != nil {
			return nil, err
		}
		cfg.AdminKeys = []string{key}
	}
	s.adminKey = cfg.AdminKeys[0]
	apiServer := api.NewServer(api.Config{Pool: s.pool, Temporal: s.client, AdminKeys: cfg.AdminKeys, Logger: cfg.Logger,
		Metrics: s.metrics, PostbackMaxAge: cfg.PostbackMaxAge, PublicURL: cfg.PublicURL,
		Console: true, TemporalUIURL: s.ui.URL(), Namespace: cfg.Namespace})
	s.stopAPI = apiServer.Start()
	s.http = &http.Server{Handler: apiServer.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.http.Serve(l) }()
	step("HTTP API and console")
	return s, nil
}

// temporalPersistence decides where the stack's Temporal server keeps its
// state (Config.TemporalPersistence). Switching a data directory to the
// other persistence starts that one empty, or where it was left; the
// workflows of the other stay where they are, for a switch back.
func temporalPersistence(cfg Config) (Persistence, error) {
	previous := Persistence("")
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, temporalPersistenceFile)); err == nil {
		previous = Persistence(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the Temporal persistence: %w", err)
	} else if _, err := os.Stat(filepath.Join(cfg.DataDir, "temporal.db")); err == nil {
		previous = PersistenceSQLite // a data directory from before the choice
	}
	chosen := cfg.TemporalPersistence
	switch {
	case chosen == "" && previous != "":
		chosen = previous
	case chosen == "":
		chosen = DefaultTemporalPersistence
	case previous != "" && chosen != previous:
		cfg.Logger.Warn("the Temporal server changes persistence: the workflows kept in the previous one stay there, and come back with a switch back",
			"persistence", chosen, "previous", previous)
	}
	if err := chosen.Validate(); err != nil {
		if chosen == previous {
			return "", fmt.Errorf("%s in the data directory: %w", temporalPersistenceFile, err)
		}
		return "", err
	}
	return chosen, nil
}

// AdminKey is an admin API key of the stack.
func (s *Stack) AdminKey() string { return s.adminKey }

// adminKey reads the dev stack's admin key, creating it at the first start.
func adminKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin key: %w", err)
	}
	key := store.NewSecret("tw_admin_")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin key: %w", err)
	}
	return key, nil
}

// APIURL is the HTTP API's base URL.
func (s *Stack) APIURL() string { return s.apiURL }

// MetricsURL is the URL of the API's and the worker's metrics.
func (s *Stack) MetricsURL() string { return s.apiURL + "/metrics" }

// TemporalMetricsURL is the URL of the embedded Temporal server's own
// metrics, empty unless Config.TemporalMetricsAddr was set.
func (s *Stack) TemporalMetricsURL() string { return s.temporal.MetricsURL() }

// ConsoleURL is the affiliate manager's console.
func (s *Stack) ConsoleURL() string { return s.apiURL + "/console/" }

// UIURL is the Temporal Web UI's base URL.
func (s *Stack) UIURL() string { return s.ui.URL() }

// TemporalPersistence is where the stack's Temporal server keeps its state.
func (s *Stack) TemporalPersistence() Persistence { return s.temporal.Persistence() }

// TemporalAddress is the Temporal frontend's host:port.
func (s *Stack) TemporalAddress() string { return s.temporal.Address() }

// Client is the stack's Temporal client.
func (s *Stack) Client() client.Client { return s.client }

// Postgres is the throwaway cluster, nil when a database URL was given.
func (s *Stack) Postgres() *pgcluster.Cluster { return s.pg }

// Stop stops every part that was started, the newest first.
func (s *Stack) Stop() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Warn("stop HTTP API", "error", err)
		}
		cancel()
		s.http = nil
	}
	if s.stopAPI != nil {
		s.stopAPI()
		s.stopAPI = nil
	}
	if s.worker != nil {
		s.worker.Stop()
		s.worker = nil
	}
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	if s.ui != nil {
		s.ui.Stop()
		s.ui = nil
	}
	if s.temporal != nil {
		s.temporal.Stop()
		s.temporal = nil
	}
	if s.pg != nil {
		if err := s.pg.Stop(); err != nil {
			s.cfg.Logger.Warn("stop PostgreSQL", "error", err)
		}
	}
}
