// Package workflows holds tierwise's Temporal workflows. Workflow code is
// deterministic: every read and write of the ledger is an activity.
package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tierwise/tierwise/customervalue"
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
// by advertiser and the advertiser's user_id (DESIGN §14.2). A workflow id
// travels in a gRPC header, so it must be printable ASCII and not too long;
// a user_id is any text. The mapping is stable and one-to-one:
//
//   - customer/<advertiser>/<user_id> when the user_id is only ASCII letters,
//     digits and - _ . @ + : = (the usual case: numbers, emails, UUIDs);
//   - otherwise every other byte of its UTF-8 is percent-escaped (é is %C3%A9,
//     / is %2F, a space %20, % itself %25): customer/1/jos%C3%A9;
//   - and when that is longer than maxEscapedUserID characters,
//     customer/<advertiser>/~<sha256 of the user_id, hex>. "~" is always
//     escaped in the other forms, so the forms never meet.
//
// The readable user_id is kept in the TierwiseCustomer search attribute and
// the Web UI's details line.
func CustomerWorkflowID(advertiserID int64, userID string) string {
	id := escapeUserID(userID)
	if len(id) > maxEscapedUserID {
		sum := sha256.Sum256([]byte(userID))
		id = "~" + hex.EncodeToString(sum[:])
	}
	return "customer/" + strconv.FormatInt(advertiserID, 10) + "/" + id
}

// maxEscapedUserID keeps a customer's workflow id far below Temporal's
// default limit of 1,000 characters.
const maxEscapedUserID = 512

// escapeUserID percent-escapes every byte of s outside the readable set.
func escapeUserID(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '@', c == '+', c == ':', c == '=':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	return b.String()
}

// CustomerAttribute is the value of the TierwiseCustomer search attribute:
// "<advertiser>/<user_id>", the user_id as the advertiser sent it but for
// three characters percent-escaped: " as %22, \ as %5C and % itself as %25.
// Temporal's SQL visibility stores such values but cannot match them
// exactly (its query escaping is MySQL's), so an operator looks for
// TierwiseCustomer = '1/say %22hi%22'.
func CustomerAttribute(advertiserID int64, userID string) string {
	return strconv.FormatInt(advertiserID, 10) + "/" + attributeEscaper.Replace(userID)
}

var attributeEscaper = strings.NewReplacer("%", "%25", `"`, "%22", `\`, "%5C")

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
// continue-as-new and saved as the customer's snapshot.
type CustomerState struct {
	AdvertiserID int64
	UserID       string // empty for an anonymous conversion
	Recent       []int64
	Priced       int
	LastPartner  int64
	LastOffer    int64
	LastPricedAt time.Time
	// Value is the customer's progress on the Customer Value rules; Rules
	// and TimeZone are the rules and network zone last read, for the timers.
	Value    customervalue.State
	Rules    []customervalue.Rule
	TimeZone string
	// Resumed is set once the workflow has read the customer's snapshot.
	Resumed bool
	// Version is the workflow code version the run started with
	// (CodeVersion when it was started; 0 for runs from before versions).
	Version int
}

// CodeVersion is the customer workflow's code version. A run keeps the
// version it was started with, so replaying an older run takes its old
// path; continue-as-new moves a lifetime to the newest. The version travels
// in the input rather than through workflow.GetVersion, which would upsert
// a search attribute (a visibility write) in every new run.
//
//   - 0: pricing, recording and loading are regular activities; the search
//     attributes are upserted after every pricing.
//   - 1: they are local activities; search attributes are upserted only
//     when they change.
const CodeVersion = 1

// NewCustomerState is the input of a new customer workflow run.
func NewCustomerState(advertiserID int64, userID string) CustomerState {
	return CustomerState{AdvertiserID: advertiserID, UserID: userID, Version: CodeVersion}
}

// PriceResult is what PriceConversion reports back to the workflow.
type PriceResult struct {
	Priced    bool   // false when there was nothing to price (already priced, not approved)
	PartnerID int64  // the conversion's partner
	OfferID   int64  // the conversion's offer
	Payout    string // the conversion's total payout after pricing, a decimal string
	// Conversion is what the Customer Value rules read of it (set when
	// priced), Rules the active rules and TimeZone the network's zone.
	Conversion *customervalue.Conversion
	Rules      []customervalue.Rule
	TimeZone   string
}

// ReversalSignal tells a customer's workflow that a conversion was reversed
// (or rejected after approval).
type ReversalSignal struct {
	ConversionID int64
}

// RefundSignal tells a customer's workflow the totals refunded so far of a
// conversion: the sale amount refunded, and what the refunds took off its
// layer 1–3 revenue and payout.
type RefundSignal struct {
	ConversionID int64
	SaleAmount   decimal.Decimal // a JSON string, as the plain strings of older signals were
	Revenue      decimal.Decimal
	Payout       decimal.Decimal // absent (0) in signals sent before it was added
}

// Signal names of the customer's lifecycle changes.
const (
	SignalReversal = "reversal"
	SignalRefund   = "refund"
)

// Activity names of the customer's Customer Value outcomes and snapshot.
const (
	RecordCustomerActivity = "RecordCustomer"
	LoadCustomerActivity   = "LoadCustomer"
)

// CustomerRecord is what RecordCustomer writes: the outcomes' ledger lines
// and the state's snapshot, in one transaction.
type CustomerRecord struct {
	Outcomes []customervalue.Outcome
	// Evaluated are the conversions the rules have now seen.
	Evaluated []int64
	State     CustomerState
}

// PriceConversionActivity is the name of the pricing activity.
const PriceConversionActivity = "PriceConversion"

// Customer is the lifetime of one customer: it prices each conversion once,
// in the order the signals arrive, evaluates the Customer Value rules on it,
// wakes on timers for cycle ends, and continues as new when the server
// suggests it.
func Customer(ctx workflow.Context, state CustomerState) error {
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

// updateVisibility sets the search attributes and the Web UI's details line.
// With onlyChanged (runs since the local-activities change) it upserts only
// the attributes whose value changed: each upsert is a visibility write.
func updateVisibility(ctx workflow.Context, state CustomerState, onlyChanged bool) {
	if state.UserID == "" {
		workflow.SetCurrentDetails(ctx, "anonymous conversion")
		return
	}
	current := workflow.GetTypedSearchAttributes(ctx)
	var updates []temporal.SearchAttributeUpdate
	set := func(key temporal.SearchAttributeKeyKeyword, value string) {
		if v, ok := current.GetKeyword(key); !onlyChanged || !ok || v != value {
			updates = append(updates, key.ValueSet(value))
		}
	}
	set(AttrCustomer, CustomerAttribute(state.AdvertiserID, state.UserID))
	if state.LastPartner != 0 {
		set(AttrLastPartner, fmt.Sprint(state.LastPartner))
		set(AttrLastOffer, fmt.Sprint(state.LastOffer))
	}
	if len(updates) > 0 {
		_ = workflow.UpsertTypedSearchAttributes(ctx, updates...)
	}
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
