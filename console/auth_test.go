package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

// consolePages are every page of the console, for the sign-in check.
var consolePages = []string{
	"/console/", "/console/advertisers", "/console/advertisers/1", "/console/offers", "/console/offers/new", "/console/offers/1",
	"/console/partners", "/console/partners/1", "/console/tiers", "/console/tiers/1", "/console/custom-payouts",
	"/console/conversions", "/console/conversions/export.csv", "/console/conversions/1", "/console/customers",
	"/console/cycles", "/console/payout-runs", "/console/payout-runs/1", "/console/payout-runs/1/export.csv", "/console/api-keys",
}

func TestConsoleRequiresSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("PagesRedirectToSignIn", func(t *testing.T) {
		for _, path := range consolePages {
			p := b.get(path)
			require.Equal(t, http.StatusSeeOther, p.Status, path)
			require.Equal(t, "/console/sign-in?next="+url.QueryEscape(path), p.Location, path)
		}
	})
	t.Run("FormsAreRefused", func(t *testing.T) {
		p := b.postRaw("/console/advertisers", url.Values{"name": {"Sneaky"}}, nil)
		require.Equal(t, http.StatusUnauthorized, p.Status)
		as, err := b.store.Advertisers(context.Background(), store.Page{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, as)
	})
	t.Run("HtmxIsToldWhereToSignIn", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, b.url+"/console/tiers/1", nil)
		require.NoError(t, err)
		req.Header.Set("HX-Request", "true")
		p := b.do(req)
		require.Equal(t, http.StatusUnauthorized, p.Status)
		require.True(t, strings.HasPrefix(p.Header.Get("HX-Redirect"), "/console/sign-in"))
	})
	t.Run("BareHostGoesToTheConsole", func(t *testing.T) {
		p := b.get("/")
		require.Equal(t, http.StatusFound, p.Status)
		require.Equal(t, "/console/", p.Location)
	})
	t.Run("AssetsArePublic", func(t *testing.T) {
		for _, path := range []string{"/console/assets/console.css", "/console/assets/console.js", "/console/assets/vendor/htmx-2.0.11.min.js"} {
			p := b.get(path)
			require.Equal(t, http.StatusOK, p.Status, path)
			require.NotEmpty(t, p.Body, path)
		}
	})
}

func TestConsoleSignIn(t *testing.T) {
	t.Parallel()

	t.Run("ConfiguredKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.signIn(adminKey)
		require.Equal(t, http.StatusSeeOther, p.Status)
		cookie := p.Header.Get("Set-Cookie")
		require.Contains(t, cookie, "tierwise_session=")
		for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/console"} {
			require.Contains(t, strings.Join(p.Header.Values("Set-Cookie"), "\n"), attr)
		}
		require.NotContains(t, cookie, "Secure", "plain HTTP: the browser would drop a Secure cookie")
		home := b.mustGet("/console/")
		require.Contains(t, home.Body, "Signed in with <strong>"+store.ConfiguredKeyName+"</strong>")
	})
	t.Run("SecureBehindTLS", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		form := b.get("/console/sign-in")
		token := csrfInput.FindStringSubmatch(form.Body)[1]
		p := b.postRaw("/console/sign-in", url.Values{"csrf_token": {token}, "key": {adminKey}},
			map[string]string{"X-Forwarded-Proto": "https"})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		require.Contains(t, strings.Join(p.Header.Values("Set-Cookie"), "\n"), "Secure")
	})
	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.signIn("tw_admin_not_a_key")
		require.Equal(t, http.StatusUnauthorized, p.Status)
		requireField(t, p, "key", "not an admin key")
		require.Equal(t, http.StatusSeeOther, b.get("/console/").Status, "no session")
	})
	t.Run("PartnerKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		n := b.network()
		_, secret, err := b.store.CreateAPIKey(context.Background(), store.KeyPartner, n.Partner.ID, "")
		require.NoError(t, err)
		p := b.signIn(secret)
		require.Equal(t, http.StatusUnauthorized, p.Status)
		requireField(t, p, "key", "partner's key")
	})
	t.Run("SignInFormFromElsewhere", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := b.postRaw("/console/sign-in", url.Values{"csrf_token": {"forged"}, "key": {adminKey}}, nil)
		require.Equal(t, http.StatusForbidden, p.Status)
		require.Equal(t, http.StatusSeeOther, b.get("/console/").Status, "no session")
	})
	t.Run("NextStaysInTheConsole", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		form := b.get("/console/sign-in?next=//evil.example/")
		token := csrfInput.FindStringSubmatch(form.Body)[1]
		p := b.postRaw("/console/sign-in", url.Values{"csrf_token": {token}, "key": {adminKey}, "next": {"https://evil.example/"}}, nil)
		require.Equal(t, "/console/", p.Location)
		form = b.get("/console/sign-in")
		require.Equal(t, http.StatusSeeOther, form.Status, "signed in: the sign-in page sends you on")
	})
	t.Run("SignOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		p := b.post("/console/sign-out", nil)
		require.Equal(t, http.StatusSeeOther, p.Status)
		require.Equal(t, "/console/sign-in", p.Location)
		require.Equal(t, http.StatusSeeOther, b.get("/console/").Status)
	})
	t.Run("StoredKeyRevoked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		k, secret, err := b.store.CreateAPIKey(context.Background(), store.KeyAdmin, 0, "Dana's laptop")
		require.NoError(t, err)
		require.Equal(t, http.StatusSeeOther, b.signIn(secret).Status)
		require.Contains(t, b.mustGet("/console/").Body, "Dana&#39;s laptop")
		_, err = b.store.RevokeAPIKey(context.Background(), k.ID)
		require.NoError(t, err)
		require.Equal(t, http.StatusSeeOther, b.get("/console/").Status, "the session ended with its key")
	})
	t.Run("ConfiguredKeyRemoved", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		rotated := serve(t, b.pool, []string{"tw_admin_the_new_one"})
		rotated.client.Jar = b.client.Jar // cookies are per host, not per port: the same session cookie
		require.Equal(t, http.StatusSeeOther, rotated.get("/console/").Status, "a key no longer configured signs nobody in")
	})
}

