package activities_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

// TestRetroactiveIdempotent: the RepriceCycle activity run twice, and run
// while new conversions of the period are priced, ends in the same ledger as
// one run after them: each earlier conversion gets its retro line once.
func TestRetroactiveIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.Pool(t))
	adv, offer, partner := network(t, st, pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: decimal.NewFromInt(10)},
		pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: decimal.NewFromInt(20)})
	rule, err := st.CreateTieredRule(ctx, tiered.Rule{
		Name: "Over 20", Active: true, OfferIDs: []int64{offer.ID}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2026-01-01", Period: tiered.PeriodMonthly, Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{{Name: "Over 20", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: new(decimal.NewFromInt(20))}},
			Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByFlat, Value: decimal.NewFromInt(1)}}},
	})
	require.NoError(t, err)
	at := time.Date(2026, 11, 4, 12, 0, 0, 0, time.UTC)
	convert := func(i int) int64 {
		c, _, err := st.InsertConversion(ctx, store.NewConversion{
			AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, DedupeKey: fmt.Sprint("retro-", i),
			Currency: "USD", Status: store.StatusApproved, OccurredAt: at, WorkflowID: "test",
		})
		require.NoError(t, err)
		// The pricing transaction, without the cycle signal a real worker
		// sends after it: the test runs the re-pricing itself.
		_, priced, _, err := st.PriceConversion(ctx, c.ID, activities.Price)
		require.NoError(t, err)
		require.True(t, priced)
		return c.ID
	}
	var ids []int64
	for i := range 21 { // the 21st reaches the band
		ids = append(ids, convert(i))
	}
	start, end := tiered.PeriodOf(rule, at, time.UTC)
	cycle := workflows.Cycle{RuleID: rule.ID, PartnerID: partner.ID, OfferID: offer.ID, PeriodStart: start, PeriodEnd: end}

	var suite testsuite.WorkflowTestSuite
	a := activities.New(st, nil, nil)
	run := func() workflows.RepriceResult {
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		v, err := env.ExecuteActivity(a.RepriceCycle, cycle)
		require.NoError(t, err)
		var res workflows.RepriceResult
		require.NoError(t, v.Get(&res))
		return res
	}

	// The first run beside ten new conversions of the period.
	var wg sync.WaitGroup
	var first workflows.RepriceResult
	wg.Go(func() { first = run() })
	var newer []int64
	var mu sync.Mutex
	wg.Go(func() {
		for i := range 10 {
			id := convert(100 + i)
			mu.Lock()
			newer = append(newer, id)
			mu.Unlock()
		}
	})
	wg.Wait()
	require.Equal(t, 0, first.Band)
	require.Equal(t, 20, first.Repriced, "the 20 conversions priced before the band")

	ledger := func() map[string]int {
		out := map[string]int{}
		for _, id := range append(append([]int64(nil), ids...), newer...) {
			ls, err := st.Lines(ctx, id)
			require.NoError(t, err)
			for _, l := range ls {
				out[fmt.Sprintf("%d %s %s %s", id, l.Kind, l.Reason, l.Amount.StringFixed(2))]++
			}
		}
		return out
	}
	after := ledger()
	require.Zero(t, run().Repriced, "the second run writes nothing")
	require.Equal(t, after, ledger())

	for _, id := range append(append([]int64(nil), ids...), newer...) {
		c, err := st.Conversion(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "11", c.Payout.String(), "conversion %d", id)
	}
	retro := 0
	for k, n := range after {
		require.Equal(t, 1, n, k)
		if strings.Contains(k, " retro ") {
			retro++
		}
	}
	require.Equal(t, 20, retro, "one retro line per earlier conversion, none on those priced at the band")
}
