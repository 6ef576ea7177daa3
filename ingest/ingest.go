// Package ingest accepts postbacks: it validates them, writes the conversion
// durably (the accept), then tells the customer's workflow. A conversion that
// was stored but not signalled is signalled later by the Sweeper, so nothing
// accepted is lost and, since the workflow and the pricing are idempotent,
// nothing is counted twice.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// Ingester accepts postbacks.
type Ingester struct {
	store    *store.Store
	temporal client.Client
	logger   *slog.Logger
	now      func() time.Time
	// queues, once Start has run, hand accepted conversions to the
	// background signallers, one queue each; a customer's conversions
	// always go to the same one, so they are signalled in the order they
	// were accepted.
	queues []chan store.Conversion
}

// New returns an ingester.
func New(st *store.Store, c client.Client, logger *slog.Logger) *Ingester {
	if logger == nil {
		logger = slog.Default()
	}
	return &Ingester{store: st, temporal: c, logger: logger, now: time.Now}
}

// Result is the answer to a postback.
type Result struct {
	ConversionID int64  `json:"conversion_id"`
	Duplicate    bool   `json:"duplicate"`
	Status       string `json:"status"`
}

// maxFuture is how far ahead of the server's clock a timestamp may be.
const maxFuture = time.Hour

var eventName = regexp.MustCompile(`^[a-z0-9_]+$`)

// Accept validates a postback's parameters, stores the conversion and
// signals the customer's workflow. The token is the advertiser's secret
// postback token. A validation failure stores nothing.
func (i *Ingester) Accept(ctx context.Context, token string, q url.Values) (Result, error) {
	if token == "" {
		return Result{}, store.Invalid("token", "the advertiser's postback token is required")
	}
	adv, err := i.store.AdvertiserByPostbackToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("token: %w", ErrBadToken)
	}
	if err != nil {
		return Result{}, err
	}

	n, err := i.parse(ctx, adv.ID, q)
	if err != nil {
		return Result{}, err
	}
	c, dup, err := i.store.InsertConversion(ctx, n)
	if err != nil {
		return Result{}, err
	}
	res := Result{ConversionID: c.ID, Duplicate: dup, Status: c.Status}
	if !dup && c.Status == store.StatusApproved {
		i.Signal(ctx, c)
	}
	return res, nil
}

// ErrBadToken is returned for an unknown postback token.
var ErrBadToken = errors.New("unknown postback token")

func (i *Ingester) parse(ctx context.Context, advertiserID int64, q url.Values) (store.NewConversion, error) {
	var p store.Problems
	n := store.NewConversion{AdvertiserID: advertiserID, Status: store.StatusApproved}
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }

	// Partner and offer: from the click, or given directly.
	n.TransactionID = get("transaction_id")
	if n.TransactionID != "" {
		click, err := i.store.ClickByTransactionID(ctx, n.TransactionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.Add("transaction_id", "no click has transaction_id %q", n.TransactionID)
		case err != nil:
			return n, err
		default:
			n.OfferID, n.PartnerID = click.OfferID, click.PartnerID
		}
	} else {
		n.OfferID = parseID(&p, "offer_id", get("offer_id"))
		n.PartnerID = parseID(&p, "partner_id", get("partner_id"))
	}

	n.Event = strings.ToLower(get("event"))
	if n.Event != "" && !eventName.MatchString(n.Event) {
		p.Add("event", "must be lower-case letters, digits and underscores")
	}
	n.UserID = get("user_id")
	n.OrderID = get("order_id")
	n.SaleAmount = parseAmount(&p, "amount", get("amount"))
	if v := get("revenue"); v != "" {
		n.PostbackRevenue = decimal.NewNullDecimal(parseAmount(&p, "revenue", v))
	}
	switch s := strings.ToLower(get("status")); s {
	case "", store.StatusApproved:
	case store.StatusPending:
		n.Status = s
	case store.StatusRejected:
		n.Status, n.RejectionReason = s, store.RejectPostback
	default:
		p.Add("status", "must be approved, pending or rejected")
	}
	n.OccurredAt = i.now().UTC()
	if v := get("timestamp"); v != "" {
		t, err := parseTimestamp(v)
		switch {
		case err != nil:
			p.Add("timestamp", "must be RFC 3339 (2024-01-31T12:00:00Z) or Unix seconds")
		case t.After(i.now().Add(maxFuture)):
			p.Add("timestamp", "is more than an hour in the future")
		default:
			n.OccurredAt = t.UTC()
		}
	}
	for k := 1; k <= 5; k++ {
		n.Adv = append(n.Adv, get(fmt.Sprintf("adv%d", k)))
	}

	// The offer: it must exist, belong to this advertiser and have the event.
	if n.OfferID != 0 {
		o, err := i.store.Offer(ctx, n.OfferID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.Add("offer_id", "no offer %d", n.OfferID)
		case err != nil:
			return n, err
		case o.AdvertiserID != advertiserID:
			p.Add("offer_id", "offer %d is not an offer of this advertiser", n.OfferID)
		default:
			n.Currency = o.Currency
			ev, ok := o.Event(n.Event)
			switch {
			case !ok:
				p.Add("event", "offer %d has no event %q", n.OfferID, n.Event)
			case ev.Repeatable && n.OrderID == "":
				p.Add("order_id", "event %q is repeatable: each occurrence needs its own order_id", n.Event)
			}
		}
	}
	if n.PartnerID != 0 && n.TransactionID == "" {
		if _, err := i.store.Partner(ctx, n.PartnerID); errors.Is(err, store.ErrNotFound) {
			p.Add("partner_id", "no partner %d", n.PartnerID)
		} else if err != nil {
			return n, err
		}
	}

	// Data points the advertiser sent, typed.
	points, err := i.store.ActiveDataPoints(ctx)
	if err != nil {
		return n, err
	}
	n.Data = map[string]any{}
	for _, dp := range points {
		v := get(dp.Identifier)
		if v == "" {
			continue
		}
		if dp.Type == store.DataPointNumber {
			d, err := decimal.NewFromString(v)
			if err != nil {
				p.Add(dp.Identifier, "data point %q is a number; got %q", dp.Identifier, v)
				continue
			}
			n.Data[dp.Identifier] = d.String()
			continue
		}
		n.Data[dp.Identifier] = v
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
		p.Add("order_id", "one of order_id, transaction_id or user_id is needed to recognise duplicates")
	}
	if err := p.Err(); err != nil {
		return n, err
	}
	if n.UserID != "" {
		n.WorkflowID = workflows.CustomerWorkflowID(advertiserID, n.UserID)
	}
	return n, nil
}

