package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// CloseEndedCyclesActivity is the safety net's activity.
const CloseEndedCyclesActivity = "CloseEndedCycles"

// CloseEndedCyclesSchedule is the id of the Temporal Schedule that runs
// CloseEndedCycles every quarter of an hour (worker.SafetyNetSpec).
const CloseEndedCyclesSchedule = "tierwise-close-ended-cycles"

// cycleGrace gives a cycle workflow's own timer the time to close its cycle
// before the safety net does.
const cycleGrace = time.Minute

// CloseEndedCycles closes the commission cycles whose period has ended and
// whose workflow is missing. A Temporal Schedule runs it.
func CloseEndedCycles(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
	})
	var closed int
	err := workflow.ExecuteActivity(ctx, CloseEndedCyclesActivity, cycleGrace).Get(ctx, &closed)
	return closed, err
}
