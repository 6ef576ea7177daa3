package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
)

// traderForm is seed 000's High-Value Trader as the builder posts it, with
// the geo data point created from the first condition row.
func traderForm() url.Values {
	return url.Values{
		"rule.name": {"High-Value Trader"}, "status": {"active"},
		"partners_scope": {"all"}, "offers_scope": {"all"}, "advertisers_scope": {"all"},
		"rule.applies_on": {"all"}, "rule.starts_at": {"2024-01-01T00:00"},
		"cycle_kind": {"continuous"}, "rule.timeframe.anchor": {"first_conversion"},
		"goals":                          {"yes"},
		"rule.conditions[0].source":      {"geo"},
		"rule.conditions[0].aggregation": {"any"},
		"rule.conditions[0].operator":    {"eq"},
		"rule.conditions[0].value":       {"EU1"},
		"rule.conditions[1].source":      {"deposit"},
		"rule.conditions[1].aggregation": {"sum"},
		"rule.conditions[1].operator":    {"gt"},
		"rule.conditions[1].value":       {"200"},
		"rule.conditions[2].source":      {"trade"},
		"rule.conditions[2].aggregation": {"any"},
		"rule.conditions[2].operator":    {"gte"},
		"rule.conditions[2].value":       {"100"},
		"data_points[0].name":            {"Geo"}, "data_points[0].identifier": {"geo"}, "data_points[0].type": {"text"},
		"grouping_kind":          {"all"},
		"rule.outcome.frequency": {"once_per_customer"}, "rule.outcome.trigger": {"instant"}, "rule.outcome.kind": {"bonus"},
		"rule.outcome.payout.type": {"fixed"}, "rule.outcome.payout.amount": {"200"},
	}
}

func (b *testBundle) numberDataPoints(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := b.store.CreateDataPoint(context.Background(), strings.ToUpper(id[:1])+id[1:], id, store.DataPointNumber)
		require.NoError(t, err)
	}
}

