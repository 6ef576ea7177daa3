package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // every worker resolves a zone the same way, whatever its machine has

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tierwise/tierwise/customervalue"
)

// customer is a customer's workflow from code version 2 on, an entity
// workflow in the shape of Temporal's samples: its state, the channels it
// listens on, one handler per signal and the wake-up timer. Each handler
// applies what happened to a copy of the state and keeps the copy only once
// RecordCustomer has written its outcomes and snapshot, so an outcome is
// never spent unwritten; an error on these paths is returned, and fails the
// workflow task, which Temporal retries, rather than being logged and
// skipped.
type customer struct {
	ctx    workflow.Context
	state  CustomerState
	loc    *time.Location
	logger log.Logger

	conversions workflow.ReceiveChannel
	reversals   workflow.ReceiveChannel
	refunds     workflow.ReceiveChannel

	// The wake-up timer, armed for wake (nil when nothing is due); stale is
	// a past wake-up after which Due left the state due again at once (it
	// is not waited for again until a signal changes the state).
	timer       workflow.Future
	wake        time.Time
	cancelTimer workflow.CancelFunc
	stale       time.Time
}

func customerV2(ctx workflow.Context, state CustomerState) error {
	c := &customer{
		ctx:         workflow.WithLocalActivityOptions(ctx, localActivity),
		state:       state,
		logger:      workflow.GetLogger(ctx),
		conversions: workflow.GetSignalChannel(ctx, SignalConversion),
		reversals:   workflow.GetSignalChannel(ctx, SignalReversal),
		refunds:     workflow.GetSignalChannel(ctx, SignalRefund),
	}
	err := c.run()
	if err != nil && !workflow.IsContinueAsNewError(err) {
		// A money path failed past its activity's retries: fail the
		// workflow task (Temporal retries it, and the Web UI shows why)
		// rather than end the customer's lifetime.
		panic(fmt.Sprintf("customer %d/%s: %v", state.AdvertiserID, state.UserID, err))
	}
	return err
}

// localActivity runs the workflow's activities in the workflow task that
// needs them: pricing, recording, loading, without round trips through the
// server. They retry until they succeed; only a conversion that does not
// exist fails for good.
var localActivity = workflow.LocalActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{ErrTypeNotFound},
	},
}

// run is the customer's lifetime: resume from the snapshot, then take
// signals and wake-ups until continue-as-new.
func (c *customer) run() error {
	if err := workflow.SetQueryHandler(c.ctx, QueryState, func() (CustomerState, error) { return c.state, nil }); err != nil {
		return fmt.Errorf("register state query: %w", err)
	}
	if err := c.resume(); err != nil {
		return err
	}
	updateVisibility(c.ctx, c.state, true)
	for {
		c.arm()
		var err error
		sel := workflow.NewSelector(c.ctx)
		sel.AddReceive(c.conversions, func(ch workflow.ReceiveChannel, _ bool) {
			var sig ConversionSignal
			ch.Receive(c.ctx, &sig)
			err = c.onConversion(sig)
		})
		sel.AddReceive(c.reversals, func(ch workflow.ReceiveChannel, _ bool) {
			var sig ReversalSignal
			ch.Receive(c.ctx, &sig)
			err = c.onReversal(sig)
		})
		sel.AddReceive(c.refunds, func(ch workflow.ReceiveChannel, _ bool) {
			var sig RefundSignal
			ch.Receive(c.ctx, &sig)
			err = c.onRefund(sig)
		})
		if c.timer != nil {
			sel.AddFuture(c.timer, func(f workflow.Future) { err = c.onWake(f) })
		}
		sel.Select(c.ctx)
		if err != nil {
			return err
		}
		if c.state.UserID == "" || workflow.GetInfo(c.ctx).GetContinueAsNewSuggested() {
			return c.continueAsNew()
		}
	}
}

