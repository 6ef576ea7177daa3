// Package temporaltest starts a real, embedded Temporal server for a test.
// Only the test packages that import it link the Temporal server.
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
	"github.com/tierwise/tierwise/worker"
)

// Server is an embedded Temporal server on a SQLite file of its own.
type Server struct {
	t        testing.TB
	file     string
	port     int
	temporal *devstack.Temporal
	cfg      devstack.TemporalConfig
}

// Option changes the server a test starts.
type Option func(*devstack.TemporalConfig)

// ContinueAsNewAfter makes the server suggest continue-as-new once a
// workflow's history has this many events (the server's default: 4,096).
func ContinueAsNewAfter(events int) Option {
	return func(c *devstack.TemporalConfig) { c.ContinueAsNewAfter = events }
}

// Start starts a server for the test, with the tierwise search attributes,
// and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "tierwise-temporal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &Server{t: t, file: filepath.Join(dir, "temporal.db")}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.Restart()
	t.Cleanup(s.Stop)
	c := s.Client()
	if err := worker.Prepare(context.Background(), c, "default"); err != nil {
		t.Fatalf("temporaltest: %v", err)
	}
	return s
}

// Address is the frontend's host:port; it stays the same across restarts.
func (s *Server) Address() string { return s.temporal.Address() }

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

// Stop stops the server; Restart starts it again on the same file and port.
func (s *Server) Stop() {
	if s.temporal != nil {
		s.temporal.Stop()
		s.temporal = nil
	}
}

// Restart starts the server (again) on its file and port.
func (s *Server) Restart() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := s.cfg
	cfg.DatabaseFile, cfg.Port = s.file, s.port
	tmp, err := devstack.StartTemporal(ctx, cfg)
	if err != nil {
		s.t.Fatalf("temporaltest: %v", err)
	}
	s.temporal = tmp
	s.port = tmp.Port()
}

func quietLogger() sdklog.Logger { return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)) }