func TestConsoleCustomerValueBuilder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("NewShowsTheThreeTabs", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		p := b.mustGet("/console/customer-value-rules/new")
		for _, tab := range []string{`data-panel="general"`, `data-panel="timeframe"`, `data-panel="behavior"`, "Apply rule on", "Goal cycle",
			"All together", "Separately by", "Set goal conditions", "From first conversion", "Once per customer", "Revenue Share (RPS)"} {
			require.Contains(t, p.Body, tab)
		}
		require.Contains(t, p.Body, `<option value="">Choose a data point first</option>`, "no source yet: no operators")
	})
	t.Run("SavesWhatTheAPIWouldAndCreatesTheInlineDataPoint", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		b.numberDataPoints(t, "deposit", "trade")
		p := b.post("/console/customer-value-rules", traderForm())
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		id := regexp.MustCompile(`/console/customer-value-rules/(\d+)$`).FindStringSubmatch(p.Location)
		require.NotNil(t, id, p.Location)
		rules, err := b.store.CustomerValueRules(ctx, store.CustomerValueRuleFilter{})
		require.NoError(t, err)
		require.Len(t, rules, 1)
		r := rules[0].Rule
		require.Equal(t, "High-Value Trader", r.Name)
		require.True(t, r.Active)
		require.Equal(t, []customervalue.Condition{
			{Source: "geo", Type: "text", Aggregation: "any", Operator: "eq", Value: "EU1"},
			{Source: "deposit", Type: "number", Aggregation: "sum", Operator: "gt", Value: "200"},
			{Source: "trade", Type: "number", Aggregation: "any", Operator: "gte", Value: "100"},
		}, r.Conditions)
		require.Equal(t, customervalue.Timeframe{Cycle: "continuous", Anchor: "first_conversion"}, r.Timeframe)
		require.Equal(t, "200", r.Outcome.Payout.Amount.String())
		require.Equal(t, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), r.StartsAt, "the network's zone is UTC")
		dps, err := b.store.ActiveDataPoints(ctx)
		require.NoError(t, err)
		require.Len(t, dps, 3, "geo created with the rule")
		page := b.mustGet(p.Location)
		require.Contains(t, html.UnescapeString(page.Body), `Pays a one-time $200.00 bonus to the partner whose referred customer, over their lifetime, `+
			`has Geo "EU1", a total Deposit of more than 200 and a single Trade of at least 100, in any order.`)
	})
	t.Run("ProblemsNextToTheirFieldsAndNothingSaved", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		b.numberDataPoints(t, "deposit")
		form := traderForm()
		form.Set("rule.conditions[1].operator", "in")       // in does not fit a number
		form.Set("rule.conditions[2].source", "no_such")    // unknown data point
		form.Set("rule.outcome.payout.amount", "200 USD")   // does not parse
		form.Set("data_points[0].identifier", "Not Lower")  // not an identifier
		form.Set("rule.timeframe.duration_days", "a month") // not a number
		p := b.post("/console/customer-value-rules", form)
		require.Equal(t, http.StatusBadRequest, p.Status)
		body := html.UnescapeString(p.Body)
		require.Contains(t, body, `operator: "in" does not fit a number`)
		require.Contains(t, body, `source: unknown data point "no_such"`)
		requireField(t, p, "rule.outcome.payout.amount", `must be a number`)
		requireField(t, p, "rule.timeframe.duration_days", "must be a whole number of days")
		require.Contains(t, body, "identifier: must be lower-case letters")
		require.Regexp(t, `name="rule.conditions\[1\].operator"[^>]*aria-invalid="true"`, p.Body)
		rules, err := b.store.CustomerValueRules(ctx, store.CustomerValueRuleFilter{})
		require.NoError(t, err)
		require.Empty(t, rules, "nothing saved")
		require.Contains(t, p.Body, `value="EU1"`, "what was typed stays")
	})
	t.Run("OperatorsFollowTheSourceType", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		b.numberDataPoints(t, "deposit")
		form := url.Values{"rule.conditions[0].source": {"deposit"}, "rule.conditions[0].aggregation": {"any"}, "goals": {"yes"}}
		p := b.post("/console/customer-value-rules/draft", form)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		require.Equal(t, []string{"gt", "gte", "lt", "lte", "eq", "between"}, operatorsOf(t, p, 0), "customervalue.OperatorsFor(number)")
		_, err := b.store.CreateDataPoint(ctx, "Geo", "geo", store.DataPointText)
		require.NoError(t, err)
		form.Set("rule.conditions[0].source", "geo")
		require.Equal(t, []string{"eq", "ne", "in"}, operatorsOf(t, b.post("/console/customer-value-rules/draft", form), 0))
		form.Set("rule.conditions[0].aggregation", "count")
		require.Equal(t, []string{"gt", "gte", "lt", "lte", "eq", "between"}, operatorsOf(t, b.post("/console/customer-value-rules/draft", form), 0),
			"a count is a number whatever it counts")
	})
	t.Run("DataPointFromTheConditionRow", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		form := url.Values{"goals": {"yes"}, "rule.conditions[0].source": {""}, "action": {"create_data_point:0"},
			"new_data_point[0].name": {"Geo"}, "new_data_point[0].identifier": {"geo"}, "new_data_point[0].type": {"text"}}
		p := b.post("/console/customer-value-rules/draft", form)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		require.Regexp(t, `<option value="geo" data-type="text" selected>Geo \(geo, text\), new: created with the rule</option>`, p.Body, "usable at once")
		require.Contains(t, p.Body, `name="data_points[0].identifier" value="geo"`, "sent with the rule when it is saved")
		require.Equal(t, []string{"eq", "ne", "in"}, operatorsOf(t, p, 0))
		dps, err := b.store.DataPoints(ctx, store.DataPointFilter{})
		require.NoError(t, err)
		require.Empty(t, dps, "nothing written before the rule is saved")

		_, err = b.store.CreateDataPoint(ctx, "Level", "level", store.DataPointNumber)
		require.NoError(t, err)
		form.Set("new_data_point[0].identifier", "level")
		p = b.post("/console/customer-value-rules/draft", form)
		require.Contains(t, html.UnescapeString(p.Body), `"level" is taken by data point`, "the store's check of an inline data point")
		require.NotContains(t, p.Body, `name="data_points[0].identifier"`)
	})
	t.Run("LockedOnceItHasRunAndPauseResume", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		b.numberDataPoints(t, "deposit", "trade")
		require.Equal(t, http.StatusSeeOther, b.post("/console/customer-value-rules", traderForm()).Status)
		rules, err := b.store.CustomerValueRules(ctx, store.CustomerValueRuleFilter{})
		require.NoError(t, err)
		path := "/console/customer-value-rules/" + itoa(rules[0].ID)
		p := b.mustGet(path)
		require.Contains(t, p.Body, `id="locked"`, "it started in 2024: it has run")
		require.Contains(t, p.Body, "Goals and cycle settings are locked")
		require.Regexp(t, `name="rule.conditions\[0\].operator" disabled`, p.Body)

		// The form as a browser sends it: the locked inputs are disabled,
		// so not sent; the amount and the name change.
		form := traderForm()
		for k := range form {
			if strings.HasPrefix(k, "rule.conditions") || k == "cycle_kind" || k == "rule.outcome.kind" {
				form.Del(k)
			}
		}
		form.Del("data_points[0].name")
		form.Del("data_points[0].identifier")
		form.Del("data_points[0].type")
		form.Set("rule.name", "High-Value Trader (raised)")
		form.Set("rule.outcome.payout.amount", "250")
		form.Set("rule_id", itoa(rules[0].ID))
		p = b.post(path, form)
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		saved, err := b.store.CustomerValueRule(ctx, rules[0].ID)
		require.NoError(t, err)
		require.Equal(t, "High-Value Trader (raised)", saved.Name)
		require.Equal(t, "250", saved.Outcome.Payout.Amount.String())
		require.Len(t, saved.Conditions, 3, "the locked goals stay as they run")

		require.Equal(t, http.StatusSeeOther, b.post(path+"/pause", nil).Status)
		require.Contains(t, b.mustGet(path).Body, `<span class="badge paused" id="lifecycle">paused</span>`)
		require.Contains(t, b.mustGet(path).Body, `id="locked"`, "paused, it stays locked")
		require.Equal(t, http.StatusSeeOther, b.post(path+"/resume", nil).Status)
		require.Contains(t, b.mustGet(path).Body, `<span class="badge running" id="lifecycle">running</span>`)
	})
	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t).admin()
		b.numberDataPoints(t, "deposit", "trade")
		require.Equal(t, http.StatusSeeOther, b.post("/console/customer-value-rules", traderForm()).Status)
		p := b.mustGet("/console/customer-value-rules")
		require.Contains(t, p.Body, "High-Value Trader")
		require.Contains(t, p.Body, "Pays a one-time $200.00 bonus")
		require.Contains(t, p.Body, "<code>geo</code>")
	})
}

var operatorOption = regexp.MustCompile(`<option value="([a-z]+)"`)

// operatorsOf returns the operators condition row i offers.
func operatorsOf(t *testing.T, p page, i int) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<select id="cond-` + itoa(int64(i)) + `-operator".*?</select>`).FindString(p.Body)
	require.NotEmpty(t, m, "no operator select in row %d", i)
	var ops []string
	for _, o := range operatorOption.FindAllStringSubmatch(m, -1) {
		ops = append(ops, o[1])
	}
	return ops
}
