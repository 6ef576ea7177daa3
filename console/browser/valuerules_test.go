package browser_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
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
		click("#new-rule"),
		chromedp.WaitVisible(chromedp.ID("rule-form")),
	)
}

// showTab shows one of the builder's tabs (general, timeframe, behavior): its
// panel alone shows.
func (b *testBundle) showTab(name string) {
	b.t.Helper()
	b.do(
		click("#tab-"+name),
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
		click(box+" > summary"),
		chromedp.WaitVisible(chromedp.CSS(byID(fmt.Sprintf("new_data_point[%d].name", i)))),
		fill(byID(fmt.Sprintf("new_data_point[%d].name", i)), name),
		fill(byID(fmt.Sprintf("new_data_point[%d].identifier", i)), identifier),
		pick(byID(fmt.Sprintf("new_data_point[%d].type", i)), typ),
		swapped("conditions", click(cond(i, "create"))),
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
	b.do(swapped("conditions", click("#add-condition")))
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
	if !assert.Eventually(b.t, func() bool {
		var err error
		got, err = b.tryText("#summary")
		return err == nil && got == want
	}, 10*time.Second, 50*time.Millisecond) {
		require.FailNowf(b.t, "the summary", "it reads %q, not %q", got, want)
	}
}

// tryText is an element's text, or the error of finding it within a
// moment: for conditions polled with assert.Eventually.
func (b *testBundle) tryText(css string) (string, error) {
	ctx, cancel := context.WithTimeout(b.tab, 2*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
}

// saveValueRule saves the builder and returns the saved rule.
func (b *testBundle) saveValueRule() store.CustomerValueRuleRecord {
	b.t.Helper()
	b.do(
		click("#save-rule"),
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

// TestConsoleBuildsThirtyDayRevShare builds seed 000's "30-Day RevShare"
// override: for one partner on the relevant offer, continuous from each
// user's first conversion for 30 days, no goal conditions, on all
// conversions, a custom payout of 10% RevShare. Inside the 30 days that
// partner's conversions pay 10% of the sale; from the 30th day to the
// second, on another offer, or for another partner, the offer default.
func TestConsoleBuildsThirtyDayRevShare(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})
	advID, token := b.advertiser("Acme Broker")
	offerID := b.offer(advID, "Trading account",
		offerEvent{Payout: "5.00", Revenue: "8.00"},
		offerEvent{Event: "deposit", Payout: "1.00", Revenue: "2.00", Repeatable: true})
	otherOffer := b.offer(advID, "Newsletter", offerEvent{Payout: "4.00", Revenue: "6.00"})
	star, other := b.partner("Rising Star"), b.partner("Blue Media")
	b.signIn()
	b.newValueRule()

	// General: the name, the partner and the offer, a start before the
	// first conversion; the rule applies on all conversions.
	b.do(
		typeIn(byID("rule.name"), "Partner 30-Day RevShare"),
		click(`input[name="partners_scope"][value="selected"]`),
		click(`input[name="rule.partner_ids"][value="`+id(star)+`"]`),
		click(`input[name="offers_scope"][value="selected"]`),
		click(`input[name="rule.offer_ids"][value="`+id(offerID)+`"]`),
		setValue(byID("rule.starts_at"), daysAgo(60)),
	)
	require.Equal(t, "all", run(b, chromedp.Value(chromedp.CSS(byID("rule.applies_on")))), "All conversions (base + events)")

	// Timeframe: continuous, from first conversion, 30 days.
	b.showTab("timeframe")
	require.True(t, eval[bool](b, `document.querySelector('input[name="cycle_kind"][value="continuous"]').checked`))
	require.True(t, eval[bool](b, `document.querySelector('input[name="rule.timeframe.anchor"][value="first_conversion"]').checked`))
	b.do(typeIn(byID("rule.timeframe.duration_days"), "30"))

	// Behavior: no goal conditions; a custom payout of 10% RevShare. On
	// the builder's default frequency the summary says it would pay on the
	// first conversion only; the seed's "all that user's activity" is every
	// conversion.
	b.showTab("behavior")
	b.do(
		click(`input[name="goals"][value="no"]`),
		pick(byID("rule.outcome.kind"), "override"),
		pick(byID("rule.outcome.payout.type"), "revshare"),
		typeIn(byID("rule.outcome.payout.percent"), "10"),
	)
	b.waitSummary("Pays Rising Star 10% RevShare of the sale amount instead of the usual payout on the first such conversion " +
		"of each customer they refer, within 30 days of their first conversion; on Trading account.")
	b.do(pick(byID("rule.outcome.frequency"), "every_conversion"))
	b.waitSummary("Pays Rising Star 10% RevShare of the sale amount instead of the usual payout on every conversion " +
		"of the customers they refer, within 30 days of their first conversion; on Trading account.")
	b.showTab("timeframe")
	b.screenshot("value-rule-timeframe")

	rec := b.saveValueRule()
	r := rec.Rule
	require.Equal(t, "Partner 30-Day RevShare", r.Name)
	require.Equal(t, []int64{star}, r.PartnerIDs, "the specific partner")
	require.Equal(t, []int64{offerID}, r.OfferIDs, "the relevant offer")
	require.Empty(t, r.AdvertiserIDs)
	require.Equal(t, customervalue.AppliesOnAll, r.AppliesOn)
	require.Equal(t, customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorFirstConversion, DurationDays: 30}, r.Timeframe)
	require.Empty(t, r.Conditions, "no goal conditions")
	o := r.Outcome
	require.Equal(t, customervalue.EveryConversion, o.Frequency, "all that user's activity")
	require.Equal(t, customervalue.TriggerInstant, o.Trigger)
	require.Equal(t, customervalue.KindOverride, o.Kind, "a custom payout")
	require.Equal(t, customervalue.RateRevShare, o.Payout.Type)
	require.Equal(t, "10", o.Payout.Percent.String())
	require.True(t, o.Payout.Amount.IsZero())
	require.Nil(t, o.RevenueAdjustment)

	// The partner's user converts 40 days ago on a $200 sale, deposits
	// $300 a second before day 30 and $300 at day 30; another partner's
	// user and the partner's user on another offer convert too.
	first := time.Now().UTC().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	send := func(offer, partner int64, user, order string, at time.Time, amount string) int64 {
		p := url.Values{"token": {token}, "offer_id": {id(offer)}, "partner_id": {id(partner)}, "user_id": {user},
			"amount": {amount}, "timestamp": {at.Format(time.RFC3339)}}
		if order != "" {
			p.Set("event", "deposit")
			p.Set("order_id", order)
		}
		return b.postback(p)
	}
	signup := send(offerID, star, "user-1", "", first, "200")
	inside := send(offerID, star, "user-1", "d-1", first.Add(30*24*time.Hour-time.Second), "300")
	outside := send(offerID, star, "user-1", "d-2", first.Add(30*24*time.Hour), "300")
	otherPartner := send(offerID, other, "user-2", "", first, "200")
	elsewhere := send(otherOffer, star, "user-3", "", first, "200")
	settled := b.waitSettled(signup, inside, outside, otherPartner, elsewhere)
	for cid, want := range map[int64]string{signup: "20", inside: "30", outside: "1", otherPartner: "5", elsewhere: "4"} {
		require.Equal(t, want, settled[cid].Payout, "conversion %d", cid)
	}

	// The conversion report shows the same, with the rule on the two
	// conversions inside the 30 days only.
	b.do(
		b.page("/console/conversions"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-conversion="`+id(elsewhere)+`"]`)),
	)
	for cid, want := range map[int64]string{signup: "$20.00", inside: "$30.00", outside: "$1.00", otherPartner: "$5.00", elsewhere: "$4.00"} {
		require.Equal(t, want, b.text(`tr[data-conversion="`+id(cid)+`"] td.payout`), "conversion %d", cid)
	}
	require.ElementsMatch(t, []string{id(signup), id(inside)},
		eval[[]string](b, `[...document.querySelectorAll("#conversions tbody tr")].filter(tr => tr.innerText.includes("Partner 30-Day RevShare")).map(tr => tr.dataset.conversion)`))

	// The deposit inside the window says why: the override replaced the
	// offer's $1.00.
	b.do(
		chromedp.Click(chromedp.CSS(`tr[data-conversion="`+id(inside)+`"] a`)),
		chromedp.WaitVisible(chromedp.ID("why")),
	)
	require.Equal(t, "$30.00", b.text("#payout"))
	layer := b.text(`article[data-layer="5"]`)
	require.Contains(t, layer, "decided the payout")
	require.Contains(t, layer, "Partner 30-Day RevShare")
}

// TestConsoleBuildsLevel10 builds seed 000's "iGaming Level-Up" bonus: a
// number data point Level Reached (parameter level), created from the
// condition row, and a rule "Level 10 Bonus" paying $25 once per customer
// when a single level is at least 10, whichever partner sent the user. The
// seed's outcome "Once per Customer | Custom Payout | Fixed Payout | $ 25"
// is the $25 it adds on top (its goal: "Pay a $25 bonus"; DESIGN §7):
// the builder's bonus, a fixed amount.
func TestConsoleBuildsLevel10(t *testing.T) {
	t.Parallel()
	b := setup(t, stack{temporal: true})
	advID, token := b.advertiser("Lucky Casino")
	offerID := b.offer(advID, "Install",
		offerEvent{Payout: "2.00", Revenue: "3.00"},
		offerEvent{Event: "level_up", Payout: "0.50", Revenue: "1.00", Repeatable: true})
	arcade, hub := b.partner("Arcade Ads"), b.partner("Game Hub")
	b.signIn()
	b.newValueRule()
	b.do(
		typeIn(byID("rule.name"), "Level 10 Bonus"),
		setValue(byID("rule.starts_at"), daysAgo(2)),
	)

	b.showTab("behavior")
	b.createDataPointInRow(0, "Level Reached", "level", "number")
	require.Equal(t, "level", run(b, chromedp.Value(chromedp.CSS(cond(0, "source")))))
	require.Equal(t, numberOperators, options(b, cond(0, "operator")), "a number data point: number operators at once")
	b.condition(0, "", "any", "gte", "10")
	require.Equal(t, "once_per_customer", run(b, chromedp.Value(chromedp.CSS(byID("rule.outcome.frequency")))))
	require.Equal(t, "bonus", run(b, chromedp.Value(chromedp.CSS(byID("rule.outcome.kind")))))
	require.Equal(t, "fixed", run(b, chromedp.Value(chromedp.CSS(byID("rule.outcome.payout.type")))))
	b.do(typeIn(byID("rule.outcome.payout.amount"), "25"))
	b.waitSummary("Pays a one-time $25.00 bonus to the partner whose referred customer, over their lifetime, has a single Level Reached of at least 10.")

	rec := b.saveValueRule()
	r := rec.Rule
	require.Equal(t, "Level 10 Bonus", r.Name)
	require.Empty(t, r.PartnerIDs, "from any partner")
	require.Equal(t, []customervalue.Condition{{Source: "level", Type: "number", Aggregation: "any", Operator: "gte", Value: "10"}}, r.Conditions)
	require.Equal(t, customervalue.OncePerCustomer, r.Outcome.Frequency)
	require.Equal(t, customervalue.TriggerInstant, r.Outcome.Trigger)
	require.Equal(t, customervalue.KindBonus, r.Outcome.Kind)
	require.Equal(t, customervalue.RateFixed, r.Outcome.Payout.Type)
	require.Equal(t, "25", r.Outcome.Payout.Amount.String())
	dps, err := b.store.DataPoints(context.Background(), store.DataPointFilter{})
	require.NoError(t, err)
	require.Len(t, dps, 1)
	require.Equal(t, "Level Reached", dps[0].Name)
	require.Equal(t, "level", dps[0].Identifier)
	require.Equal(t, store.DataPointNumber, dps[0].Type)

	// A level that is not a number is a bad postback naming the parameter.
	resp, err := http.Get(b.url + "/postback?" + url.Values{"token": {token}, "offer_id": {id(offerID)}, "partner_id": {id(arcade)},
		"user_id": {"player-1"}, "level": {"ten"}}.Encode())
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", raw)
	require.Contains(t, string(raw), "level")

	// player-1, sent by Arcade Ads, reaches level 9, then level 10 on a
	// level-up that Game Hub sent, then 12; player-2 stops at 9.99.
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	send := func(partner int64, user, order, level string, at time.Duration) int64 {
		p := url.Values{"token": {token}, "offer_id": {id(offerID)}, "partner_id": {id(partner)}, "user_id": {user},
			"level": {level}, "timestamp": {start.Add(at).Format(time.RFC3339)}}
		if order != "" {
			p.Set("event", "level_up")
			p.Set("order_id", order)
		}
		return b.postback(p)
	}
	install := send(arcade, "player-1", "", "1", 0)
	level9 := send(arcade, "player-1", "p1-9", "9", time.Minute)
	level10 := send(hub, "player-1", "p1-10", "10", 2*time.Minute)
	level12 := send(arcade, "player-1", "p1-12", "12", 3*time.Minute)
	other := send(arcade, "player-2", "", "3", 0)
	almost := send(arcade, "player-2", "p2-9", "9.99", time.Minute)
	settled := b.waitSettled(install, level9, level10, level12, other, almost)
	for cid, want := range map[int64]string{install: "2", level9: "0.5", level10: "25.5", level12: "0.5", other: "2", almost: "0.5"} {
		require.Equal(t, want, settled[cid].Payout, "conversion %d", cid)
	}
	require.Equal(t, hub, settled[level10].PartnerID, "the bonus goes to the partner of the conversion that reached level 10")

	// The conversion report lists the rule on that conversion alone.
	b.do(
		b.page("/console/conversions"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-conversion="`+id(almost)+`"]`)),
	)
	require.Equal(t, []string{id(level10)},
		eval[[]string](b, `[...document.querySelectorAll("#conversions tbody tr")].filter(tr => tr.innerText.includes("Level 10 Bonus")).map(tr => tr.dataset.conversion)`))
	require.Equal(t, "$25.50", b.text(`tr[data-conversion="`+id(level10)+`"] td.payout`))

	// The Conversion Events Report: the level of each conversion and one
	// $25.00 bonus line.
	b.do(
		b.page("/console/customers"),
		chromedp.SendKeys(chromedp.ID("user_id"), "player-1"),
		chromedp.Click(chromedp.ID("show-report")),
		chromedp.WaitVisible(chromedp.ID("timeline")),
	)
	bonuses := eval[[]string](b, `[...document.querySelectorAll("#timeline li[data-conversion]")].flatMap(li =>
		[...li.querySelectorAll("table.lines tbody tr")].filter(tr => tr.cells[1].innerText.trim() === "bonus").map(tr => li.dataset.conversion + " " + tr.cells[2].innerText.trim()))`)
	require.Equal(t, []string{id(level10) + " +$25.00"}, bonuses)
	require.Contains(t, b.text(`#timeline li[data-conversion="`+id(level10)+`"]`), "level = 10")
	require.Contains(t, b.text(`#timeline li[data-conversion="`+id(level10)+`"]`), "Game Hub")
	require.Contains(t, b.text("#progress"), "outcome given")
}
