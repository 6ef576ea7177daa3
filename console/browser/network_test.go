package browser_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The network a test's rules run on, created through the API as an admin's
// script would (the console's own network pages have tests of their own),
// and the helpers the rule builders' tests share.

// advertiser creates an advertiser and returns its id and postback token.
func (b *testBundle) advertiser(name string) (int64, string) {
	b.t.Helper()
	var adv struct {
		ID    int64  `json:"id"`
		Token string `json:"postback_token"`
	}
	b.adminAPI(http.StatusCreated, "POST", "/advertisers", map[string]any{"name": name}, &adv)
	return adv.ID, adv.Token
}

// offerEvent is one event of an offer: "" is the base conversion; payout
// and revenue are fixed amounts (CPA, RPA).
type offerEvent struct {
	Event           string
	Payout, Revenue string
	Repeatable      bool
}

// offer creates a public USD offer of the advertiser and returns its id.
func (b *testBundle) offer(advertiserID int64, name string, events ...offerEvent) int64 {
	b.t.Helper()
	return b.offerWith(advertiserID, name, "public", events...)
}

// offerWith creates a USD offer of the advertiser with a visibility
// (public, require_approval, private) and returns its id.
func (b *testBundle) offerWith(advertiserID int64, name, visibility string, events ...offerEvent) int64 {
	b.t.Helper()
	var evs []map[string]any
	for _, e := range events {
		evs = append(evs, map[string]any{"event": e.Event, "repeatable": e.Repeatable,
			"payout":  map[string]string{"type": "cpa", "amount": e.Payout},
			"revenue": map[string]string{"type": "rpa", "amount": e.Revenue}})
	}
	var o struct {
		ID int64 `json:"id"`
	}
	b.adminAPI(http.StatusCreated, "POST", "/offers", map[string]any{"advertiser_id": advertiserID, "name": name, "currency": "USD",
		"visibility": visibility, "destination_url": "https://advertiser.example/?click={transaction_id}", "events": evs}, &o)
	return o.ID
}

// partner creates a partner and returns its id.
func (b *testBundle) partner(name string) int64 {
	b.t.Helper()
	var p struct {
		ID int64 `json:"id"`
	}
	b.adminAPI(http.StatusCreated, "POST", "/partners", map[string]any{"name": name}, &p)
	return p.ID
}

// dataPoint creates a data point through the API.
func (b *testBundle) dataPoint(name, identifier, typ string) {
	b.t.Helper()
	b.adminAPI(http.StatusCreated, "POST", "/data-points", map[string]any{"name": name, "identifier": identifier, "type": typ}, nil)
}

// apiConversion is a conversion as GET /conversions/{id} answers.
type apiConversion struct {
	ID        int64    `json:"id"`
	PartnerID int64    `json:"partner_id"`
	Priced    bool     `json:"priced"`
	Pending   []string `json:"pending"`
	Payout    string   `json:"payout"`
}

// conversion reads a conversion through the API; an error is returned, not
// failed on, so that it can be polled.
func (b *testBundle) conversion(cid int64) (apiConversion, error) {
	var c apiConversion
	req, err := http.NewRequest(http.MethodGet, b.url+"/conversions/"+strconv.FormatInt(cid, 10), nil)
	if err != nil {
		return c, err
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return c, err
	}
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET /conversions/%d: %d %s", cid, resp.StatusCode, raw)
	}
	return c, json.Unmarshal(raw, &c)
}

// waitSettled waits until each conversion is priced and has no work left
// that could change its amounts (pricing, Customer Value, retroactive
// re-pricing), and returns them.
func (b *testBundle) waitSettled(ids ...int64) map[int64]apiConversion {
	b.t.Helper()
	out := map[int64]apiConversion{}
	for _, cid := range ids {
		var last apiConversion
		var lastErr error
		if !assert.Eventually(b.t, func() bool {
			last, lastErr = b.conversion(cid)
			return lastErr == nil && last.Priced && len(last.Pending) == 0
		}, 30*time.Second, 50*time.Millisecond) {
			require.FailNowf(b.t, "not settled", "conversion %d: %+v %v", cid, last, lastErr)
		}
		out[cid] = last
	}
	return out
}

// pick chooses the option of a select as a manager does: the value
// changes and the select says so (a change event, which htmx listens to).
func pick(css, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.CSS(css), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event("change", {bubbles: true}))`, css)),
	)
}

// quiet waits until the page's htmx traffic has settled: no request in
// flight, and nothing typed, changed or swapped for a moment. The builders
// post their draft 150 ms after a change and swap the summary or the
// worked example above or beside what is clicked next; a click while that
// moves the page can miss its target. (Not for a page that polls, such as
// a running preview: it is never quiet.)
var quiet = chromedp.Poll[chromedp.Void](`(() => {
	if (!window.twActivity) {
		window.twActivity = performance.now();
		const seen = () => { window.twActivity = performance.now(); };
		["input", "change", "htmx:beforeRequest", "htmx:afterSettle"].forEach(n => document.addEventListener(n, seen, true));
	}
	return !document.querySelector(".htmx-request") && performance.now() - window.twActivity > 300;
})()`, chromedp.WithPollingInterval(25*time.Millisecond))

// click clicks an element of a builder once the page is quiet.
func click(css string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(quiet, chromedp.Click(chromedp.CSS(css)))
}

// swapped runs steps that make htmx replace the element with the id, and
// waits until it is replaced by the server's answer and the page is quiet
// again: what is typed or clicked next is not overwritten or moved by a
// late answer.
func swapped(elementID string, steps ...chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	tag := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).twStale = true`, elementID))
	replaced := chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.getElementById(%q);
		return !!el && !el.twStale;
	})()`, elementID), chromedp.WithPollingInterval(20*time.Millisecond))
	return chromedp.Steps(append(append([]chromedp.Action[chromedp.Void]{quiet, tag}, steps...), replaced, quiet)...)
}

// byID selects an element by an id that CSS would need to escape
// ("rule.name").
func byID(elementID string) string { return fmt.Sprintf(`[id=%q]`, elementID) }

// options are the values and labels of a select's options, in order.
func options(b *testBundle, css string) [][2]string {
	b.t.Helper()
	return eval[[][2]string](b, fmt.Sprintf(`[...document.querySelector(%q).options].map(o => [o.value, o.textContent.trim()])`, css))
}

// texts are the visible texts of every element a CSS selector finds.
func texts(b *testBundle, css string) []string {
	b.t.Helper()
	return eval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.innerText.trim())`, css))
}
