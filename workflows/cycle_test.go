package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

func TestCommissionCycleWorkflow(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.CommissionCycle, workflow.RegisterOptions{Name: "CommissionCycle"})

	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	env.SetStartTime(start.Add(time.Hour))
	cycle := workflows.Cycle{RuleID: 1, PartnerID: 2, OfferID: 3, PeriodStart: start, PeriodEnd: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)}

	var reprices []time.Time
	var closedAt time.Time
	env.RegisterActivityWithOptions(func(ctx context.Context, c workflows.Cycle) (workflows.RepriceResult, error) {
		reprices = append(reprices, env.Now())
		return workflows.RepriceResult{Band: len(reprices) - 1, Repriced: 100}, nil
	}, activity.RegisterOptions{Name: workflows.RepriceCycleActivity})
	env.RegisterActivityWithOptions(func(ctx context.Context, c workflows.Cycle) error {
		require.Equal(t, cycle, c)
		closedAt = env.Now()
		return nil
	}, activity.RegisterOptions{Name: workflows.CloseCycleActivity})

	band := func(after time.Duration, b int) {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.SignalBand, workflows.BandSignal{Band: b})
		}, after)
	}
	band(time.Minute, -1) // the period opens: nothing to re-price
	band(24*time.Hour, 0) // first band
	band(48*time.Hour, 0) // the same band again: nothing more
	band(72*time.Hour, 1) // second band
	env.ExecuteWorkflow(workflows.CommissionCycle, workflows.CycleState{Cycle: cycle, Band: -1})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, reprices, 2, "one re-pricing per band reached")
	require.Equal(t, cycle.PeriodEnd, closedAt.UTC(), "closed by the timer at the period's end")
}

func TestCommissionCycleClosesAPeriodThatHasEnded(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.CommissionCycle, workflow.RegisterOptions{Name: "CommissionCycle"})
	end := time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	env.SetStartTime(end.Add(time.Hour))
	closed := 0
	env.RegisterActivityWithOptions(func(ctx context.Context, c workflows.Cycle) error {
		closed++
		return nil
	}, activity.RegisterOptions{Name: workflows.CloseCycleActivity})
	env.RegisterActivityWithOptions(func(ctx context.Context, c workflows.Cycle) (workflows.RepriceResult, error) {
		return workflows.RepriceResult{}, nil
	}, activity.RegisterOptions{Name: workflows.RepriceCycleActivity})
	env.ExecuteWorkflow(workflows.CommissionCycle, workflows.CycleState{
		Cycle: workflows.Cycle{RuleID: 1, PartnerID: 2, OfferID: 3, PeriodStart: end.AddDate(0, -1, 0), PeriodEnd: end}, Band: -1})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 1, closed)
}

// TestCycleClosesOnTimer: a commission cycle's workflow closes the cycle on
// its own timer at the period's end in the network's time zone, not before
// and once, with no signal to wake it.
func TestCycleClosesOnTimer(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.CommissionCycle, workflow.RegisterOptions{Name: "CommissionCycle"})

	// March 2026 in Berlin: from 00:00 CET on the 1st to 00:00 CEST on
	// April 1st, a DST change in between.
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	rule := tiered.Rule{ID: 1, StartDate: "2026-01-01", Period: tiered.PeriodMonthly}
	start, end := tiered.PeriodOf(rule, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), berlin)
	require.Equal(t, time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC), end)
	env.SetStartTime(start.Add(9 * 24 * time.Hour))

	var closes []time.Time
	env.RegisterActivityWithOptions(func(context.Context, workflows.Cycle) error {
		closes = append(closes, env.Now().UTC())
		return nil
	}, activity.RegisterOptions{Name: workflows.CloseCycleActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.Cycle) (workflows.RepriceResult, error) {
		return workflows.RepriceResult{}, nil
	}, activity.RegisterOptions{Name: workflows.RepriceCycleActivity})
	var beforeEnd int
	env.RegisterDelayedCallback(func() { beforeEnd = len(closes) }, end.Sub(env.Now())-time.Second)
	env.ExecuteWorkflow(workflows.CommissionCycle, workflows.CycleState{
		Cycle: workflows.Cycle{RuleID: 1, PartnerID: 2, OfferID: 3, PeriodStart: start, PeriodEnd: end}, Band: -1})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Zero(t, beforeEnd, "not closed a second before the period's end")
	require.Equal(t, []time.Time{end}, closes, "closed once, by the timer, at 00:00 CEST on April 1st")
}
