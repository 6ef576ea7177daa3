package browser_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
)

// The seed's three Customer Value scenarios (seed 000), each built through
// the rule builder as the seed describes it, then run by an advertiser's
// postbacks and checked on the console's reports.

// Operators as the builder lists them for each type (seed 000's "smarter
// conditions": text operators by name, number operators by sign).
var (
	textOperators   = [][2]string{{"", "Choose…"}, {"eq", "Exact match"}, {"ne", "Not equal"}, {"in", "In list"}}
	numberOperators = [][2]string{{"", "Choose…"}, {"gt", ">"}, {"gte", "≥"}, {"lt", "<"}, {"lte", "≤"}, {"eq", "="}, {"between", "Between"}}
)

// cond is the CSS of a field of condition row i of the builder.
func cond(i int, field string) string { return fmt.Sprintf("#cond-%d-%s", i, field) }

// newValueRule opens the builder from the rules list.
func (b *testBundle) newValueRule() {
	b.t.Helper()
	b.do(
		b.page("/console/customer-value-rules"),
		chromedp.Click(chromedp.ID("new-rule")),
		chromedp.WaitVisible(chromedp.ID("rule-form")),
	)
}

// showTab shows one of the builder's tabs (general, timeframe, behavior): its
// panel alone shows.
func (b *testBundle) showTab(name string) {
	b.t.Helper()
	b.do(
		chromedp.Click(chromedp.ID("tab-"+name)),
		chromedp.WaitVisible(chromedp.ID(name)),
	)
	require.Equal(b.t, []string{name}, eval[[]string](b, `[...document.querySelectorAll("[data-panel]")].filter(p => !p.hidden).map(p => p.dataset.panel)`),
		"one tab's panel at a time")
	require.Equal(b.t, "true", eval[string](b, `document.getElementById("tab-`+name+`").getAttribute("aria-selected")`))
}

// createDataPointInRow types a data point into condition row i's "Create a
// data point" box and creates it, without leaving the page.
func (b *testBundle) createDataPointInRow(i int, name, identifier, typ string) {
	b.t.Helper()
	box := fmt.Sprintf("#cond-%d-new", i)
	b.do(
		chromedp.Click(chromedp.CSS(box+" > summary")),
		chromedp.WaitVisible(chromedp.CSS(byID(fmt.Sprintf("new_data_point[%d].name", i)))),
		fill(byID(fmt.Sprintf("new_data_point[%d].name", i)), name),
		fill(byID(fmt.Sprintf("new_data_point[%d].identifier", i)), identifier),
		pick(byID(fmt.Sprintf("new_data_point[%d].type", i)), typ),
		swapped("conditions", chromedp.Click(chromedp.CSS(cond(i, "create")))),
	)
}

// condition fills condition row i: its source, aggregation and operator
// (each answered by the server with the row's operators) and its value.
func (b *testBundle) condition(i int, source, aggregation, operator, value string) {
	b.t.Helper()
	ops := fmt.Sprintf("cond-%d-ops", i)
	if source != "" {
		b.do(swapped(ops, pick(cond(i, "source"), source)))
	}
	b.do(
		swapped(ops, pick(cond(i, "aggregation"), aggregation)),
		swapped(ops, pick(cond(i, "operator"), operator)),
		fill(cond(i, "value"), value),
	)
}

// addCondition adds an empty condition row.
func (b *testBundle) addCondition() {
	b.t.Helper()
	b.do(swapped("conditions", chromedp.Click(chromedp.ID("add-condition"))))
}

// setValue sets an input's value as a manager's typing would end: the
// value, then the change event (for inputs SendKeys cannot type into, such
// as datetime-local).
func setValue(css, value string) chromedp.Action[chromedp.Void] { return pick(css, value) }

// typeIn types a value into an empty input and leaves it, as a manager
// does: the change event follows.
func typeIn(css, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(fill(css, value), chromedp.Blur(chromedp.CSS(css)))
}

