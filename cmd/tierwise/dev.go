package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/tierwise/tierwise/devstack"
)

const devUsage = `Usage: tierwise dev [flags]

Runs all of tierwise in one process: an embedded Temporal server, the
Temporal Web UI, a throwaway PostgreSQL cluster (unless DATABASE_URL is
set), the migrations, the worker, the HTTP API and the console (its URL is
printed first). Everything is kept under
the data directory, so the next start resumes where this one stopped.
Ctrl-C stops everything it started.

The embedded Temporal server keeps its state in SQLite files in the data
directory or in PostgreSQL (databases temporal and temporal_visibility on
the same server as tierwise's): --temporal-persistence sqlite|postgres.
Without the flag a data directory keeps what it was last started with
(SQLite for one from before the flag that has a temporal.db), and a new one
gets the default, the faster on the bench (BENCHMARKS.md). Switching starts
the other persistence empty (or where it was left); the workflows of the
first stay where they are.

Environment:
  TIERWISE_ADMIN_KEY  admin API key; default: one generated at the first
                      start and kept in the data directory
  DATABASE_URL        use this PostgreSQL instead of a throwaway cluster
  PUBLIC_URL          the address partners' tracking links point at
  POSTBACK_MAX_AGE_DAYS  how old a postback's timestamp may be (default 400)
  TEMPORAL_NAMESPACE  Temporal namespace (default "default")
  LOG_LEVEL           debug, info, warn or error (default info)
  LOG_FORMAT          json or text (default text for dev)
`

func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("dev", devUsage, stdout)
	dataDir := fs.String("data-dir", ".tierwise", "directory for the dev stack's data")
	apiAddr := fs.String("api-addr", "127.0.0.1:8080", "listen address of the HTTP API")
	temporalPort := fs.Int("temporal-port", 7233, "Temporal frontend port on 127.0.0.1 (0 picks a free one)")
	uiPort := fs.Int("ui-port", 8233, "Temporal Web UI port on 127.0.0.1 (0 picks a free one)")
	temporalMetricsPort := fs.Int("temporal-metrics-port", 0, "port of the embedded Temporal server's /metrics on 127.0.0.1 (0 picks a free one)")
	persistence := fs.String("temporal-persistence", "", fmt.Sprintf("where the embedded Temporal server keeps its state: sqlite or postgres (default: what the data directory had, else %s)", devstack.DefaultTemporalPersistence))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *persistence != "" {
		if err := devstack.Persistence(*persistence).Validate(); err != nil {
			return fmt.Errorf("--temporal-persistence: %w", err)
		}
	}
	if os.Getenv("LOG_FORMAT") == "" {
		os.Setenv("LOG_FORMAT", "text")
	}
	logger, err := newLogger(os.Stderr)
	if err != nil {
		return err
	}
	maxAge, err := postbackMaxAge()
	if err != nil {
		return err
	}

	start := time.Now()
	fmt.Fprintf(stdout, "tierwise dev: starting in %s\n", *dataDir)
	stack, err := devstack.Start(ctx, devstack.Config{
		DataDir:        *dataDir,
		DatabaseURL:    os.Getenv("DATABASE_URL"),
		APIAddr:        *apiAddr,
		TemporalPort:   *temporalPort,
		UIPort:         *uiPort,
		AdminKeys:      splitKeys(env("TIERWISE_ADMIN_KEY", "")),
		Namespace:      env("TEMPORAL_NAMESPACE", "default"),
		PostbackMaxAge: maxAge,
		PublicURL:      env("PUBLIC_URL", ""),
		Logger:         logger,
		Progress:       stdout,

		TemporalMetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(*temporalMetricsPort)),
		TemporalPersistence: devstack.Persistence(*persistence),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nready in %.1fs\n", time.Since(start).Seconds())
	fmt.Fprintf(stdout, "  Console:          %s  (sign in with the admin key below)\n", stack.ConsoleURL())
	fmt.Fprintf(stdout, "  API:              %s\n", stack.APIURL())
	fmt.Fprintf(stdout, "  Web UI:           %s\n", stack.UIURL())
	fmt.Fprintf(stdout, "  Metrics:          %s (API and worker)\n", stack.MetricsURL())
	fmt.Fprintf(stdout, "  Temporal metrics: %s (the embedded server)\n", stack.TemporalMetricsURL())
	fmt.Fprintf(stdout, "  Temporal:         %s (on %s)\n", stack.TemporalAddress(), stack.TemporalPersistence())
	fmt.Fprintf(stdout, "  DATABASE_URL:     %s\n", stack.DatabaseURL)
	fmt.Fprintf(stdout, "  Admin key:        %s\n", stack.AdminKey())
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping...")
	stack.Stop()
	fmt.Fprintln(stdout, "stopped")
	return nil
}
