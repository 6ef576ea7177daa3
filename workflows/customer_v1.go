package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tierwise/tierwise/customervalue"
)

// customerV1 is the customer workflow of code versions 0 and 1, kept as it
// was so that their runs replay (TestReplayHistories): do not change it.
// Its runs move to version 2 at their next continue-as-new.
func customerV1(ctx workflow.Context, state CustomerState) error {
	logger := workflow.GetLogger(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CustomerState, error) { return state, nil }); err != nil {
		return fmt.Errorf("register state query: %w", err)
	}
	retry := &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{ErrTypeNotFound},
	}
	// From version 1, pricing, recording and loading run as local
	// activities: in the workflow task that got the signal, without three
	// round trips through the server per conversion.
	execute := func(ctx workflow.Context, activity string, args ...any) workflow.Future {
		return workflow.ExecuteActivity(ctx, activity, args...)
	}
	version := state.Version
	if version >= 1 {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry})
		execute = func(ctx workflow.Context, activity string, args ...any) workflow.Future {
			return workflow.ExecuteLocalActivity(ctx, activity, args...)
		}
	} else {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry})
	}
	if state.UserID != "" && !state.Resumed {
		// A new lifetime, or one whose workflow ended: resume from the
		// snapshot, if any.
		var saved *CustomerState
		if err := execute(ctx, LoadCustomerActivity, state.AdvertiserID, state.UserID).Get(ctx, &saved); err != nil {
			return fmt.Errorf("load customer snapshot: %w", err)
		}
		if saved != nil {
			state = *saved
			state.Version = version // the run's, not the snapshot's
		}
		state.Resumed = true
	}

	// record writes outcomes and the snapshot when there is something to
	// keep: outcomes, or rules whose progress moved.
	record := func(outcomes []customervalue.Outcome, evaluated ...int64) {
		if state.UserID == "" || (len(outcomes) == 0 && len(state.Rules) == 0) {
			return
		}
		if err := execute(ctx, RecordCustomerActivity, CustomerRecord{Outcomes: outcomes, Evaluated: evaluated, State: state}).Get(ctx, nil); err != nil {
			logger.Error("record customer value outcomes", "error", err)
		}
	}
	location := func() *time.Location {
		loc, err := time.LoadLocation(state.TimeZone)
		if err != nil {
			return time.UTC
		}
		return loc
	}

	conversions := workflow.GetSignalChannel(ctx, SignalConversion)
	reversals := workflow.GetSignalChannel(ctx, SignalReversal)
	refunds := workflow.GetSignalChannel(ctx, SignalRefund)
	handle := func(sig ConversionSignal) {
		if slices.Contains(state.Recent, sig.ConversionID) {
			return
		}
		var res PriceResult
		err := execute(ctx, PriceConversionActivity, sig.ConversionID).Get(ctx, &res)
		if err != nil {
			// Only a conversion that no longer exists fails for good; the
			// others retry until they succeed.
			logger.Error("price conversion", "conversion_id", sig.ConversionID, "error", err)
			return
		}
		state.Recent = append(state.Recent, sig.ConversionID)
		if len(state.Recent) > recentLimit {
			state.Recent = state.Recent[len(state.Recent)-recentLimit:]
		}
		if !res.Priced {
			return
		}
		state.Priced++
		state.LastPartner, state.LastOffer = res.PartnerID, res.OfferID
		state.LastPricedAt = workflow.Now(ctx).UTC()
		if res.Conversion != nil && state.UserID != "" {
			state.Rules, state.TimeZone = res.Rules, res.TimeZone
			record(state.Value.Apply(state.Rules, *res.Conversion, location()), res.Conversion.ID)
		}
		updateVisibility(ctx, state, version >= 1)
	}
	handleReversal := func(sig ReversalSignal) {
		state.Value.Reverse(state.Rules, sig.ConversionID)
		record(nil)
	}
	handleRefund := func(sig RefundSignal) {
		state.Value.Refund(sig.ConversionID, sig.SaleAmount, sig.Revenue, sig.Payout)
		record(nil)
	}
	drain := func() {
		for {
			var c ConversionSignal
			var r ReversalSignal
			var f RefundSignal
			switch {
			case conversions.ReceiveAsync(&c):
				handle(c)
			case reversals.ReceiveAsync(&r):
				handleReversal(r)
			case refunds.ReceiveAsync(&f):
				handleRefund(f)
			default:
				return
			}
		}
	}

	updateVisibility(ctx, state, version >= 1)
	var settledAt time.Time // the last wake-up that settled nothing
	for {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(conversions, func(c workflow.ReceiveChannel, _ bool) {
			var sig ConversionSignal
			c.Receive(ctx, &sig)
			handle(sig)
		})
		sel.AddReceive(reversals, func(c workflow.ReceiveChannel, _ bool) {
			var sig ReversalSignal
			c.Receive(ctx, &sig)
			handleReversal(sig)
		})
		sel.AddReceive(refunds, func(c workflow.ReceiveChannel, _ bool) {
			var sig RefundSignal
			c.Receive(ctx, &sig)
			handleRefund(sig)
		})
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		if wake, ok := state.Value.NextWakeUp(state.Rules, location()); ok && (!wake.Equal(settledAt) || wakeAgain(ctx)) {
			// Cycles that ended settle at once; the others on a timer.
			sel.AddFuture(workflow.NewTimer(timerCtx, max(0, wake.Sub(workflow.Now(ctx)))), func(workflow.Future) {
				due := state.Value.Due(state.Rules, workflow.Now(ctx).UTC(), location())
				if len(due) == 0 {
					settledAt = wake
				}
				record(due)
			})
		}
		sel.Select(ctx)
		cancelTimer()
		if state.UserID == "" || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Drain what has arrived so no signal is lost with this run.
			drain()
			if state.UserID == "" {
				return nil
			}
			state.Version = CodeVersion
			return workflow.NewContinueAsNewError(ctx, Customer, state)
		}
	}
}

// wakeAgain reports whether a wake-up that settled nothing is waited for
// again when its end comes up once more: a late conversion reopened the
// cycle, and its end-of-cycle outcome is due at once (DESIGN §13.19; Due
// settles every ended cycle, so this never spins). Runs recorded before
// this change did not wait again and replay as they ran. It is asked only
// in that case, so the version marker (and its search attribute upsert) is
// written only by workflows that reopen a cycle.
func wakeAgain(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, "wake-again-on-reopened-cycle", workflow.DefaultVersion, 1) == 1
}
