// Package bench is tierwise's load generator: it creates a realistic network
// (offers with events, partners in tiers, custom payouts, tiered
// commissions, Customer Value rules) through the API of an embedded dev
// stack or a running one, sends postbacks over HTTP from many concurrent
// clients, measures throughput and latency from the accept to the ledger,
// compares with the raw signal-with-start rate of the same Temporal server,
// and checks the ledger against an independent recomputation. Retro times
// the retroactive re-pricing of one large commission cycle.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tierwise/tierwise/devstack"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// Config configures a bench run. Zero values take the defaults.
type Config struct {
	Duration time.Duration // how long the load runs; default 60s
	// Rate is the target postbacks per second over all clients; 0 sends as
	// fast as the API accepts.
	Rate float64
	// RateOfRaw, when positive, sets the load to RateOfRaw × the raw
	// sustained rate the run has just measured (RawResult.Sustained), so a
	// run means the same on any machine; Rate must then be 0 and the raw
	// rate measured (RawDuration positive).
	RateOfRaw float64
	Clients   int     // concurrent HTTP clients; default 64
	Customers int     // distinct customers (user_id); default 100,000
	ZipfS     float64 // Zipf exponent of the customers (> 1); default 1.1
	ZipfV     float64 // Zipf offset (≥ 1): larger flattens the head; default 10
	// HotShare is the share of postbacks for the hot partner × offer;
	// default 0.25.
	HotShare float64
	// DuplicateShare is the share of postbacks sent again, to check they
	// are answered as duplicates; default 0.01, negative for none.
	DuplicateShare float64
	// AnonymousShare is the share of base conversions sent without a
	// user_id, as CPA networks send many; default 0.2, negative for none.
	AnonymousShare float64
	// RawDuration is how long the raw signal-with-start rate is measured
	// before the load; default 5s, negative to skip.
	RawDuration time.Duration
	// DrainTimeout is how long the wait after the load, for every accepted
	// conversion to be priced and every retroactive re-pricing to finish,
	// may go without progress (no conversion priced, no cycle signal
	// delivered) before the run fails; default 2m. An overloaded run's
	// backlog may take longer than that in all, as long as it moves.
	DrainTimeout time.Duration

	// APIURL targets a running stack; empty starts an embedded dev stack.
	// A running stack also needs AdminKey, DatabaseURL (the checker reads
	// PostgreSQL) and TemporalAddress (the raw rate and the drain). It may
	// list several API processes separated by commas (the production
	// shape): the first sets up the network, and the load's clients are
	// spread over all of them, client i on URL i mod n.
	APIURL          string
	AdminKey        string
	DatabaseURL     string
	TemporalAddress string
	Namespace       string // default "default"
	// DataDir is the embedded stack's data directory; empty: a temporary
	// one, removed afterwards.
	DataDir string
	// TemporalPersistence is the embedded stack's Temporal persistence
	// (devstack.Config.TemporalPersistence); empty: the dev stack's choice.
	TemporalPersistence devstack.Persistence

	Out        io.Writer    // progress and results; default stdout
	Terminal   bool         // redraw one progress line instead of one line a second
	Logger     *slog.Logger // the embedded stack's log; default warnings to stderr
	CPUProfile io.Writer    // when set, a CPU profile of the load window
}