// resume loads the customer's snapshot when the run starts without state:
// a new lifetime, or one whose workflow ended.
func (c *customer) resume() error {
	if c.state.UserID == "" || c.state.Resumed {
		return nil
	}
	var saved *CustomerState
	if err := workflow.ExecuteLocalActivity(c.ctx, LoadCustomerActivity, c.state.AdvertiserID, c.state.UserID).Get(c.ctx, &saved); err != nil {
		return fmt.Errorf("load customer snapshot: %w", err)
	}
	if saved != nil {
		version := c.state.Version
		c.state = *saved
		c.state.Version = version // the run's, not the snapshot's
	}
	c.state.Resumed = true
	if c.state.TimeZone != "" {
		return c.useZone(c.state.TimeZone)
	}
	return nil
}

// onConversion prices a conversion once and applies it, and the customer's
// lifecycle signals the ledger has and the workflow has not heard of yet,
// to the Customer Value rules.
func (c *customer) onConversion(sig ConversionSignal) error {
	c.stale = time.Time{}
	if slices.Contains(c.state.Recent, sig.ConversionID) {
		return nil
	}
	var res CustomerPricing
	req := PriceRequest{ConversionID: sig.ConversionID, LifecycleSeen: c.state.LifecycleSeen}
	err := workflow.ExecuteLocalActivity(c.ctx, PriceForCustomerActivity, req).Get(c.ctx, &res)
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &app) && app.Type() == ErrTypeNotFound:
		// Conversions are never deleted: a signal for one that does not
		// exist priced nothing and never will.
		c.logger.Warn("conversion not found", "conversion_id", sig.ConversionID)
		c.remember(sig.ConversionID)
		return nil
	case err != nil:
		return fmt.Errorf("price conversion %d: %w", sig.ConversionID, err)
	}
	c.remember(sig.ConversionID)
	if !res.Priced {
		return nil
	}
	if res.New {
		c.state.Priced++
	}
	c.state.LastPartner, c.state.LastOffer = res.PartnerID, res.OfferID
	c.state.LastPricedAt = workflow.Now(c.ctx).UTC()
	defer updateVisibility(c.ctx, c.state, true)
	if res.Conversion == nil || c.state.UserID == "" {
		return nil
	}
	if err := c.useRules(res.ConfigVersion, res.TimeZone); err != nil {
		return err
	}
	next := c.state.Value.Clone()
	seen := c.state.LifecycleSeen
	for _, e := range res.Lifecycle {
		// Reversals and refunds are idempotent and commute (a reversal is
		// final; refunds are totals that only grow), so applying one its
		// own signal applies again later changes nothing.
		switch e.Kind {
		case "reversal":
			next.Reverse(c.state.Rules, e.ConversionID)
		case "refund":
			next.Refund(e.ConversionID, e.SaleAmount, e.Revenue, e.Payout)
		}
		seen = max(seen, e.ID)
	}
	outcomes := next.Apply(c.state.Rules, *res.Conversion, c.loc)
	if err := c.record(next, outcomes, res.Conversion.ID); err != nil {
		return err
	}
	c.state.LifecycleSeen = seen
	return nil
}

// onReversal takes a reversed conversion out of its cycles and re-arms what
// it fired (DESIGN §13.14).
func (c *customer) onReversal(sig ReversalSignal) error {
	c.stale = time.Time{}
	next := c.state.Value.Clone()
	next.Reverse(c.state.Rules, sig.ConversionID)
	if err := c.record(next, nil); err != nil {
		return err
	}
	c.state.LifecycleSeen = max(c.state.LifecycleSeen, sig.LifecycleID)
	return nil
}

// onRefund records the totals refunded so far of a conversion (§13.13,
// §13.16).
func (c *customer) onRefund(sig RefundSignal) error {
	c.stale = time.Time{}
	next := c.state.Value.Clone()
	next.Refund(sig.ConversionID, sig.SaleAmount, sig.Revenue, sig.Payout)
	if err := c.record(next, nil); err != nil {
		return err
	}
	c.state.LifecycleSeen = max(c.state.LifecycleSeen, sig.LifecycleID)
	return nil
}

// onWake settles the cycles that ended: their end-of-cycle outcomes, their
// resets, the windows that closed.
func (c *customer) onWake(timer workflow.Future) error {
	wake := c.wake
	c.timer, c.cancelTimer = nil, nil
	_ = timer.Get(c.ctx, nil) // fired: armed timers are cancelled only when replaced
	next := c.state.Value.Clone()
	due := next.Due(c.state.Rules, workflow.Now(c.ctx).UTC(), c.loc)
	if err := c.record(next, due); err != nil {
		return err
	}
	if w, ok := c.state.Value.NextWakeUp(c.state.Rules, c.loc); ok && w.Equal(wake) && !w.After(workflow.Now(c.ctx)) {
		// Nothing moved: not waited for again until a signal changes
		// the state, lest the workflow spin.
		c.stale = wake
	}
	return nil
}

