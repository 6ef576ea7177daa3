package customervalue_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
)

// dataPoints are the network's data points in these tests.
var dataPoints = []customervalue.DataPoint{
	{Identifier: "geo", Type: customervalue.TypeText},
	{Identifier: "deposit", Type: customervalue.TypeNumber},
	{Identifier: "trade", Type: customervalue.TypeNumber},
	{Identifier: "level", Type: customervalue.TypeNumber},
}

// ruleStart is when the tests' rules start.
var ruleStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decPtr(s string) *decimal.Decimal {
	d := dec(s)
	return &d
}

func timePtr(t time.Time) *time.Time { return &t }

func requireAmount(t *testing.T, want string, got decimal.Decimal) {
	t.Helper()
	require.Truef(t, dec(want).Equal(got), "want %s, got %s", want, got)
}

// rule returns an active, valid rule with no conditions: all partners,
// offers and advertisers, applies on all, continuous from the rule's start,
// grouped all, a $10 instant bonus once per customer. Tests change what
// they need.
func rule(id int64, name string) customervalue.Rule {
	return customervalue.Rule{
		ID:        id,
		Name:      name,
		Active:    true,
		CreatedAt: ruleStart,
		AppliesOn: customervalue.AppliesOnAll,
		StartsAt:  ruleStart,
		Timeframe: customervalue.Timeframe{Cycle: customervalue.CycleContinuous, Anchor: customervalue.AnchorRuleStart},
		Grouping:  customervalue.GroupAll,
		Outcome: customervalue.RuleOutcome{
			Frequency: customervalue.OncePerCustomer,
			Trigger:   customervalue.TriggerInstant,
			Kind:      customervalue.KindBonus,
			Payout:    customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("10")},
		},
	}
}

func textCond(source string, agg customervalue.Aggregation, op customervalue.Operator, value string) customervalue.Condition {
	return customervalue.Condition{Source: source, Type: customervalue.TypeText, Aggregation: agg, Operator: op, Value: value}
}

func numCond(source string, agg customervalue.Aggregation, op customervalue.Operator, value string) customervalue.Condition {
	return customervalue.Condition{Source: source, Type: customervalue.TypeNumber, Aggregation: agg, Operator: op, Value: value}
}

// highValueTrader is the seed's High-Value Trader rule: geo EU1, total
// deposits over $200 and one trade of $100 or more, in any order, over the
// customer's lifetime: $200 once.
func highValueTrader() customervalue.Rule {
	r := rule(1, "High-Value Trader")
	r.Timeframe.Anchor = customervalue.AnchorFirstConversion
	r.Conditions = []customervalue.Condition{
		textCond("geo", customervalue.AggAny, customervalue.OpEq, "EU1"),
		numCond("deposit", customervalue.AggSum, customervalue.OpGt, "200"),
		numCond("trade", customervalue.AggAny, customervalue.OpGte, "100"),
	}
	r.Outcome.Payout = customervalue.Rate{Type: customervalue.RateFixed, Amount: dec("200")}
	return r
}

// conv is a USD conversion of advertiser 1 with data points as key, value
// pairs.
func conv(id, partnerID, offerID int64, event string, at time.Time, data ...string) customervalue.Conversion {
	c := customervalue.Conversion{
		ID:           id,
		PartnerID:    partnerID,
		OfferID:      offerID,
		AdvertiserID: 1,
		Event:        event,
		At:           at,
		Currency:     "USD",
	}
	if len(data) > 0 {
		c.Data = map[string]string{}
		for i := 0; i+1 < len(data); i += 2 {
			c.Data[data[i]] = data[i+1]
		}
	}
	return c
}

func withSale(c customervalue.Conversion, sale string) customervalue.Conversion {
	c.SaleAmount = dec(sale)
	return c
}

func withRevenue(c customervalue.Conversion, revenue string) customervalue.Conversion {
	c.Revenue = dec(revenue)
	return c
}

// applyAll applies the conversions in order and returns every outcome.
func applyAll(s *customervalue.State, rules []customervalue.Rule, loc *time.Location, convs ...customervalue.Conversion) []customervalue.Outcome {
	var out []customervalue.Outcome
	for _, c := range convs {
		out = append(out, s.Apply(rules, c, loc)...)
	}
	return out
}

func requireValid(t *testing.T, rules ...customervalue.Rule) {
	t.Helper()
	for _, r := range rules {
		require.NoError(t, r.Validate(dataPoints), "rule %d", r.ID)
	}
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// TestCloneSharesNothing: whatever happens to a clone — conversions,
// refunds, reversals, a cycle's end — the state it was cloned from stays as
// it was, so the customer's workflow can drop a copy whose outcomes were not
// written.
func TestCloneSharesNothing(t *testing.T) {
	t.Parallel()
	r := rule(41, "Two deposits a day")
	r.Timeframe = customervalue.Timeframe{Cycle: customervalue.CycleDaily, Anchor: customervalue.AnchorRuleStart}
	r.Conditions = []customervalue.Condition{{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggCount, Operator: customervalue.OpGte, Value: "2"}}
	r.Outcome.Frequency = customervalue.OncePerCycle
	r.Outcome.Trigger = customervalue.TriggerEndOfCycle
	rules := []customervalue.Rule{r}
	day := time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)
	var s customervalue.State
	s.Apply(rules, withSale(conv(1, 5, 1, "", day), "80"), time.UTC)
	s.Apply(rules, withSale(conv(2, 5, 1, "", day.Add(time.Hour)), "20"), time.UTC)
	before, err := json.Marshal(s)
	require.NoError(t, err)

	c := s.Clone()
	c.Apply(rules, withSale(conv(3, 5, 1, "", day.Add(2*time.Hour)), "40"), time.UTC)
	c.Refund(1, dec("30"), dec("0"), dec("0"))
	c.Reverse(rules, 2)
	require.Len(t, c.Due(rules, day.Add(48*time.Hour), time.UTC), 1)
	after, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, string(before), string(after))
	changed, err := json.Marshal(c)
	require.NoError(t, err)
	require.NotEqual(t, string(before), string(changed))
}
