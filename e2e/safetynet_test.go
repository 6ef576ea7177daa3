package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/tierwise/tierwise/devstack"
	"github.com/tierwise/tierwise/internal/temporaltest"
	"github.com/tierwise/tierwise/worker"
	"github.com/tierwise/tierwise/workflows"
)

// TestSafetyNetScheduleUpdated: the commission-cycle safety net runs every
// quarter of an hour, two minutes past, and a deployment whose schedule
// runs every minute (what earlier versions created) gets the new spec when
// its workers prepare the namespace after a restart, several at once. The
// server keeps its state in PostgreSQL here, as a deployment's does.
func TestSafetyNetScheduleUpdated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := temporaltest.Start(t, temporaltest.Postgres())
	require.Equal(t, devstack.PersistencePostgres, ts.Persistence())
	describe := func(c client.Client) *client.ScheduleDescription {
		t.Helper()
		desc, err := c.ScheduleClient().GetHandle(ctx, workflows.CloseEndedCyclesSchedule).Describe(ctx)
		require.NoError(t, err)
		return desc
	}
	c := ts.Client()
	require.Equal(t, worker.SafetyNetSpec().Intervals, describe(c).Schedule.Spec.Intervals, "a new namespace gets the quarter-hour spec")

	err := c.ScheduleClient().GetHandle(ctx, workflows.CloseEndedCyclesSchedule).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			in.Description.Schedule.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Minute}}}
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
	require.NoError(t, err)
	require.Equal(t, time.Minute, describe(c).Schedule.Spec.Intervals[0].Every)

	ts.Stop()
	ts.Restart()
	c = ts.Client()
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Go(func() { errs <- worker.Prepare(ctx, c, "default") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	desc := describe(c)
	spec := desc.Schedule.Spec
	require.Equal(t, []client.ScheduleIntervalSpec{{Every: 15 * time.Minute, Offset: 2 * time.Minute}}, spec.Intervals)
	require.Empty(t, spec.Calendars)
	require.Empty(t, spec.CronExpressions)
	require.NotEmpty(t, desc.Info.NextActionTimes)
	for _, next := range desc.Info.NextActionTimes {
		require.Equal(t, 2, next.UTC().Minute()%15, "runs at :02, :17, :32 and :47: %s", next)
		require.Zero(t, next.Second(), next)
	}
	// Only the spec changed.
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, desc.Schedule.Policy.Overlap)
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "%T", desc.Schedule.Action)
	require.Equal(t, "CloseEndedCycles", action.Workflow)
	require.Equal(t, worker.TaskQueue, action.TaskQueue)
}
