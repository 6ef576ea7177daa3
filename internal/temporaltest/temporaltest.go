// Package temporaltest starts a real, embedded Temporal server for a test.
// Only the test packages that import it link the Temporal server.
//
// A server keeps its state in a SQLite file of its own, or with Postgres (or
// TIERWISE_TEST_TEMPORAL_PERSISTENCE=postgres for every server of a run) in
// two databases of its own on the test binary's PostgreSQL (internal/pgtest;
// the package's TestMain must call pgtest.Main).
package temporaltest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tierwise/tierwise/devstack"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/worker"
)

// PersistenceEnv names the environment variable that sets the persistence
// of every server that does not choose one.
const PersistenceEnv = "TIERWISE_TEST_TEMPORAL_PERSISTENCE"

// Server is an embedded Temporal server.
type Server struct {
	t        testing.TB
	cfg      devstack.TemporalConfig
	temporal *devstack.Temporal
}

// ContinueAsNewAfter makes the server suggest continue-as-new once a
// workflow's history has this many events (the server's default: 4,096).
func ContinueAsNewAfter(events int) Option {
	return func(c *devstack.TemporalConfig) { c.ContinueAsNewAfter = events }
}

// Option configures a server.
type Option func(*devstack.TemporalConfig)

// Postgres keeps the server's state in PostgreSQL rather than SQLite.
func Postgres() Option {
	return func(c *devstack.TemporalConfig) { c.Persistence = devstack.PersistencePostgres }
}

// Start starts a server for the test, with the tierwise search attributes,
// and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := devstack.TemporalConfig{Persistence: devstack.Persistence(os.Getenv(PersistenceEnv))}
	for _, o := range opts {
		o(&cfg)
	}
	switch cfg.Persistence {
	case devstack.PersistencePostgres:
		cfg.PostgresURL, cfg.PostgresVisibilityURL = pgtest.EmptyDatabase(t), pgtest.EmptyDatabase(t)
	default:
		dir, err := os.MkdirTemp("", "tierwise-temporal-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		cfg.DatabaseFile = filepath.Join(dir, "temporal.db")
	}
	s := &Server{t: t, cfg: cfg}
	s.Restart()
	// Registered after the databases' cleanups, so it runs before them.
	t.Cleanup(s.Stop)
	c := s.Client()
	if err := worker.Prepare(context.Background(), c, "default"); err != nil {
		t.Fatalf("temporaltest: %v", err)
	}
	return s
}

// Address is the frontend's host:port; it stays the same across restarts.
func (s *Server) Address() string { return s.temporal.Address() }

// Persistence is where the server keeps its state.
func (s *Server) Persistence() devstack.Persistence { return s.temporal.Persistence() }

// Client returns a client of the default namespace, closed when the test ends.
func (s *Server) Client() client.Client {
	s.t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.Address(), Logger: quietLogger()})
	if err != nil {
		s.t.Fatalf("temporaltest: dial: %v", err)
	}
	s.t.Cleanup(c.Close)
	return c
}

// Stop stops the server; Restart starts it again on the same state and port.
func (s *Server) Stop() {
	if s.temporal != nil {
		s.temporal.Stop()
		s.temporal = nil
	}
}

// Restart starts the server (again) on its state and port.
func (s *Server) Restart() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmp, err := devstack.StartTemporal(ctx, s.cfg)
	if err != nil {
		s.t.Fatalf("temporaltest: %v", err)
	}
	s.temporal = tmp
	s.cfg.Port = tmp.Port()
}

func quietLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }
