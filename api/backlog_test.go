package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

// TestConversionsPricedFilter: ?priced=false lists the pricing backlog (the
// approved conversions not priced yet, never a pending or rejected one),
// ?priced=true the priced ones, and anything else is a 400 naming the
// parameter.
func TestConversionsPricedFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adv := b.advertiser(t)
	offer := b.offer(t, adv.ID, "public")
	partner := b.partner(t, map[string]any{})
	insert := func(key, status string) store.Conversion {
		t.Helper()
		n := store.NewConversion{AdvertiserID: adv.ID, OfferID: offer.ID, PartnerID: partner.ID, DedupeKey: key,
			Currency: "USD", Status: status, OccurredAt: time.Now(), WorkflowID: "customer/" + key}
		if status == store.StatusRejected {
			n.RejectionReason = store.RejectPostback
		}
		c, _, err := b.store.InsertConversion(ctx, n)
		require.NoError(t, err)
		return c
	}
	waiting, priced := insert("waiting", store.StatusApproved), insert("priced", store.StatusApproved)
	insert("pending", store.StatusPending)
	insert("rejected", store.StatusRejected)
	_, ok, _, err := b.store.PriceConversion(ctx, priced.ID, func(context.Context, *store.PricingTx) (store.Priced, error) {
		return store.Priced{Pricing: map[string]string{}}, nil
	})
	require.NoError(t, err)
	require.True(t, ok)

	ids := func(query string) []int64 {
		t.Helper()
		page := decode[list[store.Conversion]](t, b.admin(t, http.StatusOK, http.MethodGet, "/conversions"+query, nil))
		var out []int64
		for _, c := range page.Items {
			out = append(out, c.ID)
		}
		return out
	}
	require.Equal(t, []int64{waiting.ID}, ids("?priced=false"))
	require.Equal(t, []int64{priced.ID}, ids("?priced=true"))
	require.Len(t, ids(""), 4)
	require.Empty(t, ids(fmt.Sprintf("?priced=false&partner_id=%d&status=pending", partner.ID)))

	rec := b.admin(t, http.StatusBadRequest, http.MethodGet, "/conversions?priced=maybe", nil)
	require.Equal(t, []string{"priced"}, problemFields(t, rec))
}

// TestMetricsRoute: /metrics answers without a key, in the Prometheus text
// format, with tierwise's metrics.
func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.do(t, "", http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	require.Contains(t, rec.Body.String(), "tierwise_postbacks_total")
}