func (c *Config) defaults() error {
	if c.Duration == 0 {
		c.Duration = 60 * time.Second
	}
	if c.Clients == 0 {
		c.Clients = 64
	}
	if c.Customers == 0 {
		c.Customers = 100_000
	}
	if c.ZipfS == 0 {
		c.ZipfS = 1.1
	}
	if c.ZipfV == 0 {
		c.ZipfV = 10
	}
	if c.HotShare == 0 {
		c.HotShare = 0.25
	}
	if c.DuplicateShare == 0 {
		c.DuplicateShare = 0.01
	}
	c.DuplicateShare = max(c.DuplicateShare, 0)
	if c.AnonymousShare == 0 {
		c.AnonymousShare = 0.2
	}
	c.AnonymousShare = max(c.AnonymousShare, 0)
	if c.RawDuration == 0 {
		c.RawDuration = 5 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 2 * time.Minute
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	var problems []string
	switch {
	case c.Duration < 0:
		problems = append(problems, "duration must be positive")
	case c.Rate < 0:
		problems = append(problems, "rate must not be negative")
	case c.Clients < 1:
		problems = append(problems, "clients must be at least 1")
	case c.Customers < 1:
		problems = append(problems, "customers must be at least 1")
	case c.ZipfS <= 1:
		problems = append(problems, "zipf-s must be greater than 1")
	case c.ZipfV < 1:
		problems = append(problems, "zipf-v must be at least 1")
	case c.HotShare < 0 || c.HotShare > 1:
		problems = append(problems, "hot-share must be between 0 and 1")
	case c.DuplicateShare > 0.5:
		problems = append(problems, "duplicate share must be at most 0.5")
	}
	switch {
	case c.RateOfRaw < 0 || c.RateOfRaw > maxRateOfRaw:
		problems = append(problems, fmt.Sprintf("rate-of-raw must be between 0 and %g", float64(maxRateOfRaw)))
	case c.RateOfRaw > 0 && c.Rate > 0:
		problems = append(problems, "rate and rate-of-raw exclude each other")
	case c.RateOfRaw > 0 && c.RawDuration < 0:
		problems = append(problems, "rate-of-raw needs the raw rate: raw-duration must be positive")
	}
	if c.TemporalPersistence != "" {
		if err := c.TemporalPersistence.Validate(); err != nil {
			problems = append(problems, "temporal-persistence: "+err.Error())
		}
		if c.APIURL != "" {
			problems = append(problems, "temporal-persistence is the embedded stack's; a running stack (--api) has its own")
		}
	}
	if c.APIURL != "" {
		if c.AdminKey == "" {
			problems = append(problems, "a running stack (--api) needs --admin-key")
		}
		if c.DatabaseURL == "" {
			problems = append(problems, "a running stack (--api) needs --database-url: the check reads PostgreSQL")
		}
		if c.TemporalAddress == "" {
			problems = append(problems, "a running stack (--api) needs --temporal-address")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// maxRateOfRaw bounds RateOfRaw: far above what any stack keeps up with,
// well below a load that only measures the HTTP client.
const maxRateOfRaw = 20

// rateOfRaw is the load of a run with Config.RateOfRaw f: f × the raw
// sustained rate just measured.
func rateOfRaw(f float64, raw RawResult) (float64, error) {
	if raw.Sustained <= 0 {
		return 0, fmt.Errorf("rate-of-raw %g: the raw sustained rate measured %.1f/s (%d calls, %d errors); nothing to scale", f, raw.Sustained, raw.Calls, raw.Errors)
	}
	return f * raw.Sustained, nil
}

// Result is what a run measured and found.
type Result struct {
	Duration time.Duration
	Rate     float64 // the load, set by RateOfRaw when it is positive
	// RateOfRaw is Config.RateOfRaw: the load as a multiple of the raw
	// sustained rate, 0 when the rate was given.
	RateOfRaw float64
	Clients   int
	// TemporalPersistence is the embedded stack's Temporal persistence,
	// empty against a running stack.
	TemporalPersistence devstack.Persistence

	Sent, Accepted, NewConversions int64
	Errors                         int
	ErrorSamples                   []string
	AcceptedPerS                   float64
	AcceptP50, AcceptP95           time.Duration
	AcceptP99                      time.Duration

	// End to end: from received_at (the accept's insert) to the last ledger
	// line of the postback's pricing (retroactive deltas aside).
	E2EP50, E2EP95, E2EP99, E2EMax time.Duration
	PricedPerS, HotPricedPerS      float64
	// Backlog is what was accepted and not priced when the load stopped;
	// Drain how long it took to reach 0 with every retroactive re-pricing
	// done (Drained false: not within the drain timeout).
	Backlog int64
	Drain   time.Duration
	Drained bool
	// DrainPricedPerS is the pricing rate after the load stopped, while
	// the backlog drained: what the stack prices with no accepts to serve.
	DrainPricedPerS float64

	Raw   RawResult
	Ratio float64 // PricedPerS / Raw.PerSecond
	// SustainedRatio is PricedPerS / Raw.Sustained.
	SustainedRatio float64

	// RetroLagMax is the longest time from a band reached to the last
	// retroactive line of the period's earlier conversions.
	RetroLagMax     time.Duration
	RetroLines      int64
	BandsReached    int
	HotCycleSignals int64 // signals the hot cycle's workflow received

	// CPU: per conversion priced in the load window, this process's CPU
	// (with an embedded stack: everything but PostgreSQL) and PostgreSQL's
	// (embedded only); per raw call, this process's and PostgreSQL's;
	// CPUBusy the share of the machine's cores in use during the load.
	CPUPerConversion, PGCPUPerConversion time.Duration
	CPUPerRawCall                        time.Duration
	CPUBusy                              float64

	// PGStatementsPerConversion is the statements the stack ran in its
	// database from the start of the load until the drain was done, per
	// conversion of the run priced (statements.go); valid only when
	// PGStatementsKnown (pg_stat_statements is there and evicted nothing).
	PGStatementsPerConversion float64
	PGStatementsKnown         bool

	PeakRSSMB   float64
	LogWarnings int64
	Check       CheckResult

	net      *Network   // what the run created, for tests
	accepted []Accepted // every accepted postback, for tests
}

// Failed reports whether the correctness check failed.
func (r Result) Failed() bool { return !r.Check.OK() || !r.Drained }

// Line is the machine-readable summary: space-separated key=value pairs.
func (r Result) Line() string {
	kv := []string{
		"duration_s=" + f1(r.Duration.Seconds()),
		"rate=" + f1(r.Rate),
		"rate_of_raw=" + fmt.Sprintf("%.2f", r.RateOfRaw),
		"temporal_persistence=" + persistenceName(r.TemporalPersistence),
		"clients=" + fmt.Sprint(r.Clients),
		"sent=" + fmt.Sprint(r.Sent),
		"accepted=" + fmt.Sprint(r.Accepted),
		"errors=" + fmt.Sprint(r.Errors),
		"accepted_per_s=" + f1(r.AcceptedPerS),
		"accept_p50_ms=" + ms(r.AcceptP50),
		"accept_p95_ms=" + ms(r.AcceptP95),
		"accept_p99_ms=" + ms(r.AcceptP99),
		"e2e_p50_ms=" + ms(r.E2EP50),
		"e2e_p95_ms=" + ms(r.E2EP95),
		"e2e_p99_ms=" + ms(r.E2EP99),
		"e2e_max_ms=" + ms(r.E2EMax),
		"priced_per_s=" + f1(r.PricedPerS),
		"hot_priced_per_s=" + f1(r.HotPricedPerS),
		"raw_signal_per_s=" + f1(r.Raw.PerSecond),
		"ratio=" + fmt.Sprintf("%.2f", r.Ratio),
		"raw_sustained_per_s=" + f1(r.Raw.Sustained),
		"sustained_ratio=" + fmt.Sprintf("%.2f", r.SustainedRatio),
		"backlog=" + fmt.Sprint(r.Backlog),
		"drain_s=" + f1(r.Drain.Seconds()),
		"drain_priced_per_s=" + f1(r.DrainPricedPerS),
		"retro_lag_max_ms=" + ms(r.RetroLagMax),
		"retro_lines=" + fmt.Sprint(r.RetroLines),
		"hot_cycle_signals=" + fmt.Sprint(r.HotCycleSignals),
		"lost=" + fmt.Sprint(r.Check.Lost),
		"duplicated=" + fmt.Sprint(r.Check.Duplicated),
		"mismatched=" + fmt.Sprint(r.Check.Mismatched),
		"mismatched_conversions=" + fmt.Sprint(r.Check.MismatchedConversions),
		"cpu_ms_per_conversion=" + fmt.Sprintf("%.2f", float64(r.CPUPerConversion)/float64(time.Millisecond)),
		"pg_cpu_ms_per_conversion=" + fmt.Sprintf("%.2f", float64(r.PGCPUPerConversion)/float64(time.Millisecond)),
		"cpu_ms_per_raw_call=" + fmt.Sprintf("%.2f", float64(r.CPUPerRawCall)/float64(time.Millisecond)),
		"cpu_busy=" + fmt.Sprintf("%.2f", r.CPUBusy),
		"pg_statements_per_conversion=" + r.statementsText(),
		"peak_rss_mb=" + f1(r.PeakRSSMB),
	}
	return strings.Join(kv, " ")
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

// statementsText is PGStatementsPerConversion, or "na" when unknown.
func (r Result) statementsText() string {
	if !r.PGStatementsKnown {
		return "na"
	}
	return f1(r.PGStatementsPerConversion)
}

// persistenceName names a run's Temporal persistence; "running-stack" when
// the bench targets one (--api) and cannot see it.
func persistenceName(p devstack.Persistence) string {
	if p == "" {
		return "running-stack"
	}
	return string(p)
}

// target is the stack a run sends its load to.
type target struct {
	apiURL, adminKey, databaseURL string
	postbackURLs                  []string // where the load sends postbacks; apiURL alone when empty
	temporal                      client.Client
	pgPID                         int                  // the embedded PostgreSQL's postmaster, 0 otherwise
	persistence                   devstack.Persistence // the embedded Temporal server's, empty otherwise
	stop                          func()
}

// Run runs the bench: the network, the raw Temporal rate, the load, the
// drain, the measurements and the correctness check. It returns an error
// when the bench could not run; a failed check is in the result
// (Result.Failed).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	logs := &logCounter{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(logs.wrap(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	out := cfg.Out
	tgt, err := connect(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer tgt.stop()

	poolCfg, err := pgxpool.ParseConfig(tgt.databaseURL)
	if err != nil {
		return Result{}, fmt.Errorf("database URL: %w", err)
	}
	own := &ownStatements{}
	poolCfg.ConnConfig.Tracer = own
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return Result{}, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer pool.Close()

	runID := newRunID()
	res := Result{Duration: cfg.Duration, RateOfRaw: cfg.RateOfRaw, Clients: cfg.Clients, TemporalPersistence: tgt.persistence}
	// The raw rate comes first: with RateOfRaw it sets the load, and the
	// network's bands follow the load.
	if cfg.RawDuration > 0 {
		fmt.Fprintf(out, "raw signal-with-start rate: %d clients for %s...\n", cfg.Clients, cfg.RawDuration)
		before := sampleCPU(tgt.pgPID)
		if res.Raw, err = rawSignalRate(ctx, tgt.temporal, runID, cfg.Clients, cfg.RawDuration); err != nil {
			return Result{}, err
		}
		if used := sampleCPU(tgt.pgPID).sub(before); res.Raw.Calls > 0 {
			res.CPUPerRawCall = (used.self + used.postgres) / time.Duration(res.Raw.Calls)
		}
		fmt.Fprintf(out, "raw signal-with-start rate: %.1f calls/s (%d calls, %d errors); the no-op workflows had run %.1fs later: %.1f/s sustained (visibility done after %.1fs)\n",
			res.Raw.PerSecond, res.Raw.Calls, res.Raw.Errors, res.Raw.Ran.Seconds(), res.Raw.Sustained, res.Raw.Drained.Seconds())
	}
	if cfg.RateOfRaw > 0 {
		if cfg.Rate, err = rateOfRaw(cfg.RateOfRaw, res.Raw); err != nil {
			return Result{}, err
		}
		fmt.Fprintf(out, "rate of raw %.2f: the load is %.2f × %.1f/s = %.1f/s\n", cfg.RateOfRaw, cfg.RateOfRaw, res.Raw.Sustained, cfg.Rate)
	}
	res.Rate = cfg.Rate

	// The hot partner × offer's bands are set from its expected volume;
	// as fast as accepted is taken as 300/s.
	rate := cfg.Rate
	if rate == 0 {
		rate = 300
	}
	expectedHot := int(cfg.HotShare * rate * cfg.Duration.Seconds())
	setupStart := time.Now()
	net, err := setupNetwork(ctx, newAPIClient(tgt.apiURL, tgt.adminKey), runID, max(expectedHot, 40))
	if err != nil {
		return Result{}, fmt.Errorf("create the bench network: %w", err)
	}
	d := &db{pool: pool, offers: net.OfferIDs(), own: own}
	if d.firstID, err = d.maxConversionID(ctx); err != nil {
		return Result{}, err
	}
	fmt.Fprintf(out, "network %s: %d offers, %d partners, %d tiered commissions, %d Customer Value rules (%.1fs)\n",
		runID, len(net.Offers), len(net.Partners), len(net.TieredRules), len(net.ValueRules), time.Since(setupStart).Seconds())
	statementsOff := d.enableStatements(ctx)
	if statementsOff != "" {
		fmt.Fprintf(out, "statements per conversion: not counted (%s)\n", statementsOff)
	}

	// The load.
	rateText := "as fast as accepted"
	if cfg.Rate > 0 {
		rateText = fmt.Sprintf("%.0f/s", cfg.Rate)
	}
	fmt.Fprintf(out, "load: %s for %s, %d clients, %d customers (Zipf s=%.2f v=%.0f), hot share %.2f\n",
		rateText, cfg.Duration, cfg.Clients, cfg.Customers, cfg.ZipfS, cfg.ZipfV, cfg.HotShare)
	urls := tgt.postbackURLs
	if len(urls) == 0 {
		urls = []string{tgt.apiURL}
	}
	l := newLoad(cfg, net, urls)
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return Result{}, fmt.Errorf("start the CPU profile: %w", err)
		}
	}
	var stmtsBefore statementCount
	if statementsOff == "" {
		if stmtsBefore, err = d.statements(ctx); err != nil {
			return Result{}, err
		}
	}
	cpuBefore := sampleCPU(tgt.pgPID)
	start := time.Now()
	end := start.Add(cfg.Duration)
	done := make(chan struct{})
	prog := &progress{out: out, terminal: cfg.Terminal, rec: l.rec, db: d, start: start, total: cfg.Duration}
	progDone := make(chan struct{})
	go func() { prog.run(ctx, done); close(progDone) }()
	l.run(ctx, start, end)
	loadEnd := time.Now()
	cpuLoad := sampleCPU(tgt.pgPID).sub(cpuBefore)
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	close(done)
	<-progDone
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	window := loadEnd.Sub(start)

	rec := l.rec
	res.Sent, res.Accepted, res.NewConversions = rec.sent.Load(), int64(len(rec.accepted)), rec.newAccepted
	res.Errors, res.ErrorSamples = rec.errors, rec.errorSamples
	res.AcceptedPerS = float64(res.Accepted) / window.Seconds()
	p := percentiles(rec.latencies, 50, 95, 99)
	res.AcceptP50, res.AcceptP95, res.AcceptP99 = p[0], p[1], p[2]

	// The drain.
	unpriced, _, err := d.unfinished(ctx, net.TieredRules)
	if err != nil {
		return Result{}, err
	}
	res.Backlog = unpriced
	fmt.Fprintf(out, "load done: %d accepted (%d new conversions), %d errors; backlog %d, draining...\n",
		res.Accepted, res.NewConversions, res.Errors, res.Backlog)
	drainStart := time.Now()
	res.Drained, err = drain(ctx, d, tgt.temporal, net, cfg.DrainTimeout)
	if err != nil {
		return Result{}, err
	}
	res.Drain = time.Since(drainStart)
	var stmtsAfter statementCount
	if statementsOff == "" {
		if stmtsAfter, err = d.statements(ctx); err != nil {
			return Result{}, err
		}
	}

	priced, err := measure(ctx, d, tgt.temporal, net, start, loadEnd, &res)
	if err != nil {
		return Result{}, err
	}
	if statementsOff == "" {
		res.PGStatementsPerConversion, res.PGStatementsKnown = perConversion(stmtsBefore, stmtsAfter, priced)
	}
	if res.Raw.PerSecond > 0 {
		res.Ratio = res.PricedPerS / res.Raw.PerSecond
	}
	if res.Raw.Sustained > 0 {
		res.SustainedRatio = res.PricedPerS / res.Raw.Sustained
	}
	if priced := res.PricedPerS * window.Seconds(); priced > 0 {
		res.CPUPerConversion = time.Duration(float64(cpuLoad.self) / priced)
		res.PGCPUPerConversion = time.Duration(float64(cpuLoad.postgres) / priced)
	}
	res.CPUBusy = float64(cpuLoad.self+cpuLoad.postgres) / float64(window) / float64(runtime.NumCPU())

	// The check.
	res.Check, err = check(ctx, d, store.New(pool), net, rec.accepted)
	if err != nil {
		return Result{}, fmt.Errorf("check: %w", err)
	}
	res.net, res.accepted = net, rec.accepted
	res.PeakRSSMB = float64(peakRSS()) / (1 << 20)
	res.LogWarnings = logs.count.Load()
	report(out, res)
	return res, nil
}

// connect starts the embedded dev stack, or connects to the running one.
func connect(ctx context.Context, cfg Config) (*target, error) {
	if cfg.APIURL != "" {
		c, err := client.DialContext(ctx, client.Options{
			HostPort: cfg.TemporalAddress, Namespace: cfg.Namespace,
			Logger: sdklog.NewStructuredLogger(cfg.Logger),
		})
		if err != nil {
			return nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
		}
		var urls []string
		for u := range strings.SplitSeq(cfg.APIURL, ",") {
			if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
				urls = append(urls, u)
			}
		}
		if len(urls) == 0 {
			c.Close()
			return nil, errors.New("api: no URL")
		}
		return &target{
			apiURL: urls[0], postbackURLs: urls, adminKey: cfg.AdminKey, databaseURL: cfg.DatabaseURL,
			temporal: c, stop: c.Close,
		}, nil
	}
	dataDir, cleanup := cfg.DataDir, func() {}
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "tierwise-bench-")
		if err != nil {
			return nil, err
		}
		dataDir, cleanup = filepath.Join(dir, "data"), func() { _ = os.RemoveAll(dir) }
	}
	started := time.Now()
	fmt.Fprintf(cfg.Out, "starting the embedded dev stack in %s\n", dataDir)
	stack, err := devstack.Start(ctx, devstack.Config{
		DataDir: dataDir, APIAddr: "127.0.0.1:0", Namespace: cfg.Namespace, Logger: cfg.Logger,
		TemporalPersistence: cfg.TemporalPersistence,
	})
	if err != nil {
		cleanup()
		return nil, err
	}
	fmt.Fprintf(cfg.Out, "dev stack ready in %.1fs: API %s, Temporal %s on %s\n", time.Since(started).Seconds(), stack.APIURL(), stack.TemporalAddress(), stack.TemporalPersistence())
	return &target{
		apiURL: stack.APIURL(), adminKey: stack.AdminKey(), databaseURL: stack.DatabaseURL, temporal: stack.Client(),
		pgPID: stack.Postgres().PID(), persistence: stack.TemporalPersistence(), stop: func() { stack.Stop(); cleanup() },
	}, nil
}