func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t).admin()
	count := func() int {
		as, err := b.store.Advertisers(context.Background(), store.Page{Limit: 10})
		require.NoError(t, err)
		return len(as)
	}

	t.Run("MissingToken", func(t *testing.T) {
		p := b.postRaw("/console/advertisers", url.Values{"name": {"No token"}}, nil)
		require.Equal(t, http.StatusForbidden, p.Status)
		require.Contains(t, p.Body, "nothing was saved")
		require.Zero(t, count())
	})
	t.Run("WrongToken", func(t *testing.T) {
		p := b.postRaw("/console/advertisers", url.Values{"name": {"Wrong token"}, "csrf_token": {"0123"}}, nil)
		require.Equal(t, http.StatusForbidden, p.Status)
		require.Zero(t, count())
	})
	t.Run("CrossSite", func(t *testing.T) {
		p := b.postRaw("/console/advertisers", url.Values{"name": {"Cross"}, "csrf_token": {b.csrf()}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
		require.Equal(t, http.StatusForbidden, p.Status)
		require.Zero(t, count())
	})
	t.Run("HeaderToken", func(t *testing.T) {
		p := b.postRaw("/console/advertisers", url.Values{"name": {"Header"}}, map[string]string{"X-CSRF-Token": b.csrf()})
		require.Equal(t, http.StatusCreated, p.Status, p.Body)
		require.Equal(t, 1, count())
	})
	t.Run("FormToken", func(t *testing.T) {
		p := b.post("/console/advertisers", url.Values{"name": {"Form"}})
		require.Equal(t, http.StatusCreated, p.Status, p.Body)
		require.Equal(t, 2, count())
	})
	t.Run("EveryFormCarriesIt", func(t *testing.T) {
		n := b.network()
		token := b.csrf()
		for _, path := range []string{"/console/advertisers", "/console/tiers", "/console/partners/" + itoa(n.Partner.ID), "/console/api-keys",
			"/console/payout-runs", "/console/custom-payouts", "/console/offers/new"} {
			body := b.mustGet(path).Body
			forms := strings.Count(body, `method="post"`)
			require.NotZero(t, forms, path)
			require.Equal(t, forms, strings.Count(body, `name="csrf_token" value="`+token+`"`), "%s: every form carries the token", path)
		}
	})
	t.Run("SecurityHeaders", func(t *testing.T) {
		p := b.mustGet("/console/")
		require.Contains(t, p.Header.Get("Content-Security-Policy"), "script-src 'self'")
		require.Equal(t, "DENY", p.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-store", p.Header.Get("Cache-Control"))
	})
}