// record writes the outcomes and the state's snapshot, then keeps next as
// the customer's state. A customer without rules and outcomes has nothing
// to write.
func (c *customer) record(next customervalue.State, outcomes []customervalue.Outcome, evaluated ...int64) error {
	state := c.state
	state.Value = next
	if state.UserID != "" && (len(outcomes) > 0 || len(state.Rules) > 0) {
		rec := CustomerRecord{Outcomes: outcomes, Evaluated: evaluated, State: state}
		if err := workflow.ExecuteLocalActivity(c.ctx, RecordCustomerActivity, rec).Get(c.ctx, nil); err != nil {
			return fmt.Errorf("record customer value outcomes: %w", err)
		}
	}
	c.state = state
	return nil
}

// useRules makes the rules those of the configuration version, loading them
// when it moved, and the zone the network's.
func (c *customer) useRules(version int64, zone string) error {
	if err := c.useZone(zone); err != nil {
		return err
	}
	if version == c.state.RulesVersion {
		return nil
	}
	var set RuleSet
	if err := workflow.ExecuteLocalActivity(c.ctx, LoadCustomerValueRulesActivity).Get(c.ctx, &set); err != nil {
		return fmt.Errorf("load customer value rules: %w", err)
	}
	c.state.Rules, c.state.RulesVersion = set.Rules, set.Version
	return nil
}

// useZone resolves the network's time zone, which the pricing activity
// checked. A zone the worker cannot resolve fails loudly: periods computed
// in UTC instead would pay on the wrong day.
func (c *customer) useZone(zone string) error {
	if c.loc != nil && zone == c.state.TimeZone {
		return nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("network time zone %q: %w", zone, err)
	}
	c.loc, c.state.TimeZone = loc, zone
	return nil
}

// arm keeps one wake-up timer for the next cycle end, and replaces it only
// when that deadline changes: a timer started and cancelled at every signal
// would fill the history.
func (c *customer) arm() {
	if c.loc == nil {
		return // no rules read yet, so nothing is due
	}
	wake, ok := c.state.Value.NextWakeUp(c.state.Rules, c.loc)
	if ok && wake.Equal(c.stale) {
		ok = false
	}
	if ok && c.timer != nil && wake.Equal(c.wake) {
		return
	}
	if c.cancelTimer != nil {
		c.cancelTimer()
	}
	c.timer, c.cancelTimer = nil, nil
	if !ok {
		return
	}
	ctx, cancel := workflow.WithCancel(c.ctx)
	c.timer, c.wake, c.cancelTimer = workflow.NewTimer(ctx, max(0, wake.Sub(workflow.Now(c.ctx)))), wake, cancel
}

// remember keeps a conversion id for deduplication, the latest recentLimit.
func (c *customer) remember(id int64) {
	c.state.Recent = append(c.state.Recent, id)
	if len(c.state.Recent) > recentLimit {
		c.state.Recent = c.state.Recent[len(c.state.Recent)-recentLimit:]
	}
}

// continueAsNew handles the signals that arrived, so none is lost with this
// run, and continues as new with the state (on the newest code version). A
// run of a conversion without a customer ends instead.
func (c *customer) continueAsNew() error {
	for {
		var conv ConversionSignal
		var rev ReversalSignal
		var ref RefundSignal
		var err error
		switch {
		case c.conversions.ReceiveAsync(&conv):
			err = c.onConversion(conv)
		case c.reversals.ReceiveAsync(&rev):
			err = c.onReversal(rev)
		case c.refunds.ReceiveAsync(&ref):
			err = c.onRefund(ref)
		default:
			if c.state.UserID == "" {
				return nil
			}
			c.state.Version = CodeVersion
			return workflow.NewContinueAsNewError(c.ctx, Customer, c.state)
		}
		if err != nil {
			return err
		}
	}
}
