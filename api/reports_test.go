package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// priced stores an approved conversion of the offer and partner and prices
// it as the pricing activity does.
func (b *testBundle) priced(t *testing.T, offer store.Offer, partner store.Partner, key string, at time.Time) store.Conversion {
	t.Helper()
	ctx := context.Background()
	c, _, err := b.store.InsertConversion(ctx, store.NewConversion{AdvertiserID: offer.AdvertiserID, OfferID: offer.ID, PartnerID: partner.ID,
		DedupeKey: key, OrderID: key, Currency: offer.Currency, Status: store.StatusApproved, OccurredAt: at, WorkflowID: "anonymous"})
	require.NoError(t, err)
	c, _, _, err = b.store.PriceConversion(ctx, c.ID, activities.Price)
	require.NoError(t, err)
	return c
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)

	require.Equal(t, []string{"name"}, problemFields(t, b.admin(t, http.StatusBadRequest, "POST", "/api-keys", map[string]any{"name": " "})))
	k := decode[apiKeyWithSecret](t, b.admin(t, http.StatusCreated, "POST", "/api-keys", map[string]any{"name": "Finance export"}))
	require.Equal(t, store.KeyAdmin, k.Kind)
	require.True(t, strings.HasPrefix(k.Secret, "tw_admin_"))
	require.Equal(t, http.StatusOK, b.do(t, k.Secret, "GET", "/network", nil).Code, "the new key works")

	partner := b.partner(t, map[string]any{})
	b.admin(t, http.StatusCreated, "POST", fmt.Sprintf("/partners/%d/api-keys", partner.ID), nil)

	admins := decode[listBody[store.APIKey]](t, b.admin(t, http.StatusOK, "GET", "/api-keys?kind=admin", nil))
	require.Len(t, admins.Items, 1)
	require.Equal(t, "Finance export", admins.Items[0].Name)
	require.NotContains(t, b.admin(t, http.StatusOK, "GET", "/api-keys", nil).Body.String(), k.Secret, "never a secret")
	partnerKeys := decode[listBody[store.APIKey]](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/api-keys?partner_id=%d", partner.ID), nil))
	require.Len(t, partnerKeys.Items, 1)
	require.Equal(t, "partner key", partnerKeys.Items[0].Name)
	require.Equal(t, []string{"kind"}, problemFields(t, b.admin(t, http.StatusBadRequest, "GET", "/api-keys?kind=robot", nil)))

	revoked := decode[store.APIKey](t, b.admin(t, http.StatusOK, "DELETE", fmt.Sprintf("/api-keys/%d", k.ID), nil))
	require.NotNil(t, revoked.RevokedAt)
	require.Equal(t, http.StatusUnauthorized, b.do(t, k.Secret, "GET", "/network", nil).Code, "revoked at once")
	require.Empty(t, decode[listBody[store.APIKey]](t, b.admin(t, http.StatusOK, "GET", "/api-keys?kind=admin", nil)).Items)
	require.Len(t, decode[listBody[store.APIKey]](t, b.admin(t, http.StatusOK, "GET", "/api-keys?kind=admin&revoked=true", nil)).Items, 1)
	b.admin(t, http.StatusNotFound, "DELETE", "/api-keys/9999", nil)
}

func TestConversionTotals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	offer := b.offer(t, b.advertiser(t).ID, "public")
	p1, p2 := b.partner(t, map[string]any{}), b.partner(t, map[string]any{})
	b.priced(t, offer, p1, "a", time.Now())
	b.priced(t, offer, p1, "b", time.Now())
	b.priced(t, offer, p2, "c", time.Now())

	all := decode[listBody[store.ConversionTotal]](t, b.admin(t, http.StatusOK, "GET", "/conversions/totals", nil))
	require.Len(t, all.Items, 1)
	require.Equal(t, "USD", all.Items[0].Currency)
	require.Equal(t, int64(3), all.Items[0].Conversions)
	requireDecimal(t, "15", all.Items[0].Payout)
	requireDecimal(t, "30", all.Items[0].Revenue)
	requireDecimal(t, "15", all.Items[0].Margin)

	one := decode[listBody[store.ConversionTotal]](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/conversions/totals?partner_id=%d&limit=1", p1.ID), nil))
	require.Equal(t, int64(2), one.Items[0].Conversions, "every conversion the filter selects, not a page")
	require.Equal(t, []string{"rejection_reason"}, problemFields(t, b.admin(t, http.StatusBadRequest, "GET", "/conversions/totals?rejection_reason=whim", nil)))
}

