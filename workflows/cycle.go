package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// SignalBand tells a commission-cycle workflow that its period reached a
// band. It is sent only when the period's high-water band rises (and once
// when the period opens), never per conversion.
const SignalBand = "band"

// Activity names of the commission cycle.
const (
	RepriceCycleActivity = "RepriceCycle"
	CloseCycleActivity   = "CloseCycle"
)

// Cycle identifies one commission cycle: a tiered rule × partner × offer ×
// period.
type Cycle struct {
	RuleID      int64
	PartnerID   int64
	OfferID     int64
	PeriodStart time.Time
	PeriodEnd   time.Time // the zero time for a period without an end
}

// RepriceWorkflowID is the id of the one-off workflow that re-prices a
// closed cycle for an outbox signal: one per signal, so a retry starts it
// once.
func RepriceWorkflowID(c Cycle, signalID int64) string {
	return fmt.Sprintf("reprice/%d/%d/%d/%s/%d", c.RuleID, c.PartnerID, c.OfferID, c.PeriodStart.UTC().Format(time.RFC3339), signalID)
}

// CycleWorkflowID is the cycle's workflow id.
func CycleWorkflowID(c Cycle) string {
	return fmt.Sprintf("cycle/%d/%d/%d/%s", c.RuleID, c.PartnerID, c.OfferID, c.PeriodStart.UTC().Format(time.RFC3339))
}

// BandSignal carries the period's band.
type BandSignal struct {
	Band int
}

// CycleState is the commission-cycle workflow's state, carried across
// continue-as-new.
type CycleState struct {
	Cycle     Cycle
	Band      int // the highest band re-priced for so far; -1: none
	Repriced  int // conversions re-priced by this workflow
	ClosedAt  time.Time
	Reprices  int
	LastError string
}

// RepriceResult is what a retroactive re-pricing did.
type RepriceResult struct {
	Band        int // the band re-priced to, read from the ledger
	Conversions int // unpaid conversions looked at
	Repriced    int // conversions that got new lines
}

// CommissionCycle holds a commission cycle open until its period ends: it
// re-prices the period's unpaid conversions each time a higher band is
// reached (when the rule is retroactive), then closes the cycle on a timer
// at the period's end in the network's time zone (computed by the caller
// into PeriodEnd).
func CommissionCycle(ctx workflow.Context, state CycleState) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CycleState, error) { return state, nil }); err != nil {
		return fmt.Errorf("register state query: %w", err)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeNotFound},
		},
	})
	signals := workflow.GetSignalChannel(ctx, SignalBand)
	workflow.SetCurrentDetails(ctx, cycleDetails(state))

	reprice := func(band int) error {
		if band <= state.Band {
			return nil
		}
		var res RepriceResult
		if err := workflow.ExecuteActivity(ctx, RepriceCycleActivity, state.Cycle).Get(ctx, &res); err != nil {
			return fmt.Errorf("reprice cycle: %w", err)
		}
		state.Band = max(band, res.Band)
		state.Repriced += res.Repriced
		state.Reprices++
		workflow.SetCurrentDetails(ctx, cycleDetails(state))
		return nil
	}

	var ended workflow.Future
	if !state.Cycle.PeriodEnd.IsZero() {
		ended = workflow.NewTimer(ctx, max(0, state.Cycle.PeriodEnd.Sub(workflow.Now(ctx))))
	}
	for {
		sel := workflow.NewSelector(ctx)
		var band *BandSignal
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			var sig BandSignal
			c.Receive(ctx, &sig)
			band = &sig
		})
		done := false
		if ended != nil {
			sel.AddFuture(ended, func(workflow.Future) { done = true })
		}
		sel.Select(ctx)
		if band != nil {
			if err := reprice(band.Band); err != nil {
				return err
			}
		}
		if done {
			// Bands reached in the last moments are re-priced before closing.
			var sig BandSignal
			for signals.ReceiveAsync(&sig) {
				if err := reprice(sig.Band); err != nil {
					return err
				}
			}
			if err := workflow.ExecuteActivity(ctx, CloseCycleActivity, state.Cycle).Get(ctx, nil); err != nil {
				return fmt.Errorf("close cycle: %w", err)
			}
			state.ClosedAt = workflow.Now(ctx).UTC()
			workflow.SetCurrentDetails(ctx, cycleDetails(state))
			return nil
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			var sig BandSignal
			for signals.ReceiveAsync(&sig) {
				if err := reprice(sig.Band); err != nil {
					return err
				}
			}
			return workflow.NewContinueAsNewError(ctx, CommissionCycle, state)
		}
	}
}

func cycleDetails(s CycleState) string {
	c := s.Cycle
	end := "no end"
	if !c.PeriodEnd.IsZero() {
		end = "until " + c.PeriodEnd.Format(time.RFC3339)
	}
	band := "none"
	if s.Band >= 0 {
		band = fmt.Sprint(s.Band + 1)
	}
	d := fmt.Sprintf("Rule %d, partner %d, offer %d: period from %s %s; band %s; %d conversions re-priced",
		c.RuleID, c.PartnerID, c.OfferID, c.PeriodStart.Format(time.RFC3339), end, band, s.Repriced)
	if !s.ClosedAt.IsZero() {
		d += "; closed"
	}
	return d
}

// RepriceClosedCycle re-prices, once, a closed cycle's period that a
// backdated conversion raised to a higher band (DESIGN §13.19): the closed
// cycle's own workflow is never started again. The activity is chunked and
// heartbeats; running it twice writes nothing more.
func RepriceClosedCycle(ctx workflow.Context, cycle Cycle) (RepriceResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeNotFound},
		},
	})
	workflow.SetCurrentDetails(ctx, "re-pricing the closed "+cycleDetails(CycleState{Cycle: cycle, Band: -1}))
	var res RepriceResult
	err := workflow.ExecuteActivity(ctx, RepriceCycleActivity, cycle).Get(ctx, &res)
	return res, err
}
