package browser_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestConsolePartnerPortal: a partner signs in to the portal with its
// partner API key and sees its own earnings, its offers with its tracking
// links and payouts (never the revenue, the advertiser's destination,
// another partner, or a private offer it is not approved for), and asks
// for approval of a require-approval offer, which the network's manager
// then sees.
func TestConsolePartnerPortal(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})
	advID, token := b.advertiser("Acme Broker")
	signup := b.offer(advID, "Sign-up",
		offerEvent{Payout: "10.00", Revenue: "17.77"},
		offerEvent{Event: "deposit", Payout: "2.00", Revenue: "5.55", Repeatable: true})
	premium := b.offerWith(advID, "Premium leads", "require_approval", offerEvent{Payout: "25.00", Revenue: "41.11"})
	b.offerWith(advID, "Invite only", "private", offerEvent{Payout: "30.00", Revenue: "50.00"})
	blue, red := b.partner("Blue Media"), b.partner("Red Clicks")
	send := func(partner int64, user string, extra ...string) int64 {
		p := url.Values{"token": {token}, "offer_id": {id(signup)}, "partner_id": {id(partner)}, "user_id": {user}}
		for i := 0; i+1 < len(extra); i += 2 {
			p.Set(extra[i], extra[i+1])
		}
		return b.postback(p)
	}
	b.waitSettled(
		send(blue, "u-1"),
		send(blue, "u-1", "event", "deposit", "order_id", "d-1"),
		send(blue, "u-2"),
		send(red, "u-3"),
	)
	send(blue, "u-4", "status", "pending")
	var key struct {
		Secret string `json:"secret"`
	}
	b.adminAPI(http.StatusCreated, "POST", "/partners/"+id(blue)+"/api-keys", map[string]any{"name": "Blue Media's key"}, &key)
	require.NotEmpty(t, key.Secret)

	b.do(
		b.page("/console/partner/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), key.Secret),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("partner-name")),
	)
	require.Equal(t, "Blue Media", b.text("#partner-name"))
	require.Equal(t, "$22.00", b.text("#unpaid-USD"), "two sign-ups and a deposit, not paid yet")
	require.Contains(t, b.text("#totals"), "\n1\nconversion, paid once approved", "the pending one")
	neverShown := func(page string) {
		t.Helper()
		body := eval[string](b, `document.body.innerText`)
		for _, s := range []string{"17.77", "5.55", "41.11", "Red Clicks", "Invite only", "advertiser.example", "margin", "Margin"} {
			require.NotContains(t, body, s, "the %s page", page)
		}
	}
	neverShown("home")
	b.screenshot("portal-home")

	b.do(
		chromedp.Click(chromedp.CSS(`a[href="/console/partner/offers"]`)),
		chromedp.WaitVisible(chromedp.ID("offers")),
	)
	require.ElementsMatch(t, []string{id(signup) + " runnable", id(premium) + " requestable"},
		eval[[]string](b, `[...document.querySelectorAll("#offers section[data-offer]")].map(s => s.dataset.offer + " " + s.dataset.access)`))
	link := b.text("#tracking-" + id(signup))
	require.True(t, strings.HasPrefix(link, b.url+"/click?"), link)
	require.Contains(t, link, "offer_id="+id(signup))
	require.Contains(t, link, "partner_id="+id(blue))
	offer := b.text(`section[data-offer="` + id(signup) + `"]`)
	require.Contains(t, offer, "$10.00")
	require.Contains(t, offer, "$2.00")
	neverShown("offers")
	b.screenshot("portal-offers")

	// The request for approval of the require-approval offer.
	b.do(
		chromedp.SendKeys(chromedp.ID("note-"+id(premium)), "On our finance newsletter"),
		chromedp.Click(chromedp.ID("request-"+id(premium))),
		chromedp.WaitVisible(chromedp.ID("requested-"+id(premium))),
	)
	require.Contains(t, b.text("#requested-"+id(premium)), "Approval requested on")
	reqs, err := b.store.ApprovalRequests(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	require.Equal(t, blue, reqs[0].PartnerID)
	require.Equal(t, premium, reqs[0].OfferID)
	require.Equal(t, "On our finance newsletter", reqs[0].Note)
}
