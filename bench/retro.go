package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/migrations"
	"github.com/tierwise/tierwise/pgcluster"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

// RetroConfig configures the retroactive re-pricing bench.
type RetroConfig struct {
	Conversions int // unpaid conversions of the cycle; default 100,000
	// DatabaseURL is the PostgreSQL to use; empty starts a throwaway
	// cluster (durable, as the dev stack's) in DataDir.
	DatabaseURL string
	DataDir     string // default: a temporary directory, removed afterwards
	Out         io.Writer
	Logger      *slog.Logger
	CPUProfile  io.Writer // when set, a CPU profile of the timed re-pricing
}

// RetroResult is what the retroactive re-pricing bench measured.
type RetroResult struct {
	Conversions     int     // conversions of the cycle below the band
	Repriced        int     // conversions the timed run re-priced
	Seconds         float64 // the timed run
	SetupSeconds    float64
	SecondRunWrites int64 // ledger lines the second run wrote: must be 0
	// Wrong counts conversions whose tiered lines do not add up to the
	// band's adjustment after the run.
	Wrong int64
}

// OK reports whether every conversion was re-priced exactly to the band and
// the second run wrote nothing.
func (r RetroResult) OK() bool {
	return r.Repriced == r.Conversions && r.Wrong == 0 && r.SecondRunWrites == 0
}

// Line is the machine-readable summary.
func (r RetroResult) Line() string {
	perS := 0.0
	if r.Seconds > 0 {
		perS = float64(r.Repriced) / r.Seconds
	}
	return fmt.Sprintf("conversions=%d repriced=%d seconds=%.2f second_run_writes=%d wrong=%d per_s=%.0f setup_s=%.1f",
		r.Conversions, r.Repriced, r.Seconds, r.SecondRunWrites, r.Wrong, perS, r.SetupSeconds)
}

// retroRule is the bench's rule: 10% more payout once the partner has more
// than n base conversions, retroactive.
func retroRule(offer int64, n int) tiered.Rule {
	return tiered.Rule{
		Name: "Bench retro: 10% over " + fmt.Sprint(n), Active: true, OfferIDs: []int64{offer},
		AppliesTo: tiered.AppliesToBase, StartDate: ruleStart.Format(tiered.DateLayout), Period: tiered.PeriodGlobal,
		Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{{Name: "Over " + fmt.Sprint(n), Bounds: bound(tiered.MetricConversions, int64(n), 0),
			Payout: adjust(tiered.ActionIncrease, tiered.ByPercent, "10")}},
	}
}

