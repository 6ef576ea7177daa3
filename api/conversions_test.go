package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// conversionNetwork is an advertiser (with its postback token), a USD offer
// paying a $10 CPA and earning a $20 RPA, and a partner.
type conversionNetwork struct {
	token                      string
	advertiser, offer, partner int64
}

func (b *testBundle) conversionNetwork(t *testing.T) conversionNetwork {
	t.Helper()
	ctx := context.Background()
	adv, token, err := b.store.CreateAdvertiser(ctx, store.AdvertiserInput{Name: "Broker"})
	require.NoError(t, err)
	offer, err := b.store.CreateOffer(ctx, store.OfferInput{AdvertiserID: adv.ID, Name: "Offer", Currency: "USD",
		DestinationURL: "https://advertiser.example/", Events: []store.OfferEvent{{
			Payout:  pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: decimal.NewFromInt(10)},
			Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: decimal.NewFromInt(20)},
		}}})
	require.NoError(t, err)
	partner, err := b.store.CreatePartner(ctx, store.PartnerInput{Name: "Partner"})
	require.NoError(t, err)
	return conversionNetwork{token: token, advertiser: adv.ID, offer: offer.ID, partner: partner.ID}
}

// postback sends an anonymous pending postback (a pending one is not
// signalled: these tests run without Temporal) and returns its id.
func (b *testBundle) postback(t *testing.T, n conversionNetwork) int64 {
	t.Helper()
	q := url.Values{"token": {n.token}, "offer_id": {fmt.Sprint(n.offer)}, "partner_id": {fmt.Sprint(n.partner)},
		"order_id": {fmt.Sprint("o", time.Now().UnixNano())}, "timestamp": {"2026-11-04T12:00:00Z"}, "status": {"pending"}}
	rec := b.do(t, "", http.MethodGet, "/postback?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return int64(decode[map[string]any](t, rec)["conversion_id"].(float64))
}

// approved stores an approved anonymous conversion as the postback does,
// without signalling it, and prices it as the worker's pricing activity
// does.
func (b *testBundle) approved(t *testing.T, n conversionNetwork) store.Conversion {
	t.Helper()
	c, _, err := b.store.InsertConversion(context.Background(), store.NewConversion{
		AdvertiserID: n.advertiser, OfferID: n.offer, PartnerID: n.partner, DedupeKey: fmt.Sprint("api-test:", time.Now().UnixNano()),
		Currency: "USD", Status: store.StatusApproved, OccurredAt: time.Date(2026, 11, 4, 12, 0, 0, 0, time.UTC),
		WorkflowID: "api-test",
	})
	require.NoError(t, err)
	c, priced := b.price(t, c.ID)
	require.True(t, priced)
	return c
}

// price prices a conversion as the worker's pricing activity does.
func (b *testBundle) price(t *testing.T, id int64) (store.Conversion, bool) {
	t.Helper()
	c, priced, _, err := b.store.PriceConversion(context.Background(), id, activities.Price)
	require.NoError(t, err)
	return c, priced
}

// TestReversedConversionIsNeverPriced: reversing a pending conversion makes
// it rejected with reason reversed, and a later approval is a 409 naming the
// status; it is never priced (DESIGN §14.10).
func TestReversedConversionIsNeverPriced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := b.conversionNetwork(t)
	id := b.postback(t, n)

	reversed := decode[store.Conversion](t, b.admin(t, http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": id}))
	require.Equal(t, store.StatusRejected, reversed.Status)
	require.Equal(t, store.RejectReversed, reversed.RejectionReason)
	require.NotNil(t, reversed.ReversedAt)

	rec := b.admin(t, http.StatusConflict, http.MethodPatch, fmt.Sprintf("/conversions/%d", id), map[string]any{"status": "approved"})
	require.Contains(t, decode[errorBody](t, rec).Error.Message, "is rejected and reversed")

	_, priced := b.price(t, id)
	require.False(t, priced)
	got := decode[conversionView](t, b.admin(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d", id), nil))
	require.Equal(t, store.StatusRejected, got.Status)
	require.Empty(t, got.Lines)
	requireDecimal(t, "0", got.Payout)

	// Reversing again changes nothing; the reversal stays final.
	again := decode[store.Conversion](t, b.admin(t, http.StatusOK, http.MethodPost, "/reversals", map[string]any{"conversion_id": id}))
	require.Equal(t, store.RejectReversed, again.RejectionReason)
}

// TestManualEditFeedsPercentBands: an edit sets the layer 1–3 amount with a
// manual line; a percent band follows it at once and in retroactive
// re-pricing; an edit on a paid conversion is a new line for the next run
// (DESIGN §13.6, §14.11).
func TestManualEditFeedsPercentBands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	n := b.conversionNetwork(t)
	rule, err := b.store.CreateTieredRule(ctx, tiered.Rule{
		Name: "Volume", Active: true, OfferIDs: []int64{n.offer}, AppliesTo: tiered.AppliesToBase,
		StartDate: "2026-01-01", Period: tiered.PeriodMonthly, Retro: tiered.RetroEnabled,
		Bands: []tiered.Band{
			{Name: "First", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Max: decPtr("1")}},
				Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: decimal.NewFromInt(10)}},
			{Name: "Then", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: decPtr("1")}},
				Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByPercent, Value: decimal.NewFromInt(20)}},
		},
	})
	require.NoError(t, err)
	_, finance, err := b.store.CreateAPIKey(ctx, store.KeyAdmin, 0, "Finance desk")
	require.NoError(t, err)
	edit := func(key string, status int, id int64, body map[string]any) *conversionView {
		t.Helper()
		rec := b.do(t, key, http.MethodPatch, fmt.Sprintf("/conversions/%d", id), body)
		require.Equal(t, status, rec.Code, rec.Body.String())
		if status != http.StatusOK {
			return nil
		}
		v := decode[conversionView](t, b.admin(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d", id), nil))
		return &v
	}
	payoutLines := func(v *conversionView) []string {
		var out []string
		for _, l := range v.Lines {
			if l.Kind == store.KindPayout {
				paid := ""
				if l.PayoutRunID != nil {
					paid = " paid"
				}
				out = append(out, l.Reason+" "+l.Amount.StringFixed(2)+paid)
			}
		}
		return out
	}

	first := b.approved(t, n)
	requireDecimal(t, "11", first.Payout)

	v := edit(finance, http.StatusOK, first.ID, map[string]any{"payout": "15", "reason": "agreed launch-week rate"})
	requireDecimal(t, "16.5", v.Payout)
	require.Equal(t, []string{"price 10.00", "tiered 1.00", "manual 5.00", "tiered 0.50"}, payoutLines(v), "the percent band follows the edit at once")

	second := b.approved(t, n)
	requireAmount(t, "12", second.Payout, "the edit moved neither the band nor the metrics: the second reaches band two as the second conversion")
	cycles, err := b.store.CommissionCycles(ctx, store.CycleFilter{RuleID: rule.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, cycles, 1)
	requireAmount(t, "20", cycles[0].Metrics.Payout, "metrics keep the amounts the conversions were counted with")
	chunk, err := b.store.RepriceCycleChunk(ctx, store.CycleKey{RuleID: rule.ID, PartnerID: n.partner, OfferID: n.offer, PeriodStart: cycles[0].PeriodStart},
		0, 500, func(band int, cs []tiered.Priced) []tiered.Delta { return tiered.Reprice(rule, band, cs) })
	require.NoError(t, err)
	require.Equal(t, 1, chunk.Repriced)
	got := decode[conversionView](t, b.admin(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d", first.ID), nil))
	v = &got
	requireAmount(t, "18", v.Payout, "20% on the edited 15.00")

	run := decode[store.PayoutRun](t, b.admin(t, http.StatusCreated, http.MethodPost, "/payout-runs", map[string]any{"cutoff": "2026-11-30"}))
	requireDecimal(t, "30", run.Total)

	v = edit(adminKey, http.StatusOK, first.ID, map[string]any{"payout": "20", "reason": "correction after the advertiser's audit"})
	requireDecimal(t, "24", v.Payout)
	require.Equal(t, []string{"price 10.00 paid", "tiered 1.00 paid", "manual 5.00 paid", "tiered 0.50 paid", "retro 1.50 paid", "manual 5.00", "tiered 1.00"},
		payoutLines(v), "paid lines stay; the edit is new lines for the next run")
	run = decode[store.PayoutRun](t, b.admin(t, http.StatusCreated, http.MethodPost, "/payout-runs", map[string]any{"cutoff": "2026-11-30"}))
	requireDecimal(t, "6", run.Total)
	require.Equal(t, 2, run.LineCount)

	e := decode[explanation](t, b.admin(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/conversions/%d/explanation", first.ID), nil))
	require.Len(t, e.Edits, 2)
	require.Equal(t, "Finance desk", e.Edits[0].EditedBy, "who made it: the API key's name")
	require.Equal(t, "agreed launch-week rate", e.Edits[0].Reason)
	requireDecimal(t, "10", *e.Edits[0].PayoutFrom)
	requireDecimal(t, "15", *e.Edits[0].PayoutTo)
	require.Nil(t, e.Edits[0].RevenueTo)
	require.Equal(t, configuredAdmin, e.Edits[1].EditedBy)

	t.Run("RevenueEdit", func(t *testing.T) {
		v := edit(adminKey, http.StatusOK, second.ID, map[string]any{"revenue": "25.50", "reason": "advertiser paid more"})
		requireDecimal(t, "25.5", v.Revenue)
		requireAmount(t, "12", v.Payout, "the payout is not derived from an edited revenue")
	})

	t.Run("Refused", func(t *testing.T) {
		path := fmt.Sprintf("/conversions/%d", first.ID)
		for _, tc := range []struct {
			name  string
			body  any
			field string
		}{
			{"NoReason", map[string]any{"payout": "12"}, "reason"},
			{"BlankReason", map[string]any{"payout": "12", "reason": "  "}, "reason"},
			{"Negative", map[string]any{"payout": "-1", "reason": "x"}, "payout"},
			{"MoreDecimalsThanTheCurrency", map[string]any{"payout": "1.234", "reason": "x"}, "payout"},
			{"NotADecimal", map[string]any{"revenue": "12%", "reason": "x"}, "revenue"},
			{"TooLarge", map[string]any{"payout": "1000000000.01", "reason": "x"}, "payout"},
			{"NothingToSet", map[string]any{"reason": "x"}, "payout"},
			{"StatusAndAmounts", map[string]any{"status": "approved", "payout": "12", "reason": "x"}, "status"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				require.Equal(t, []string{tc.field}, problemFields(t, b.do(t, adminKey, http.MethodPatch, path, tc.body)))
			})
		}
		pending := b.postback(t, n)
		edit(adminKey, http.StatusConflict, pending, map[string]any{"payout": "12", "reason": "x"})
	})
}

func requireAmount(t *testing.T, want string, got decimal.Decimal, msg string) {
	t.Helper()
	require.True(t, decimal.RequireFromString(want).Equal(got), "want %s, got %s: %s", want, got, msg)
}

func decPtr(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}
