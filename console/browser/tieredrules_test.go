package browser_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tieredRule creates a Tiered Commission through the API and returns its id.
func (b *testBundle) tieredRule(rule map[string]any) int64 {
	b.t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	b.adminAPI(http.StatusCreated, "POST", "/tiered-commissions", rule, &out)
	return out.ID
}

// volumeBands are seed 001's "10% more after the first 100 conversions".
func volumeBands() []map[string]any {
	return []map[string]any{
		{"name": "Standard", "bounds": []map[string]any{{"metric": "conversions", "max": "100"}}},
		{"name": "Pro", "bounds": []map[string]any{{"metric": "conversions", "min": "100"}},
			"payout": map[string]any{"action": "increase", "by": "percent", "value": "10"}},
	}
}

// waitInsights waits until the editor's worked example and conflicts,
// recomputed by the server after each change, satisfy ok.
func (b *testBundle) waitInsights(what string, ok func(insights string) bool) string {
	b.t.Helper()
	var got string
	if !assert.Eventually(b.t, func() bool {
		var err error
		got, err = b.tryText("#insights")
		return err == nil && ok(got)
	}, 10*time.Second, 50*time.Millisecond) {
		require.FailNowf(b.t, what, "the insights read:\n%s", got)
	}
	return got
}

// TestConsoleTieredConflictWarning: with one saved Tiered Commission for a
// partner on an offer, a second one for the same offer is started in the
// editor. Before it is saved the editor shows the conflict, which rule
// wins by priority and why (the one naming the partner, then the newest),
// with a link to the saved rule: while the draft is for all partners the
// saved rule wins for its partner; once the draft names the same partner
// the draft, newer, wins; for another partner there is no conflict.
func TestConsoleTieredConflictWarning(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{})
	advID, _ := b.advertiser("Acme Broker")
	offerID := b.offer(advID, "Sign-up", offerEvent{Payout: "10.00", Revenue: "20.00"})
	blue, red := b.partner("Blue Media"), b.partner("Red Clicks")
	saved := b.tieredRule(map[string]any{"name": "Blue Media boost", "offer_ids": []int64{offerID}, "partner_ids": []int64{blue},
		"applies_to": "base", "start_date": "2024-01-01", "period": "monthly", "bands": volumeBands()})
	b.signIn()

	// A new rule on the same offer, for all partners, with the same bands,
	// typed band by band.
	b.do(
		b.page("/console/tiered-commissions"),
		click("#new-rule"),
		chromedp.WaitVisible(chromedp.ID("bands")),
		typeIn(`#general input[name="name"]`, "Volume bonus"),
		swapped("insights", click(`input[name="offer_ids"][value="`+id(offerID)+`"]`)),
		typeIn(`input[name="bands[0].name"]`, "Standard"),
		typeIn(`input[name="bands[0].bounds[0].max"]`, "100"),
		swapped("bands", click("#add-band")),
	)
	require.Equal(t, "100", run(b, chromedp.Value(chromedp.CSS(`input[name="bands[1].bounds[0].min"]`))), "the new band starts where the last one ends")
	b.do(
		typeIn(`input[name="bands[1].name"]`, "Pro"),
		swapped("insights", pick(byID("bands[1].payout.how"), "increase/percent")),
		typeIn(`input[name="bands[1].payout.value"]`, "10"),
	)

	// The saved rule names Blue Media: it wins for Blue Media although the
	// draft is newer.
	insights := b.waitInsights("the conflict with the saved rule", func(s string) bool {
		return strings.Contains(s, `Overlaps rule `+id(saved)+` "Blue Media boost"`) && strings.Contains(s, "gets $11.00")
	})
	require.Contains(t, insights, `Wins: rule `+id(saved)+` "Blue Media boost"`)
	require.Contains(t, b.text(`.conflict[data-rule="`+id(saved)+`"]`), "names partner "+id(blue)+" and wins for them")
	require.Contains(t, b.text(`.conflict[data-rule="`+id(saved)+`"]`), "for every other partner this rule applies")
	require.Contains(t, b.text(`.conflict[data-rule="`+id(saved)+`"]`), `bands[0] "Standard" of rule `+id(saved)+` and bands[0] "Standard" of this rule both hold`)
	link := run(b, chromedp.Attributes(chromedp.CSS(`.conflict[data-rule="`+id(saved)+`"] a`)))
	require.Equal(t, "/console/tiered-commissions/"+id(saved), link["href"], "a link to the other rule")
	require.Equal(t, []string{
		"A partner at 50 conversions this month on an offer paying $10.00 gets $10.00 (the band does not change the payout).",
		"A partner at 150 conversions this month on an offer paying $10.00 gets $11.00 (10% increase of 10.00 payout = 11.00).",
	}, texts(b, "#examples li"), "the worked example beside the bands")
	b.screenshot("tiered-conflict")

	// The draft names Blue Media too: both name the partner, and the newer,
	// the draft, wins.
	b.do(
		swapped("insights", click(`input[name="partners_scope"][value="selected"]`)),
		swapped("insights", click(`input[name="partner_ids"][value="`+id(blue)+`"]`)),
	)
	insights = b.waitInsights("the draft wins once it names the partner", func(s string) bool { return strings.Contains(s, "Wins: this rule") })
	require.Contains(t, insights, `Overlaps rule `+id(saved)+` "Blue Media boost"`)
	require.Contains(t, insights, "newer")

	// For Red Clicks alone the rules never meet.
	b.do(
		swapped("insights", click(`input[name="partner_ids"][value="`+id(blue)+`"]`)),
		swapped("insights", click(`input[name="partner_ids"][value="`+id(red)+`"]`)),
	)
	b.waitInsights("no conflict for another partner", func(s string) bool { return strings.Contains(s, "No saved rule overlaps this one.") })

	rules, err := b.store.TieredRules(context.Background(), false)
	require.NoError(t, err)
	require.Len(t, rules, 1, "nothing saved while editing")

	// The link leads to the saved rule.
	b.do(
		swapped("insights", click(`input[name="partners_scope"][value="all"]`)),
		click(`.conflict[data-rule="`+id(saved)+`"] a`),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	require.Contains(t, b.text("h1"), "Blue Media boost")
	require.Equal(t, b.url+"/console/tiered-commissions/"+id(saved), run(b, chromedp.Location()))
}
