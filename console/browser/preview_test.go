package browser_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// holdConversions keeps every reader of the conversions table waiting, as
// a long migration or a slow disk would, until the returned release is
// called: it makes a preview run long enough to be watched and cancelled.
func (b *testBundle) holdConversions() (release func()) {
	b.t.Helper()
	ctx := context.Background()
	tx, err := b.pool.Begin(ctx)
	require.NoError(b.t, err)
	_, err = tx.Exec(ctx, `LOCK TABLE conversions IN ACCESS EXCLUSIVE MODE`)
	require.NoError(b.t, err)
	done := false
	release = func() {
		if !done {
			done = true
			require.NoError(b.t, tx.Rollback(ctx))
		}
	}
	b.t.Cleanup(release)
	return release
}

// ledgerLines counts the ledger's lines.
func (b *testBundle) ledgerLines() int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_lines`).Scan(&n))
	return n
}

// TestConsoleWhatIfPreview: with five conversions priced at the offer's
// $10.00 (three of Blue Media's, two of Red Clicks'), a draft Tiered
// Commission paying 10% more from the third conversion of a month, with
// retroactive re-pricing, is previewed from the Tiered Commissions editor.
// The panel shows its progress while the conversions are read, then each
// partner's and the total difference and example conversions, the same
// figures as POST /tiered-commissions/preview for the same draft; a
// preview can be cancelled; nothing is written either way.
func TestConsoleWhatIfPreview(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})
	advID, token := b.advertiser("Acme Broker")
	offerID := b.offer(advID, "Sign-up", offerEvent{Payout: "10.00", Revenue: "20.00"})
	blue, red := b.partner("Blue Media"), b.partner("Red Clicks")
	var ids []int64
	for i, partner := range []int64{blue, red, blue, red, blue} {
		ids = append(ids, b.postback(url.Values{"token": {token}, "offer_id": {id(offerID)}, "partner_id": {id(partner)},
			"user_id": {"user-" + strconv.Itoa(i)}}))
	}
	for cid, c := range b.waitSettled(ids...) {
		require.Equal(t, "10", c.Payout, "conversion %d at the offer default", cid)
	}
	lines := b.ledgerLines()

	// The draft, typed into the editor and not saved.
	b.signIn()
	b.do(
		b.page("/console/tiered-commissions/new"),
		chromedp.WaitVisible(chromedp.ID("bands")),
		typeIn(`#general input[name="name"]`, "Volume bonus"),
		pick("#retro_mode", "enabled"),
		swapped("insights", click(`input[name="offer_ids"][value="`+id(offerID)+`"]`)),
		typeIn(`input[name="bands[0].name"]`, "Standard"),
		typeIn(`input[name="bands[0].bounds[0].max"]`, "2"),
		swapped("bands", click("#add-band")),
		typeIn(`input[name="bands[1].name"]`, "Pro"),
		swapped("insights", pick(byID("bands[1].payout.how"), "increase/percent")),
	)
	from := run(b, chromedp.Value(chromedp.CSS(byID("preview.from"))))
	require.Equal(t, time.Now().UTC().Format("2006-01")+"-01", from, "from the first of the month by default")
	startDate := run(b, chromedp.Value(chromedp.CSS(`input[name="start_date"]`)))

	// The last value typed, the manager clicks Preview: while the
	// conversions cannot be read yet the panel shows the progress and a
	// Cancel button; then the result.
	release := b.holdConversions()
	b.do(
		fill(`input[name="bands[1].payout.value"]`, "10"),
		click("#run-preview"),
		chromedp.WaitVisible(chromedp.ID("preview-progress")),
	)
	require.Equal(t, "Reading the conversions…", b.text("#preview-progress p"), "not counted yet: no \"0 of 0\"")
	require.True(t, eval[bool](b, `!!document.querySelector("#preview-progress meter") && !!document.getElementById("cancel-preview")`))
	release()
	b.do(chromedp.WaitVisible(chromedp.ID("preview-result")))
	require.False(t, eval[bool](b, `!!document.getElementById("preview-progress")`), "done: the progress is gone")
	b.waitInsights("the worked example stays beside the bands", func(s string) bool { return strings.Contains(s, "gets $11.00") })

	// The same draft through the API.
	var api preview.Result
	b.adminAPI(http.StatusOK, "POST", "/tiered-commissions/preview", map[string]any{
		"from": from, "max_conversions": 10000,
		"rule": map[string]any{"name": "Volume bonus", "active": true, "offer_ids": []int64{offerID}, "applies_to": "base",
			"start_date": startDate, "period": "monthly", "retro_mode": "enabled",
			"bands": []map[string]any{
				{"name": "Standard", "bounds": []map[string]any{{"metric": "conversions", "max": "2"}}},
				{"name": "Pro", "bounds": []map[string]any{{"metric": "conversions", "min": "2"}},
					"payout": map[string]any{"action": "increase", "by": "percent", "value": "10"}},
			}},
	}, &api)
	require.Equal(t, 5, api.Conversions)

	require.Equal(t, []string{"Blue Media", "3", "3", "$30.00", "$33.00", "+$3.00", "+$3.00"}, partnerRow(api, blue))
	require.Equal(t, []string{"Red Clicks", "2", "0", "$20.00", "$20.00", "$0.00", "$0.00"}, partnerRow(api, red), "two conversions: still the first band")
	require.NotEmpty(t, api.Examples)
	for _, e := range api.Examples {
		require.Equal(t, blue, e.PartnerID, "the examples are conversions the draft changes")
	}
	b.requirePanel(api)
	b.screenshot("what-if-preview")

	// Cancelled while it reads: the panel says so.
	release = b.holdConversions()
	b.do(
		click("#run-preview"),
		chromedp.WaitVisible(chromedp.ID("cancel-preview")),
		chromedp.Click(chromedp.ID("cancel-preview")),
		chromedp.WaitVisible(chromedp.ID("preview-cancelled")),
	)
	require.Contains(t, b.text("#preview-cancelled"), "Preview cancelled: nothing was written")
	release()

	// The Customer Value builder's panel: a $5 bonus once per customer of
	// Blue Media's, with no goal conditions.
	b.newValueRule()
	b.do(
		typeIn(byID("rule.name"), "Welcome bonus"),
		click(`input[name="partners_scope"][value="selected"]`),
		click(`input[name="rule.partner_ids"][value="`+id(blue)+`"]`),
	)
	startsAt := run(b, chromedp.Value(chromedp.CSS(byID("rule.starts_at"))))
	b.showTab("behavior")
	b.do(
		click(`input[name="goals"][value="no"]`),
		fill(byID("rule.outcome.payout.amount"), "5"),
		click("#run-preview"),
		chromedp.WaitVisible(chromedp.ID("preview-result")),
	)
	start, err := time.ParseInLocation("2006-01-02T15:04", startsAt, time.UTC)
	require.NoError(t, err)
	api = preview.Result{}
	b.adminAPI(http.StatusOK, "POST", "/customer-value-rules/preview", map[string]any{
		"from": from, "max_conversions": 10000,
		"rule": map[string]any{"name": "Welcome bonus", "partner_ids": []int64{blue}, "applies_on": "all", "starts_at": start.Format(time.RFC3339),
			"timeframe": map[string]any{"cycle": "continuous", "anchor": "first_conversion"}, "grouping": "all",
			"outcome": map[string]any{"frequency": "once_per_customer", "trigger": "instant", "kind": "bonus",
				"payout": map[string]any{"type": "fixed", "amount": "5"}}},
	}, &api)
	require.Equal(t, []string{"Blue Media", "3", "3", "$30.00", "$45.00", "+$15.00", "+$15.00"}, partnerRow(api, blue), "$5 for each of the three customers")
	require.Equal(t, []string{"Red Clicks", "2", "0", "$20.00", "$20.00", "$0.00", "$0.00"}, partnerRow(api, red))
	b.requirePanel(api)
	b.waitSummary("Pays a one-time $5.00 bonus to Blue Media for every referred customer's activity over their lifetime.")

	// Nothing was written, nor a draft saved.
	require.Equal(t, lines, b.ledgerLines(), "the ledger is as it was")
	rules, err := b.store.TieredRules(context.Background(), false)
	require.NoError(t, err)
	require.Empty(t, rules)
	valueRules, err := b.store.CustomerValueRules(context.Background(), store.CustomerValueRuleFilter{})
	require.NoError(t, err)
	require.Empty(t, valueRules)
}

