package workflows_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/workflows"
)

// deposit is one deposit the mocked PriceConversion reports: its timestamp,
// sale amount, layer 1–3 revenue and payout.
type deposit struct {
	at                    time.Time
	sale, revenue, payout string
}

// depositRule is a Customer Value rule on deposits, in cycles of cycle:
// the goal is a sum of sale amounts of at least goal, paid at the end of
// the cycle as percent of the cycle's (or the conversion's) revenue.
func depositRule(cycle customervalue.Cycle, goal string, frequency customervalue.Frequency, percent string) customervalue.Rule {
	return customervalue.Rule{
		ID: 5, Name: "Deposit goal", Active: true, AppliesOn: customervalue.AppliesOnEvent, Event: "deposit",
		StartsAt:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Timeframe:  customervalue.Timeframe{Cycle: cycle, Anchor: customervalue.AnchorRuleStart},
		Conditions: []customervalue.Condition{{Source: customervalue.MetricSaleAmount, Aggregation: customervalue.AggSum, Operator: "gte", Value: goal}},
		Grouping:   customervalue.GroupAll,
		Outcome: customervalue.RuleOutcome{Frequency: frequency, Trigger: customervalue.TriggerEndOfCycle, Kind: customervalue.KindBonus,
			Payout: customervalue.Rate{Type: customervalue.RatePercent, Percent: decimal.RequireFromString(percent), Base: customervalue.BaseRevenue}},
	}
}

// deposits makes PriceConversion report conversion i+1 as deposits[i],
// under rule, in a network in UTC.
func (b *testBundle) deposits(rule customervalue.Rule, deposits ...deposit) {
	b.priceFor = func(id int64) workflows.PriceResult {
		d := deposits[id-1]
		return workflows.PriceResult{Priced: true, PartnerID: 7, OfferID: 3, Payout: d.payout, TimeZone: "UTC",
			Rules: []customervalue.Rule{rule},
			Conversion: &customervalue.Conversion{ID: id, PartnerID: 7, OfferID: 3, AdvertiserID: 1, Event: "deposit",
				At: d.at, Currency: "USD", SaleAmount: decimal.RequireFromString(d.sale),
				Revenue: decimal.RequireFromString(d.revenue), Payout: decimal.RequireFromString(d.payout)}}
	}
}

// bonuses returns the bonus recorded for each conversion and when.
func (b *testBundle) bonuses() (map[int64]string, map[int64]time.Time) {
	amounts, at := map[int64]string{}, map[int64]time.Time{}
	for i, r := range b.records {
		for _, o := range r.Outcomes {
			amounts[o.ConversionID] = o.Payout.StringFixed(2)
			at[o.ConversionID] = b.recorded[i].UTC()
		}
	}
	return amounts, at
}

