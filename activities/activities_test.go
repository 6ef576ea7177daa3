package activities_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPriceConversionIsIdempotent: retries and duplicate deliveries of the
// pricing activity, even at the same moment, write one set of lines.
func TestPriceConversionIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.Pool(t))
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Broker"})
	require.NoError(t, err)
	offer, err := st.CreateOffer(ctx, store.OfferInput{
		AdvertiserID: adv.ID, Name: "Offer", Currency: "USD", DestinationURL: "https://example.com/",
		Events: []store.OfferEvent{{
			Payout:  pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: decimal.NewFromInt(10)},
			Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: decimal.NewFromInt(3)},
		}},
	})
	require.NoError(t, err)
	partner, err := st.CreatePartner(ctx, store.PartnerInput{Name: "Partner"})
	require.NoError(t, err)
	c, dup, err := st.InsertConversion(ctx, store.NewConversion{
		AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, UserID: "u1", DedupeKey: "k1",
		Currency: "USD", SaleAmount: decimal.RequireFromString("25.05"), Status: store.StatusApproved,
		OccurredAt: time.Now(), WorkflowID: "customer/1/u1",
	})
	require.NoError(t, err)
	require.False(t, dup)

	a := activities.New(st, nil, nil)
	const deliveries = 8
	results := make([]bool, deliveries)
	var wg sync.WaitGroup
	for i := range deliveries {
		wg.Go(func() {
			res, err := a.PriceConversion(ctx, c.ID)
			require.NoError(t, err)
			results[i] = res.Priced
		})
	}
	wg.Wait()
	priced := 0
	for _, p := range results {
		if p {
			priced++
		}
	}
	require.Equal(t, 1, priced, "exactly one delivery prices the conversion")

	lines, err := st.Lines(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, lines, 2)
	got, err := st.Conversion(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "2.51", got.Payout.String(), "10% of 25.05 = 2.505, rounded half away from zero")
	require.Equal(t, "3", got.Revenue.String())

	_, err = a.PriceConversion(ctx, 999999)
	require.ErrorContains(t, err, "not found")
}