// drain waits until every accepted conversion of the run is priced, every
// cycle signal delivered and every cycle workflow of the run's rules idle
// (no workflow task, no activity pending: its retroactive re-pricing is
// done). It reports false when that did not happen within timeout.
func drain(ctx context.Context, d *db, tc client.Client, n *Network, stall time.Duration) (bool, error) {
	last, lastProgress := int64(-1), time.Now()
	for time.Since(lastProgress) < stall {
		unpriced, unsent, err := d.unfinished(ctx, n.TieredRules)
		if err != nil {
			return false, err
		}
		if left := unpriced + unsent; last < 0 || left < last {
			last, lastProgress = left, time.Now()
		}
		if unpriced == 0 && unsent == 0 {
			idle, err := cyclesIdle(ctx, d, tc, n)
			if err != nil {
				return false, err
			}
			if idle {
				return true, nil
			}
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false, nil
}

// cyclesIdle reports whether no cycle workflow of the run's rules has work
// pending.
func cyclesIdle(ctx context.Context, d *db, tc client.Client, n *Network) (bool, error) {
	cycles, err := d.cycles(ctx, n.TieredRules)
	if err != nil {
		return false, err
	}
	for _, c := range cycles {
		if c.Band < 0 || c.Closed {
			continue // no band, no re-pricing; a closed cycle is re-priced in place
		}
		desc, err := tc.DescribeWorkflowExecution(ctx, cycleWorkflowID(c), "")
		if err != nil {
			return false, fmt.Errorf("describe the cycle workflow %s: %w", cycleWorkflowID(c), err)
		}
		if desc.GetPendingWorkflowTask() != nil || len(desc.GetPendingActivities()) > 0 {
			return false, nil
		}
	}
	return true, nil
}

func cycleWorkflowID(c cycle) string {
	return workflows.CycleWorkflowID(workflows.Cycle{RuleID: c.RuleID, PartnerID: c.PartnerID, OfferID: c.OfferID, PeriodStart: c.PeriodStart, PeriodEnd: c.PeriodEnd})
}

// measure reads from PostgreSQL the end-to-end latencies, the pricing rate
// in the load window, the retroactive lags and the hot cycle's signals. It
// returns how many of the run's conversions are priced.
func measure(ctx context.Context, d *db, tc client.Client, n *Network, start, end time.Time, res *Result) (int64, error) {
	timings, err := d.timings(ctx, n.HotPartner, n.HotOffer)
	if err != nil {
		return 0, err
	}
	var e2e []time.Duration
	var priced, hotPriced, drained int
	var pricedAll int64
	for _, t := range timings {
		if t.LastLine != nil {
			e2e = append(e2e, t.LastLine.Sub(t.Received))
		}
		if t.Priced != nil {
			pricedAll++
		}
		if t.Priced != nil && t.Priced.After(end) {
			drained++
		}
		if t.Priced != nil && !t.Priced.Before(start) && !t.Priced.After(end) {
			priced++
			if t.Hot {
				hotPriced++
			}
		}
	}
	p := percentiles(e2e, 50, 95, 99, 100)
	res.E2EP50, res.E2EP95, res.E2EP99, res.E2EMax = p[0], p[1], p[2], p[3]
	window := end.Sub(start).Seconds()
	res.PricedPerS, res.HotPricedPerS = float64(priced)/window, float64(hotPriced)/window
	if res.Backlog > 0 && res.Drain > 0 {
		res.DrainPricedPerS = float64(drained) / res.Drain.Seconds()
	}

	lags, err := d.retroLags(ctx, n.TieredRules)
	if err != nil {
		return 0, err
	}
	for _, l := range lags {
		res.RetroLagMax = max(res.RetroLagMax, l.LastLine.Sub(l.Reached))
		res.RetroLines += l.Lines
	}
	res.BandsReached = len(lags)

	// The hot cycle's workflow: how many signals it took.
	cycles, err := d.cycles(ctx, []int64{n.HotRule})
	if err != nil {
		return 0, err
	}
	for _, c := range cycles {
		iter := tc.GetWorkflowHistory(ctx, cycleWorkflowID(c), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return 0, fmt.Errorf("read the hot cycle's history: %w", err)
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
				res.HotCycleSignals++
			}
		}
	}
	return pricedAll, nil
}

// report prints the results for people; the last line is Result.Line.
func report(out io.Writer, r Result) {
	fmt.Fprintf(out, "accepted:     %.1f/s (%d accepted, %d errors)\n", r.AcceptedPerS, r.Accepted, r.Errors)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(out, "  error: %s\n", s)
	}
	fmt.Fprintf(out, "accept:       p50 %sms  p95 %sms  p99 %sms\n", ms(r.AcceptP50), ms(r.AcceptP95), ms(r.AcceptP99))
	fmt.Fprintf(out, "end to end:   p50 %sms  p95 %sms  p99 %sms  max %sms\n", ms(r.E2EP50), ms(r.E2EP95), ms(r.E2EP99), ms(r.E2EMax))
	fmt.Fprintf(out, "priced:       %.1f/s (hot partner × offer %.1f/s); raw signal-with-start %.1f calls/s, %.1f/s sustained; ratio %.2f (sustained %.2f)\n",
		r.PricedPerS, r.HotPricedPerS, r.Raw.PerSecond, r.Raw.Sustained, r.Ratio, r.SustainedRatio)
	fmt.Fprintf(out, "backlog:      %d when the load stopped; drained in %.1fs (%t), %.1f priced/s while draining\n",
		r.Backlog, r.Drain.Seconds(), r.Drained, r.DrainPricedPerS)
	fmt.Fprintf(out, "retroactive:  %d bands reached, %d retro lines, slowest %sms from band to last line; hot cycle workflow signals: %d\n",
		r.BandsReached, r.RetroLines, ms(r.RetroLagMax), r.HotCycleSignals)
	fmt.Fprintf(out, "check:        %d conversions, %d lines, %d partners, %d bonuses, %d overrides: lost %d, duplicated %d, mismatched %d (conversions %d)\n",
		r.Check.Conversions, r.Check.Lines, r.Check.Partners, r.Check.Bonuses, r.Check.Overrides,
		r.Check.Lost, r.Check.Duplicated, r.Check.Mismatched, r.Check.MismatchedConversions)
	for _, p := range r.Check.Problems {
		fmt.Fprintf(out, "  problem: %s\n", p)
	}
	if r.LogWarnings > 0 {
		fmt.Fprintf(out, "log:          %d warnings or errors from the stack (see stderr)\n", r.LogWarnings)
	}
	fmt.Fprintf(out, "CPU:          %.2f ms per conversion in this process + %.2f ms in PostgreSQL; %.2f ms per raw signal-with-start; %.0f%% of %d cores busy during the load\n",
		float64(r.CPUPerConversion)/float64(time.Millisecond), float64(r.PGCPUPerConversion)/float64(time.Millisecond),
		float64(r.CPUPerRawCall)/float64(time.Millisecond), r.CPUBusy*100, runtime.NumCPU())
	if r.PGStatementsKnown {
		fmt.Fprintf(out, "statements:   %.1f per priced conversion in the stack's database (pg_stat_statements, from the load's start until drained)\n", r.PGStatementsPerConversion)
	}
	fmt.Fprintf(out, "peak RSS:     %.1f MB\n", r.PeakRSSMB)
	fmt.Fprintln(out, r.Line())
}

func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "b" + hex.EncodeToString(b)
}