// Retro times the retroactive re-pricing of one commission cycle: n unpaid
// conversions priced below the band (stored with a bulk insert, not timed),
// one more priced through the pricing activity's code so the band is
// reached, then the RepriceCycle activity, run as Temporal runs it
// (activity context, heartbeats) in the SDK's activity test environment,
// timed; then run again, which must write nothing.
func Retro(ctx context.Context, cfg RetroConfig) (RetroResult, error) {
	if cfg.Conversions == 0 {
		cfg.Conversions = 100_000
	}
	if cfg.Conversions < 1 {
		return RetroResult{}, errors.New("conversions must be at least 1")
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	out := cfg.Out
	url, stop, err := retroDatabase(ctx, cfg)
	if err != nil {
		return RetroResult{}, err
	}
	defer stop()
	if _, err := migrations.Up(url); err != nil {
		return RetroResult{}, err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return RetroResult{}, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer pool.Close()
	st := store.New(pool)
	res := RetroResult{Conversions: cfg.Conversions}

	// Set-up, not timed.
	setupStart := time.Now()
	runID := newRunID()
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Bench retro " + runID})
	if err != nil {
		return res, err
	}
	offer, err := st.CreateOffer(ctx, store.OfferInput{
		AdvertiserID: adv.ID, Name: "Bench retro " + runID, Visibility: "public", Currency: "USD",
		DestinationURL: "https://advertiser.example/land?click={transaction_id}",
		Events:         []store.OfferEvent{{Payout: cpa("10"), Revenue: rpa("20")}},
	})
	if err != nil {
		return res, err
	}
	partner, err := st.CreatePartner(ctx, store.PartnerInput{Name: "Bench retro " + runID})
	if err != nil {
		return res, err
	}
	rule, err := st.CreateTieredRule(ctx, retroRule(offer.ID, cfg.Conversions))
	if err != nil {
		return res, err
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	periodStart, _ := tiered.PeriodOf(rule, at, time.UTC)
	d := &db{pool: pool}
	if err := d.bulkPricedConversions(ctx, bulkConversions{
		AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, RuleID: rule.ID, PeriodStart: periodStart,
		At: at, N: cfg.Conversions, RunID: runID, SaleAmount: amount("100"), Payout: amount("10"), Revenue: amount("20"),
	}); err != nil {
		return res, err
	}
	// The conversion that reaches the band, priced as the pricing activity
	// prices it: counted in the cycle, which raises the band.
	reaching, _, err := st.InsertConversion(ctx, store.NewConversion{
		AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, UserID: runID + "-reaching", OrderID: runID + "-reaching",
		DedupeKey: fmt.Sprintf("%d::order:%s-reaching", offer.ID, runID), Currency: "USD", SaleAmount: amount("100"),
		Status: store.StatusApproved, OccurredAt: at, WorkflowID: workflows.CustomerWorkflowID(adv.ID, runID+"-reaching"),
	})
	if err != nil {
		return res, err
	}
	priced, ok, _, err := st.PriceConversion(ctx, reaching.ID, activities.Price)
	switch {
	case err != nil:
		return res, err
	case !ok || priced.TieredBand != 0:
		return res, fmt.Errorf("the conversion that reaches the band was priced at band %d, not 0", priced.TieredBand)
	}
	res.SetupSeconds = time.Since(setupStart).Seconds()
	fmt.Fprintf(out, "retro: %d unpaid conversions below the band and one that reaches it, set up in %.1fs\n", cfg.Conversions, res.SetupSeconds)

	// The timed re-pricing.
	acts := activities.New(st, nil, cfg.Logger)
	cycle := workflows.Cycle{RuleID: rule.ID, PartnerID: partner.ID, OfferID: offer.ID, PeriodStart: periodStart}
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return res, fmt.Errorf("start the CPU profile: %w", err)
		}
	}
	start := time.Now()
	first, err := repriceCycle(acts, cycle, cfg.Logger)
	res.Seconds = time.Since(start).Seconds()
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, err
	}
	res.Repriced = first.Repriced
	fmt.Fprintf(out, "retro: re-priced %d of %d conversions to band %d in %.2fs (%.0f/s)\n",
		first.Repriced, first.Conversions, first.Band, res.Seconds, float64(first.Repriced)/res.Seconds)

	// What the run wrote: every earlier conversion at the band's +10%.
	want := pricing.Round(amount("10").Mul(amount("0.1")), "USD")
	if res.Wrong, err = d.wrongRetro(ctx, offer.ID, want); err != nil {
		return res, err
	}

	// The second run writes nothing.
	before, err := d.lineCount(ctx, offer.ID)
	if err != nil {
		return res, err
	}
	second, err := repriceCycle(acts, cycle, cfg.Logger)
	if err != nil {
		return res, err
	}
	after, err := d.lineCount(ctx, offer.ID)
	if err != nil {
		return res, err
	}
	res.SecondRunWrites = after - before
	fmt.Fprintf(out, "retro: second run re-priced %d conversions and wrote %d lines; %d conversions not at the band's adjustment\n",
		second.Repriced, res.SecondRunWrites, res.Wrong)
	fmt.Fprintln(out, res.Line())
	return res, nil
}

// repriceCycle runs the RepriceCycle activity in the SDK's activity test
// environment: the activity's own code with an activity context, so its
// chunks, heartbeats and cursor run as in a worker.
func repriceCycle(acts *activities.Activities, cycle workflows.Cycle, logger *slog.Logger) (workflows.RepriceResult, error) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(logger))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	val, err := env.ExecuteActivity(acts.RepriceCycle, cycle)
	if err != nil {
		return workflows.RepriceResult{}, fmt.Errorf("reprice cycle: %w", err)
	}
	var res workflows.RepriceResult
	if err := val.Get(&res); err != nil {
		return workflows.RepriceResult{}, fmt.Errorf("reprice cycle result: %w", err)
	}
	return res, nil
}

// retroDatabase returns the PostgreSQL to use and how to stop it.
func retroDatabase(ctx context.Context, cfg RetroConfig) (string, func(), error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	dir, cleanup := cfg.DataDir, func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tierwise-bench-retro-")
		if err != nil {
			return "", nil, err
		}
		dir, cleanup = filepath.Join(tmp, "data"), func() { _ = os.RemoveAll(tmp) }
	}
	pg, err := pgcluster.Start(ctx, pgcluster.Config{
		Dir: filepath.Join(dir, "postgres"), Durable: true, LogFile: filepath.Join(dir, "postgres.log"), Logger: cfg.Logger,
	})
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	return pg.URL("postgres"), func() {
		if err := pg.Stop(); err != nil {
			cfg.Logger.Warn("stop PostgreSQL", "error", err)
		}
		cleanup()
	}, nil
}
