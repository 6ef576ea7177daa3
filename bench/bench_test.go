package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/devstack"
	"github.com/tierwise/tierwise/store"
)

// tempDir is a directory the postgres system user can traverse when the
// tests run as root (t.TempDir's parent is private to root).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tierwise-bench-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

// The tests that start a stack or a cluster run one after the other: the
// embedded servers pick free ports by asking the kernel and releasing them,
// and two starting at once can be handed the same one.

// smokeConfig is a short, modest load: what CI runs to keep the
// correctness check honest.
func smokeConfig(out io.Writer) Config {
	return Config{
		Duration: 5 * time.Second, Rate: 40, Clients: 16, Customers: 2000, HotShare: 0.3,
		RawDuration: time.Second, DrainTimeout: time.Minute,
		Out: out, Logger: slog.New(slog.DiscardHandler),
	}
}

func requireClean(t *testing.T, res Result, out string) {
	t.Helper()
	require.True(t, res.Drained, "the backlog did not drain:\n%s", out)
	require.Zero(t, res.Check.Lost, out)
	require.Zero(t, res.Check.Duplicated, out)
	require.Zero(t, res.Check.Mismatched, out)
	require.Zero(t, res.Check.MismatchedConversions, out)
	require.Positive(t, res.PricedPerS, out)
	require.Positive(t, res.Check.Conversions, out)
	require.Positive(t, res.Raw.PerSecond, out)
	require.False(t, res.Failed())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	for _, key := range []string{"accepted_per_s", "accept_p99_ms", "e2e_p50_ms", "e2e_p99_ms", "priced_per_s",
		"raw_signal_per_s", "ratio", "backlog", "lost", "duplicated", "mismatched", "peak_rss_mb",
		"rate_of_raw", "temporal_persistence", "pg_statements_per_conversion"} {
		require.Contains(t, " "+last, " "+key+"=", "the last line is the machine-readable summary")
	}
}

// TestBenchSmoke runs the bench as "tierwise bench --duration 5s" does:
// against an embedded dev stack of its own.
func TestBenchSmoke(t *testing.T) {
	var out strings.Builder
	cfg := smokeConfig(&out)
	cfg.DataDir = tempDir(t)
	res, err := Run(context.Background(), cfg)
	require.NoError(t, err, out.String())
	requireClean(t, res, out.String())
	require.Positive(t, res.HotPricedPerS, out.String())
	require.Positive(t, res.BandsReached, "the hot partner × offer reaches a band: %s", out.String())
	require.LessOrEqual(t, res.HotCycleSignals, int64(res.net.HotBands+1), "the hot cycle takes a signal per band, not per conversion")
	// The dev stack's PostgreSQL loads pg_stat_statements: a priced
	// conversion takes at least its accept's insert and its pricing
	// transaction.
	require.True(t, res.PGStatementsKnown, out.String())
	require.Greater(t, res.PGStatementsPerConversion, 3.0, out.String())
	require.Less(t, res.PGStatementsPerConversion, 500.0, out.String())
	require.Contains(t, out.String(), fmt.Sprintf(" pg_statements_per_conversion=%.1f ", res.PGStatementsPerConversion))
	require.Contains(t, out.String(), " temporal_persistence="+string(devstack.DefaultTemporalPersistence)+" ")
}