func TestCommissionCyclePages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	offer := b.offer(t, b.advertiser(t).ID, "public")
	_, err := b.store.CreateTieredRule(ctx, tiered.Rule{Name: "Volume", Active: true, OfferIDs: []int64{offer.ID}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2020-01-01", Period: tiered.PeriodGlobal, Bands: []tiered.Band{{Name: "All", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions}}}}})
	require.NoError(t, err)
	for i := range 3 {
		b.priced(t, offer, b.partner(t, map[string]any{}), fmt.Sprint("k", i), time.Now())
	}

	type cycle struct {
		PartnerID int64  `json:"partner_id"`
		RuleName  string `json:"rule_name"`
		BandName  string `json:"band_name"`
		RetroMode string `json:"retro_mode"`
	}
	first := decode[listBody[cycle]](t, b.admin(t, http.StatusOK, "GET", "/commission-cycles?limit=2", nil))
	require.Len(t, first.Items, 2)
	require.NotEmpty(t, first.NextCursor)
	require.Equal(t, cycle{PartnerID: first.Items[0].PartnerID, RuleName: "Volume", BandName: "All", RetroMode: "disabled"}, first.Items[0])
	second := decode[listBody[cycle]](t, b.admin(t, http.StatusOK, "GET", "/commission-cycles?limit=2&after="+first.NextCursor, nil))
	require.Len(t, second.Items, 1, "the third cycle, none cut")
	require.Empty(t, second.NextCursor)
	require.NotEqual(t, first.Items[1].PartnerID, second.Items[0].PartnerID)
	require.Equal(t, []string{"after"}, problemFields(t, b.admin(t, http.StatusBadRequest, "GET", "/commission-cycles?after=yesterday", nil)))
	require.Equal(t, []string{"limit"}, problemFields(t, b.admin(t, http.StatusBadRequest, "GET", "/commission-cycles?limit=501", nil)))
}

func TestPayoutRunReads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	offer := b.offer(t, b.advertiser(t).ID, "public")
	p1, p2 := b.partner(t, map[string]any{}), b.partner(t, map[string]any{})
	old := time.Now().Add(-72 * time.Hour)
	b.priced(t, offer, p1, "a", old)
	b.priced(t, offer, p2, "b", old)
	cutoff := time.Now().UTC().AddDate(0, 0, -2).Format("2006-01-02")
	run := decode[store.PayoutRun](t, b.admin(t, http.StatusCreated, "POST", "/payout-runs", map[string]any{"cutoff": cutoff}))
	second := decode[store.PayoutRun](t, b.admin(t, http.StatusCreated, "POST", "/payout-runs", map[string]any{"cutoff": cutoff}))

	runs := decode[listBody[store.PayoutRun]](t, b.admin(t, http.StatusOK, "GET", "/payout-runs?limit=1", nil))
	require.Equal(t, second.ID, runs.Items[0].ID, "newest first")
	older := decode[listBody[store.PayoutRun]](t, b.admin(t, http.StatusOK, "GET", "/payout-runs?limit=1&after="+runs.NextCursor, nil))
	require.Equal(t, run.ID, older.Items[0].ID)

	view := decode[payoutRunView](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/payout-runs/%d", run.ID), nil))
	require.Equal(t, 2, view.LineCount)
	require.Len(t, view.Partners, 2)
	requireDecimal(t, "5", view.Partners[0].Amount)
	lines := decode[listBody[store.PaidLine]](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/payout-runs/%d/lines", run.ID), nil))
	require.Len(t, lines.Items, 2)
	require.Equal(t, offer.ID, lines.Items[0].OfferID)

	rec := b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/payout-runs/%d/export.csv", run.ID), nil)
	rows, err := csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	b.admin(t, http.StatusNotFound, "GET", "/payout-runs/9999", nil)
	b.admin(t, http.StatusNotFound, "GET", "/payout-runs/9999/lines", nil)
}