// waitSummary waits until the plain-English summary reads want.
func (b *testBundle) waitSummary(want string) {
	b.t.Helper()
	var got string
	require.Eventually(b.t, func() bool {
		var err error
		got, err = b.tryText("#summary")
		return err == nil && got == want
	}, 10*time.Second, 50*time.Millisecond, "the summary reads %q, not %q", got, want)
}

// tryText is an element's text, or the error of finding it.
func (b *testBundle) tryText(css string) (string, error) {
	ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
}

// saveValueRule saves the builder and returns the saved rule.
func (b *testBundle) saveValueRule() store.CustomerValueRuleRecord {
	b.t.Helper()
	b.do(
		chromedp.Click(chromedp.ID("save-rule")),
		chromedp.WaitVisible(chromedp.ID("lifecycle")),
	)
	m := regexp.MustCompile(`/console/customer-value-rules/(\d+)$`).FindStringSubmatch(run(b, chromedp.Location()))
	require.NotNil(b.t, m, "saved: the rule's own page")
	rec, err := b.store.CustomerValueRuleRecord(context.Background(), mustInt(b.t, m[1]))
	require.NoError(b.t, err)
	return rec
}

// daysAgo is local midnight (UTC, the network's zone) n days ago, as the
// builder's datetime-local inputs take it.
func daysAgo(n int) string {
	y, m, d := time.Now().UTC().AddDate(0, 0, -n).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02T15:04")
}

