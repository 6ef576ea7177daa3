// Package activities holds tierwise's Temporal activities: all of the
// workflows' I/O. Each is idempotent: a retry or a duplicate delivery changes
// nothing more.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
	"github.com/tierwise/tierwise/workflows"
)

// Activities are registered on the worker as one struct; its exported
// methods are the activities.
type Activities struct {
	store    *store.Store
	temporal client.Client
	logger   *slog.Logger
}

// New returns the activities.
func New(st *store.Store, c client.Client, logger *slog.Logger) *Activities {
	if logger == nil {
		logger = slog.Default()
	}
	return &Activities{store: st, temporal: c, logger: logger}
}

// priced is what pricing a conversion, or finding it priced before, gives a
// customer's workflow.
type priced struct {
	conversion store.Conversion
	now        bool // priced by this call (not before)
	facts      *customervalue.Conversion
	config     store.Config
	pending    []store.LifecycleSignal
}

// price prices a conversion through layers 1–4 and appends its ledger
// lines, once: the conversion row is locked while it is priced, and a
// priced conversion is left as it is. The tiered metrics are counted in the
// same transaction; commission cycles that opened or reached a band are
// told after it commits. For a customer's conversion it reads, in the same
// transaction, the configuration version and the customer's undelivered
// lifecycle signals.
func (a *Activities) price(ctx context.Context, conversionID, lifecycleSeen int64) (priced, error) {
	var out priced
	c, now, signals, err := a.store.PriceConversion(ctx, conversionID, func(ctx context.Context, p *store.PricingTx) (store.Priced, error) {
		pr, err := Price(ctx, p)
		if err != nil {
			return pr, err
		}
		if p.Conversion.Anonymous() {
			pr.ValueEvaluated = true
			return pr, nil
		}
		if err := customerContext(ctx, p, lifecycleSeen, &out); err != nil {
			return pr, err
		}
		pr.ValueEvaluated = out.config.ActiveRules == 0
		if rec, ok := pr.Pricing.(pricing.Record); ok {
			out.facts = valueFacts(p.Conversion, rec)
		}
		return pr, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return out, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotFound, err)
	}
	if err != nil {
		return out, err
	}
	out.conversion, out.now = c, now
	for _, sig := range signals {
		// The outbox keeps what fails here for the sweeper.
		if err := a.sendCycleSignal(ctx, sig); err != nil {
			a.logger.WarnContext(ctx, "tell commission cycle; the sweeper will retry", "cycle", workflows.CycleWorkflowID(cycleOf(sig)), "error", err)
		}
	}
	if now {
		a.logger.DebugContext(ctx, "priced conversion", "conversion_id", c.ID, "payout", c.Payout.String())
	}
	return out, nil
}

// customerContext reads, in the pricing transaction, what the customer's
// workflow needs besides the conversion.
func customerContext(ctx context.Context, p *store.PricingTx, lifecycleSeen int64, out *priced) error {
	var err error
	if out.config, err = p.Config(ctx); err != nil {
		return err
	}
	out.pending, err = p.PendingLifecycle(ctx, lifecycleSeen)
	return err
}

// PriceConversion prices a conversion for customer workflows of code
// versions 0 and 1, which take the active Customer Value rules with every
// result. Runs of version 2 call PriceForCustomer.
func (a *Activities) PriceConversion(ctx context.Context, conversionID int64) (workflows.PriceResult, error) {
	p, err := a.price(ctx, conversionID, math.MaxInt64)
	if err != nil {
		return workflows.PriceResult{}, err
	}
	c := p.conversion
	res := workflows.PriceResult{Priced: p.now, PartnerID: c.PartnerID, OfferID: c.OfferID, Payout: c.Payout.String()}
	if p.now && !c.Anonymous() {
		if res.Rules, err = a.store.ActiveCustomerValueRules(ctx); err != nil {
			return workflows.PriceResult{}, err
		}
		res.Conversion, res.TimeZone = p.facts, p.config.TimeZone
	}
	return res, nil
}

// PriceForCustomer prices a conversion for its customer's workflow
// (version 2): the conversion's facts for the Customer Value rules, the
// configuration version (the workflow loads the rules when it moved), the
// network's time zone and the customer's lifecycle signals the workflow may
// not have applied yet. A conversion priced before, by an attempt whose workflow task did not
// complete, is reported with its facts again: the rules count a conversion
// once, and its outcomes are keyed, so applying it again changes nothing.
func (a *Activities) PriceForCustomer(ctx context.Context, req workflows.PriceRequest) (workflows.CustomerPricing, error) {
	p, err := a.price(ctx, req.ConversionID, req.LifecycleSeen)
	if err != nil {
		return workflows.CustomerPricing{}, err
	}
	c := p.conversion
	res := workflows.CustomerPricing{PartnerID: c.PartnerID, OfferID: c.OfferID, Payout: c.Payout,
		Priced: c.Priced && c.Status == store.StatusApproved && c.ReversedAt == nil, New: p.now}
	if !res.Priced || c.Anonymous() {
		return res, nil
	}
	if !p.now {
		// Priced before: read the facts back and the context anew.
		var rec pricing.Record
		if err := json.Unmarshal(c.Pricing, &rec); err != nil {
			return res, fmt.Errorf("decode pricing of conversion %d: %w", c.ID, err)
		}
		p.facts = valueFacts(c, rec)
		if err := a.store.ReadAsPricing(ctx, c, func(ctx context.Context, tx *store.PricingTx) error {
			return customerContext(ctx, tx, req.LifecycleSeen, &p)
		}); err != nil {
			return res, err
		}
	}
	res.Conversion, res.ConfigVersion, res.TimeZone = p.facts, p.config.Version, p.config.TimeZone
	for _, l := range p.pending {
		res.Lifecycle = append(res.Lifecycle, workflows.LifecycleEvent{ID: l.ID, ConversionID: l.ConversionID, Kind: l.Kind,
			SaleAmount: l.Refunded.SaleAmount, Revenue: l.Refunded.Revenue, Payout: l.Refunded.Payout})
	}
	return res, nil
}

