package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// TestPayoutRunConcurrentWithRetroRepricing: a payout run and a retroactive
// re-pricing of the same conversions, started at the same moment, lock the
// conversions in one order: a retro line is never left unpaid on a
// conversion the run paid (DESIGN §13.12), and every line is paid once, in
// the run that reports it.
func TestPayoutRunConcurrentWithRetroRepricing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t) // real concurrency: a database of its own
	b := &testBundle{ctx: ctx, store: store.New(pool)}
	n := b.network(t, store.OfferEvent{Payout: cpa("10"), Revenue: rpa("20")})
	r := b.tieredRule(t, n, tiered.RetroEnabled, band("Over 5", "5", "", adjust(tiered.ActionIncrease, tiered.ByFlat, "1"), nil))

	const rounds, perRound = 40, 6
	var runs []store.PayoutRun
	for round := range rounds {
		partner := b.partner(t)
		var last store.Conversion
		for range perRound {
			last = b.convert(t, n, sale{partner: partner}) // the sixth reaches the band
		}
		key := store.CycleKey{RuleID: r.ID, PartnerID: partner, OfferID: n.offer, PeriodStart: cycleStart(t, b, last)}

		start := make(chan struct{})
		var wg sync.WaitGroup
		var run store.PayoutRun
		var runErr, repriceErr error
		wg.Go(func() {
			<-start
			run, runErr = b.store.CreatePayoutRun(ctx, &partner, "2026-11-30")
		})
		wg.Go(func() {
			<-start
			_, repriceErr = b.store.RepriceCycleChunk(ctx, key, 0, 500, func(band int, cs []tiered.Priced) []tiered.Delta {
				return tiered.Reprice(r, band, cs)
			})
		})
		close(start)
		wg.Wait()
		require.NoError(t, runErr, "round %d", round)
		require.NoError(t, repriceErr, "round %d", round)
		runs = append(runs, run)
	}

	var stranded int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lines r
		WHERE r.reason = 'retro' AND r.kind = 'payout' AND r.payout_run_id IS NULL
			AND EXISTS (SELECT 1 FROM ledger_lines p WHERE p.conversion_id = r.conversion_id AND p.payout_run_id IS NOT NULL)`).Scan(&stranded))
	require.Zero(t, stranded, "retro lines left unpaid on conversions a run paid")

	for _, run := range runs {
		var total decimal.Decimal
		var count int
		require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(sum(amount), 0), count(*) FROM ledger_lines WHERE payout_run_id = $1`, run.ID).
			Scan(&total, &count))
		require.Equal(t, run.LineCount, count, "run %d", run.ID)
		requireAmount(t, run.Total.String(), total, "run", run.ID)
	}
	var unpaid int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lines WHERE kind = 'payout' AND payout_run_id IS NULL AND amount <> 0
		AND reason <> 'retro'`).Scan(&unpaid))
	require.Zero(t, unpaid, "every priced line was in its round's run")
}
