package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// portalBundle is a network with two partners, each with conversions, a
// commission cycle and a key, a require-approval offer and a private one
// only the second partner is approved for.
type portalBundle struct {
	*testBundle
	n               network
	other           store.Partner
	keyA, keyB      string
	mine, theirs    store.Conversion
	pending         store.Conversion
	requireApproval store.Offer
	private         store.Offer
}

func setupPortal(t *testing.T) *portalBundle {
	t.Helper()
	ctx := context.Background()
	b := &portalBundle{testBundle: setup(t)}
	b.n = b.network()
	var err error
	b.other, err = b.store.CreatePartner(ctx, store.PartnerInput{Name: "Red Clicks"})
	require.NoError(t, err)
	_, err = b.store.CreateTieredRule(ctx, tiered.Rule{Name: "Volume bonus", Active: true, OfferIDs: []int64{b.n.Offer.ID},
		AppliesTo: tiered.AppliesToBase, StartDate: "2020-01-01", Period: tiered.PeriodGlobal,
		Bands: []tiered.Band{
			{Name: "Starter", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Max: decPtr("2")}}},
			{Name: "Gold", Bounds: []tiered.Bound{{Metric: tiered.MetricConversions, Min: decPtr("2")}},
				Payout: &tiered.Adjustment{Action: tiered.ActionIncrease, By: tiered.ByFlat, Value: dec("0.10")}},
		}})
	require.NoError(t, err)
	offer := func(name, visibility string) store.Offer {
		o, err := b.store.CreateOffer(ctx, store.OfferInput{AdvertiserID: b.n.Advertiser.ID, Name: name, Currency: "USD", Visibility: visibility,
			DestinationURL: "https://secret-destination.example/land?click={transaction_id}",
			Events:         []store.OfferEvent{{Payout: pricing.PayoutRate{Type: pricing.PayoutCPA, Amount: dec("3")}, Revenue: pricing.RevenueRate{Type: pricing.RevenueRPA, Amount: dec("7.77")}}}})
		require.NoError(t, err)
		return o
	}
	b.requireApproval = offer("Premium leads", store.VisibilityRequireApproval)
	b.private = offer("Invite only", store.VisibilityPrivate)
	_, err = b.store.ApproveOffer(ctx, b.other.ID, b.private.ID)
	require.NoError(t, err)

	b.mine = b.convert(b.n, conversion{OrderID: "a-1", At: time.Now().Add(-3 * time.Hour)})
	b.pending = b.convert(b.n, conversion{OrderID: "a-2", Status: store.StatusPending})
	b.theirs = b.convert(b.n, conversion{OrderID: "b-1", PartnerID: b.other.ID})
	_, err = b.store.CreatePayoutRun(ctx, &b.n.Partner.ID, time.Now().UTC().Format(time.DateOnly))
	require.NoError(t, err)
	_, b.keyA, err = b.store.CreateAPIKey(ctx, store.KeyPartner, b.n.Partner.ID, "Blue Media's key")
	require.NoError(t, err)
	_, b.keyB, err = b.store.CreateAPIKey(ctx, store.KeyPartner, b.other.ID, "Red Clicks' key")
	require.NoError(t, err)
	return b
}

// portalSignIn signs a fresh browser-like client in to the portal with key.
func (b *portalBundle) portalClient(t *testing.T, key string) *testBundle {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := *b.testBundle
	c.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := c.get("/console/partner/sign-in")
	require.Equal(t, http.StatusOK, form.Status)
	m := csrfInput.FindStringSubmatch(form.Body)
	require.NotNil(t, m)
	p := c.postRaw("/console/partner/sign-in", url.Values{"csrf_token": {m[1]}, "key": {key}, "next": {"/console/partner/"}}, nil)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, "/console/partner/", p.Location)
	return &c
}

