package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/internal/pgtest"
	"github.com/tierwise/tierwise/store"
)

const adminKey = "test-admin"

type testBundle struct {
	handler http.Handler
	pool    *pgxpool.Pool
	store   *store.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := pgtest.Pool(t)
	srv := NewServer(Config{Pool: pool, AdminKeys: []string{adminKey}, Logger: slog.New(slog.DiscardHandler)})
	return &testBundle{handler: srv.Handler(), pool: pool, store: store.New(pool)}
}

// do sends a request with key as bearer token ("" for none) and body as JSON
// (nil for none).
func (b *testBundle) do(t *testing.T, key, method, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.(string)
		if !ok {
			buf, err := json.Marshal(body)
			require.NoError(t, err)
			raw = string(buf)
		}
		rd = strings.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec
}

// admin sends an admin request and requires the status.
func (b *testBundle) admin(t *testing.T, status int, method, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	rec := b.do(t, adminKey, method, path, body)
	require.Equal(t, status, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

// problemFields returns the fields named by a 400 response.
func problemFields(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	body := decode[errorBody](t, rec)
	require.Equal(t, "invalid", body.Error.Code)
	fields := make([]string, len(body.Error.Problems))
	for i, p := range body.Error.Problems {
		fields[i] = p.Field
	}
	return fields
}

func requireDecimal(t *testing.T, want string, got decimal.Decimal) {
	t.Helper()
	require.True(t, decimal.RequireFromString(want).Equal(got), "want %s, got %s", want, got)
}

type listBody[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (b *testBundle) advertiser(t *testing.T) store.Advertiser {
	t.Helper()
	return decode[store.Advertiser](t, b.admin(t, http.StatusCreated, "POST", "/advertisers", map[string]any{"name": "Acme Broker"}))
}

// offerBody is a valid offer: CPA 5 / RPA 10 on the base conversion.
func offerBody(advertiserID int64, visibility string) map[string]any {
	return map[string]any{
		"advertiser_id":   advertiserID,
		"name":            "Acme " + visibility,
		"visibility":      visibility,
		"destination_url": "https://acme.example/land?click={transaction_id}&s1={sub1}",
		"events": []map[string]any{{
			"event":   "",
			"payout":  map[string]any{"type": "cpa", "amount": "5"},
			"revenue": map[string]any{"type": "rpa", "amount": "10"},
		}},
	}
}

func (b *testBundle) offer(t *testing.T, advertiserID int64, visibility string) store.Offer {
	t.Helper()
	return decode[store.Offer](t, b.admin(t, http.StatusCreated, "POST", "/offers", offerBody(advertiserID, visibility)))
}

func (b *testBundle) partner(t *testing.T, body map[string]any) store.Partner {
	t.Helper()
	if body["name"] == nil {
		body["name"] = "Partner"
	}
	return decode[store.Partner](t, b.admin(t, http.StatusCreated, "POST", "/partners", body))
}

func (b *testBundle) tier(t *testing.T, body map[string]any) store.TierDetail {
	t.Helper()
	return decode[store.TierDetail](t, b.admin(t, http.StatusCreated, "POST", "/tiers", body))
}

func (b *testBundle) defaultTier(t *testing.T) store.PartnerTier {
	t.Helper()
	tiers := decode[listBody[store.PartnerTier]](t, b.admin(t, http.StatusOK, "GET", "/tiers?limit=500", nil))
	var defaults []store.PartnerTier
	for _, tier := range tiers.Items {
		if tier.IsDefault {
			defaults = append(defaults, tier)
		}
	}
	require.Len(t, defaults, 1, "exactly one default tier")
	return defaults[0]
}

func (b *testBundle) countClicks(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM clicks`).Scan(&n))
	return n
}

func clickPath(offerID, partnerID int64) string {
	return fmt.Sprintf("/click?offer_id=%d&partner_id=%d", offerID, partnerID)
}

// TestSeedPartnerTierAutoApprove pins seed 002: a tier that lists an offer
// with "automatically approve" on lets its members run the offer even when it
// is private; everyone else needs an approval.
func TestSeedPartnerTierAutoApprove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser(t)
	private := b.offer(t, adv.ID, store.VisibilityPrivate)
	highQuality := b.tier(t, map[string]any{"name": "High Quality", "margin": "10"})
	b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/offers/%d", highQuality.ID, private.ID),
		map[string]any{"auto_approve": true, "apply_margin": true})
	member := b.partner(t, map[string]any{"name": "Quality Media", "tier_id": highQuality.ID})
	outsider := b.partner(t, map[string]any{"name": "New Media"})
	require.NotEqual(t, highQuality.ID, outsider.TierID)

	t.Run("TierMemberRunsPrivateOffer", func(t *testing.T) {
		rec := b.do(t, "", "GET", clickPath(private.ID, member.ID)+"&sub1=spring+sale", nil)
		require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
		loc, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "acme.example", loc.Host)
		tid := loc.Query().Get("click")
		require.Regexp(t, `^[0-9a-f]{32}$`, tid)
		require.Equal(t, "spring sale", loc.Query().Get("s1"))

		click, err := b.store.ClickByTransactionID(context.Background(), tid)
		require.NoError(t, err)
		require.Equal(t, member.ID, click.PartnerID)
		require.Equal(t, private.ID, click.OfferID)
		require.Equal(t, adv.ID, click.AdvertiserID)
		require.Equal(t, "spring sale", click.Sub1)
		require.Equal(t, 1, b.countClicks(t))
	})

	t.Run("OutsiderRefused", func(t *testing.T) {
		b.refusedClick(t, private.ID, outsider.ID, "private")
		require.Equal(t, 1, b.countClicks(t), "a refused click stores nothing")
	})

	t.Run("AutoApproveOffRefuses", func(t *testing.T) {
		b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/offers/%d", highQuality.ID, private.ID),
			map[string]any{"auto_approve": false, "apply_margin": true})
		require.Equal(t, http.StatusForbidden, b.do(t, "", "GET", clickPath(private.ID, member.ID), nil).Code)
		b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/offers/%d", highQuality.ID, private.ID),
			map[string]any{"auto_approve": true, "apply_margin": true})
		require.Equal(t, http.StatusFound, b.do(t, "", "GET", clickPath(private.ID, member.ID), nil).Code)
	})

	t.Run("InactiveTierRefuses", func(t *testing.T) {
		b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/tiers/%d", highQuality.ID), map[string]any{"status": "inactive"})
		require.Equal(t, http.StatusForbidden, b.do(t, "", "GET", clickPath(private.ID, member.ID), nil).Code)
		b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/tiers/%d", highQuality.ID), map[string]any{"status": "active"})
		require.Equal(t, http.StatusFound, b.do(t, "", "GET", clickPath(private.ID, member.ID), nil).Code)
	})

	t.Run("RequireApprovalNeedsApproval", func(t *testing.T) {
		gated := b.offer(t, adv.ID, store.VisibilityRequireApproval)
		before := b.countClicks(t)
		b.refusedClick(t, gated.ID, outsider.ID, "requires approval")
		require.Equal(t, before, b.countClicks(t))

		approval := decode[store.Approval](t, b.admin(t, http.StatusOK, "PUT",
			fmt.Sprintf("/partners/%d/approvals/%d", outsider.ID, gated.ID), nil))
		require.Equal(t, gated.ID, approval.OfferID)
		// Approving twice is idempotent.
		b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/partners/%d/approvals/%d", outsider.ID, gated.ID), nil)
		approvals := decode[listBody[store.Approval]](t, b.admin(t, http.StatusOK, "GET",
			fmt.Sprintf("/partners/%d/approvals", outsider.ID), nil))
		require.Len(t, approvals.Items, 1)

		require.Equal(t, http.StatusFound, b.do(t, "", "GET", clickPath(gated.ID, outsider.ID), nil).Code)
		require.Equal(t, before+1, b.countClicks(t))

		b.admin(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/partners/%d/approvals/%d", outsider.ID, gated.ID), nil)
		require.Equal(t, http.StatusForbidden, b.do(t, "", "GET", clickPath(gated.ID, outsider.ID), nil).Code)
	})

	t.Run("PublicOfferForEveryActivePartner", func(t *testing.T) {
		public := b.offer(t, adv.ID, store.VisibilityPublic)
		require.Equal(t, http.StatusFound, b.do(t, "", "GET", clickPath(public.ID, outsider.ID), nil).Code)

		b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/partners/%d", outsider.ID), map[string]any{"status": "suspended"})
		b.refusedClick(t, public.ID, outsider.ID, "suspended")

		b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/offers/%d", public.ID), map[string]any{"status": "paused"})
		b.refusedClick(t, public.ID, member.ID, "paused")
	})
}

// refusedClick checks that the public click endpoint refuses the link with a
// 403 that says only that it is not active (an anonymous caller must not
// learn why), and that the reason, in words, is why.
func (b *testBundle) refusedClick(t *testing.T, offerID, partnerID int64, why string) {
	t.Helper()
	rec := b.do(t, "", "GET", clickPath(offerID, partnerID), nil)
	require.Equal(t, http.StatusForbidden, rec.Code)
	body := decode[errorBody](t, rec)
	require.Equal(t, "forbidden", body.Error.Code)
	require.Contains(t, body.Error.Message, "not active")
	for _, secret := range []string{why, "tier", "suspended", "private", "approval", "paused", "inactive"} {
		require.NotContains(t, strings.ToLower(body.Error.Message), secret)
	}
	ok, reason, err := b.store.MayRun(context.Background(), partnerID, offerID)
	require.NoError(t, err)
	require.False(t, ok)
	require.Contains(t, reason, why)
}

func TestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser(t)

	t.Run("OfferNamesEveryField", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "POST", "/offers", map[string]any{
			"name":            " ",
			"status":          "running",
			"visibility":      "secret",
			"currency":        "usd",
			"destination_url": "ftp://acme.example/",
			"events": []map[string]any{{
				"event":   "First Deposit",
				"payout":  map[string]any{"type": "cpx"},
				"revenue": map[string]any{"type": "rpa", "amount": "-1"},
			}},
		})
		require.ElementsMatch(t, []string{
			"advertiser_id", "name", "status", "visibility", "currency", "destination_url",
			"events[0].event", "events[0].payout.type", "events[0].revenue.amount", "events",
		}, problemFields(t, rec))
	})

	t.Run("OfferEvents", func(t *testing.T) {
		body := offerBody(adv.ID, "public")
		body["events"] = []map[string]any{
			{"event": "", "payout": map[string]any{"type": "cpa", "amount": "5", "percent": "3"}, "revenue": map[string]any{"type": "rps", "percent": "10"}},
			{"event": "deposit", "payout": map[string]any{"type": "cps", "percent": "5"}, "revenue": map[string]any{"type": "rps", "percent": "10"}},
			{"event": "deposit", "payout": map[string]any{"type": "cps", "percent": "5"}, "revenue": map[string]any{"type": "rps", "percent": "10"}},
		}
		rec := b.admin(t, http.StatusBadRequest, "POST", "/offers", body)
		require.ElementsMatch(t, []string{"events[0].payout.percent", "events[2].event"}, problemFields(t, rec))

		body["events"] = []map[string]any{}
		require.Equal(t, []string{"events"}, problemFields(t, b.admin(t, http.StatusBadRequest, "POST", "/offers", body)))
	})

	t.Run("UnknownAdvertiser", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "POST", "/offers", offerBody(999, "public"))
		require.Equal(t, []string{"advertiser_id"}, problemFields(t, rec))
	})

	t.Run("Network", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "PUT", "/network", map[string]any{"time_zone": "Mars/Olympus", "currency": "EURO"})
		require.ElementsMatch(t, []string{"time_zone", "currency"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "PUT", "/network", map[string]any{"currency": "EUR"})
		require.Equal(t, []string{"time_zone"}, problemFields(t, rec))
	})

	t.Run("Tier", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "POST", "/tiers", map[string]any{
			"name": "", "margin": "100.5", "status": "paused", "partner_ids": []int64{-1},
		})
		require.ElementsMatch(t, []string{"name", "margin", "status", "partner_ids[0]"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "POST", "/tiers", map[string]any{"name": "Gold", "partner_ids": []int64{4242}})
		require.Equal(t, []string{"partner_ids"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "POST", "/tiers", map[string]any{"name": "Gold", "status": "inactive", "is_default": true})
		require.Equal(t, []string{"status"}, problemFields(t, rec))
	})

	t.Run("Partner", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "POST", "/partners", map[string]any{"name": "", "status": "banned"})
		require.ElementsMatch(t, []string{"name", "status"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "POST", "/partners", map[string]any{"name": "P", "tier_id": 999})
		require.Equal(t, []string{"tier_id"}, problemFields(t, rec))
	})

	t.Run("CustomPayout", func(t *testing.T) {
		offer := b.offer(t, adv.ID, store.VisibilityPublic)
		rec := b.admin(t, http.StatusBadRequest, "POST", "/custom-payouts", map[string]any{
			"offer_id":  offer.ID,
			"event":     "Bad Event",
			"starts_at": "2026-02-01T00:00:00Z",
			"ends_at":   "2026-01-01T00:00:00Z",
		})
		require.ElementsMatch(t, []string{"event", "payout", "ends_at"}, problemFields(t, rec))

		rec = b.admin(t, http.StatusBadRequest, "POST", "/custom-payouts", map[string]any{
			"offer_id": offer.ID, "partner_id": 999, "event": "deposit",
			"payout": map[string]any{"type": "cpa", "amount": "3"},
		})
		require.ElementsMatch(t, []string{"event", "partner_id"}, problemFields(t, rec))
	})

	t.Run("UnparsableValues", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "POST", "/tiers", map[string]any{"name": "Gold", "margin": "30%"})
		require.Equal(t, []string{"margin"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "POST", "/custom-payouts", map[string]any{
			"offer_id": 1, "starts_at": "yesterday", "payout": map[string]any{"type": "cpa", "amount": "three"},
		})
		require.ElementsMatch(t, []string{"starts_at", "payout.amount"}, problemFields(t, rec))
		body := offerBody(adv.ID, "public")
		body["events"] = []map[string]any{{"event": "", "payout": map[string]any{"type": "cpa", "amount": "5,00"}, "revenue": map[string]any{"type": "rpa", "amount": "10"}}}
		rec = b.admin(t, http.StatusBadRequest, "POST", "/offers", body)
		require.Equal(t, []string{"events[0].payout.amount"}, problemFields(t, rec))
	})

	t.Run("BadJSON", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "POST", "/advertisers", `{"name": "Acme", "colour": "red"}`)
		require.Equal(t, []string{"body"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "POST", "/partners", `{"name": 42}`)
		require.Equal(t, []string{"name"}, problemFields(t, rec))
	})

	t.Run("Query", func(t *testing.T) {
		rec := b.admin(t, http.StatusBadRequest, "GET", "/partners?limit=0&tier_id=abc", nil)
		require.ElementsMatch(t, []string{"limit", "tier_id"}, problemFields(t, rec))
		rec = b.admin(t, http.StatusBadRequest, "GET", "/advertisers/abc", nil)
		require.Equal(t, []string{"id"}, problemFields(t, rec))
		rec = b.do(t, "", "GET", "/click?offer_id=x", nil)
		require.Equal(t, []string{"offer_id"}, problemFields(t, rec))
		rec = b.do(t, "", "GET", "/click", nil)
		require.ElementsMatch(t, []string{"offer_id", "partner_id"}, problemFields(t, rec))
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser(t)
	offer := b.offer(t, adv.ID, store.VisibilityPublic)
	partner := b.partner(t, map[string]any{})
	tier := b.tier(t, map[string]any{"name": "Silver"})

	for _, tc := range []struct{ method, path string }{
		{"GET", "/advertisers/999"},
		{"PATCH", "/advertisers/999"},
		{"POST", "/advertisers/999/postback-token"},
		{"GET", "/offers/999"},
		{"PATCH", "/offers/999"},
		{"GET", "/partners/999"},
		{"PATCH", "/partners/999"},
		{"GET", "/partners/999/approvals"},
		{"PUT", fmt.Sprintf("/partners/999/approvals/%d", offer.ID)},
		{"PUT", fmt.Sprintf("/partners/%d/approvals/999", partner.ID)},
		{"DELETE", fmt.Sprintf("/partners/%d/approvals/999", partner.ID)},
		{"POST", "/partners/999/api-keys"},
		{"GET", "/tiers/999"},
		{"PATCH", "/tiers/999"},
		{"DELETE", "/tiers/999"},
		{"POST", "/tiers/999/make-default"},
		{"PUT", "/tiers/999/partners"},
		{"PUT", fmt.Sprintf("/tiers/999/offers/%d", offer.ID)},
		{"PUT", fmt.Sprintf("/tiers/%d/offers/999", tier.ID)},
		{"DELETE", fmt.Sprintf("/tiers/%d/offers/999", tier.ID)},
		{"GET", "/custom-payouts/999"},
		{"DELETE", "/custom-payouts/999"},
	} {
		t.Run(strings.ReplaceAll(tc.method+tc.path, "/", "_"), func(t *testing.T) {
			var body any
			switch tc.method {
			case "PATCH", "PUT":
				body = map[string]any{}
				if strings.HasSuffix(tc.path, "/partners") {
					body = map[string]any{"partner_ids": []int64{}}
				}
			}
			rec := b.admin(t, http.StatusNotFound, tc.method, tc.path, body)
			require.Equal(t, "not_found", decode[errorBody](t, rec).Error.Code)
		})
	}

	t.Run("Click", func(t *testing.T) {
		require.Equal(t, http.StatusNotFound, b.do(t, "", "GET", clickPath(999, partner.ID), nil).Code)
		require.Equal(t, http.StatusNotFound, b.do(t, "", "GET", clickPath(offer.ID, 999), nil).Code)
		_, err := b.store.ClickByTransactionID(context.Background(), "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = b.store.MayRun(context.Background(), partner.ID, 999)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []int64
	for i := range 7 {
		want = append(want, b.partner(t, map[string]any{"name": fmt.Sprintf("Partner %d", i)}).ID)
	}

	var got []int64
	pages := 0
	path := "/partners?limit=3"
	for {
		page := decode[listBody[store.Partner]](t, b.admin(t, http.StatusOK, "GET", path, nil))
		pages++
		require.LessOrEqual(t, len(page.Items), 3)
		for _, p := range page.Items {
			got = append(got, p.ID)
		}
		if page.NextCursor == "" {
			break
		}
		path = "/partners?limit=3&after=" + page.NextCursor
	}
	require.Equal(t, want, got)
	require.Equal(t, 3, pages)

	t.Run("ExactlyFullPageHasNoCursor", func(t *testing.T) {
		page := decode[listBody[store.Partner]](t, b.admin(t, http.StatusOK, "GET", "/partners?limit=7", nil))
		require.Len(t, page.Items, 7)
		require.Empty(t, page.NextCursor)
	})

	t.Run("EmptyListIsArray", func(t *testing.T) {
		rec := b.admin(t, http.StatusOK, "GET", "/custom-payouts", nil)
		require.JSONEq(t, `{"items": []}`, rec.Body.String())
	})
}

func TestDefaultTier(t *testing.T) {
	t.Parallel()
	b := setup(t)
	original := b.defaultTier(t)
	gold := b.tier(t, map[string]any{"name": "Gold", "margin": "20"})
	require.False(t, gold.IsDefault)

	before := b.partner(t, map[string]any{"name": "Early"})
	require.Equal(t, original.ID, before.TierID, "new partners join the default tier")

	t.Run("MakeDefaultMovesIt", func(t *testing.T) {
		moved := decode[store.PartnerTier](t, b.admin(t, http.StatusOK, "POST", fmt.Sprintf("/tiers/%d/make-default", gold.ID), nil))
		require.True(t, moved.IsDefault)
		require.Equal(t, gold.ID, b.defaultTier(t).ID)

		after := b.partner(t, map[string]any{"name": "Late"})
		require.Equal(t, gold.ID, after.TierID, "new partners join the new default tier")
		early := decode[store.Partner](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/partners/%d", before.ID), nil))
		require.Equal(t, original.ID, early.TierID, "existing members stay")

		// Making the default the default again changes nothing.
		b.admin(t, http.StatusOK, "POST", fmt.Sprintf("/tiers/%d/make-default", gold.ID), nil)
		require.Equal(t, gold.ID, b.defaultTier(t).ID)
	})

	t.Run("DefaultCannotBeDeactivatedOrDeleted", func(t *testing.T) {
		rec := b.admin(t, http.StatusConflict, "PATCH", fmt.Sprintf("/tiers/%d", gold.ID), map[string]any{"status": "inactive"})
		require.Equal(t, "conflict", decode[errorBody](t, rec).Error.Code)
		b.admin(t, http.StatusConflict, "DELETE", fmt.Sprintf("/tiers/%d", gold.ID), nil)
		require.Equal(t, gold.ID, b.defaultTier(t).ID)
	})

	t.Run("InactiveTierCannotBecomeDefault", func(t *testing.T) {
		dormant := b.tier(t, map[string]any{"name": "Dormant", "status": "inactive"})
		b.admin(t, http.StatusConflict, "POST", fmt.Sprintf("/tiers/%d/make-default", dormant.ID), nil)
		require.Equal(t, gold.ID, b.defaultTier(t).ID)
	})

	t.Run("CreateAsDefault", func(t *testing.T) {
		platinum := b.tier(t, map[string]any{"name": "Platinum", "is_default": true})
		require.True(t, platinum.IsDefault)
		require.Equal(t, platinum.ID, b.defaultTier(t).ID)
		b.admin(t, http.StatusOK, "POST", fmt.Sprintf("/tiers/%d/make-default", gold.ID), nil)
		require.Equal(t, gold.ID, b.defaultTier(t).ID)
	})

	t.Run("ConcurrentMakeDefaultLeavesOne", func(t *testing.T) {
		a := b.tier(t, map[string]any{"name": "A"})
		c := b.tier(t, map[string]any{"name": "C"})
		var wg sync.WaitGroup
		codes := make(chan int, 20)
		for i := range 20 {
			id := []int64{a.ID, c.ID, gold.ID}[i%3]
			wg.Go(func() {
				codes <- b.do(t, adminKey, "POST", fmt.Sprintf("/tiers/%d/make-default", id), nil).Code
			})
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			require.Equal(t, http.StatusOK, code)
		}
		b.defaultTier(t)
		b.admin(t, http.StatusOK, "POST", fmt.Sprintf("/tiers/%d/make-default", gold.ID), nil)
	})

	t.Run("DeleteMovesPartnersToDefault", func(t *testing.T) {
		b.admin(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/tiers/%d", original.ID), nil)
		b.admin(t, http.StatusNotFound, "GET", fmt.Sprintf("/tiers/%d", original.ID), nil)
		early := decode[store.Partner](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/partners/%d", before.ID), nil))
		require.Equal(t, gold.ID, early.TierID)
	})
}

func TestTierPartners(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := b.defaultTier(t)
	var p [4]store.Partner
	for i := range p {
		p[i] = b.partner(t, map[string]any{"name": fmt.Sprintf("Partner %d", i)})
	}
	silver := b.tier(t, map[string]any{"name": "Silver", "margin": "15", "partner_ids": []int64{p[0].ID, p[1].ID, p[2].ID}})
	require.Equal(t, []int64{p[0].ID, p[1].ID, p[2].ID}, silver.PartnerIDs)
	require.EqualValues(t, 3, silver.PartnerCount)

	members := func(tierID int64) []int64 {
		page := decode[listBody[store.Partner]](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/partners?tier_id=%d", tierID), nil))
		ids := []int64{}
		for _, partner := range page.Items {
			require.Equal(t, tierID, partner.TierID)
			ids = append(ids, partner.ID)
		}
		return ids
	}
	require.Equal(t, []int64{p[0].ID, p[1].ID, p[2].ID}, members(silver.ID))
	require.Equal(t, []int64{p[3].ID}, members(def.ID))

	t.Run("RemovedGoBackToDefault", func(t *testing.T) {
		got := decode[store.TierDetail](t, b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/partners", silver.ID),
			map[string]any{"partner_ids": []int64{p[1].ID, p[3].ID}}))
		require.Equal(t, []int64{p[1].ID, p[3].ID}, got.PartnerIDs)
		require.Equal(t, []int64{p[1].ID, p[3].ID}, members(silver.ID))
		require.Equal(t, []int64{p[0].ID, p[2].ID}, members(def.ID))
	})

	t.Run("DefaultTierMembersLeaveOnlyByJoiningAnother", func(t *testing.T) {
		b.admin(t, http.StatusConflict, "PUT", fmt.Sprintf("/tiers/%d/partners", def.ID), map[string]any{"partner_ids": []int64{p[0].ID}})
		require.Equal(t, []int64{p[0].ID, p[2].ID}, members(def.ID))
		// Adding to the default tier is fine: p[1] leaves Silver.
		b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/partners", def.ID),
			map[string]any{"partner_ids": []int64{p[0].ID, p[1].ID, p[2].ID}})
		require.Equal(t, []int64{p[3].ID}, members(silver.ID))
	})

	t.Run("PatchPartnerTier", func(t *testing.T) {
		moved := decode[store.Partner](t, b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/partners/%d", p[0].ID),
			map[string]any{"tier_id": silver.ID}))
		require.Equal(t, silver.ID, moved.TierID)
		require.Equal(t, []int64{p[0].ID, p[3].ID}, members(silver.ID))
		rec := b.admin(t, http.StatusBadRequest, "PATCH", fmt.Sprintf("/partners/%d", p[0].ID), map[string]any{"tier_id": 999})
		require.Equal(t, []string{"tier_id"}, problemFields(t, rec))
	})

	t.Run("TierOffers", func(t *testing.T) {
		adv := b.advertiser(t)
		offer := b.offer(t, adv.ID, store.VisibilityPrivate)
		to := decode[store.TierOffer](t, b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/offers/%d", silver.ID, offer.ID),
			map[string]any{"auto_approve": true, "apply_margin": false}))
		require.Equal(t, store.TierOffer{OfferID: offer.ID, OfferName: offer.Name, AutoApprove: true}, to)
		detail := decode[store.TierDetail](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/tiers/%d", silver.ID), nil))
		require.Equal(t, []store.TierOffer{to}, detail.Offers)
		b.admin(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/tiers/%d/offers/%d", silver.ID, offer.ID), nil)
		detail = decode[store.TierDetail](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/tiers/%d", silver.ID), nil))
		require.Empty(t, detail.Offers)
	})
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	partner := b.partner(t, map[string]any{})
	key := decode[apiKeyWithSecret](t, b.admin(t, http.StatusCreated, "POST", fmt.Sprintf("/partners/%d/api-keys", partner.ID),
		map[string]any{"name": "reporting"}))
	require.Equal(t, partner.ID, key.PartnerID)
	require.Equal(t, store.KeyPartner, key.Kind)
	require.True(t, strings.HasPrefix(key.Secret, "tw_partner_"))

	t.Run("NoKey", func(t *testing.T) {
		rec := b.do(t, "", "GET", "/offers", nil)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		require.Equal(t, "unauthorized", decode[errorBody](t, rec).Error.Code)
	})
	t.Run("UnknownKey", func(t *testing.T) {
		require.Equal(t, http.StatusUnauthorized, b.do(t, "tw_admin_nope", "GET", "/network", nil).Code)
	})
	t.Run("PartnerKeyOnAdminRoute", func(t *testing.T) {
		for _, path := range []string{"/offers", "/partners", "/tiers", "/network", "/custom-payouts"} {
			rec := b.do(t, key.Secret, "GET", path, nil)
			require.Equal(t, http.StatusForbidden, rec.Code, path)
			require.Equal(t, "forbidden", decode[errorBody](t, rec).Error.Code)
		}
		require.Equal(t, http.StatusForbidden, b.do(t, key.Secret, "POST", "/tiers", map[string]any{"name": "Mine"}).Code)
	})
	t.Run("PartnerKeyOnPartnerRoute", func(t *testing.T) {
		require.Equal(t, http.StatusOK, b.do(t, key.Secret, "GET", "/partner/offers", nil).Code)
		require.Equal(t, http.StatusUnauthorized, b.do(t, adminKey, "GET", "/partner/offers", nil).Code)
	})
}

// partnerOfferView decodes the partner offers listing.
type partnerOfferView = listBody[store.PartnerOffer]

func TestPartnerOffers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser(t)
	body := offerBody(adv.ID, store.VisibilityRequireApproval)
	body["events"] = []map[string]any{
		{"event": "", "payout": map[string]any{"type": "cpa", "amount": "5"}, "revenue": map[string]any{"type": "rpa", "amount": "10.05"}},
		{"event": "deposit", "payout": map[string]any{"type": "cps", "percent": "5"}, "revenue": map[string]any{"type": "rps", "percent": "20"}, "repeatable": true},
		{"event": "trade", "payout": map[string]any{"type": "prv", "percent": "50"}, "revenue": map[string]any{"type": "rpa_rps", "amount": "2", "percent": "1"}},
	}
	margined := decode[store.Offer](t, b.admin(t, http.StatusCreated, "POST", "/offers", body))
	hidden := b.offer(t, adv.ID, store.VisibilityPrivate)
	public := b.offer(t, adv.ID, store.VisibilityPublic)

	gold := b.tier(t, map[string]any{"name": "Gold Tier", "margin": "30", "description": "internal margin notes"})
	b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/tiers/%d/offers/%d", gold.ID, margined.ID),
		map[string]any{"auto_approve": true, "apply_margin": true})
	member := b.partner(t, map[string]any{"tier_id": gold.ID})
	outsider := b.partner(t, map[string]any{})

	keyOf := func(p store.Partner) string {
		k := decode[apiKeyWithSecret](t, b.admin(t, http.StatusCreated, "POST", fmt.Sprintf("/partners/%d/api-keys", p.ID), nil))
		return k.Secret
	}
	memberKey, outsiderKey := keyOf(member), keyOf(outsider)
	list := func(key, query string) (partnerOfferView, string) {
		rec := b.do(t, key, "GET", "/partner/offers"+query, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return decode[partnerOfferView](t, rec), rec.Body.String()
	}
	payouts := func(o store.PartnerOffer) map[string]string {
		m := map[string]string{}
		for _, e := range o.Events {
			m[e.Event] = fmt.Sprintf("%s %s %s", e.Payout.Type, e.Payout.Amount, e.Payout.Percent)
		}
		return m
	}

	t.Run("MarginApplied", func(t *testing.T) {
		view, raw := list(memberKey, "")
		require.Len(t, view.Items, 2, "the auto-approved offer and the public one, not the private one")
		require.Equal(t, margined.ID, view.Items[0].ID)
		require.Equal(t, public.ID, view.Items[1].ID)
		require.Equal(t, map[string]string{
			"":        "cpa 7.04 0",      // 70% of 10.05 = 7.035, rounded
			"deposit": "cps 0 14",        // 70% of RPS 20%
			"trade":   "cpa_cps 1.4 0.7", // 70% of RPA 2 + RPS 1%
		}, payouts(view.Items[0]))
		require.Equal(t, map[string]string{"": "cpa 5 0"}, payouts(view.Items[1]))
		lower := strings.ToLower(raw)
		for _, word := range []string{"tier", "margin", "revenue", "rpa", "rps", "prv", "advertiser"} {
			require.NotContains(t, lower, word)
		}
	})

	t.Run("OfferDefaultsWithoutTier", func(t *testing.T) {
		view, raw := list(outsiderKey, "")
		require.Len(t, view.Items, 2, "the require-approval offer, requestable, and the public one, not the private one")
		require.Equal(t, margined.ID, view.Items[0].ID)
		require.Equal(t, store.AccessRequestable, view.Items[0].Access)
		require.Empty(t, view.Items[0].TrackingURL, "no link before approval")
		require.Equal(t, public.ID, view.Items[1].ID)
		require.Equal(t, store.AccessRunnable, view.Items[1].Access)
		require.NotContains(t, raw, "acme.example", "partners never see the advertiser's destination")
		link, err := url.Parse(view.Items[1].TrackingURL)
		require.NoError(t, err)
		require.Equal(t, "/click", link.Path)
		require.Equal(t, fmt.Sprint(public.ID), link.Query().Get("offer_id"))
		require.Equal(t, fmt.Sprint(outsider.ID), link.Query().Get("partner_id"))
		require.Equal(t, "{sub1}", link.Query().Get("sub1"))

		// The partner asks to run the offer; the admin sees the request.
		requestPath := fmt.Sprintf("/partner/offers/%d/approval-request", margined.ID)
		req := decode[store.ApprovalRequest](t, b.do(t, outsiderKey, "POST", requestPath, map[string]any{"note": "email list of 40k traders"}))
		require.Equal(t, outsider.ID, req.PartnerID)
		again := decode[store.ApprovalRequest](t, b.do(t, outsiderKey, "POST", requestPath, nil))
		require.Equal(t, req.RequestedAt, again.RequestedAt, "asking twice keeps the first request")
		require.Equal(t, http.StatusNotFound, b.do(t, outsiderKey, "POST", fmt.Sprintf("/partner/offers/%d/approval-request", hidden.ID), nil).Code,
			"a private offer is not requestable, nor known")
		require.Equal(t, http.StatusConflict, b.do(t, outsiderKey, "POST", fmt.Sprintf("/partner/offers/%d/approval-request", public.ID), nil).Code)
		pending := decode[struct{ Items []store.ApprovalRequest }](t, b.admin(t, http.StatusOK, "GET", "/approval-requests", nil))
		require.Len(t, pending.Items, 1)
		require.Equal(t, "email list of 40k traders", pending.Items[0].Note)
		view, _ = list(outsiderKey, "")
		require.NotNil(t, view.Items[0].ApprovalRequestedAt)

		b.admin(t, http.StatusOK, "PUT", fmt.Sprintf("/partners/%d/approvals/%d", outsider.ID, margined.ID), nil)
		pending = decode[struct{ Items []store.ApprovalRequest }](t, b.admin(t, http.StatusOK, "GET", "/approval-requests", nil))
		require.Empty(t, pending.Items, "granted")
		view, _ = list(outsiderKey, "")
		require.Len(t, view.Items, 2)
		require.Equal(t, store.AccessRunnable, view.Items[0].Access)
		require.NotEmpty(t, view.Items[0].TrackingURL)
		require.Equal(t, map[string]string{
			"":        "cpa 5 0",
			"deposit": "cps 0 5",
			"trade":   "cpa_cps 1 0.5", // PRV 50% of RPA 2 + RPS 1%, shown without the revenue
		}, payouts(view.Items[0]))
	})

	t.Run("CustomPayoutBeatsTier", func(t *testing.T) {
		custom := decode[store.CustomPayout](t, b.admin(t, http.StatusCreated, "POST", "/custom-payouts", map[string]any{
			"partner_id": member.ID, "offer_id": margined.ID,
			"payout": map[string]any{"type": "cpa", "amount": "8"},
		}))
		// A setting for all partners that ended already does not apply.
		b.admin(t, http.StatusCreated, "POST", "/custom-payouts", map[string]any{
			"offer_id": margined.ID, "event": "deposit", "payout": map[string]any{"type": "cps", "percent": "40"},
			"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z",
		})
		// A revenue-only setting feeds the margin.
		b.admin(t, http.StatusCreated, "POST", "/custom-payouts", map[string]any{
			"offer_id": margined.ID, "event": "trade", "revenue": map[string]any{"type": "rpa", "amount": "20"},
		})
		view, _ := list(memberKey, "")
		require.Equal(t, map[string]string{
			"":        "cpa 8 0",
			"deposit": "cps 0 14",
			"trade":   "cpa 14 0",
		}, payouts(view.Items[0]))

		b.admin(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/custom-payouts/%d", custom.ID), nil)
		view, _ = list(memberKey, "")
		require.Equal(t, "cpa 7.04 0", payouts(view.Items[0])[""])
	})

	t.Run("PagesSkipOffersThePartnerMayNotRun", func(t *testing.T) {
		require.Less(t, hidden.ID, public.ID)
		first, _ := list(memberKey, "?limit=1")
		require.Len(t, first.Items, 1)
		require.Equal(t, margined.ID, first.Items[0].ID)
		require.NotEmpty(t, first.NextCursor)
		second, _ := list(memberKey, "?limit=1&after="+first.NextCursor)
		require.Len(t, second.Items, 1)
		require.Equal(t, public.ID, second.Items[0].ID)
		require.Empty(t, second.NextCursor)
	})

	t.Run("SuspendedPartnerSeesNothing", func(t *testing.T) {
		b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/partners/%d", outsider.ID), map[string]any{"status": "suspended"})
		view, _ := list(outsiderKey, "")
		require.Empty(t, view.Items)
	})
}

func TestAdvertisers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	created := decode[advertiserWithToken](t, b.admin(t, http.StatusCreated, "POST", "/advertisers", map[string]any{"name": "Acme"}))
	require.True(t, strings.HasPrefix(created.PostbackToken, "tw_pb_"))
	require.Equal(t, store.AdvertiserActive, created.Status)

	found, err := b.store.AdvertiserByPostbackToken(ctx, created.PostbackToken)
	require.NoError(t, err)
	require.Equal(t, created.ID, found.ID)

	got := b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/advertisers/%d", created.ID), nil)
	require.NotContains(t, got.Body.String(), "token", "the token is shown only once")

	t.Run("Rotate", func(t *testing.T) {
		rotated := decode[advertiserWithToken](t, b.admin(t, http.StatusOK, "POST", fmt.Sprintf("/advertisers/%d/postback-token", created.ID), nil))
		require.NotEqual(t, created.PostbackToken, rotated.PostbackToken)
		_, err := b.store.AdvertiserByPostbackToken(ctx, created.PostbackToken)
		require.ErrorIs(t, err, store.ErrNotFound)
		found, err := b.store.AdvertiserByPostbackToken(ctx, rotated.PostbackToken)
		require.NoError(t, err)
		require.Equal(t, created.ID, found.ID)
	})

	t.Run("Patch", func(t *testing.T) {
		patched := decode[store.Advertiser](t, b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/advertisers/%d", created.ID),
			map[string]any{"status": "inactive"}))
		require.Equal(t, "Acme", patched.Name)
		require.Equal(t, store.AdvertiserInactive, patched.Status)
		offer := b.offer(t, created.ID, store.VisibilityPublic)
		partner := b.partner(t, map[string]any{})
		b.refusedClick(t, offer.ID, partner.ID, "advertiser is inactive")
	})
}

func TestOffers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser(t)
	other := b.advertiser(t)

	t.Run("CurrencyDefaultsToNetwork", func(t *testing.T) {
		n := decode[store.Network](t, b.admin(t, http.StatusOK, "PUT", "/network", map[string]any{"time_zone": "Europe/Berlin", "currency": "EUR"}))
		require.Equal(t, "Europe/Berlin", n.TimeZone)
		require.Equal(t, n, decode[store.Network](t, b.admin(t, http.StatusOK, "GET", "/network", nil)))
		o := b.offer(t, adv.ID, store.VisibilityPublic)
		require.Equal(t, "EUR", o.Currency)
		require.Equal(t, store.OfferActive, o.Status)
		body := offerBody(adv.ID, store.VisibilityPublic)
		body["currency"] = "GBP"
		require.Equal(t, "GBP", decode[store.Offer](t, b.admin(t, http.StatusCreated, "POST", "/offers", body)).Currency)
	})

	t.Run("AmountsAreDecimalStrings", func(t *testing.T) {
		rec := b.admin(t, http.StatusCreated, "POST", "/offers", offerBody(adv.ID, store.VisibilityPublic))
		require.Contains(t, rec.Body.String(), `"amount":"5"`)
	})

	t.Run("FilterByAdvertiser", func(t *testing.T) {
		mine := b.offer(t, other.ID, store.VisibilityPrivate)
		page := decode[listBody[store.Offer]](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/offers?advertiser_id=%d", other.ID), nil))
		require.Len(t, page.Items, 1)
		require.Equal(t, mine.ID, page.Items[0].ID)
		require.Len(t, page.Items[0].Events, 1)
	})

	t.Run("PatchReplacesEvents", func(t *testing.T) {
		o := b.offer(t, adv.ID, store.VisibilityPublic)
		patched := decode[store.Offer](t, b.admin(t, http.StatusOK, "PATCH", fmt.Sprintf("/offers/%d", o.ID), map[string]any{
			"name": "Acme Deposits",
			"events": []map[string]any{
				{"event": "", "payout": map[string]any{"type": "cpa", "amount": "6"}, "revenue": map[string]any{"type": "rpa", "amount": "12"}},
				{"event": "deposit", "payout": map[string]any{"type": "cpa_cps", "amount": "1", "percent": "2.5"}, "revenue": map[string]any{"type": "rps", "percent": "10"}, "repeatable": true},
			},
		}))
		require.Equal(t, "Acme Deposits", patched.Name)
		require.Equal(t, o.DestinationURL, patched.DestinationURL)
		require.Len(t, patched.Events, 2)
		deposit, ok := patched.Event("deposit")
		require.True(t, ok)
		require.True(t, deposit.Repeatable)
		requireDecimal(t, "2.5", deposit.Payout.Percent)

		// An event named by a custom payout setting cannot be dropped.
		b.admin(t, http.StatusCreated, "POST", "/custom-payouts", map[string]any{
			"offer_id": o.ID, "event": "deposit", "payout": map[string]any{"type": "cps", "percent": "3"},
		})
		b.admin(t, http.StatusConflict, "PATCH", fmt.Sprintf("/offers/%d", o.ID), map[string]any{
			"events": []map[string]any{{"event": "", "payout": map[string]any{"type": "cpa", "amount": "6"}, "revenue": map[string]any{"type": "rpa", "amount": "12"}}},
		})
		rec := b.admin(t, http.StatusBadRequest, "PATCH", fmt.Sprintf("/offers/%d", o.ID), map[string]any{"advertiser_id": other.ID})
		require.Equal(t, []string{"body"}, problemFields(t, rec))
	})
}

func TestCustomPayouts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	adv := b.advertiser(t)
	offer := b.offer(t, adv.ID, store.VisibilityPublic)
	other := b.offer(t, adv.ID, store.VisibilityPublic)
	partner := b.partner(t, map[string]any{})

	forPartner := decode[store.CustomPayout](t, b.admin(t, http.StatusCreated, "POST", "/custom-payouts", map[string]any{
		"partner_id": partner.ID, "offer_id": offer.ID,
		"payout":    map[string]any{"type": "cpa", "amount": "3"},
		"revenue":   map[string]any{"type": "rpa", "amount": "11"},
		"starts_at": "2026-01-01T00:00:00+01:00",
	}))
	require.Equal(t, partner.ID, *forPartner.PartnerID)
	require.Equal(t, "", forPartner.Event)
	require.Equal(t, "2025-12-31T23:00:00Z", forPartner.StartsAt.Format("2006-01-02T15:04:05Z07:00"))
	require.Nil(t, forPartner.EndsAt)
	forAll := decode[store.CustomPayout](t, b.admin(t, http.StatusCreated, "POST", "/custom-payouts", map[string]any{
		"offer_id": other.ID, "revenue": map[string]any{"type": "rps", "percent": "12"},
	}))
	require.Nil(t, forAll.PartnerID)
	require.Nil(t, forAll.Payout)

	got := decode[store.CustomPayout](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/custom-payouts/%d", forPartner.ID), nil))
	require.Equal(t, forPartner, got)

	ids := func(query string) []int64 {
		page := decode[listBody[store.CustomPayout]](t, b.admin(t, http.StatusOK, "GET", "/custom-payouts"+query, nil))
		out := []int64{}
		for _, c := range page.Items {
			out = append(out, c.ID)
		}
		return out
	}
	require.Equal(t, []int64{forPartner.ID, forAll.ID}, ids(""))
	require.Equal(t, []int64{forAll.ID}, ids(fmt.Sprintf("?offer_id=%d", other.ID)))
	require.Equal(t, []int64{forPartner.ID}, ids(fmt.Sprintf("?partner_id=%d", partner.ID)))

	b.admin(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/custom-payouts/%d", forPartner.ID), nil)
	b.admin(t, http.StatusNotFound, "GET", fmt.Sprintf("/custom-payouts/%d", forPartner.ID), nil)
	require.Equal(t, []int64{forAll.ID}, ids(""))
}
