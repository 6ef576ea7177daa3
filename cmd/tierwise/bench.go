package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tierwise/tierwise/bench"
	"github.com/tierwise/tierwise/devstack"
)

const benchUsage = `Usage: tierwise bench [flags]
       tierwise bench retro [flags]

Load generator and correctness check. By default it starts an embedded dev
stack in a temporary data directory (removed afterwards); with --api it
targets a running stack. It creates a network (offers with events, partners
in tiers, custom payouts, tiered commissions, Customer Value rules), measures
the raw signal-with-start rate of the same Temporal server, then sends
postbacks over HTTP from many concurrent clients for --duration: base
conversions and events, customers drawn from a Zipf distribution, and one hot
partner × offer with --hot-share of the traffic.

It prints the accepted rate, the accept and end-to-end (accept → ledger
lines) latencies, the priced rate and its ratio to the raw Temporal rate,
the backlog, the retroactive re-pricing lag, the PostgreSQL statements per
priced conversion and the peak RSS, then checks that every accepted
postback was priced exactly once and that each partner's ledger totals
equal an independent recomputation. The last line is machine-readable
key=value pairs. It exits non-zero when the check fails.

--rate-of-raw F sets the load relative to the engine instead of in
postbacks per second: F × the raw_sustained_per_s the run measures just
before its load (--rate-of-raw 0.8 on a server that sustains 150/s sends
120/s), so a run means the same on any machine. It excludes --rate and
needs the raw rate (--raw-duration > 0).

Statements per priced conversion (pg_statements_per_conversion) come from
pg_stat_statements, which the dev stack's PostgreSQL loads; the bench
creates the extension in the stack's database when it is missing, and
prints "na" where the server does not load the library.

"tierwise bench retro" times the retroactive re-pricing of one commission
cycle's unpaid conversions when a band is reached, and checks that a second
run writes nothing; "tierwise bench retro --help" lists its flags.

Environment (with --api):
  TEMPORAL_ADDRESS    default for --temporal-address (default localhost:7233)
  TEMPORAL_NAMESPACE  Temporal namespace (default "default")
  DATABASE_URL        default for --database-url
  TIERWISE_ADMIN_KEY  default for --admin-key
`

const benchRetroUsage = `Usage: tierwise bench retro [flags]

Times the retroactive re-pricing of one commission cycle: it creates one
tiered commission (retroactive, one band above --conversions conversions),
stores that many unpaid conversions of one partner × offer priced below the
band (a bulk SQL insert, not timed), prices one more conversion through the
pricing activity so the band is reached, then runs the RepriceCycle activity
and times it. A second run must write nothing. The last line has
conversions, repriced, seconds and second_run_writes; it exits non-zero when
a conversion was not re-priced exactly to the band or the second run wrote.

By default it starts a throwaway PostgreSQL in a temporary directory.

Environment:
  DATABASE_URL        default for --database-url
`

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "retro" {
		return runBenchRetro(ctx, args[1:], stdout)
	}
	fs := newFlagSet("bench", benchUsage, stdout)
	var cfg bench.Config
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long the load runs")
	fs.Float64Var(&cfg.Rate, "rate", 300, "target postbacks per second over all clients (the target load of BENCHMARKS.md); 0 sends as fast as the API accepts")
	fs.Float64Var(&cfg.RateOfRaw, "rate-of-raw", 0, "target load as this multiple of the raw_sustained_per_s measured just before the load (0.8: 80% of what the Temporal server sustains); excludes --rate")
	fs.IntVar(&cfg.Clients, "clients", 64, "concurrent HTTP clients (also the raw rate's concurrency)")
	fs.IntVar(&cfg.Customers, "customers", 100_000, "distinct customers (user_id)")
	fs.Float64Var(&cfg.ZipfS, "zipf-s", 1.1, "Zipf exponent of the customers' activity (> 1; larger: hotter customers)")
	fs.Float64Var(&cfg.ZipfV, "zipf-v", 10, "Zipf offset (≥ 1; larger flattens the head: with 1 the top customer takes ~13% of the traffic)")
	fs.Float64Var(&cfg.HotShare, "hot-share", 0.25, "share of postbacks for the hot partner × offer (0–1)")
	fs.Float64Var(&cfg.DuplicateShare, "duplicate-share", 0.01, "share of postbacks sent again to check they are answered as duplicates; negative for none")
	fs.Float64Var(&cfg.AnonymousShare, "anonymous-share", 0.2, "share of base conversions sent without a user_id (priced without a workflow); negative for none")
	fs.DurationVar(&cfg.RawDuration, "raw-duration", 5*time.Second, "how long the raw signal-with-start rate is measured before the load; 0 or negative skips it")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 2*time.Minute, "how long the wait after the load for the backlog and the retroactive re-pricing may go without progress before the run fails")
	fs.StringVar(&cfg.APIURL, "api", "", "base URL of a running stack's API, or several separated by commas (the first sets up the network; the load is spread over all); default: start an embedded dev stack")
	fs.StringVar(&cfg.AdminKey, "admin-key", os.Getenv("TIERWISE_ADMIN_KEY"), "admin API key of the running stack (--api)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL of the running stack (--api); the check reads it")
	fs.StringVar(&cfg.TemporalAddress, "temporal-address", env("TEMPORAL_ADDRESS", "localhost:7233"), "Temporal frontend of the running stack (--api)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory of the embedded dev stack (default: a temporary one, removed afterwards)")
	persistence := fs.String("temporal-persistence", "", "where the embedded dev stack's Temporal server keeps its state: sqlite or postgres (default: as tierwise dev decides)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load window (the whole process: stack and load) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the subcommand is \"retro\")", fs.Arg(0))
	}
	if cfg.RateOfRaw != 0 {
		if flagSet(fs, "rate") {
			return errors.New("--rate and --rate-of-raw exclude each other")
		}
		cfg.Rate = 0
	}
	cfg.TemporalPersistence = devstack.Persistence(*persistence)
	if cfg.RawDuration == 0 {
		cfg.RawDuration = -1
	}
	cfg.Namespace = env("TEMPORAL_NAMESPACE", "default")
	cfg.Out, cfg.Terminal = stdout, bench.IsTerminal(stdout)
	profile, closeProfile, err := createProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer closeProfile()
	cfg.CPUProfile = profile
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if res.Failed() {
		return fmt.Errorf("check failed: lost=%d duplicated=%d mismatched=%d mismatched_conversions=%d drained=%t",
			res.Check.Lost, res.Check.Duplicated, res.Check.Mismatched, res.Check.MismatchedConversions, res.Drained)
	}
	return nil
}

func runBenchRetro(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("bench retro", benchRetroUsage, stdout)
	var cfg bench.RetroConfig
	fs.IntVar(&cfg.Conversions, "conversions", 100_000, "unpaid conversions of the cycle to re-price")
	fs.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL to use (default: a throwaway cluster)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory of the throwaway PostgreSQL (default: a temporary one, removed afterwards)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed re-pricing to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Out = stdout
	profile, closeProfile, err := createProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer closeProfile()
	cfg.CPUProfile = profile
	res, err := bench.Retro(ctx, cfg)
	if err != nil {
		return err
	}
	if !res.OK() {
		return errors.New("check failed: " + res.Line())
	}
	return nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// createProfile creates the --cpuprofile file and returns it with its
// closer; with no path it returns a nil writer (no profile) and a no-op.
func createProfile(path string) (io.Writer, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}
