package browser_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

// TestConsoleSignInAndSetUpNetwork is the README's first conversion, done in
// the console: sign in, create an advertiser, an offer with an event, a
// tier with a 30% margin whose Offers card turns "Apply margin" on, a
// partner in it; the advertiser's postback; the conversion in the report at
// $0.70, and its explanation showing the margin.
func TestConsoleSignInAndSetUpNetwork(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})
	ctx := context.Background()
	b.signIn()

	// An advertiser: its postback token is shown once.
	b.do(
		b.page("/console/advertisers"),
		fill(`#advertiser-form input[name="name"]`, "Acme Broker"),
		chromedp.Click(chromedp.CSS(`#advertiser-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("shown-secret")),
	)
	token := b.text("#shown-secret")
	require.Regexp(t, `^tw_pb_[0-9a-f]+$`, token)
	require.Contains(t, b.text("#postback-click"), "/postback?token="+token+"&transaction_id={transaction_id}")
	advertisers, err := b.store.Advertisers(ctx, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, advertisers, 1)
	adv := advertisers[0]

	// An offer whose base conversion pays $0.50 and earns $1.00, with a
	// repeatable deposit event added in the form.
	b.do(
		b.page("/console/offers/new?advertiser_id="+id(adv.ID)),
		fill(`#name`, "Sign-up"),
		fill(`#destination_url`, "https://acme.example/join?click={transaction_id}"),
		fill(`input[name="events[0].payout.amount"]`, "0.50"),
		fill(`input[name="events[0].revenue.amount"]`, "1.00"),
		chromedp.Click(chromedp.CSS(`[data-add-event="events"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="events[1].event"]`)),
		fill(`input[name="events[1].event"]`, "deposit"),
		choose(`select[name="events[1].payout.type"]`, "cps"),
		fill(`input[name="events[1].payout.percent"]`, "5"),
		choose(`select[name="events[1].revenue.type"]`, "rps"),
		fill(`input[name="events[1].revenue.percent"]`, "10"),
		chromedp.Click(chromedp.CSS(`input[name="events[1].repeatable"]`)),
		chromedp.Click(chromedp.ID("save-offer")),
		chromedp.WaitVisible(chromedp.ID("tracking-link")),
	)
	offers, err := b.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: 10}})
	require.NoError(t, err)
	require.Len(t, offers, 1)
	offer := offers[0]
	require.Len(t, offer.Events, 2)
	deposit, ok := offer.Event("deposit")
	require.True(t, ok)
	require.True(t, deposit.Repeatable)

	// A tier with a 30% margin, and the offer in its Offers card with
	// "Apply margin" turned on in place.
	b.do(
		b.page("/console/tiers"),
		fill(`#tier-form input[name="name"]`, "Margin 30"),
		fill(`#tier-form input[name="margin"]`, "30"),
		chromedp.Click(chromedp.ID("add-tier")),
		chromedp.WaitVisible(chromedp.ID("tier-margin")),
	)
	require.Equal(t, "30%", b.text("#tier-margin"))
	tierURL := run(b, chromedp.Location())
	tierID := regexp.MustCompile(`/console/tiers/(\d+)$`).FindStringSubmatch(tierURL)
	require.NotNil(t, tierID, tierURL)
	b.do(
		choose(`#add-offer select[name="offer_id"]`, id(offer.ID)),
		chromedp.Click(chromedp.ID("add-offer-button")),
		chromedp.WaitVisible(chromedp.ID("apply-margin-"+id(offer.ID))),
		chromedp.Click(chromedp.ID("apply-margin-"+id(offer.ID))),
		chromedp.WaitVisible(chromedp.CSS(`#tier-offer-`+id(offer.ID)+` .saved`)),
	)
	require.Contains(t, b.text("#tier-offer-"+id(offer.ID)), "base: 70% of the $1.00 revenue = $0.70")
	require.True(t, eval[bool](b, `document.getElementById("apply-margin-`+id(offer.ID)+`").checked`))
	tier, err := b.store.Tier(ctx, mustInt(t, tierID[1]))
	require.NoError(t, err)
	require.Equal(t, []store.TierOffer{{OfferID: offer.ID, OfferName: "Sign-up", ApplyMargin: true}}, tier.Offers)
	b.screenshot("partner-tier")

	// A partner in the tier.
	b.do(
		b.page("/console/partners"),
		fill(`#partner-form input[name="name"]`, "Blue Media"),
		choose(`#partner-form select[name="tier_id"]`, tierID[1]),
		chromedp.Click(chromedp.CSS(`#partner-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("general")),
	)
	partners, err := b.store.Partners(ctx, store.PartnerFilter{TierID: tier.ID, Page: store.Page{Limit: 10}})
	require.NoError(t, err)
	require.Len(t, partners, 1)
	partner := partners[0]

	// The advertiser's server sends the postback.
	conversionID := b.postback(url.Values{"token": {token}, "offer_id": {id(offer.ID)}, "partner_id": {id(partner.ID)}, "user_id": {"42"}})

	// The report shows it at $0.70 once the worker has priced it.
	payout := `tr[data-conversion="` + id(conversionID) + `"] td.payout`
	require.Eventually(t, func() bool {
		b.do(b.page("/console/conversions"), chromedp.WaitVisible(chromedp.CSS(payout)))
		return b.text(payout) == "$0.70"
	}, 30*time.Second, 250*time.Millisecond, "the conversion is priced at $0.70")
	require.Contains(t, b.text("#totals"), "$0.70")
	b.screenshot("conversion-report")

	// Its page says why: the tier's margin on the offer's revenue.
	b.do(
		chromedp.Click(chromedp.CSS(`tr[data-conversion="`+id(conversionID)+`"] a`)),
		chromedp.WaitVisible(chromedp.ID("why")),
	)
	require.Equal(t, "$0.70", b.text("#payout"))
	require.Contains(t, b.text("#summary"), "Pays $0.70, set by the Partner Tier margin")
	margin := b.text(`article[data-layer="2"]`)
	require.Contains(t, margin, "decided the payout")
	require.Contains(t, margin, `Tier "Margin 30": margin 30%`)
	require.Contains(t, margin, "(100% − 30% margin) × 1.00 revenue (from the offer default) = 0.70")
	require.Contains(t, b.text(`article[data-layer="1"]`), "replaced by the Partner Tier margin")
	link := run(b, chromedp.Attributes(chromedp.ID("workflow-link")))
	require.True(t, strings.HasPrefix(link["href"], "http://127.0.0.1:8233/namespaces/default/workflows?query="), link["href"])
	b.screenshot("conversion")
}

// TestConsoleConversionEventsReport: a customer with three conversions and
// data points; the report for its user id shows them in order with their
// lines, and the rule the third completed.
func TestConsoleConversionEventsReport(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})

	var adv struct {
		ID    int64  `json:"id"`
		Token string `json:"postback_token"`
	}
	b.adminAPI(201, "POST", "/advertisers", map[string]any{"name": "Lucky Casino"}, &adv)
	rate := func(typ, amount string) map[string]string { return map[string]string{"type": typ, "amount": amount} }
	var offer, partner struct {
		ID int64 `json:"id"`
	}
	b.adminAPI(201, "POST", "/offers", map[string]any{"advertiser_id": adv.ID, "name": "Install", "currency": "USD",
		"destination_url": "https://casino.example/?click={transaction_id}", "events": []map[string]any{
			{"event": "", "payout": rate("cpa", "2.00"), "revenue": rate("rpa", "3.00")},
			{"event": "level_up", "payout": rate("cpa", "0.50"), "revenue": rate("rpa", "1.00"), "repeatable": true},
		}}, &offer)
	b.adminAPI(201, "POST", "/partners", map[string]any{"name": "Arcade Ads"}, &partner)
	b.adminAPI(201, "POST", "/customer-value-rules", map[string]any{
		"rule": map[string]any{"name": "Level 10 Bonus", "applies_on": "all", "starts_at": "2020-01-01T00:00:00Z",
			"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion"}, "grouping": "all",
			"conditions": []map[string]any{{"source": "level", "aggregation": "any", "operator": "gte", "value": "10"}},
			"outcome": map[string]any{"frequency": "once_per_customer", "trigger": "instant", "kind": "bonus",
				"payout": map[string]any{"type": "fixed", "amount": "25"}}},
		"data_points": []map[string]any{{"name": "Level reached", "identifier": "level", "type": "number"}},
	}, nil)

	send := func(event, order, level string, at time.Time) int64 {
		p := url.Values{"token": {adv.Token}, "offer_id": {id(offer.ID)}, "partner_id": {id(partner.ID)}, "user_id": {"player-7"},
			"level": {level}, "timestamp": {at.UTC().Format(time.RFC3339)}}
		if event != "" {
			p.Set("event", event)
			p.Set("order_id", order)
		}
		return b.postback(p)
	}
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	ids := []int64{
		send("", "", "1", start),
		send("level_up", "l5", "5", start.Add(time.Hour)),
		send("level_up", "l12", "12", start.Add(2*time.Hour)),
	}
	require.Eventually(t, func() bool {
		c, err := b.store.Conversion(context.Background(), ids[2])
		require.NoError(t, err)
		return c.Payout.String() == "25.5"
	}, 30*time.Second, 100*time.Millisecond, "the third conversion gets its $0.50 and the $25 bonus")

	b.signIn()
	b.do(
		b.page("/console/"),
		chromedp.Click(chromedp.CSS(`a[href="/console/customers"]`)),
		chromedp.WaitVisible(chromedp.ID("user_id")),
		chromedp.SendKeys(chromedp.ID("user_id"), "player-7"),
		chromedp.Click(chromedp.ID("show-report")),
		chromedp.WaitVisible(chromedp.ID("timeline")),
	)
	require.Equal(t, "player-7", b.text("#customer"))
	order := eval[[]string](b, `[...document.querySelectorAll("#timeline li[data-conversion]")].map(li => li.dataset.conversion)`)
	require.Equal(t, []string{id(ids[0]), id(ids[1]), id(ids[2])}, order, "in time order")
	items := eval[[]string](b, `[...document.querySelectorAll("#timeline li[data-conversion]")].map(li => li.innerText)`)
	require.Contains(t, items[0], "base")
	require.Contains(t, items[0], "level = 1")
	require.Contains(t, items[0], "payout\tprice\t+$2.00")
	require.Contains(t, items[1], "level_up")
	require.Contains(t, items[1], "level = 5")
	require.NotContains(t, items[1], "bonus")
	require.Contains(t, items[2], "level = 12")
	require.Contains(t, items[2], "payout\tprice\t+$0.50")
	require.Contains(t, items[2], "payout\tbonus\t+$25.00")
	require.Contains(t, items[2], "Level 10 Bonus")
	progress := b.text("#progress")
	require.Contains(t, progress, "Level 10 Bonus")
	require.Contains(t, progress, "✓ met")
	require.Contains(t, progress, "outcome given")
	b.screenshot("conversion-events-report")

	// On a tablet the navigation moves to the top and the page still fits
	// the screen: wide tables scroll inside their frame.
	b.do(chromedp.EmulateViewport(820, 1180), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("timeline")))
	require.True(t, eval[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`), "no sideways scrolling on a tablet")
	require.True(t, eval[bool](b, `document.querySelector("aside.side").getBoundingClientRect().bottom < document.getElementById("main").getBoundingClientRect().top + 1`),
		"the navigation sits above the content")
	b.screenshot("conversion-events-report-tablet")
}