// TestEndOfCycleLateConversionIntoEndedCycle: a conversion into a cycle that
// an earlier wake-up settled without paying reopens it, the end-of-cycle
// outcome is settled at once, and later cycles are not blocked (DESIGN
// §13.16, §13.19). Deposits pay a $5 CPA and earn an $8 RPA; the rule is
// weekly, sum of sale ≥ 50, 10% of the cycle's revenue.
func TestEndOfCycleLateConversionIntoEndedCycle(t *testing.T) {
	t.Parallel()
	monday := time.Date(2026, 9, 14, 12, 0, 0, 0, time.UTC)
	weekEnd := time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC)

	t.Run("BothDepositsAfterTheWeekEnded", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		now := time.Date(2026, 9, 23, 9, 0, 0, 0, time.UTC) // a Wednesday of the next week
		b.env.SetStartTime(now)
		b.deposits(depositRule(customervalue.CycleWeekly, "50", customervalue.OncePerCycle, "10"),
			deposit{monday, "30", "8", "5"},
			deposit{monday.AddDate(0, 0, 1), "30", "8", "5"},
			deposit{now.Add(time.Hour), "60", "8", "5"}, // meets the goal alone, in the live week of 2026-09-21
		)
		b.signal(time.Minute, 1)
		b.signal(2*time.Minute, 2)
		b.signal(time.Hour, 3)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 10*24*time.Hour)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))

		amounts, at := b.bonuses()
		require.Equal(t, map[int64]string{2: "1.60", 3: "0.80"}, amounts, "10% of the week's $16, then 10% of $8")
		require.Equal(t, now.Add(2*time.Minute), at[2], "settled when the late deposit arrived")
		require.Equal(t, time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC), at[3], "the next week still settles on its own timer")
	})

	t.Run("EveryQualifyingConversion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		now := time.Date(2026, 9, 23, 9, 0, 0, 0, time.UTC)
		b.env.SetStartTime(now)
		b.deposits(depositRule(customervalue.CycleWeekly, "50", customervalue.EveryConversion, "10"),
			deposit{monday, "30", "8", "5"},
			deposit{monday.AddDate(0, 0, 1), "30", "8", "5"},
		)
		b.signal(time.Minute, 1)
		b.signal(2*time.Minute, 2)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 24*time.Hour)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))

		amounts, _ := b.bonuses()
		// Each deposit of the cycle qualifies (§14.13), on its own $8: $5.80
		// with its $5 payout.
		require.Equal(t, map[int64]string{1: "0.80", 2: "0.80"}, amounts)
	})

	t.Run("BackdatedIntoAWeekItsTimerSettledUnmet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		wednesday := time.Date(2026, 9, 16, 9, 0, 0, 0, time.UTC)
		b.env.SetStartTime(wednesday)
		b.deposits(depositRule(customervalue.CycleWeekly, "50", customervalue.OncePerCycle, "10"),
			deposit{wednesday.Add(time.Hour), "30", "8", "5"},
			deposit{wednesday.AddDate(0, 0, 1), "30", "8", "5"}, // Thursday, sent on the next Tuesday
		)
		b.signal(time.Hour, 1)
		lateAt := weekEnd.AddDate(0, 0, 1).Sub(wednesday) // Tuesday 2026-09-22 00:00
		b.signal(lateAt, 2)
		var settledUnmet []workflows.CustomerRecord
		b.env.RegisterDelayedCallback(func() { settledUnmet = append(settledUnmet, b.records...) }, weekEnd.Sub(wednesday)+time.Minute)
		b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 14*24*time.Hour)
		b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))

		for _, r := range settledUnmet {
			require.Empty(t, r.Outcomes, "the week ended with $30: its timer pays nothing")
		}
		amounts, at := b.bonuses()
		require.Equal(t, map[int64]string{2: "1.60"}, amounts)
		require.Equal(t, wednesday.Add(lateAt), at[2], "settled at once, on the backdated deposit")
	})
}

// TestEndOfCycleBonusNetOfRefundBeforeEnd: a refund made before the cycle
// ends lowers the revenue an end-of-cycle percent bonus is of (§13.16). A
// daily rule, sum of sale ≥ 50, 10% of the cycle's revenue; one $60
// deposit earning 20% ($12); a $10 sale refund takes the revenue to $10, so
// the bonus paid when the day's timer fires is $1.00, not $1.20.
func TestEndOfCycleBonusNetOfRefundBeforeEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	morning := time.Date(2026, 9, 14, 8, 0, 0, 0, time.UTC)
	b.env.SetStartTime(morning)
	b.deposits(depositRule(customervalue.CycleDaily, "50", customervalue.OncePerCycle, "10"),
		deposit{morning.Add(time.Hour), "60", "12", "5"})
	b.signal(time.Hour, 1)
	// What the API sends after refunding $10 of the sale: $2 of revenue
	// (20% of it) came off with it.
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(workflows.SignalRefund, workflows.RefundSignal{ConversionID: 1, SaleAmount: decimal.RequireFromString("10"), Revenue: decimal.RequireFromString("2"), Payout: decimal.Zero})
	}, 3*time.Hour)
	var beforeEnd []workflows.CustomerRecord
	midnight := time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC)
	b.env.RegisterDelayedCallback(func() { beforeEnd = append(beforeEnd, b.records...) }, midnight.Sub(morning)-time.Minute)
	b.env.RegisterDelayedCallback(func() { b.env.CancelWorkflow() }, 2*24*time.Hour)
	b.env.ExecuteWorkflow(workflows.Customer, workflows.NewCustomerState(1, "42"))

	for _, r := range beforeEnd {
		require.Empty(t, r.Outcomes, "nothing is paid before the day ends")
	}
	amounts, at := b.bonuses()
	require.Equal(t, map[int64]string{1: "1.00"}, amounts, "10% of the $10 of revenue left")
	require.Equal(t, midnight, at[1], "paid by the day's timer, after the refund")
}
