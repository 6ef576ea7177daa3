// Package ingest accepts postbacks: it validates them, writes the conversion
// durably (the accept), then tells the customer's workflow. A conversion that
// was stored but not signalled is signalled later by the Sweeper, so nothing
// accepted is lost and, since the workflow and the pricing are idempotent,
// nothing is counted twice.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// Ingester accepts postbacks.
type Ingester struct {
	store    *store.Store
	temporal client.Client
	logger   *slog.Logger
	now      func() time.Time
	maxAge   time.Duration
	// priceAnonymous prices a conversion without a customer in place of
	// its own workflow; nil: the anonymous workflow prices it.
	priceAnonymous func(ctx context.Context, conversionID int64) error
	// queues, once Start has run, hand accepted conversions to the
	// background signallers, one queue each; a customer's conversions
	// always go to the same one, so they are signalled in the order they
	// were accepted.
	queues []chan store.Conversion
}

// Options tune an ingester; the zero value takes the defaults.
type Options struct {
	// MaxAge is how old a conversion's timestamp may be; default
	// DefaultMaxAge (400 days).
	MaxAge time.Duration
	// PriceAnonymous, when set, prices a conversion without a user_id
	// directly (activities.Activities.PriceAnonymous) instead of starting
	// a workflow for it: it has no lifetime to keep, and a workflow start
	// is the costliest thing a conversion can do. The guarantees stay:
	// pricing is idempotent under the conversion's row lock, the
	// conversion is marked signalled only once it is priced, and the
	// sweeper prices what was left.
	PriceAnonymous func(ctx context.Context, conversionID int64) error
}

// New returns an ingester.
func New(st *store.Store, c client.Client, logger *slog.Logger, opts Options) *Ingester {
	if logger == nil {
		logger = slog.Default()
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	return &Ingester{store: st, temporal: c, logger: logger, now: time.Now, maxAge: opts.MaxAge, priceAnonymous: opts.PriceAnonymous}
}

// Result is the answer to a postback.
type Result struct {
	ConversionID int64  `json:"conversion_id"`
	Duplicate    bool   `json:"duplicate"`
	Status       string `json:"status"`
	// Reason says why a rejected conversion is rejected (DESIGN §14.1).
	Reason string `json:"reason,omitempty"`
	// Warnings name what the postback sent that tierwise ignored or that
	// makes an amount 0: an unknown parameter, a percent of sale without a
	// sale amount.
	Warnings []string `json:"warnings,omitempty"`
}

// ErrBadToken is returned for an unknown postback token.
var ErrBadToken = errors.New("unknown postback token")

// Accept checks a postback's parameters, resolves its offer and partner,
// stores the conversion (the durable accept) and hands it to the customer's
// workflow. token is the Authorization bearer token, used when the
// parameters carry none. A conversion whose partner may not run the offer
// is stored rejected with a reason and never priced. Any problem with the
// parameters stores nothing.
func (i *Ingester) Accept(ctx context.Context, q url.Values, token string) (Result, error) {
	pb, parseErr := ParsePostback(q, ParseOptions{Now: i.now(), MaxAge: i.maxAge})
	token = cmp.Or(pb.Token, token)
	if token == "" {
		return Result{}, store.Invalid("token", "the advertiser's postback token is required (token or verification_token, or an Authorization bearer header)")
	}
	adv, err := i.store.AdvertiserByPostbackToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("token: %w", ErrBadToken)
	}
	if err != nil {
		return Result{}, err
	}
	if parseErr != nil {
		return Result{}, parseErr
	}
	n, warnings, err := i.resolve(ctx, adv, pb)
	if err != nil {
		return Result{}, err
	}
	c, dup, err := i.store.InsertConversion(ctx, n)
	if err != nil {
		return Result{}, err
	}
	res := Result{ConversionID: c.ID, Duplicate: dup, Status: c.Status, Reason: c.RejectionReason, Warnings: warnings}
	if !dup && c.Status == store.StatusApproved {
		i.Signal(ctx, c)
	}
	return res, nil
}