// TestBenchAgainstARunningStack runs the bench against a running stack
// (--api), then changes the ledger behind its back: the check must see it.
func TestBenchAgainstARunningStack(t *testing.T) {
	ctx := context.Background()
	stack, err := devstack.Start(ctx, devstack.Config{DataDir: tempDir(t), APIAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(stack.Stop)

	var out strings.Builder
	cfg := smokeConfig(&out)
	cfg.APIURL, cfg.AdminKey = stack.APIURL(), stack.AdminKey()
	cfg.DatabaseURL, cfg.TemporalAddress = stack.DatabaseURL, stack.TemporalAddress()
	res, err := Run(ctx, cfg)
	require.NoError(t, err, out.String())
	requireClean(t, res, out.String())

	pool, err := pgxpool.New(ctx, stack.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	d := &db{pool: pool, offers: res.net.OfferIDs()}
	recheck := func() CheckResult {
		t.Helper()
		c, err := check(ctx, d, store.New(pool), res.net, res.accepted)
		require.NoError(t, err)
		return c
	}
	require.True(t, recheck().OK(), "a second check of an untouched ledger finds nothing")

	// A bonus nobody earned: one partner and one conversion mismatch.
	var victim int64
	for _, a := range res.accepted {
		if !a.Duplicate {
			victim = a.ConversionID
			break
		}
	}
	_, err = pool.Exec(ctx, `INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, key)
		SELECT id, partner_id, 'payout', 1.00, 'bonus', 'tampered' FROM conversions WHERE id = $1`, victim)
	require.NoError(t, err)
	c := recheck()
	require.Equal(t, 1, c.Mismatched, c.Problems)
	require.Equal(t, 1, c.MismatchedConversions, c.Problems)

	// A second price line: priced twice.
	_, err = pool.Exec(ctx, `INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, key)
		SELECT id, partner_id, 'payout', 0, 'price', 'price-again' FROM conversions WHERE id = $1`, victim)
	require.NoError(t, err)
	require.Equal(t, 1, recheck().Duplicated)

	// An accepted postback whose conversion is gone from the check's view.
	lost := append([]Accepted{{ConversionID: 1 << 40}}, res.accepted...)
	c, err = check(ctx, d, store.New(pool), res.net, lost)
	require.NoError(t, err)
	require.Equal(t, 1, c.Lost)
}

// TestRateOfRaw: --rate-of-raw F sets the load to F × the raw sustained
// rate, and refuses what it cannot scale; no load runs.
func TestRateOfRaw(t *testing.T) {
	t.Parallel()
	t.Run("ScalesTheSustainedRate", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ f, sustained, want float64 }{
			{0.8, 150, 120},
			{0.9, 146.8, 132.12},
			{1, 62.5, 62.5},
			{2.5, 40, 100},
		} {
			// The call rate is not what it scales.
			got, err := rateOfRaw(c.f, RawResult{Calls: 1000, PerSecond: 354, Sustained: c.sustained})
			require.NoError(t, err)
			require.InDelta(t, c.want, got, 1e-9, "%g × %g", c.f, c.sustained)
		}
	})
	t.Run("NothingToScale", func(t *testing.T) {
		t.Parallel()
		_, err := rateOfRaw(0.8, RawResult{Calls: 0, Errors: 12})
		require.ErrorContains(t, err, "raw sustained rate measured 0.0/s")
	})
	t.Run("Config", func(t *testing.T) {
		t.Parallel()
		valid := func(c Config) error { return c.defaults() }
		require.NoError(t, valid(Config{RateOfRaw: 0.8}))
		require.ErrorContains(t, valid(Config{RateOfRaw: 0.8, Rate: 100}), "rate and rate-of-raw exclude each other")
		require.ErrorContains(t, valid(Config{RateOfRaw: 0.8, RawDuration: -1}), "rate-of-raw needs the raw rate")
		require.ErrorContains(t, valid(Config{RateOfRaw: -0.5}), "rate-of-raw must be between 0 and 20")
		require.ErrorContains(t, valid(Config{RateOfRaw: 21}), "rate-of-raw must be between 0 and 20")
	})
	t.Run("Line", func(t *testing.T) {
		t.Parallel()
		line := Result{Rate: 120, RateOfRaw: 0.8, TemporalPersistence: devstack.PersistencePostgres}.Line()
		require.Contains(t, line, "rate=120.0 rate_of_raw=0.80 temporal_persistence=postgres ")
		require.Contains(t, line, " pg_statements_per_conversion=na ", "unknown without pg_stat_statements")
		require.Contains(t, Result{}.Line(), " temporal_persistence=running-stack ")
	})
}

func TestStatementsPerConversion(t *testing.T) {
	t.Parallel()
	before := statementCount{calls: 1000, dealloc: 3, own: 10}
	after := statementCount{calls: 1000 + 4500 + 40, dealloc: 3, own: 50}
	got, ok := perConversion(before, after, 300)
	require.True(t, ok)
	require.InDelta(t, 15.0, got, 1e-9, "the bench's own 40 statements are not the stack's")
	_, ok = perConversion(before, statementCount{calls: 9000, dealloc: 4, own: 50}, 300)
	require.False(t, ok, "an evicted entry took its calls with it")
	_, ok = perConversion(before, after, 0)
	require.False(t, ok, "nothing priced")
}

func TestRetroSmoke(t *testing.T) {
	var out strings.Builder
	res, err := Retro(context.Background(), RetroConfig{Conversions: 2000, DataDir: tempDir(t), Out: &out, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err, out.String())
	require.True(t, res.OK(), out.String())
	require.Equal(t, 2000, res.Repriced)
	require.Zero(t, res.SecondRunWrites)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	for _, key := range []string{"conversions=2000", "repriced=2000", "seconds=", "second_run_writes=0"} {
		require.Contains(t, last, key)
	}
}

func TestHotBandThresholds(t *testing.T) {
	t.Parallel()
	for _, expected := range []int{0, 40, 100, 3000, 12000} {
		th := HotBandThresholds(expected)
		require.Len(t, th, 4)
		for i := 1; i < len(th); i++ {
			require.Greater(t, th[i], th[i-1], "expected %d: %v", expected, th)
		}
	}
	require.Equal(t, []int64{10, 1500, 4000, 8000}, HotBandThresholds(12000))
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds, 50, 95, 99, 100)
	require.Equal(t, []time.Duration{50 * time.Millisecond, 95 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond}, p)
	require.Equal(t, []time.Duration{0}, percentiles(nil, 99))
}