func parseID(p *store.Problems, field, v string) int64 {
	if v == "" {
		p.Add(field, "is required (or send transaction_id)")
		return 0
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		p.Add(field, "must be a positive integer, got %q", v)
		return 0
	}
	return id
}

func parseAmount(p *store.Problems, field, v string) decimal.Decimal {
	if v == "" {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(v)
	if err != nil {
		p.Add(field, "must be a decimal number, got %q", v)
		return decimal.Zero
	}
	if d.IsNegative() {
		p.Add(field, "must not be negative")
		return decimal.Zero
	}
	return d
}

func parseTimestamp(v string) (time.Time, error) {
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	return time.Parse(time.RFC3339Nano, v)
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
	if i.queues == nil {
		i.signalNow(ctx, c)
		return
	}
	select {
	case i.queues[shard(c, len(i.queues))] <- c:
	default:
		i.logger.DebugContext(ctx, "signal queue full; the sweeper will signal", "conversion_id", c.ID)
	}
}

// shard picks one of n signallers for a conversion: the same for all of a
// customer's conversions.
func shard(c store.Conversion, n int) int {
	h := fnv.New32a()
	if c.Anonymous() {
		fmt.Fprint(h, c.ID)
	} else {
		h.Write([]byte(c.WorkflowID))
	}
	return int(h.Sum32() % uint32(n))
}

func (i *Ingester) signalNow(ctx context.Context, c store.Conversion) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
	defer cancel()
	if err := i.signal(ctx, c); err != nil {
		i.logger.WarnContext(ctx, "signal conversion; the sweeper will retry", "conversion_id", c.ID, "error", err)
	}
}

func (i *Ingester) signal(ctx context.Context, c store.Conversion) error {
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
			workflows.AttrCustomer.ValueSet(fmt.Sprintf("%d/%s", c.AdvertiserID, c.UserID)),
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

// Tell sends a lifecycle signal (a reversal, a refund) to the conversion's
// customer workflow, starting it from its snapshot when it is not running.
// Anonymous conversions have no lifetime to tell. A failure is logged: the
// ledger is already right, only the customer's rule progress lags.
func (i *Ingester) Tell(ctx context.Context, c store.Conversion, signal string, arg any) {
	if c.Anonymous() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
	defer cancel()
	opts := client.StartWorkflowOptions{ID: c.WorkflowID, TaskQueue: workflows.TaskQueue}
	state := workflows.NewCustomerState(c.AdvertiserID, c.UserID)
	if _, err := i.temporal.SignalWithStartWorkflow(ctx, c.WorkflowID, signal, arg, opts, workflows.Customer, state); err != nil {
		i.logger.ErrorContext(ctx, "tell customer workflow", "workflow_id", c.WorkflowID, "signal", signal, "error", err)
	}
}
