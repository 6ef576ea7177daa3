package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

// repriceChunk is how many conversions one re-pricing transaction takes.
const repriceChunk = 500

func cycleOf(sig store.CycleSignal) workflows.Cycle {
	return workflows.Cycle{
		RuleID: sig.Key.RuleID, PartnerID: sig.Key.PartnerID, OfferID: sig.Key.OfferID,
		PeriodStart: sig.Key.PeriodStart, PeriodEnd: sig.PeriodEnd,
	}
}

func keyOf(c workflows.Cycle) store.CycleKey {
	return store.CycleKey{RuleID: c.RuleID, PartnerID: c.PartnerID, OfferID: c.OfferID, PeriodStart: c.PeriodStart}
}

// sendCycleSignal delivers an outbox signal: it signal-with-starts the
// cycle's workflow with the band, or, for a cycle already closed (a
// backdated conversion), starts a RepriceClosedCycle workflow for the
// signal, since closed cycles are not reopened.
func (a *Activities) sendCycleSignal(ctx context.Context, sig store.CycleSignal) error {
	cycle := cycleOf(sig)
	closed := sig.Closed
	if !closed {
		// A finished cycle workflow is never started again: its id is
		// rejected, and the period is re-priced in place.
		_, err := a.temporal.SignalWithStartWorkflow(ctx, workflows.CycleWorkflowID(cycle), workflows.SignalBand,
			workflows.BandSignal{Band: sig.Band},
			client.StartWorkflowOptions{
				ID:                    workflows.CycleWorkflowID(cycle),
				TaskQueue:             workflows.TaskQueue,
				WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			},
			workflows.CommissionCycle, workflows.CycleState{Cycle: cycle, Band: -1})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case errors.As(err, &started):
			closed = true
		case err != nil:
			return fmt.Errorf("signal-with-start %s: %w", workflows.CycleWorkflowID(cycle), err)
		}
	}
	if closed {
		// Re-priced by a workflow of its own: a long period is chunked and
		// heartbeats there, not inside the pricing activity that found it.
		_, err := a.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                    workflows.RepriceWorkflowID(cycle, sig.ID),
			TaskQueue:             workflows.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, workflows.RepriceClosedCycle, cycle)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			return fmt.Errorf("start re-pricing of closed cycle %s: %w", workflows.CycleWorkflowID(cycle), err)
		}
	}
	return a.store.MarkCycleSignalSent(ctx, sig.ID)
}

// RepriceCycle re-prices a commission cycle's unpaid conversions to the
// period's high-water band, in chunks, heartbeating its cursor so a retry
// goes on where the last attempt stopped. It writes only deltas: running it
// twice, or beside new conversions of the period, changes nothing more.
func (a *Activities) RepriceCycle(ctx context.Context, cycle workflows.Cycle) (workflows.RepriceResult, error) {
	var after int64
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &after)
	}
	res, err := a.reprice(ctx, cycle, func(cursor int64) { activity.RecordHeartbeat(ctx, cursor) }, after)
	if errors.Is(err, store.ErrNotFound) {
		return res, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotFound, err)
	}
	return res, err
}

// reprice re-prices a cycle from the conversion after the cursor on;
// progress, when not nil, is told each chunk's cursor.
func (a *Activities) reprice(ctx context.Context, cycle workflows.Cycle, progress func(int64), after ...int64) (workflows.RepriceResult, error) {
	rule, err := a.store.TieredRule(ctx, cycle.RuleID)
	if err != nil {
		return workflows.RepriceResult{}, err
	}
	var res workflows.RepriceResult
	res.Band = -1
	if rule.RetroMode() == tiered.RetroDisabled {
		return res, a.store.MarkCycleRepriced(ctx, keyOf(cycle), nil)
	}
	defer metrics.ObserveReprice(time.Now())
	var cursor int64
	if len(after) > 0 {
		cursor = after[0]
	}
	for {
		chunk, err := a.store.RepriceCycleChunk(ctx, keyOf(cycle), cursor, repriceChunk, func(band int, cs []tiered.Priced) []tiered.Delta {
			return tiered.Reprice(rule, band, cs)
		})
		if err != nil {
			return res, err
		}
		res.Band = chunk.Band
		res.Conversions += chunk.Seen
		res.Repriced += chunk.Repriced
		if chunk.LastID == 0 {
			return res, a.store.MarkCycleRepriced(ctx, keyOf(cycle), &res.Band)
		}
		cursor = chunk.LastID
		if progress != nil {
			progress(cursor)
		}
	}
}

// CloseCycle records that a commission cycle's period is over.
func (a *Activities) CloseCycle(ctx context.Context, cycle workflows.Cycle) error {
	return a.store.CloseCycle(ctx, keyOf(cycle))
}

// SweepCycleSignals delivers the outbox signals written more than grace ago
// and not delivered (the pricing activity's own delivery failed), oldest
// first, and returns how many it delivered. A signal that fails is counted
// and backs off alone; when Temporal does not answer the sweep stops. It is
// not an activity: the worker runs it beside the conversion sweeper.
func SweepCycleSignals(ctx context.Context, a *Activities, grace time.Duration) (int, error) {
	sigs, err := a.store.UnsentCycleSignals(ctx, time.Now().Add(-grace), 500)
	if err != nil {
		return 0, err
	}
	delivered := 0
	for _, sig := range sigs {
		err := a.sendCycleSignal(ctx, sig)
		switch {
		case err == nil:
			delivered++
			continue
		case ingest.TemporalUnavailable(err) || ctx.Err() != nil:
			return delivered, fmt.Errorf("%w: %w", ingest.ErrTemporalUnavailable, err)
		}
		d, ferr := a.store.CycleSignalFailed(ctx, sig.ID, err)
		if ferr != nil {
			return delivered, ferr
		}
		if d.Stuck {
			a.logger.ErrorContext(ctx, "cycle signal is stuck: its delivery keeps failing; it is retried",
				"cycle_signal_id", sig.ID, "cycle", workflows.CycleWorkflowID(cycleOf(sig)), "attempts", d.Attempts, "error", err)
		}
	}
	return delivered, nil
}

// CloseEndedCycles closes the cycles whose period ended before grace ago and
// whose workflow is not running (it was terminated, or never started): the
// safety net that a Temporal Schedule runs. Each is re-priced to its band
// first, as its workflow would have. It returns how many it closed.
func (a *Activities) CloseEndedCycles(ctx context.Context, grace time.Duration) (int, error) {
	keys, ends, err := a.store.EndedOpenCycles(ctx, time.Now().Add(-grace), 500)
	if err != nil {
		return 0, err
	}
	closed := 0
	for i, k := range keys {
		cycle := workflows.Cycle{RuleID: k.RuleID, PartnerID: k.PartnerID, OfferID: k.OfferID, PeriodStart: k.PeriodStart, PeriodEnd: ends[i]}
		desc, err := a.temporal.DescribeWorkflowExecution(ctx, workflows.CycleWorkflowID(cycle), "")
		var missing *serviceerror.NotFound
		switch {
		case errors.As(err, &missing):
		case err != nil:
			return closed, fmt.Errorf("describe %s: %w", workflows.CycleWorkflowID(cycle), err)
		case desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			continue // its timer closes it
		}
		if _, err := a.reprice(ctx, cycle, nil); err != nil {
			return closed, err
		}
		if err := a.store.CloseCycle(ctx, keyOf(cycle)); err != nil {
			return closed, err
		}
		activity.RecordHeartbeat(ctx, i)
		metrics.SafetyNetClosedCycle()
		closed++
	}
	return closed, nil
}