// TestConsoleBuildsHighValueTrader builds seed 000's walkthrough in the
// builder: a one-time $200 bonus when a referred user, over their lifetime
// and in any order, is from EU1, deposits more than $200 in total and
// trades $100 or more once. The geo data point is created from its
// condition row; picking the number data point turns the row's text
// operators into number operators. The customer's postbacks then arrive
// out of order, and the bonus shows exactly once, on the conversion that
// completes the last condition, in the conversion report and in the
// Conversion Events Report.
func TestConsoleBuildsHighValueTrader(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})
	ctx := context.Background()
	advID, token := b.advertiser("Acme Broker")
	offerID := b.offer(advID, "Trading account",
		offerEvent{Payout: "50.00", Revenue: "80.00"},
		offerEvent{Event: "deposit", Payout: "0", Revenue: "0", Repeatable: true},
		offerEvent{Event: "trade", Payout: "0", Revenue: "0", Repeatable: true},
	)
	partnerID := b.partner("Blue Media")
	b.dataPoint("Deposit", "deposit", "number")
	b.dataPoint("Trade", "trade", "number")
	b.signIn()
	b.newValueRule()

	// General: the name and a start before the customer's activity.
	b.do(
		fill(byID("rule.name"), "High-Value Trader"),
		setValue(byID("rule.starts_at"), daysAgo(2)),
	)

	// Behavior, condition 1: geo does not exist yet; the row creates it.
	b.showTab("behavior")
	require.Equal(t, [][2]string{{"", "Choose a data point first"}}, options(b, cond(0, "operator")), "no source yet: no operators")
	b.createDataPointInRow(0, "Geo", "geo", "text")
	require.Equal(t, "geo", run(b, chromedp.Value(chromedp.CSS(cond(0, "source")))), "the new data point is the row's source at once")
	require.Contains(t, b.text("#new-data-points"), "Geo geo text")
	require.Equal(t, textOperators, options(b, cond(0, "operator")), "a text data point: text operators")
	b.condition(0, "", "any", "eq", "EU1")

	// Condition 2: picked first as the text data point, then as the number
	// one, the operator list follows the type.
	b.addCondition()
	require.False(t, eval[bool](b, `document.getElementById("cond-0-new").open`), "the used data point box is closed again")
	require.False(t, eval[bool](b, `document.getElementById("cond-1-new").open`), "a new row's box is closed")
	b.do(swapped("cond-1-ops", pick(cond(1, "source"), "geo")))
	require.Equal(t, textOperators, options(b, cond(1, "operator")))
	require.Contains(t, b.text(`label[for="cond-1-operator"]`), "(text)")
	b.do(swapped("cond-1-ops", pick(cond(1, "source"), "deposit")))
	require.Equal(t, numberOperators, options(b, cond(1, "operator")), "a number data point: number operators")
	require.Contains(t, b.text(`label[for="cond-1-operator"]`), "(number)")
	b.condition(1, "", "sum", "gt", "200")

	// Condition 3: a single trade of at least 100.
	b.addCondition()
	b.condition(2, "trade", "any", "gte", "100")

	// The outcome: once per customer, instant, a fixed $200 bonus (the
	// builder's defaults but the amount).
	b.do(typeIn(byID("rule.outcome.payout.amount"), "200"))
	b.waitSummary(`Pays a one-time $200.00 bonus to the partner whose referred customer, over their lifetime, ` +
		`has Geo "EU1", a total Deposit of more than 200 and a single Trade of at least 100, in any order.`)
	b.screenshot("value-rule-behavior")
	b.showTab("general")
	b.screenshot("value-rule-general")

	rec := b.saveValueRule()
	require.Contains(t, b.text(".alert.ok"), "1 new data point created with it")
	r := rec.Rule
	require.Equal(t, "High-Value Trader", r.Name)
	require.True(t, r.Active)
	require.Empty(t, r.PartnerIDs)
	require.Empty(t, r.OfferIDs)
	require.Empty(t, r.AdvertiserIDs)
	require.Equal(t, customervalue.AppliesOnAll, r.AppliesOn)
	require.Equal(t, customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion}, r.Timeframe,
		"over their lifetime")
	require.Equal(t, customervalue.GroupAll, r.Grouping)
	require.Equal(t, []customervalue.Condition{
		{Source: "geo", Type: "text", Aggregation: "any", Operator: "eq", Value: "EU1"},
		{Source: "deposit", Type: "number", Aggregation: "sum", Operator: "gt", Value: "200"},
		{Source: "trade", Type: "number", Aggregation: "any", Operator: "gte", Value: "100"},
	}, r.Conditions)
	require.Equal(t, customervalue.OncePerCustomer, r.Outcome.Frequency)
	require.Equal(t, customervalue.TriggerInstant, r.Outcome.Trigger)
	require.Equal(t, customervalue.KindBonus, r.Outcome.Kind)
	require.Equal(t, customervalue.RateFixed, r.Outcome.Payout.Type)
	require.Equal(t, "200", r.Outcome.Payout.Amount.String())
	require.Nil(t, r.Outcome.RevenueAdjustment)
	geo, err := b.store.DataPoints(ctx, store.DataPointFilter{})
	require.NoError(t, err)
	require.Len(t, geo, 3, "geo was created with the rule")
	require.Contains(t, b.text("#locked"), "Goals and cycle settings are locked", "it started two days ago: it runs")

	// The customer's postbacks, out of order: the trade first, the sign-up
	// (the earliest, with the geo) third, the deposits around it. Four of
	// them meet two of the three conditions; the fifth, a deposit that
	// takes the total over $200, completes the goal; a later trade and a
	// repeated deposit change nothing.
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	send := func(event, order string, at time.Duration, data ...string) postbackAnswer {
		p := url.Values{"token": {token}, "offer_id": {id(offerID)}, "partner_id": {id(partnerID)}, "user_id": {"trader-1"},
			"timestamp": {start.Add(at).Format(time.RFC3339)}}
		if event != "" {
			p.Set("event", event)
			p.Set("order_id", order)
		}
		for i := 0; i+1 < len(data); i += 2 {
			p.Set(data[i], data[i+1])
		}
		return b.postbackAnswer(p)
	}
	trade := send("trade", "t-1", 50*time.Minute, "trade", "150").ConversionID
	deposit1 := send("deposit", "d-1", 20*time.Minute, "deposit", "120").ConversionID
	signup := send("", "", 0, "geo", "EU1").ConversionID
	deposit2 := send("deposit", "d-2", 40*time.Minute, "deposit", "60").ConversionID // 180 in total: not yet
	settled := b.waitSettled(trade, deposit1, signup, deposit2)
	require.Equal(t, "50", settled[signup].Payout, "the sign-up's $50, no bonus yet")
	for _, cid := range []int64{trade, deposit1, deposit2} {
		require.Equal(t, "0", settled[cid].Payout, "conversion %d: no bonus yet", cid)
	}
	completing := send("deposit", "d-3", 30*time.Minute, "deposit", "30").ConversionID // 210: more than 200
	later := send("trade", "t-2", 60*time.Minute, "trade", "500").ConversionID
	again := send("deposit", "d-3", 30*time.Minute, "deposit", "30")
	require.True(t, again.Duplicate, "the repeated deposit is a duplicate")
	require.Equal(t, completing, again.ConversionID)
	settled = b.waitSettled(completing, later)
	require.Equal(t, "200", settled[completing].Payout, "the bonus, on the conversion that completes the goal")
	require.Equal(t, "0", settled[later].Payout, "once per customer: no second bonus")

	// The conversion report: the rule's name on that conversion alone, and
	// the $200 once in the totals.
	b.do(
		b.page("/console/conversions?user_id=trader-1"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-conversion="`+id(completing)+`"]`)),
	)
	rows := eval[[]string](b, `[...document.querySelectorAll("#conversions tbody tr")].filter(tr => tr.innerText.includes("High-Value Trader")).map(tr => tr.dataset.conversion)`)
	require.Equal(t, []string{id(completing)}, rows, "the rule is listed on one conversion")
	require.Equal(t, "$200.00", b.text(`tr[data-conversion="`+id(completing)+`"] td.payout`))
	require.Equal(t, 6, eval[int](b, `document.querySelectorAll("#conversions tbody tr[data-conversion]").length`), "six conversions, the duplicate not counted")
	require.Contains(t, b.text("#totals"), "$250.00", "the $50 sign-up and the $200 bonus")
	b.do(
		pick("#customer_value_rule_id", id(rec.ID)),
		chromedp.Click(chromedp.ID("apply-filters")),
		chromedp.WaitVisible(chromedp.CSS(`#conversions tbody tr`)),
	)
	require.Equal(t, []string{id(completing)}, eval[[]string](b, `[...document.querySelectorAll("#conversions tbody tr[data-conversion]")].map(tr => tr.dataset.conversion)`),
		"filtered by the rule: the one conversion")
	b.screenshot("value-rule-conversion-report")

	// The Conversion Events Report: every conversion with its data points,
	// one bonus line of +$200.00 on the completing one, the goal met and
	// the outcome given.
	b.do(
		b.page("/console/customers"),
		chromedp.SendKeys(chromedp.ID("user_id"), "trader-1"),
		chromedp.Click(chromedp.ID("show-report")),
		chromedp.WaitVisible(chromedp.ID("timeline")),
	)
	order := eval[[]string](b, `[...document.querySelectorAll("#timeline li[data-conversion]")].map(li => li.dataset.conversion)`)
	require.Equal(t, []string{id(signup), id(deposit1), id(completing), id(deposit2), id(trade), id(later)}, order, "in time order")
	bonuses := eval[[]string](b, `[...document.querySelectorAll("#timeline li[data-conversion]")].flatMap(li =>
		[...li.querySelectorAll("table.lines tbody tr")].filter(tr => tr.cells[1].innerText.trim() === "bonus").map(tr => li.dataset.conversion + " " + tr.cells[2].innerText.trim()))`)
	require.Equal(t, []string{id(completing) + " +$200.00"}, bonuses, "one bonus line, on the completing deposit")
	item := b.text(`#timeline li[data-conversion="` + id(completing) + `"]`)
	require.Contains(t, item, "deposit = 30")
	require.Contains(t, item, "High-Value Trader")
	require.Contains(t, b.text(`#timeline li[data-conversion="`+id(signup)+`"]`), "geo = EU1")
	progress := b.text("#progress")
	require.Contains(t, progress, "High-Value Trader")
	require.Contains(t, progress, "goal met")
	require.Contains(t, progress, "outcome given")
	require.Equal(t, 3, strings.Count(progress, "✓ met"), "all three conditions")
}