// partnerRow is a partner's row of a preview's result as the panel words
// it: name, conversions, changed, ledger, with the rule, difference, of
// which the rule.
func partnerRow(res preview.Result, partnerID int64) []string {
	for _, p := range res.Partners {
		if p.PartnerID == partnerID {
			return []string{p.PartnerName, strconv.Itoa(p.Conversions), strconv.Itoa(p.Changed),
				reports.Money(p.LedgerPayout, p.Currency), reports.Money(p.PreviewPayout, p.Currency),
				reports.SignedMoney(p.Difference, p.Currency), reports.SignedMoney(p.DraftEffect, p.Currency)}
		}
	}
	return nil
}

// requirePanel requires the preview panel to show res: each partner's
// row, the total, the headline, and the example conversions with their
// explanation.
func (b *testBundle) requirePanel(res preview.Result) {
	b.t.Helper()
	want := map[string][]string{}
	for _, p := range res.Partners {
		want[id(p.PartnerID)] = partnerRow(res, p.PartnerID)
	}
	got := eval[map[string][]string](b, `Object.fromEntries([...document.querySelectorAll("#preview-partners tbody tr[data-partner]")].map(tr =>
		[tr.dataset.partner, [...tr.cells].map(td => td.innerText.trim())]))`)
	require.Equal(b.t, want, got, "per partner, as the API")

	require.Len(b.t, res.Totals, 1, "one currency")
	total := res.Totals[0]
	require.Equal(b.t, []string{"Total (" + total.Currency + ")", strconv.Itoa(total.Conversions), "", reports.Money(total.LedgerPayout, total.Currency),
		reports.Money(total.PreviewPayout, total.Currency), reports.SignedMoney(total.Difference, total.Currency), reports.SignedMoney(total.DraftEffect, total.Currency)},
		eval[[]string](b, `[...document.querySelector("#preview-partners tfoot tr").cells].map(td => td.innerText.trim())`), "the total, as the API")
	require.True(b.t, total.Difference.IsPositive(), "the tests' drafts pay more")
	require.Contains(b.t, b.text("#preview-result .headline"), fmt.Sprintf("over the %d %s conversions since then, it would have paid %s more (%s instead of the %s in the ledger).",
		total.Conversions, total.Currency, reports.Money(total.Difference, total.Currency), reports.Money(total.PreviewPayout, total.Currency), reports.Money(total.LedgerPayout, total.Currency)))

	var wantExamples []string
	for _, e := range res.Examples {
		wantExamples = append(wantExamples, id(e.ConversionID)+" "+reports.Money(e.LedgerPayout, e.Currency)+" → "+reports.Money(e.PreviewPayout, e.Currency))
		item := b.text(`#preview-examples > li[data-conversion="` + id(e.ConversionID) + `"]`)
		for _, why := range e.Why {
			require.Contains(b.t, item, why)
		}
	}
	require.Equal(b.t, wantExamples, eval[[]string](b, `[...document.querySelectorAll("#preview-examples > li")].map(li =>
		li.dataset.conversion + " " + li.innerText.match(/(\$[\d,.]+) in the ledger → (\$[\d,.]+)/).slice(1).join(" → "))`), "the examples, as the API")
}