// resolve turns checked parameters into a conversion to store: the click or
// the offer and partner, whether the partner may run the offer now, the
// event, the data points and the dedupe key.
func (i *Ingester) resolve(ctx context.Context, adv store.Advertiser, pb Postback) (store.NewConversion, []string, error) {
	var p store.Problems
	var warnings []string
	n := store.NewConversion{
		AdvertiserID: adv.ID, TransactionID: pb.TransactionID, OfferID: pb.OfferID, PartnerID: pb.PartnerID,
		UserID: pb.UserID, OrderID: pb.OrderID, SaleAmount: pb.SaleAmount, PostbackRevenue: pb.Revenue,
		Status: pb.Status, OccurredAt: pb.OccurredAt, Adv: pb.Adv, CouponCode: pb.CouponCode, EmailSHA256: pb.EmailSHA256,
	}
	if pb.Status == store.StatusRejected {
		n.RejectionReason = store.RejectPostback
	}
	if pb.AdvertiserID != 0 && pb.AdvertiserID != adv.ID {
		p.Add(paramAdvertiser, "advertiser %d is not the advertiser of this token", pb.AdvertiserID)
		return n, nil, p.Err()
	}
	offerField := paramOffer
	if pb.TransactionID != "" {
		offerField = paramTransaction
		click, err := i.store.ClickByTransactionID(ctx, pb.TransactionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.Add(paramTransaction, "no click has transaction_id %q", limits.Clip(pb.TransactionID))
			return n, nil, p.Err()
		case err != nil:
			return n, nil, err
		}
		n.OfferID, n.PartnerID, n.SourceID = click.OfferID, click.PartnerID, click.SourceID
	}

	// The offer and whether the partner may run it: checked again at
	// conversion time, since the partner may have been suspended since the
	// click (DESIGN §14.1).
	access, err := i.store.OfferAccess(ctx, n.PartnerID, n.OfferID)
	var missing *store.NotFoundError
	switch {
	case errors.As(err, &missing) && missing.What == "partner":
		p.Add(paramPartner, "no partner %d", n.PartnerID)
		return n, nil, p.Err()
	case errors.As(err, &missing):
		p.Add(offerField, "no offer %d", n.OfferID)
		return n, nil, p.Err()
	case err != nil:
		return n, nil, err
	}
	o := access.Offer
	if o.AdvertiserID != adv.ID {
		p.Add(offerField, "offer %d is not an offer of this advertiser", o.ID)
		return n, nil, p.Err()
	}
	n.Currency = o.Currency
	ev, ok := offerEvent(&p, o, pb.Event, pb.EventID)
	if ok {
		n.Event = ev.Event
		if ev.Repeatable && n.OrderID == "" {
			p.Add(paramOrder, "event %q is repeatable: each occurrence needs its own order_id", ev.Event)
		}
		if !pb.AmountSent && usesSaleAmount(ev) {
			warnings = append(warnings, "amount: not sent, so the percent of the sale amount in this event's payout or revenue is 0")
		}
	}
	switch {
	case n.Status == store.StatusRejected:
	case adv.Status != store.AdvertiserActive:
		n.Status, n.RejectionReason = store.StatusRejected, store.RejectAdvertiserInactive
	case access.Rejection != "":
		n.Status, n.RejectionReason = store.StatusRejected, access.Rejection
	}

	// Data points the advertiser sent, typed; any other parameter is
	// ignored with a warning (a typo such as amout=100 would otherwise be a
	// silent $0 conversion).
	points, err := i.store.ActiveDataPoints(ctx)
	if err != nil {
		return n, nil, err
	}
	n.Data = map[string]any{}
	for _, dp := range points {
		v, sent := pb.Other[dp.Identifier]
		if !sent {
			continue
		}
		delete(pb.Other, dp.Identifier)
		if dp.Type == store.DataPointNumber {
			d, err := limits.ParseAmount(v, limits.SignedAmount)
			if err != nil {
				p.Add(dp.Identifier, "data point %q is a number: %v", dp.Identifier, err)
				continue
			}
			n.Data[dp.Identifier] = d.String()
			continue
		}
		n.Data[dp.Identifier] = v
	}
	unknown := make([]string, 0, len(pb.Other))
	for k := range pb.Other {
		unknown = append(unknown, k)
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		warnings = append(warnings, fmt.Sprintf("%s: not a postback parameter or data point; ignored", k))
	}

	// The dedupe key (DESIGN §13.2).
	switch {
	case n.OrderID != "":
		n.DedupeKey = fmt.Sprintf("%d:%s:order:%s", n.OfferID, n.Event, n.OrderID)
	case n.TransactionID != "":
		n.DedupeKey = fmt.Sprintf("%d:%s:transaction:%s", n.OfferID, n.Event, n.TransactionID)
	case n.UserID != "":
		n.DedupeKey = fmt.Sprintf("%d:%s:user:%s", n.OfferID, n.Event, n.UserID)
	default:
		p.Add(paramOrder, "one of order_id, transaction_id or user_id is needed to recognise duplicates")
	}
	if err := p.Err(); err != nil {
		return n, nil, err
	}
	if n.UserID != "" {
		n.WorkflowID = workflows.CustomerWorkflowID(adv.ID, n.UserID)
	}
	return n, warnings, nil
}