// api calls the partner API with a key.
func (b *portalBundle) api(t *testing.T, key, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// portalPost sends a portal form with the partner session's CSRF token.
func portalPost(t *testing.T, c *testBundle, path string, form url.Values) page {
	t.Helper()
	m := csrfInput.FindStringSubmatch(c.mustGet("/console/partner/").Body)
	require.NotNil(t, m)
	form.Set("csrf_token", m[1])
	return c.postRaw(path, form, nil)
}

// TestPartnerPortalSeesOnlyItsOwn: a partner signed in to the portal, and
// its key on the partner API, sees its own offers, conversions, earnings
// and cycles on every page and route, never another partner's (their
// conversion, their private offer: 404), never a revenue, tier, margin or
// destination; a partner session never opens an admin page, nor an admin
// session the portal.
func TestPartnerPortalSeesOnlyItsOwn(t *testing.T) {
	t.Parallel()
	b := setupPortal(t)
	a := b.portalClient(t, b.keyA)
	mine, theirs, pending := itoa(b.mine.ID), itoa(b.theirs.ID), itoa(b.pending.ID)
	neverShown := []string{"secret-destination.example", "7.77", "Red Clicks", "Margin", "margin", "Invite only"}
	tierWord := regexp.MustCompile(`(?i)\btiers?\b`)
	requireOwn := func(t *testing.T, body string) {
		t.Helper()
		for _, s := range neverShown {
			require.NotContains(t, body, s)
		}
		require.NotRegexp(t, tierWord, body, "a partner never sees a tier")
	}

	t.Run("Pages", func(t *testing.T) {
		home := a.mustGet("/console/partner/")
		require.Contains(t, home.Body, `<h1 id="partner-name">Blue Media</h1>`)
		require.Contains(t, home.Body, `id="paid-USD">$0.50</div>`, "the payout run paid the first conversion")
		require.Contains(t, home.Body, `id="unpaid-USD">$0.00</div>`)
		require.Regexp(t, `Awaiting approval \(USD\)</div><div class="value">1</div>`, home.Body)
		requireOwn(t, home.Body)

		offers := a.mustGet("/console/partner/offers")
		require.Contains(t, offers.Body, "/click?offer_id="+itoa(b.n.Offer.ID)+"&amp;partner_id="+itoa(b.n.Partner.ID)+"&amp;sub1={sub1}")
		require.Contains(t, offers.Body, `data-offer="`+itoa(b.requireApproval.ID)+`" data-access="requestable"`)
		require.NotContains(t, offers.Body, `data-offer="`+itoa(b.private.ID)+`"`)
		require.Contains(t, offers.Body, "CPS 10% of sale", "the deposit's payout, never its 20% revenue")
		require.NotContains(t, offers.Body, "20%")
		requireOwn(t, offers.Body)

		list := a.mustGet("/console/partner/conversions")
		ids := regexp.MustCompile(`data-conversion="(\d+)"`).FindAllStringSubmatch(list.Body, -1)
		require.Len(t, ids, 2)
		require.Equal(t, []string{mine, pending}, []string{ids[0][1], ids[1][1]})
		requireOwn(t, list.Body)

		one := a.mustGet("/console/partner/conversions/" + mine)
		require.Contains(t, one.Body, `id="payout">$0.50</div>`)
		require.Contains(t, one.Body, "in payout run #")
		requireOwn(t, one.Body)
		require.Equal(t, http.StatusNotFound, a.get("/console/partner/conversions/"+theirs).Status, "another partner's conversion")
		require.NotContains(t, a.get("/console/partner/conversions/"+theirs).Body, "$0.50")

		cycles := a.mustGet("/console/partner/cycles")
		rows := regexp.MustCompile(`<tr data-cycle="\d+" data-offer="(\d+)">`).FindAllStringSubmatch(cycles.Body, -1)
		require.Len(t, rows, 1, "its own cycle only; the other partner's is not listed")
		require.Contains(t, cycles.Body, "Volume bonus")
		require.Contains(t, cycles.Body, "Starter")
		require.Regexp(t, `conversions 1 / &gt;2: 1 to go`, cycles.Body, "the distance to the next band")
		requireOwn(t, cycles.Body)
	})
	t.Run("ApprovalRequest", func(t *testing.T) {
		require.Equal(t, http.StatusSeeOther, portalPost(t, a, "/console/partner/offers/"+itoa(b.requireApproval.ID)+"/approval-request", url.Values{"note": {"newsletter"}}).Status)
		require.Contains(t, a.mustGet("/console/partner/offers").Body, `id="requested-`+itoa(b.requireApproval.ID)+`"`)
		require.Equal(t, http.StatusNotFound, portalPost(t, a, "/console/partner/offers/"+itoa(b.private.ID)+"/approval-request", url.Values{}).Status,
			"a private offer another partner runs is not found")
		require.Equal(t, http.StatusForbidden, a.postRaw("/console/partner/offers/"+itoa(b.requireApproval.ID)+"/approval-request", url.Values{}, nil).Status,
			"without the CSRF token")
	})
	t.Run("SessionsNeverCross", func(t *testing.T) {
		for _, path := range []string{"/console/", "/console/conversions", "/console/conversions/" + mine, "/console/partners", "/console/customer-value-rules"} {
			p := a.get(path)
			require.Equal(t, http.StatusSeeOther, p.Status, path)
			require.True(t, strings.HasPrefix(p.Location, "/console/sign-in"), "a partner session opens no admin page: %s → %s", path, p.Location)
		}
		// A partner's session secret in the admin cookie is still a
		// partner's session.
		u, err := url.Parse(b.url + "/console/partner/")
		require.NoError(t, err)
		var secret string
		for _, c := range a.client.Jar.Cookies(u) {
			if c.Name == "tierwise_partner_session" {
				secret = c.Value
			}
		}
		require.NotEmpty(t, secret)
		req, err := http.NewRequest(http.MethodGet, b.url+"/console/conversions", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: "tierwise_session", Value: secret})
		forged := b.do(req)
		require.Equal(t, http.StatusSeeOther, forged.Status)
		require.True(t, strings.HasPrefix(forged.Location, "/console/sign-in"))

		admin := setupSibling(t, b.testBundle).admin()
		for _, path := range []string{"/console/partner/", "/console/partner/conversions", "/console/partner/cycles", "/console/partner/offers"} {
			p := admin.get(path)
			require.Equal(t, http.StatusSeeOther, p.Status, path)
			require.True(t, strings.HasPrefix(p.Location, "/console/partner/sign-in"), "an admin session opens no portal page: %s", path)
		}
		signIn := admin.get("/console/partner/sign-in")
		m := csrfInput.FindStringSubmatch(signIn.Body)
		p := admin.postRaw("/console/partner/sign-in", url.Values{"csrf_token": {m[1]}, "key": {adminKey}}, nil)
		require.Equal(t, http.StatusUnauthorized, p.Status, "an admin key does not sign in to the portal")
	})
	t.Run("API", func(t *testing.T) {
		var list struct {
			Items []struct {
				ID      int64  `json:"id"`
				Payout  string `json:"payout"`
				Revenue any    `json:"revenue"`
			} `json:"items"`
		}
		status, body := b.api(t, b.keyA, http.MethodGet, "/partner/conversions")
		require.Equal(t, http.StatusOK, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		require.Len(t, list.Items, 2)
		require.Equal(t, b.mine.ID, list.Items[0].ID)
		require.Equal(t, b.pending.ID, list.Items[1].ID)
		require.Nil(t, list.Items[0].Revenue, "no revenue in the partner's view")
		requireOwn(t, body)

		status, body = b.api(t, b.keyA, http.MethodGet, "/partner/conversions/"+mine)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"what":"payout"`)
		requireOwn(t, body)
		status, body = b.api(t, b.keyA, http.MethodGet, "/partner/conversions/"+theirs)
		require.Equal(t, http.StatusNotFound, status, "another partner's conversion: %s", body)
		require.NotContains(t, body, `"payout"`)
		status, _ = b.api(t, b.keyB, http.MethodGet, "/partner/conversions/"+theirs)
		require.Equal(t, http.StatusOK, status, "its own partner sees it")

		status, body = b.api(t, b.keyA, http.MethodGet, "/partner/earnings")
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"paid":"0.5"`)
		require.Contains(t, body, `"pending":1`)
		require.Contains(t, body, `"conversions":2`, "its two, not the other partner's")

		status, body = b.api(t, b.keyA, http.MethodGet, "/partner/cycles")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, 1, strings.Count(body, `"rule_id"`), "its own cycle only: %s", body)
		require.Contains(t, body, `"band_name":"Starter"`)
		require.NotContains(t, body, `"revenue"`)
		status, body = b.api(t, b.keyB, http.MethodGet, "/partner/cycles")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 1, strings.Count(body, `"rule_id"`))

		status, body = b.api(t, b.keyA, http.MethodGet, "/partner/offers")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, `"name":"Invite only"`)
		requireOwn(t, body)
		status, body = b.api(t, b.keyB, http.MethodGet, "/partner/offers")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"name":"Invite only"`, "the partner approved for the private offer sees it")

		status, _ = b.api(t, b.keyA, http.MethodPost, "/partner/offers/"+itoa(b.private.ID)+"/approval-request")
		require.Equal(t, http.StatusNotFound, status)
		_, storedAdmin, err := b.store.CreateAPIKey(context.Background(), store.KeyAdmin, 0, "ops")
		require.NoError(t, err)
		for _, path := range []string{"/partner/conversions", "/partner/conversions/" + mine, "/partner/earnings", "/partner/cycles"} {
			status, _ = b.api(t, storedAdmin, http.MethodGet, path)
			require.Equal(t, http.StatusForbidden, status, "an admin key is not a partner: %s", path)
			status, _ = b.api(t, "", http.MethodGet, path)
			require.Equal(t, http.StatusUnauthorized, status, "no key: %s", path)
		}
		status, _ = b.api(t, b.keyA, http.MethodGet, "/conversions/"+mine)
		require.Equal(t, http.StatusForbidden, status, "a partner key on an admin route")
	})
}

// setupSibling is another browser on the same console.
func setupSibling(t *testing.T, b *testBundle) *testBundle {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := *b
	c.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &c
}

func decPtr(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}
