// Command tierwise is the payout engine's single binary: the embedded dev
// stack, the HTTP API, the Temporal worker and the migrator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `tierwise: a payout engine for affiliate networks.

Usage:
  tierwise <command> [flags]

Commands:
  dev       run everything in one process (embedded Temporal, Web UI, PostgreSQL, worker, API)
  serve     run the HTTP API against external PostgreSQL and Temporal
  worker    run the Temporal worker against external PostgreSQL and Temporal
  migrate   apply the database migrations ("migrate version" shows the schema version)
  bench     load generator and correctness check ("bench retro" times retroactive re-pricing)

Run "tierwise <command> --help" for a command's flags and environment variables,
and "tierwise --version" for the build.
`

type command struct {
	name  string
	run   func(ctx context.Context, args []string, stdout io.Writer) error
	usage string
}

var commands = []command{
	{"dev", runDev, devUsage},
	{"serve", runServe, serveUsage},
	{"worker", runWorker, workerUsage},
	{"migrate", runMigrate, migrateUsage},
	{"bench", runBench, benchUsage},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:], stdout)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "tierwise %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "tierwise: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// version describes the build: the module version, the commit it was built
// from (with "+modified" when the tree had changes) and the Go version.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "tierwise (unknown build)"
	}
	v := "tierwise " + info.Main.Version
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += " " + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			v += "+modified"
		}
		if t := settings["vcs.time"]; t != "" {
			v += " " + t
		}
	}
	return v + " " + info.GoVersion
}

// newFlagSet returns a flag set whose --help prints the command's usage text.
func newFlagSet(name, text string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, text)
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// env returns the environment variable key, or def when it is unset.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// newLogger builds the structured logger from LOG_LEVEL and LOG_FORMAT: its
// lines carry the request and workflow ids of their context
// (contextHandler), and no value longer than maxLogValue (boundValue).
func newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: boundValue}
	switch f := strings.ToLower(env("LOG_FORMAT", "json")); f {
	case "json":
		return slog.New(contextHandler{slog.NewJSONHandler(w, opts)}), nil
	case "text":
		return slog.New(contextHandler{slog.NewTextHandler(w, opts)}), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT: %q is neither json nor text", f)
	}
}
