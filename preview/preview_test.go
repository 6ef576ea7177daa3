package preview_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	store    *store.Store
	preview  *preview.Service
	offer    store.Offer
	partners [2]store.Partner
	start    time.Time
}

// setup is a network with an offer paying $10 and earning $15 per sign-up,
// two partners, and four conversions priced without any rule: three of the
// first partner, one of the second.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	st := store.New(pgtest.Tx(t))
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Acme"})
	require.NoError(t, err)
	offer, err := st.CreateOffer(ctx, store.OfferInput{AdvertiserID: adv.ID, Name: "Sign-up", Currency: "USD",
		DestinationURL: "https://acme.example/?c={transaction_id}", Events: []store.OfferEvent{{
			Payout: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("10")}, Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("15")}}}})
	require.NoError(t, err)
	b := &testBundle{store: st, preview: preview.New(st), offer: offer, start: time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Second)}
	for i := range b.partners {
		b.partners[i], err = st.CreatePartner(ctx, store.PartnerInput{Name: []string{"Blue Media", "Red Clicks"}[i]})
		require.NoError(t, err)
	}
	for i, p := range []int{0, 0, 1, 0} {
		b.convert(t, b.partners[p].ID, b.start.Add(time.Duration(i)*time.Hour))
	}
	return b
}

func (b *testBundle) convert(t *testing.T, partnerID int64, at time.Time) store.Conversion {
	t.Helper()
	ctx := context.Background()
	c, _, err := b.store.InsertConversion(ctx, store.NewConversion{AdvertiserID: b.offer.AdvertiserID, OfferID: b.offer.ID, PartnerID: partnerID,
		DedupeKey: at.String(), Currency: "USD", Status: store.StatusApproved, OccurredAt: at, WorkflowID: "anonymous"})
	require.NoError(t, err)
	c, _, _, err = b.store.PriceConversion(ctx, c.ID, func(ctx context.Context, p *store.PricingTx) (store.Priced, error) {
		pr, err := activities.Price(ctx, p)
		pr.ValueEvaluated = true
		return pr, err
	})
	require.NoError(t, err)
	return c
}

// volume is a rule that pays 10% more from a partner's third conversion of
// the month, re-pricing the earlier ones.
func (b *testBundle) volume() *tiered.Rule {
	return &tiered.Rule{Name: "Volume", OfferIDs: []int64{b.offer.ID}, AppliesTo: tiered.AppliesToBase,
		StartDate: time.Now().Format(tiered.DateLayout), Period: tiered.PeriodGlobal, Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{{Name: "Gold", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: decPtr("2")}},
			Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: dec("10")}}}}
}

func (b *testBundle) lineCount(t *testing.T) int {
	t.Helper()
	var n int
	for _, p := range b.partners {
		cs, err := b.store.ListConversions(context.Background(), store.ConversionFilter{PartnerID: p.ID, Limit: 100})
		require.NoError(t, err)
		for _, c := range cs {
			lines, err := b.store.Lines(context.Background(), c.ID)
			require.NoError(t, err)
			n += len(lines)
		}
	}
	return n
}

