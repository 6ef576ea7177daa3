// Package workflows holds tierwise's Temporal workflows. Workflow code is
// deterministic: every read and write of the ledger is an activity.
package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
//
// Temporal's PostgreSQL visibility keeps a keyword in 255 characters, so a
// value longer than that keeps its first 180 characters, then "~" and the
// first 32 hex digits of the user_id's SHA-256: still one customer's, found
// exactly by this function's value and by STARTS_WITH its beginning.
func CustomerAttribute(advertiserID int64, userID string) string {
	v := strconv.FormatInt(advertiserID, 10) + "/" + attributeEscaper.Replace(userID)
	if utf8.RuneCountInString(v) <= maxAttribute {
		return v
	}
	sum := sha256.Sum256([]byte(userID))
	return string([]rune(v)[:180]) + "~" + hex.EncodeToString(sum[:16])
}

// maxAttribute is the longest keyword search attribute Temporal's SQL
// visibility stores.
const maxAttribute = 255

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
	// RulesVersion is the configuration version Rules belong to (version 2
	// on): the workflow loads the rules again when a pricing reports
	// another.
	RulesVersion int64
	// LifecycleSeen is the latest lifecycle signal (a reversal, a refund)
	// applied: a pricing returns the customer's later ones, and those not
	// delivered yet.
	LifecycleSeen int64
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
//   - 2: the entity workflow of customer_entity.go: an outcome is kept only
//     once it is written, a money path's failure is retried (never logged
//     and skipped), one wake-up timer re-armed only when its deadline
//     changes, the rules loaded by configuration version rather than sent
//     with every pricing, the customer's undelivered lifecycle signals
//     applied before a conversion.
const CodeVersion = 2

// NewCustomerState is the input of a new customer workflow run.
func NewCustomerState(advertiserID int64, userID string) CustomerState {
	return CustomerState{AdvertiserID: advertiserID, UserID: userID, Version: CodeVersion}
}

// Customer is the lifetime of one customer (DESIGN §10): it prices each
// conversion once, in the order the signals arrive, evaluates the Customer
// Value rules on it, settles end-of-cycle outcomes on a timer, takes
// reversals and refunds, and continues as new when the server suggests it.
// A run keeps the code version it started with (CustomerState.Version).
func Customer(ctx workflow.Context, state CustomerState) error {
	if state.Version < 2 {
		return customerV1(ctx, state)
	}
	return customerV2(ctx, state)
}

// PriceResult is what PriceConversion reports back to runs of versions 0
// and 1.
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
	LifecycleID  int64 // the outbox row's id (0 in signals from before the outbox)
}

// RefundSignal tells a customer's workflow the totals refunded so far of a
// conversion: the sale amount refunded, and what the refunds took off its
// layer 1–3 revenue and payout.
type RefundSignal struct {
	ConversionID int64
	LifecycleID  int64           // the outbox row's id (0 in signals from before the outbox)
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

// PriceRequest asks PriceForCustomer to price a conversion and report the
// customer's lifecycle signals after LifecycleSeen and those not delivered.
type PriceRequest struct {
	ConversionID  int64
	LifecycleSeen int64
}

// CustomerPricing is what PriceForCustomer reports back to the workflow.
type CustomerPricing struct {
	// Priced is true when the conversion is priced (by this call, New, or
	// before) and counts: approved, not reversed.
	Priced    bool
	New       bool
	PartnerID int64
	OfferID   int64
	Payout    decimal.Decimal
	// Conversion is what the Customer Value rules read of it (a customer's
	// priced conversion only); ConfigVersion the configuration version the
	// rules must be of; TimeZone the network's zone.
	Conversion    *customervalue.Conversion
	ConfigVersion int64
	TimeZone      string
	// Lifecycle are the customer's reversals and refunds written to the
	// ledger but not delivered to the workflow yet, oldest first.
	Lifecycle []LifecycleEvent
}

// LifecycleEvent is a reversal or a refund (with the totals so far) of one
// of the customer's conversions.
type LifecycleEvent struct {
	ID           int64 // the outbox row's id
	ConversionID int64
	Kind         string // "reversal" or "refund"
	SaleAmount   decimal.Decimal
	Revenue      decimal.Decimal
	Payout       decimal.Decimal
}

// RuleSet is the active Customer Value rules of a configuration version.
type RuleSet struct {
	Version int64
	Rules   []customervalue.Rule
}

// Activity names of the customer workflow. Register's test checks each is
// an activity of the worker.
const (
	PriceConversionActivity        = "PriceConversion" // versions 0 and 1
	PriceForCustomerActivity       = "PriceForCustomer"
	LoadCustomerValueRulesActivity = "LoadCustomerValueRules"
)

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
	r.RegisterWorkflowWithOptions(RepriceClosedCycle, workflow.RegisterOptions{Name: "RepriceClosedCycle"})
}