// usesSaleAmount reports whether an event's default payout or revenue is a
// percent of the sale amount (CPS, CPA+CPS, RPS, RPA+RPS).
func usesSaleAmount(e store.OfferEvent) bool {
	switch e.Payout.Type {
	case pricing.PayoutCPS, pricing.PayoutCPACPS:
		return true
	}
	switch e.Revenue.Type {
	case pricing.RevenueRPS, pricing.RevenueRPARPS:
		return true
	}
	return false
}

// offerEvent finds the postback's event of the offer: by its stable id
// (event_id) or by name (event; none is the base conversion).
func offerEvent(p *store.Problems, o store.Offer, name string, id int64) (store.OfferEvent, bool) {
	if id != 0 {
		i := slices.IndexFunc(o.Events, func(e store.OfferEvent) bool { return e.ID == id })
		switch {
		case i < 0:
			p.Add(paramEventID, "offer %d has no event with id %d", o.ID, id)
			return store.OfferEvent{}, false
		case name != "" && o.Events[i].Event != name:
			p.Add(paramEventID, "event id %d is event %q, but event says %q", id, o.Events[i].Event, name)
			return store.OfferEvent{}, false
		}
		return o.Events[i], true
	}
	ev, ok := o.Event(name)
	if !ok {
		p.Add(paramEvent, "offer %d has no event %q", o.ID, name)
	}
	return ev, ok
}

// signalTimeout bounds how long a signal waits for Temporal; past it the
// sweeper signals.
const signalTimeout = 2 * time.Second

