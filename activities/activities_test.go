package activities_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// network creates an advertiser, a USD offer whose base conversion pays
// payout and earns revenue, and a partner.
func network(t *testing.T, st *store.Store, payout pricing.PayoutRate, revenue pricing.RevenueRate) (store.Advertiser, store.Offer, store.Partner) {
	t.Helper()
	ctx := context.Background()
	adv, _, err := st.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Broker"})
	require.NoError(t, err)
	offer, err := st.CreateOffer(ctx, store.OfferInput{
		AdvertiserID: adv.ID, Name: "Offer", Currency: "USD", DestinationURL: "https://example.com/",
		Events: []store.OfferEvent{{Payout: payout, Revenue: revenue}},
	})
	require.NoError(t, err)
	partner, err := st.CreatePartner(ctx, store.PartnerInput{Name: "Partner"})
	require.NoError(t, err)
	return adv, offer, partner
}

// TestPriceConversionIsIdempotent: retries and duplicate deliveries of the
// pricing activity, even at the same moment, write one set of lines.
func TestPriceConversionIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.Pool(t))
	adv, offer, partner := network(t, st, pricing.PayoutRate{Type: pricing.PayoutCPS, Percent: decimal.NewFromInt(10)},
		pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: decimal.NewFromInt(3)})
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

// TestOverrideRecordedAfterARefund: when a partial refund lands between
// the pricing and the customer workflow's recording of an override, the
// override is still brought to its rate on the net amounts.
func TestOverrideRecordedAfterARefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.Pool(t))
	adv, offer, partner := network(t, st, pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: decimal.NewFromInt(5)},
		pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: decimal.NewFromInt(8)})
	_, _, err := st.CreateCustomerValueRule(ctx, store.CustomerValueRuleInput{Rule: customervalue.Rule{
		Name: "RevShare", AppliesOn: customervalue.AppliesOnAll, StartsAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		PartnerIDs: []int64{partner.ID}, OfferIDs: []int64{offer.ID},
		Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion, DurationDays: 30},
		Grouping:  customervalue.GroupAll,
		Outcome: customervalue.RuleOutcome{Frequency: customervalue.EveryConversion, Trigger: customervalue.TriggerInstant,
			Kind: customervalue.KindOverride, Payout: customervalue.Rate{Type: customervalue.RateRevShare, Percent: decimal.NewFromInt(10)}},
	}})
	require.NoError(t, err)
	c, _, err := st.InsertConversion(ctx, store.NewConversion{
		AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, UserID: "u1", DedupeKey: "k1",
		Currency: "USD", SaleAmount: decimal.NewFromInt(200), Status: store.StatusApproved,
		OccurredAt: time.Now(), WorkflowID: "customer/1/u1",
	})
	require.NoError(t, err)

	a := activities.New(st, nil, nil)
	res, err := a.PriceConversion(ctx, c.ID)
	require.NoError(t, err)
	require.NotNil(t, res.Conversion)
	var state customervalue.State
	outcomes := state.Apply(res.Rules, *res.Conversion, time.UTC)
	require.Len(t, outcomes, 1)
	require.Equal(t, "20", outcomes[0].Payout.String(), "10% of the 200 sale, as priced")

	// The refund comes first: there is no override yet to re-target.
	_, _, err = st.RefundConversion(ctx, c.ID, store.RefundInput{SaleAmount: decimal.NewFromInt(50)}) // CPA and RPA do not follow the sale
	require.NoError(t, err)
	record := workflows.CustomerRecord{Outcomes: outcomes, State: workflows.NewCustomerState(adv.ID, "u1")}
	require.NoError(t, a.RecordCustomer(ctx, record))
	got, err := st.Conversion(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "15", got.Payout.String(), "10% of the 150 left")

	// Recorded again (a retry), nothing changes.
	require.NoError(t, a.RecordCustomer(ctx, record))
	got, err = st.Conversion(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "15", got.Payout.String())
}
