package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
)

// TestPricingConfigIsAsFreshAsTheDatabase: pricing reads the network's
// configuration from a store's cache, yet never prices with a stale one:
// every configuration change bumps the configuration version in its own
// transaction, and the pricing transaction reads it. Two stores stand for
// two processes on one database: what one changes, the other's next
// pricing sees.
func TestPricingConfigIsAsFreshAsTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	api, worker := store.New(pool), store.New(pool)
	b := &testBundle{ctx: ctx, store: api}
	n := b.network(t, store.OfferEvent{Payout: cpa("5"), Revenue: rpa("10")})
	price := func() string {
		t.Helper()
		c, priced, _, err := worker.PriceConversion(ctx, b.insert(t, n, sale{}).ID, activities.Price)
		require.NoError(t, err)
		require.True(t, priced)
		return c.Payout.String()
	}
	require.Equal(t, "5", price(), "the offer default")

	// A tier with a margin, made by the other process.
	tier, err := api.CreateTier(ctx, store.TierInput{Name: "Margin 30", Margin: dec("30"), PartnerIDs: []int64{n.partner}})
	require.NoError(t, err)
	_, err = api.SetTierOffer(ctx, tier.ID, n.offer, store.TierOfferInput{ApplyMargin: true})
	require.NoError(t, err)
	require.Equal(t, "7", price(), "70% of the revenue: the margin is seen at once")

	margin := dec("50")
	_, err = api.UpdateTier(ctx, tier.ID, store.TierPatch{Margin: &margin})
	require.NoError(t, err)
	require.Equal(t, "5", price(), "the new margin")

	_, err = api.CreateCustomPayout(ctx, store.CustomPayoutInput{OfferID: n.offer, Payout: &pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("9")}})
	require.NoError(t, err)
	require.Equal(t, "9", price(), "a custom payout")
	require.Equal(t, "9", price(), "and again, from the cache, while nothing changes")
}
