package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/store"
)

// ruleView as a client reads it.
type cvRule struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Active      bool       `json:"active"`
	Status      string     `json:"status"`
	Lifecycle   string     `json:"lifecycle"`
	GoalsLocked bool       `json:"goals_locked"`
	CreatedAt   time.Time  `json:"created_at"`
	StartsAt    time.Time  `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
	Timeframe   struct {
		Cycle string `json:"cycle"`
	} `json:"timeframe"`
	Conditions []struct {
		Source   string `json:"source"`
		Type     string `json:"type"`
		Operator string `json:"operator"`
		Value    string `json:"value"`
	} `json:"conditions"`
	Outcome struct {
		Payout struct {
			Amount string `json:"amount"`
		} `json:"payout"`
	} `json:"outcome"`
	CreatedDataPoints []store.DataPoint `json:"created_data_points"`
}

// traderRule is the seed's High-Value Trader bonus: $200 once per customer
// when the geo is EU1, deposits total over 200 and a trade is at least 100.
// Its condition types are left for the server to fill in.
func traderRule(startsAt time.Time) map[string]any {
	return map[string]any{
		"name":       "High-Value Trader",
		"applies_on": "all",
		"starts_at":  startsAt.UTC().Format(time.RFC3339),
		"timeframe":  map[string]any{"cycle": "continuous", "anchor": "first_conversion"},
		"grouping":   "all",
		"conditions": []map[string]any{
			{"source": "geo", "aggregation": "any", "operator": "eq", "value": "EU1"},
			{"source": "deposit", "aggregation": "sum", "operator": "gt", "value": "200"},
			{"source": "trade", "aggregation": "max", "operator": "gte", "value": "100"},
		},
		"outcome": map[string]any{
			"frequency": "once_per_customer",
			"trigger":   "instant",
			"kind":      "bonus",
			"payout":    map[string]any{"type": "fixed", "amount": "200"},
		},
	}
}

// traderDataPoints are the data points the trader rule reads.
func traderDataPoints() []map[string]any {
	return []map[string]any{
		{"name": "Geo", "identifier": "geo", "type": "text"},
		{"name": "Deposit", "identifier": "deposit", "type": "number"},
		{"name": "Trade", "identifier": "trade", "type": "number"},
	}
}

func (b *testBundle) dataPoint(t *testing.T, identifier, typ string) store.DataPoint {
	t.Helper()
	return decode[store.DataPoint](t, b.admin(t, http.StatusCreated, "POST", "/data-points",
		map[string]any{"name": identifier, "identifier": identifier, "type": typ}))
}

func (b *testBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

func TestCustomerValueRuleCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)

	t.Run("InlineDataPoints", func(t *testing.T) {
		rec := b.admin(t, http.StatusCreated, "POST", "/customer-value-rules",
			map[string]any{"rule": traderRule(start), "data_points": traderDataPoints()})
		rule := decode[cvRule](t, rec)
		require.Positive(t, rule.ID)
		require.Equal(t, "High-Value Trader", rule.Name)
		require.True(t, rule.Active)
		require.Equal(t, store.CustomerValueActive, rule.Status)
		require.Equal(t, store.LifecycleRunning, rule.Lifecycle)
		require.Len(t, rule.CreatedDataPoints, 3)
		for _, dp := range rule.CreatedDataPoints {
			require.Positive(t, dp.ID)
			require.True(t, dp.Active)
		}
		require.Len(t, rule.Conditions, 3)
		require.Equal(t, "text", rule.Conditions[0].Type, "types are filled in from the data points")
		require.Equal(t, "number", rule.Conditions[1].Type)

		got := decode[cvRule](t, b.admin(t, http.StatusOK, "GET", fmt.Sprintf("/customer-value-rules/%d", rule.ID), nil))
		require.Equal(t, rule.ID, got.ID)
		require.Empty(t, got.CreatedDataPoints)
		require.Equal(t, "number", got.Conditions[2].Type)

		// What the workflow side reads.
		active, err := b.store.ActiveCustomerValueRules(context.Background())
		require.NoError(t, err)
		require.Len(t, active, 1)
		require.Equal(t, rule.ID, active[0].ID)
		require.Equal(t, "High-Value Trader", active[0].Name)
		require.True(t, active[0].Active)
		require.False(t, active[0].CreatedAt.IsZero())
		require.EqualValues(t, "number", active[0].Conditions[1].Type)
		one, err := b.store.CustomerValueRule(context.Background(), rule.ID)
		require.NoError(t, err)
		require.Equal(t, active[0], one)
	})

	t.Run("BadRuleLeavesNoDataPoint", func(t *testing.T) {
		rule := traderRule(start)
		rule["conditions"] = []map[string]any{
			{"source": "level", "aggregation": "max", "operator": "gte", "value": "10"},
			{"source": "country", "aggregation": "any", "operator": "gt", "value": "EU1"},
		}
		before := b.count(t, "data_points")
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{
			"rule": rule,
			"data_points": []map[string]any{
				{"name": "Level reached", "identifier": "level", "type": "number"},
				{"name": "Country", "identifier": "country", "type": "text"},
			},
		})
		require.Equal(t, []string{"rule.conditions[1].operator"}, problemFields(t, rec))
		require.Equal(t, before, b.count(t, "data_points"), "the inline data points are rolled back with the rule")
	})

	t.Run("BadInlineDataPointLeavesNoRule", func(t *testing.T) {
		rules := b.count(t, "customer_value_rules")
		dps := b.count(t, "data_points")
		rule := traderRule(start)
		rule["conditions"] = []map[string]any{{"source": "level2", "aggregation": "max", "operator": "gte", "value": "10"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{
			"rule": rule,
			"data_points": []map[string]any{
				{"name": "Level", "identifier": "level2", "type": "number"},
				{"name": "Bad", "identifier": "Bad-Name", "type": "text"},
				{"name": "Geo again", "identifier": "geo", "type": "text"},
				{"name": "Level twice", "identifier": "level2", "type": "number"},
				{"name": "Amount", "identifier": "amount", "type": "number"},
				{"name": "", "identifier": "colour", "type": "date"},
			},
		})
		require.Equal(t, []string{
			"data_points[1].identifier",
			"data_points[2].identifier",
			"data_points[3].identifier",
			"data_points[4].identifier",
			"data_points[5].name",
			"data_points[5].type",
		}, problemFields(t, rec))
		require.Equal(t, rules, b.count(t, "customer_value_rules"))
		require.Equal(t, dps, b.count(t, "data_points"))
	})

	t.Run("EveryProblemAtOnce", func(t *testing.T) {
		rule := traderRule(start)
		rule["name"] = ""
		rule["partner_ids"] = []int64{999}
		rule["conditions"] = []map[string]any{{"source": "nowhere", "aggregation": "any", "operator": "eq", "value": "x"}}
		rule["outcome"] = map[string]any{"frequency": "once_per_customer", "trigger": "instant", "kind": "bonus",
			"payout": map[string]any{"type": "revshare", "percent": "10"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.ElementsMatch(t, []string{"rule.name", "rule.conditions[0].source", "rule.outcome.payout.type", "rule.partner_ids[0]"},
			problemFields(t, rec))
	})

	t.Run("UnparseableValueNamed", func(t *testing.T) {
		rule := traderRule(start)
		rule["starts_at"] = "yesterday"
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.Equal(t, []string{"rule.starts_at"}, problemFields(t, rec))
	})

	t.Run("UnknownField", func(t *testing.T) {
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": traderRule(start), "datapoints": []any{}})
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	})
}

func TestCustomerValueRuleValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dataPoint(t, "geo", "text")
	b.dataPoint(t, "deposit", "number")
	start := time.Now().Add(time.Hour)

	t.Run("OperatorDoesNotFitType", func(t *testing.T) {
		rule := traderRule(start)
		rule["conditions"] = []map[string]any{{"source": "geo", "aggregation": "any", "operator": "gt", "value": "EU1"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.Equal(t, []string{"rule.conditions[0].operator"}, problemFields(t, rec))
	})

	t.Run("TextDataPointInNumericCondition", func(t *testing.T) {
		rule := traderRule(start)
		rule["conditions"] = []map[string]any{{"source": "geo", "aggregation": "sum", "operator": "gt", "value": "200"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.Equal(t, []string{"rule.conditions[0].aggregation"}, problemFields(t, rec))
	})

	t.Run("WrongTypeSent", func(t *testing.T) {
		rule := traderRule(start)
		rule["conditions"] = []map[string]any{{"source": "geo", "type": "number", "aggregation": "max", "operator": "gt", "value": "200"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.Contains(t, problemFields(t, rec), "rule.conditions[0].type")
	})

	t.Run("EndOfCycleOnEndlessContinuousCycle", func(t *testing.T) {
		rule := traderRule(start)
		rule["conditions"] = []map[string]any{{"source": "deposit", "aggregation": "sum", "operator": "gt", "value": "200"}}
		rule["outcome"] = map[string]any{"frequency": "once_per_customer", "trigger": "end_of_cycle", "kind": "bonus",
			"payout": map[string]any{"type": "fixed", "amount": "50"}}
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.Equal(t, []string{"rule.outcome.trigger"}, problemFields(t, rec))

		// With an end it is fine.
		rule["ends_at"] = start.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		b.admin(t, http.StatusCreated, "POST", "/customer-value-rules", map[string]any{"rule": rule})
	})

	t.Run("EventNameMustMatchPostbacks", func(t *testing.T) {
		rule := traderRule(start)
		rule["applies_on"] = "event"
		rule["event"] = "Deposit"
		rule["conditions"] = nil
		rec := b.do(t, adminKey, "POST", "/customer-value-rules", map[string]any{"rule": rule})
		require.Equal(t, []string{"rule.event"}, problemFields(t, rec))
	})
}

func TestCustomerValueRuleReplace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	create := func(t *testing.T, startsAt time.Time) cvRule {
		t.Helper()
		body := map[string]any{"rule": traderRule(startsAt)}
		if b.count(t, "data_points") == 0 {
			body["data_points"] = traderDataPoints()
		}
		return decode[cvRule](t, b.admin(t, http.StatusCreated, "POST", "/customer-value-rules", body))
	}
	path := func(id int64) string { return fmt.Sprintf("/customer-value-rules/%d", id) }

	t.Run("RunningGoalsLocked", func(t *testing.T) {
		running := create(t, time.Now().Add(-24*time.Hour))
		require.Equal(t, store.LifecycleRunning, running.Lifecycle)
		rule := traderRule(running.StartsAt)
		rule["conditions"].([]map[string]any)[1]["value"] = "300"
		rule["timeframe"] = map[string]any{"cycle": "monthly", "anchor": "first_conversion"}
		rec := b.admin(t, http.StatusConflict, "PUT", path(running.ID), map[string]any{"rule": rule})
		body := decode[errorBody](t, rec)
		require.Equal(t, "conflict", body.Error.Code)
		require.Contains(t, body.Error.Message, "rule.conditions")
		require.Contains(t, body.Error.Message, "rule.timeframe.cycle")

		got := decode[cvRule](t, b.admin(t, http.StatusOK, "GET", path(running.ID), nil))
		require.Equal(t, "200", got.Conditions[1].Value, "nothing changed")
		require.Equal(t, "continuous", got.Timeframe.Cycle)
	})

	t.Run("RunningAmountsAndNameChange", func(t *testing.T) {
		running := create(t, time.Now().Add(-24*time.Hour))
		rule := traderRule(running.StartsAt)
		rule["name"] = "High-Value Trader 2"
		rule["outcome"].(map[string]any)["payout"] = map[string]any{"type": "fixed", "amount": "250"}
		// 200.00 is the same number as 200: not a change of the goal.
		rule["conditions"].([]map[string]any)[1]["value"] = "200.00"
		got := decode[cvRule](t, b.admin(t, http.StatusOK, "PUT", path(running.ID), map[string]any{"rule": rule}))
		require.Equal(t, "High-Value Trader 2", got.Name)
		require.Equal(t, "250", got.Outcome.Payout.Amount)
		require.Equal(t, running.CreatedAt, got.CreatedAt, "the creation time orders overrides and stays")
	})

	t.Run("ScheduledGoalsEditable", func(t *testing.T) {
		scheduled := create(t, time.Now().Add(48*time.Hour))
		require.Equal(t, store.LifecycleScheduled, scheduled.Lifecycle)
		rule := traderRule(scheduled.StartsAt.Add(time.Hour))
		rule["conditions"].([]map[string]any)[1]["value"] = "300"
		rule["timeframe"] = map[string]any{"cycle": "monthly", "anchor": "first_conversion"}
		got := decode[cvRule](t, b.admin(t, http.StatusOK, "PUT", path(scheduled.ID), map[string]any{"rule": rule}))
		require.Equal(t, "300", got.Conditions[1].Value)
		require.Equal(t, "monthly", got.Timeframe.Cycle)
		require.Equal(t, store.LifecycleScheduled, got.Lifecycle)
	})

	t.Run("PausedAfterRunningGoalsStayLocked", func(t *testing.T) {
		r := create(t, time.Now().Add(-24*time.Hour))
		require.True(t, r.GoalsLocked)
		paused := decode[cvRule](t, b.admin(t, http.StatusOK, "POST", path(r.ID)+"/pause", nil))
		require.Equal(t, store.LifecyclePaused, paused.Lifecycle)
		require.True(t, paused.GoalsLocked, "a rule that has run keeps its goals")
		rule := traderRule(r.StartsAt)
		rule["conditions"].([]map[string]any)[1]["value"] = "300"
		rec := b.admin(t, http.StatusConflict, "PUT", path(r.ID), map[string]any{"rule": rule})
		require.Contains(t, decode[errorBody](t, rec).Error.Message, "rule.conditions")
		// Resumed, it is still the rule it was.
		b.admin(t, http.StatusOK, "POST", path(r.ID)+"/resume", nil)
		got := decode[cvRule](t, b.admin(t, http.StatusOK, "GET", path(r.ID), nil))
		require.Equal(t, "200", got.Conditions[1].Value)
		// The name and amounts still change while paused.
		b.admin(t, http.StatusOK, "POST", path(r.ID)+"/pause", nil)
		rule = traderRule(r.StartsAt)
		rule["name"] = "Paused trader"
		got = decode[cvRule](t, b.admin(t, http.StatusOK, "PUT", path(r.ID), map[string]any{"rule": rule}))
		require.Equal(t, "Paused trader", got.Name)
		require.Equal(t, store.CustomerValuePaused, got.Status, "active absent keeps the status")
	})

	t.Run("NeverRunGoalsEditable", func(t *testing.T) {
		// Created paused with a start in the past: it never ran.
		paused := traderRule(time.Now().Add(-24 * time.Hour))
		paused["active"] = false
		body := map[string]any{"rule": paused}
		if b.count(t, "data_points") == 0 {
			body["data_points"] = traderDataPoints()
		}
		r := decode[cvRule](t, b.admin(t, http.StatusCreated, "POST", "/customer-value-rules", body))
		require.Equal(t, store.LifecyclePaused, r.Lifecycle)
		require.False(t, r.GoalsLocked)
		rule := traderRule(r.StartsAt)
		rule["conditions"].([]map[string]any)[1]["value"] = "300"
		got := decode[cvRule](t, b.admin(t, http.StatusOK, "PUT", path(r.ID), map[string]any{"rule": rule}))
		require.Equal(t, "300", got.Conditions[1].Value)
	})

	t.Run("InvalidBeforeLocked", func(t *testing.T) {
		running := create(t, time.Now().Add(-24*time.Hour))
		rule := traderRule(running.StartsAt)
		rule["conditions"].([]map[string]any)[0]["operator"] = "gte"
		rec := b.do(t, adminKey, "PUT", path(running.ID), map[string]any{"rule": rule})
		require.Equal(t, []string{"rule.conditions[0].operator"}, problemFields(t, rec))
	})

	t.Run("RoundTrip", func(t *testing.T) {
		r := create(t, time.Now().Add(-time.Hour))
		raw := decode[map[string]any](t, b.admin(t, http.StatusOK, "GET", path(r.ID), nil))
		got := decode[cvRule](t, b.admin(t, http.StatusOK, "PUT", path(r.ID), map[string]any{"rule": raw}))
		require.Equal(t, r.ID, got.ID)
	})

	t.Run("InlineDataPointOnReplace", func(t *testing.T) {
		scheduled := create(t, time.Now().Add(48*time.Hour))
		rule := traderRule(scheduled.StartsAt)
		rule["conditions"] = append(rule["conditions"].([]map[string]any),
			map[string]any{"source": "vip", "aggregation": "latest", "operator": "in", "values": []string{"gold", "platinum"}})
		got := decode[cvRule](t, b.admin(t, http.StatusOK, "PUT", path(scheduled.ID), map[string]any{
			"rule": rule, "data_points": []map[string]any{{"name": "VIP level", "identifier": "vip", "type": "text"}},
		}))
		require.Len(t, got.CreatedDataPoints, 1)
		require.Equal(t, "text", got.Conditions[3].Type)
	})

	t.Run("NotFound", func(t *testing.T) {
		b.admin(t, http.StatusNotFound, "PUT", path(9999), map[string]any{"rule": traderRule(time.Now())})
		b.admin(t, http.StatusNotFound, "GET", path(9999), nil)
		b.admin(t, http.StatusNotFound, "POST", path(9999)+"/pause", nil)
	})
}

func TestCustomerValueRuleLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	body := func(name string, startsAt time.Time, endsAt *time.Time, active *bool) map[string]any {
		rule := traderRule(startsAt)
		rule["name"] = name
		if endsAt != nil {
			rule["ends_at"] = endsAt.UTC().Format(time.RFC3339)
		}
		if active != nil {
			rule["active"] = *active
		}
		return map[string]any{"rule": rule}
	}
	b.dataPoint(t, "geo", "text")
	b.dataPoint(t, "deposit", "number")
	b.dataPoint(t, "trade", "number")
	ended := now.Add(-time.Hour)
	paused := false
	create := func(t *testing.T, body map[string]any) cvRule {
		t.Helper()
		return decode[cvRule](t, b.admin(t, http.StatusCreated, "POST", "/customer-value-rules", body))
	}
	scheduled := create(t, body("Scheduled", now.Add(24*time.Hour), nil, nil))
	running := create(t, body("Running", now.Add(-24*time.Hour), nil, nil))
	expired := create(t, body("Expired", now.Add(-48*time.Hour), &ended, nil))
	pausedRule := create(t, body("Paused", now.Add(-24*time.Hour), nil, &paused))

	t.Run("Values", func(t *testing.T) {
		require.Equal(t, store.LifecycleScheduled, scheduled.Lifecycle)
		require.Equal(t, store.LifecycleRunning, running.Lifecycle)
		require.Equal(t, store.LifecycleExpired, expired.Lifecycle)
		require.Equal(t, store.LifecyclePaused, pausedRule.Lifecycle)
		require.Equal(t, store.CustomerValuePaused, pausedRule.Status)
		require.False(t, pausedRule.Active)
	})

	t.Run("PauseAndResume", func(t *testing.T) {
		path := fmt.Sprintf("/customer-value-rules/%d", running.ID)
		for range 2 {
			got := decode[cvRule](t, b.admin(t, http.StatusOK, "POST", path+"/pause", nil))
			require.Equal(t, store.LifecyclePaused, got.Lifecycle)
			require.Equal(t, store.CustomerValuePaused, got.Status)
		}
		active, err := b.store.ActiveCustomerValueRules(context.Background())
		require.NoError(t, err)
		for _, r := range active {
			require.NotEqual(t, running.ID, r.ID, "a paused rule is not active")
		}
		for range 2 {
			got := decode[cvRule](t, b.admin(t, http.StatusOK, "POST", path+"/resume", nil))
			require.Equal(t, store.LifecycleRunning, got.Lifecycle)
			require.True(t, got.Active)
		}
	})

	t.Run("ListFilters", func(t *testing.T) {
		names := func(query string) []string {
			l := decode[listBody[cvRule]](t, b.admin(t, http.StatusOK, "GET", "/customer-value-rules"+query, nil))
			out := []string{}
			for _, r := range l.Items {
				out = append(out, r.Name)
			}
			return out
		}
		require.Equal(t, []string{"Scheduled", "Running", "Expired", "Paused"}, names(""))
		require.Equal(t, []string{"Paused"}, names("?status=paused"))
		require.Equal(t, []string{"Scheduled", "Running", "Expired"}, names("?status=active"))
		require.Equal(t, []string{"Expired"}, names("?lifecycle=expired"))
		require.Equal(t, []string{"Running"}, names("?lifecycle=running&limit=1"))
		require.Equal(t, []string{"Scheduled"}, names("?lifecycle=scheduled"))

		page := decode[listBody[cvRule]](t, b.admin(t, http.StatusOK, "GET", "/customer-value-rules?limit=3", nil))
		require.Len(t, page.Items, 3)
		require.NotEmpty(t, page.NextCursor)
		rest := decode[listBody[cvRule]](t, b.admin(t, http.StatusOK, "GET", "/customer-value-rules?limit=3&after="+page.NextCursor, nil))
		require.Len(t, rest.Items, 1)
		require.Empty(t, rest.NextCursor)

		require.Equal(t, []string{"status", "lifecycle"},
			problemFields(t, b.do(t, adminKey, "GET", "/customer-value-rules?status=running&lifecycle=done", nil)))
	})
}

func TestDataPoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := func(id int64) string { return fmt.Sprintf("/data-points/%d", id) }

	t.Run("Create", func(t *testing.T) {
		dp := b.dataPoint(t, "level", "number")
		require.Equal(t, "level", dp.Identifier)
		require.True(t, dp.Active)
		got := decode[store.DataPoint](t, b.admin(t, http.StatusOK, "GET", path(dp.ID), nil))
		require.Equal(t, dp, got)

		rec := b.do(t, adminKey, "POST", "/data-points", map[string]any{"name": "Level again", "identifier": "level", "type": "number"})
		require.Equal(t, []string{"identifier"}, problemFields(t, rec))
		rec = b.do(t, adminKey, "POST", "/data-points", map[string]any{"name": "", "identifier": "Level", "type": "date"})
		require.Equal(t, []string{"name", "identifier", "type"}, problemFields(t, rec))
		rec = b.do(t, adminKey, "POST", "/data-points", map[string]any{"name": "Sale", "identifier": "sale_amount", "type": "number"})
		require.Equal(t, []string{"identifier"}, problemFields(t, rec))
		b.admin(t, http.StatusNotFound, "GET", path(9999), nil)
	})

	t.Run("Immutable", func(t *testing.T) {
		dp := b.dataPoint(t, "country", "text")
		rec := b.do(t, adminKey, "PATCH", path(dp.ID), map[string]any{"identifier": "geo", "type": "number"})
		require.Equal(t, []string{"identifier", "type"}, problemFields(t, rec))

		// Sent back unchanged, they are fine; the name may change.
		got := decode[store.DataPoint](t, b.admin(t, http.StatusOK, "PATCH", path(dp.ID),
			map[string]any{"name": "Country of residence", "identifier": "country", "type": "text"}))
		require.Equal(t, "Country of residence", got.Name)
		require.Equal(t, "country", got.Identifier)
		require.Equal(t, "text", got.Type)
	})

	t.Run("Deactivate", func(t *testing.T) {
		dp := b.dataPoint(t, "campaign", "text")
		for range 2 {
			got := decode[store.DataPoint](t, b.admin(t, http.StatusOK, "DELETE", path(dp.ID), nil))
			require.False(t, got.Active)
		}
		active, err := b.store.ActiveDataPoints(context.Background())
		require.NoError(t, err)
		for _, a := range active {
			require.NotEqual(t, dp.ID, a.ID, "postbacks are no longer read for it")
		}
		got := decode[store.DataPoint](t, b.admin(t, http.StatusOK, "PATCH", path(dp.ID), map[string]any{"active": true}))
		require.True(t, got.Active)
		b.admin(t, http.StatusNotFound, "DELETE", path(9999), nil)
	})

	t.Run("DeactivateReadByActiveRule", func(t *testing.T) {
		rule := decode[cvRule](t, b.admin(t, http.StatusCreated, "POST", "/customer-value-rules", map[string]any{
			"rule":        traderRule(time.Now()),
			"data_points": traderDataPoints(),
		}))
		deposit := rule.CreatedDataPoints[1]
		require.Equal(t, "deposit", deposit.Identifier)
		rec := b.admin(t, http.StatusConflict, "DELETE", path(deposit.ID), nil)
		require.Contains(t, decode[errorBody](t, rec).Error.Message, fmt.Sprint(rule.ID))

		// Paused, the rule lets it go; it cannot resume while the data
		// point is inactive, nor can an active rule be saved reading it.
		rulePath := fmt.Sprintf("/customer-value-rules/%d", rule.ID)
		b.admin(t, http.StatusOK, "POST", rulePath+"/pause", nil)
		b.admin(t, http.StatusOK, "DELETE", path(deposit.ID), nil)
		rec = b.admin(t, http.StatusConflict, "POST", rulePath+"/resume", nil)
		require.Contains(t, decode[errorBody](t, rec).Error.Message, "deposit")
		body := traderRule(time.Now())
		body["active"] = true
		rec = b.do(t, adminKey, "PUT", rulePath, map[string]any{"rule": body})
		require.Equal(t, []string{"rule.conditions[1].source"}, problemFields(t, rec))

		b.admin(t, http.StatusOK, "PATCH", path(deposit.ID), map[string]any{"active": true})
		b.admin(t, http.StatusOK, "POST", rulePath+"/resume", nil)
	})

	t.Run("Operators", func(t *testing.T) {
		text := b.dataPoint(t, "tier", "text")
		number := b.dataPoint(t, "level_reached", "number")
		type ops struct {
			Type           string   `json:"type"`
			Operators      []string `json:"operators"`
			CountOperators []string `json:"count_operators"`
		}
		got := decode[ops](t, b.admin(t, http.StatusOK, "GET", path(text.ID)+"/operators", nil))
		require.Equal(t, ops{Type: "text", Operators: []string{"eq", "ne", "in"},
			CountOperators: []string{"gt", "gte", "lt", "lte", "eq", "between"}}, got)
		got = decode[ops](t, b.admin(t, http.StatusOK, "GET", path(number.ID)+"/operators", nil))
		require.Equal(t, "number", got.Type)
		require.Equal(t, []string{"gt", "gte", "lt", "lte", "eq", "between"}, got.Operators)
		b.admin(t, http.StatusNotFound, "GET", path(9999)+"/operators", nil)
	})
}

func TestDataPointsPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []int64
	for i := range 5 {
		ids = append(ids, b.dataPoint(t, fmt.Sprintf("dp_%d", i), "text").ID)
	}
	b.admin(t, http.StatusOK, "DELETE", fmt.Sprintf("/data-points/%d", ids[1]), nil)
	b.admin(t, http.StatusOK, "DELETE", fmt.Sprintf("/data-points/%d", ids[3]), nil)

	collect := func(query string) []int64 {
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			q := "/data-points?limit=2" + query
			if cursor != "" {
				q += "&after=" + cursor
			}
			l := decode[listBody[store.DataPoint]](t, b.admin(t, http.StatusOK, "GET", q, nil))
			require.LessOrEqual(t, len(l.Items), 2)
			for _, dp := range l.Items {
				got = append(got, dp.ID)
			}
			if l.NextCursor == "" {
				return got
			}
			cursor = l.NextCursor
		}
	}

	t.Run("All", func(t *testing.T) {
		require.Equal(t, ids, collect(""))
	})
	t.Run("Active", func(t *testing.T) {
		require.Equal(t, []int64{ids[0], ids[2], ids[4]}, collect("&active=true"))
	})
	t.Run("Inactive", func(t *testing.T) {
		require.Equal(t, []int64{ids[1], ids[3]}, collect("&active=false"))
	})
	t.Run("BadFilter", func(t *testing.T) {
		require.Equal(t, []string{"active"}, problemFields(t, b.do(t, adminKey, "GET", "/data-points?active=yes", nil)))
		require.Equal(t, []string{"limit"}, problemFields(t, b.do(t, adminKey, "GET", "/data-points?limit=0", nil)))
	})
}