// Start makes Signal asynchronous: workers goroutines signal accepted
// conversions, each from a queue of queueSize, until the returned stop is
// called, which waits for the signals under way. A postback is then
// answered once its conversion is durable, not after a round trip to
// Temporal, and a burst of postbacks does not become a burst of concurrent
// signal-with-starts. A conversion that does not fit in its queue, or is
// still queued at stop, is durable and unsignalled: the Sweeper signals it.
// Call Start before the ingester is used; without it Signal signals in the
// caller.
func (i *Ingester) Start(workers, queueSize int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	i.queues = make([]chan store.Conversion, workers)
	for n := range i.queues {
		q := make(chan store.Conversion, queueSize)
		i.queues[n] = q
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				case c := <-q:
					i.signalNow(context.Background(), c)
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// Signal tells the conversion's workflow about it and records that it did,
// in the background once Start has run. On failure it logs and leaves the
// conversion to the sweeper.
func (i *Ingester) Signal(ctx context.Context, c store.Conversion) {
	if i.temporal == nil {
		return // a process without Temporal (tests of the API alone): the sweeper signals
	}
	if i.queues == nil {
		i.signalNow(ctx, c)
		return
	}
	select {
	case i.queues[shardOf(customerKey(c), len(i.queues))] <- c:
	default:
		i.logger.DebugContext(ctx, "signal queue full; the sweeper will signal", "conversion_id", c.ID)
	}
}

// customerKey is what orders a conversion's signals: its customer's
// workflow id, or for a conversion without a customer its own workflow.
func customerKey(c store.Conversion) string {
	if c.Anonymous() {
		return workflows.AnonymousWorkflowID(c.ID)
	}
	return c.WorkflowID
}

// shardOf picks one of n signallers for a key: the same for all of a
// customer's conversions.
func shardOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func (i *Ingester) signalNow(ctx context.Context, c store.Conversion) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
	defer cancel()
	if err := i.signal(ctx, c); err != nil {
		i.logger.WarnContext(ctx, "signal conversion; the sweeper will retry", "conversion_id", c.ID, "error", limits.Shorten(err.Error(), 512))
	}
}

func (i *Ingester) signal(ctx context.Context, c store.Conversion) error {
	if c.Anonymous() && i.priceAnonymous != nil {
		if err := i.priceAnonymous(ctx, c.ID); err != nil {
			return fmt.Errorf("price conversion %d: %w", c.ID, err)
		}
		return i.store.MarkSignalled(ctx, c.ID)
	}
	state := workflows.NewCustomerState(c.AdvertiserID, c.UserID)
	opts := client.StartWorkflowOptions{
		ID:        c.WorkflowID,
		TaskQueue: workflows.TaskQueue,
	}
	if c.Anonymous() {
		opts.ID = workflows.AnonymousWorkflowID(c.ID)
	} else {
		// Set at the start, so a new customer's workflow need not upsert
		// them (a visibility write) after pricing its first conversion.
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(
			workflows.AttrCustomer.ValueSet(workflows.CustomerAttribute(c.AdvertiserID, c.UserID)),
			workflows.AttrLastPartner.ValueSet(fmt.Sprint(c.PartnerID)),
			workflows.AttrLastOffer.ValueSet(fmt.Sprint(c.OfferID)))
	}
	_, err := i.temporal.SignalWithStartWorkflow(ctx, opts.ID, workflows.SignalConversion,
		workflows.ConversionSignal{ConversionID: c.ID}, opts, workflows.Customer, state)
	if err != nil {
		return fmt.Errorf("signal-with-start %s: %w", opts.ID, err)
	}
	return i.store.MarkSignalled(ctx, c.ID)
}

// TellCustomer delivers, in order, the lifecycle signals (reversals,
// refunds) of the conversion's customer that are written and not delivered
// yet: the outbox rows the ledger transaction that changed the conversion
// wrote. A failure is left to the sweeper, which retries it.
func (i *Ingester) TellCustomer(ctx context.Context, c store.Conversion) {
	if c.Anonymous() || i.temporal == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
	defer cancel()
	sigs, err := i.store.UnsentLifecycleSignals(ctx, c.WorkflowID, time.Time{}, 100)
	if err != nil {
		i.logger.WarnContext(ctx, "read lifecycle signals; the sweeper will deliver them", "workflow_id", limits.Shorten(c.WorkflowID, 128), "error", err)
		return
	}
	for _, sig := range sigs {
		if err := i.deliverLifecycle(ctx, sig); err != nil {
			i.logger.WarnContext(ctx, "tell customer workflow; the sweeper will retry", "workflow_id", limits.Shorten(c.WorkflowID, 128),
				"conversion_id", sig.ConversionID, "signal", sig.Kind, "error", limits.Shorten(err.Error(), 512))
			return // the rest keeps its order behind it
		}
	}
}

// deliverLifecycle signal-with-starts the customer's workflow (from its
// snapshot when it is not running) with one lifecycle signal and marks it
// delivered. Delivering it twice changes nothing in the workflow.
func (i *Ingester) deliverLifecycle(ctx context.Context, sig store.LifecycleSignal) error {
	name, arg := workflows.SignalReversal, any(workflows.ReversalSignal{ConversionID: sig.ConversionID, LifecycleID: sig.ID})
	if sig.Kind == store.LifecycleRefund {
		name, arg = workflows.SignalRefund, workflows.RefundSignal{ConversionID: sig.ConversionID, LifecycleID: sig.ID,
			SaleAmount: sig.Refunded.SaleAmount, Revenue: sig.Refunded.Revenue, Payout: sig.Refunded.Payout}
	}
	opts := client.StartWorkflowOptions{ID: sig.WorkflowID, TaskQueue: workflows.TaskQueue}
	state := workflows.NewCustomerState(sig.AdvertiserID, sig.UserID)
	if _, err := i.temporal.SignalWithStartWorkflow(ctx, sig.WorkflowID, name, arg, opts, workflows.Customer, state); err != nil {
		return fmt.Errorf("signal-with-start %s: %w", sig.WorkflowID, err)
	}
	return i.store.MarkLifecycleSignalSent(ctx, sig.ID)
}