// PriceAnonymous prices a conversion without a customer (no user_id). It is
// not an activity: the API's signallers and the sweeper call it in place of
// starting a workflow, since such a conversion has no lifetime to keep
// (ingest.Options.PriceAnonymous).
func (a *Activities) PriceAnonymous(ctx context.Context, conversionID int64) error {
	_, err := a.price(ctx, conversionID, math.MaxInt64)
	return err
}

// LoadCustomerValueRules returns the active Customer Value rules and the
// configuration version they belong to.
func (a *Activities) LoadCustomerValueRules(ctx context.Context) (workflows.RuleSet, error) {
	version, rules, err := a.store.CustomerValueRuleSet(ctx)
	if err != nil {
		return workflows.RuleSet{}, err
	}
	return workflows.RuleSet{Version: version, Rules: rules}, nil
}

// Price computes a conversion's layer 1–3 lines and record, counts it in the
// metrics of every tiered rule that covers it, and adds the winning rule's
// adjustment at its period's high-water band.
func Price(ctx context.Context, p *store.PricingTx) (store.Priced, error) {
	c := p.Conversion
	d, err := p.Data(ctx)
	if err != nil {
		return store.Priced{}, err
	}
	in := pricing.Input{
		PartnerID:      c.PartnerID,
		At:             c.OccurredAt,
		Currency:       c.Currency,
		SaleAmount:     c.SaleAmount,
		DefaultPayout:  d.DefaultPayout,
		DefaultRevenue: d.DefaultRevenue,
		Tier:           d.Tier,
		Custom:         d.Custom,
	}
	if c.PostbackRevenue.Valid {
		in.PostbackRevenue = &c.PostbackRevenue.Decimal
	}
	res, record, err := pricing.NewRecord(in)
	if err != nil {
		return store.Priced{}, fmt.Errorf("conversion %d: %w", c.ID, err)
	}
	priced := store.Priced{
		Lines: []store.NewLine{
			{Kind: store.KindPayout, Amount: res.Payout, Reason: store.ReasonPrice, Layer: string(res.Explanation.PayoutLayer), Key: store.ReasonPrice},
			{Kind: store.KindRevenue, Amount: res.Revenue, Reason: store.ReasonPrice, Layer: string(res.Explanation.RevenueLayer), Key: store.ReasonPrice},
		},
		Pricing: record,
	}

	rules, loc, err := p.TieredRules(ctx)
	if err != nil {
		return store.Priced{}, err
	}
	facts := tiered.Facts{OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, PartnerID: c.PartnerID, Event: c.Event, At: c.OccurredAt}
	amounts := tiered.Amounts{SaleAmount: c.SaleAmount, Payout: res.Payout, Revenue: res.Revenue, Currency: c.Currency}
	counts := map[int64]store.CycleCount{}
	periods := map[int64][2]time.Time{}
	for _, r := range rules { // in id order: cycles are locked in one order
		if !r.Covers(facts, loc) {
			continue
		}
		start, end := tiered.PeriodOf(r, c.OccurredAt, loc)
		count, err := p.Count(ctx, r, start, end, tiered.Arrival(c.Event, amounts))
		if err != nil {
			return store.Priced{}, err
		}
		counts[r.ID], periods[r.ID] = count, [2]time.Time{start, end}
	}
	win, ok := tiered.Select(rules, facts, loc)
	if !ok {
		return priced, nil
	}
	count, period := counts[win.ID], periods[win.ID]
	t := tiered.Apply(win, count.Band, amounts)
	t.Explanation = t.Explanation.WithPeriod(period[0], period[1]).WithMetrics(count.Metrics)
	const key = "tiered"
	if !t.Payout.IsZero() {
		priced.Lines = append(priced.Lines, store.NewLine{Kind: store.KindPayout, Amount: t.Payout, Reason: store.ReasonTiered, Layer: "tiered_commission", Key: key})
	}
	if !t.Revenue.IsZero() {
		priced.Lines = append(priced.Lines, store.NewLine{Kind: store.KindRevenue, Amount: t.Revenue, Reason: store.ReasonTiered, Layer: "tiered_commission", Key: key})
	}
	priced.TieredRuleID, priced.TieredPeriodStart, priced.TieredBand, priced.Tiered = win.ID, period[0], count.Band, t.Explanation
	return priced, nil
}