// TestConsoleValidationErrors: a margin of 130 shows the error next to the
// margin field and saves nothing.
func TestConsoleValidationErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{})
	b.signIn()
	b.do(
		b.page("/console/tiers"),
		fill(`#tier-form input[name="name"]`, "Too greedy"),
		fill(`#tier-form input[name="margin"]`, "130"),
		chromedp.Click(chromedp.ID("add-tier")),
		chromedp.WaitVisible(chromedp.ID("margin-error")),
	)
	require.Equal(t, "Must be a percent from 0 to 100, got 130", b.text("#margin-error"), "as the manager reads it")
	require.True(t, eval[bool](b, `(() => {
		const input = document.getElementById("margin"), error = document.getElementById("margin-error");
		return input.parentElement === error.parentElement && input.getAttribute("aria-invalid") === "true" &&
			input.getAttribute("aria-describedby") === "margin-error";
	})()`), "the error is next to the margin field, and the field says so")
	require.Equal(t, "130", run(b, chromedp.Value(chromedp.ID("margin"))), "the typed value stays")
	require.Equal(t, "Too greedy", run(b, chromedp.Value(chromedp.CSS(`#tier-form input[name="name"]`))))
	require.Contains(t, b.text("#form-errors"), "Not saved")
	tiers, err := b.store.Tiers(context.Background(), store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, tiers, 1, "nothing saved: only the default tier")
	require.NotContains(t, b.text("#tiers"), "Too greedy")
	b.screenshot("validation-error")
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, r := range s {
		require.True(t, r >= '0' && r <= '9', s)
		n = n*10 + int64(r-'0')
	}
	return n
}