func TestPreviewService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("PerPartnerAgainstTheLedgerWritingNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lines := b.lineCount(t)
		var seen []preview.Progress
		res, err := b.preview.Run(ctx, preview.Request{From: b.start.Add(-time.Hour), Tiered: b.volume()}, func(p preview.Progress) { seen = append(seen, p) })
		require.NoError(t, err)
		require.Equal(t, 4, res.Conversions)
		require.False(t, res.Truncated)
		require.Equal(t, 3, res.Changed, "the first partner's three conversions reach the band, re-priced retroactively")
		require.Len(t, res.Partners, 2)
		blue := res.Partners[0]
		require.Equal(t, "Blue Media", blue.PartnerName)
		require.Equal(t, "30", blue.LedgerPayout.String())
		require.Equal(t, "33", blue.PreviewPayout.String())
		require.Equal(t, "3", blue.Difference.String())
		require.Equal(t, "3", blue.DraftEffect.String())
		red := res.Partners[1]
		require.Equal(t, "Red Clicks", red.PartnerName)
		require.True(t, red.Difference.IsZero(), "one conversion does not reach the band")
		require.Equal(t, []preview.Total{{Currency: "USD", Conversions: 4, LedgerPayout: dec("40"), BaselinePayout: dec("40"), PreviewPayout: dec("43"),
			Difference: dec("3"), DraftEffect: dec("3"), LedgerRevenue: dec("60"), PreviewRevenue: dec("60"), BaselineRevenue: dec("60")}}, res.Totals)
		require.Zero(t, res.Drift.Conversions, "no rule changed since pricing")
		require.Len(t, res.Examples, 3)
		require.Equal(t, "11", res.Examples[0].PreviewPayout.String())
		require.Contains(t, res.Examples[0].Why[0], `Tiered Commission`)
		require.Equal(t, lines, b.lineCount(t), "a preview writes no ledger line")
		require.NotEmpty(t, seen)
		require.Equal(t, preview.Progress{Phase: "done", Done: 8, Total: 8}, seen[len(seen)-1])
	})
	t.Run("BoundedByTheMaximum", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.preview.Run(ctx, preview.Request{From: b.start.Add(-time.Hour), MaxConversions: 2, Tiered: b.volume()}, nil)
		require.NoError(t, err)
		require.True(t, res.Truncated)
		require.Equal(t, 2, res.Conversions)
		require.Zero(t, res.Changed, "two conversions of the first partner do not reach its third")
	})
	t.Run("DateRange", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.preview.Run(ctx, preview.Request{From: b.start.Add(90 * time.Minute), Tiered: b.volume()}, nil)
		require.NoError(t, err)
		require.Equal(t, 2, res.Conversions, "the conversions of the third and fourth hour")
	})
	t.Run("AnEditedRuleReplacesItsSavedVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		saved := b.volume()
		saved.Active = false
		r, err := b.store.CreateTieredRule(ctx, *saved)
		require.NoError(t, err)
		r.Bands[0].Payout.Value = dec("20")
		res, err := b.preview.Run(ctx, preview.Request{From: b.start.Add(-time.Hour), Tiered: &r}, nil)
		require.NoError(t, err)
		require.Equal(t, r.ID, res.RuleID)
		require.Equal(t, "6", res.Partners[0].DraftEffect.String(), "the paused rule previewed as active, with its edit")
	})
	t.Run("ReadsWhenRefundsReversalsAndPaymentsHappened", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cs, err := b.store.ListConversions(ctx, store.ConversionFilter{Limit: 10})
		require.NoError(t, err)
		_, refund, err := b.store.RefundConversion(ctx, cs[0].ID, store.RefundInput{Revenue: dec("5")})
		require.NoError(t, err)
		_, _, err = b.store.ReverseConversion(ctx, cs[1].ID, "fraud")
		require.NoError(t, err)
		_, err = b.store.SetStatus(ctx, cs[2].ID, store.StatusRejected)
		require.NoError(t, err)
		run, err := b.store.CreatePayoutRun(ctx, &b.partners[0].ID, time.Now().Format(time.DateOnly))
		require.NoError(t, err)

		byID := map[int64]store.PreviewConversion{}
		require.NoError(t, b.store.EachPreviewConversion(ctx, store.PreviewFilter{From: b.start.Add(-time.Hour), To: time.Now().Add(time.Hour), Limit: 10},
			func(c store.PreviewConversion) error { byID[c.ID] = c; return nil }))
		refunded := byID[cs[0].ID]
		require.Equal(t, []store.PreviewRefund{{At: refund.CreatedAt.UTC(), SaleAmount: dec("0"), Payout: dec("0"), Revenue: dec("-5")}}, refunded.Refunds,
			"the refund's time, sale amount and layer 1–3 lines")
		require.True(t, refunded.Paid)
		require.Equal(t, run.CreatedAt.UTC(), refunded.PaidAt)
		for _, id := range []int64{cs[1].ID, cs[2].ID} {
			require.True(t, byID[id].Reversed)
			require.False(t, byID[id].ReversedAt.IsZero(), "reversed, or rejected after pricing, at the time of its reversal lines")
		}
		require.Empty(t, byID[cs[3].ID].Refunds)
		require.True(t, byID[cs[3].ID].ReversedAt.IsZero())
	})
	t.Run("InvalidRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.preview.Run(ctx, preview.Request{MaxConversions: 20_000}, nil)
		var invalid *store.InvalidError
		require.ErrorAs(t, err, &invalid)
		var fields []string
		for _, p := range invalid.Problems {
			fields = append(fields, p.Field)
		}
		require.Equal(t, []string{"from", "max_conversions", "rule"}, fields)
	})
	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := b.preview.Run(cctx, preview.Request{From: b.start, Tiered: b.volume()}, nil)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestPreviewJobs(t *testing.T) {
	t.Parallel()
	jobs := preview.NewJobs()
	release := make(chan struct{})
	job := jobs.Start("session-1", func(ctx context.Context, progress func(preview.Progress)) (preview.Result, error) {
		progress(preview.Progress{Phase: "replaying", Done: 5, Total: 10})
		select {
		case <-release:
			return preview.Result{Conversions: 10}, nil
		case <-ctx.Done():
			return preview.Result{}, ctx.Err()
		}
	})
	_, ok := jobs.Get("session-2", job.ID)
	require.False(t, ok, "another session never sees the job")
	got, ok := jobs.Get("session-1", job.ID)
	require.True(t, ok)
	require.Eventually(t, func() bool { return got.State().Percent() == 50 }, 5*time.Second, 5*time.Millisecond)
	close(release)
	s := got.Wait(context.Background())
	require.True(t, s.Done)
	require.Equal(t, 10, s.Result.Conversions)

	cancelled := jobs.Start("session-1", func(ctx context.Context, _ func(preview.Progress)) (preview.Result, error) {
		<-ctx.Done()
		return preview.Result{}, ctx.Err()
	})
	require.False(t, jobs.Cancel("session-2", cancelled.ID))
	require.True(t, jobs.Cancel("session-1", cancelled.ID))
	s = cancelled.Wait(context.Background())
	require.True(t, s.Done)
	require.True(t, s.Cancelled())
}
