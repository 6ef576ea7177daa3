// Package workflows holds tierwise's Temporal workflows. Workflow code is
// deterministic: every read and write of the ledger is an activity.
package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the task queue of every tierwise workflow and activity.
const TaskQueue = "tierwise"

// Signal and query names of the customer workflow.
const (
	SignalConversion = "conversion"
	QueryState       = "state"
)

// Search attributes the customer workflow sets, for finding a customer's
// workflow in the Web UI.
var (
	AttrCustomer    = temporal.NewSearchAttributeKeyKeyword("TierwiseCustomer")
	AttrLastPartner = temporal.NewSearchAttributeKeyKeyword("TierwiseLastPartner")
	AttrLastOffer   = temporal.NewSearchAttributeKeyKeyword("TierwiseLastOffer")
)

// CustomerWorkflowID is the id of a customer's workflow: customers are keyed
// by advertiser and the advertiser's user_id.
func CustomerWorkflowID(advertiserID int64, userID string) string {
	return fmt.Sprintf("customer/%d/%s", advertiserID, userID)
}

// AnonymousWorkflowID is the id of the short workflow that prices a
// conversion without a user_id.
func AnonymousWorkflowID(conversionID int64) string {
	return fmt.Sprintf("anonymous/%d", conversionID)
}

// ConversionSignal tells a customer's workflow that a conversion is ready to
// be priced.
type ConversionSignal struct {
	ConversionID int64
}

// recentLimit bounds the conversion ids a workflow remembers for
// deduplication. Pricing is idempotent in the ledger as well, so an id that
// has aged out is at worst priced as a no-op.
const recentLimit = 1000

// CustomerState is all of a customer workflow's state, carried whole across
// continue-as-new.
type CustomerState struct {
	AdvertiserID int64
	UserID       string // empty for an anonymous conversion
	Recent       []int64
	Priced       int
	LastPartner  int64
	LastOffer    int64
	LastPricedAt time.Time
}

// PriceResult is what PriceConversion reports back to the workflow.
type PriceResult struct {
	Priced    bool   // false when there was nothing to price (already priced, not approved)
	PartnerID int64  // the conversion's partner
	OfferID   int64  // the conversion's offer
	Payout    string // the conversion's total payout after pricing, a decimal string
}

// PriceConversionActivity is the name of the pricing activity.
const PriceConversionActivity = "PriceConversion"

// Customer is the lifetime of one customer: it prices each conversion once,
// in the order the signals arrive, and continues as new when the server
// suggests it.
func Customer(ctx workflow.Context, state CustomerState) error {
	logger := workflow.GetLogger(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CustomerState, error) { return state, nil }); err != nil {
		return fmt.Errorf("register state query: %w", err)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: []string{ErrTypeNotFound},
		},
	})
	signals := workflow.GetSignalChannel(ctx, SignalConversion)
	handle := func(sig ConversionSignal) {
		if slices.Contains(state.Recent, sig.ConversionID) {
			return
		}
		var res PriceResult
		err := workflow.ExecuteActivity(ctx, PriceConversionActivity, sig.ConversionID).Get(ctx, &res)
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
		updateVisibility(ctx, state)
	}

	updateVisibility(ctx, state)
	for {
		var sig ConversionSignal
		signals.Receive(ctx, &sig)
		handle(sig)
		if state.UserID == "" || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Drain what has arrived so no signal is lost with this run.
			for signals.ReceiveAsync(&sig) {
				handle(sig)
			}
			if state.UserID == "" {
				return nil
			}
			return workflow.NewContinueAsNewError(ctx, Customer, state)
		}
	}
}

// updateVisibility sets the search attributes and the Web UI's details line.
func updateVisibility(ctx workflow.Context, state CustomerState) {
	if state.UserID == "" {
		workflow.SetCurrentDetails(ctx, "anonymous conversion")
		return
	}
	updates := []temporal.SearchAttributeUpdate{AttrCustomer.ValueSet(fmt.Sprintf("%d/%s", state.AdvertiserID, state.UserID))}
	if state.LastPartner != 0 {
		updates = append(updates,
			AttrLastPartner.ValueSet(fmt.Sprint(state.LastPartner)),
			AttrLastOffer.ValueSet(fmt.Sprint(state.LastOffer)))
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, updates...)
	details := fmt.Sprintf("Customer %s of advertiser %d: %d conversions priced", state.UserID, state.AdvertiserID, state.Priced)
	if state.Priced > 0 {
		details += fmt.Sprintf(", last partner %d on offer %d at %s", state.LastPartner, state.LastOffer, state.LastPricedAt.Format(time.RFC3339))
	}
	workflow.SetCurrentDetails(ctx, details)
}

// ErrTypeNotFound is the application error type of an activity whose subject
// no longer exists; it is not retried.
const ErrTypeNotFound = "NotFound"

// Register registers the workflows with a worker.
func Register(r interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(Customer, workflow.RegisterOptions{Name: "Customer"})
	r.RegisterWorkflowWithOptions(CommissionCycle, workflow.RegisterOptions{Name: "CommissionCycle"})
	r.RegisterWorkflowWithOptions(CloseEndedCycles, workflow.RegisterOptions{Name: "CloseEndedCycles"})
}
