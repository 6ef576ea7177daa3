// Package activities holds tierwise's Temporal activities: all of the
// workflows' I/O. Each is idempotent: a retry or a duplicate delivery changes
// nothing more.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// PriceConversion prices a conversion through layers 1–4 and appends its
// ledger lines, once: the conversion row is locked while it is priced, and a
// priced conversion is left as it is. The tiered metrics are counted in the
// same transaction; commission cycles that opened or reached a band are told
// after it commits.
func (a *Activities) PriceConversion(ctx context.Context, conversionID int64) (workflows.PriceResult, error) {
	var facts *customervalue.Conversion
	var rules []customervalue.Rule
	c, priced, signals, err := a.store.PriceConversion(ctx, conversionID, func(ctx context.Context, p *store.PricingTx) (store.Priced, error) {
		pr, err := Price(ctx, p)
		if err != nil {
			return pr, err
		}
		if p.Conversion.Anonymous() {
			pr.ValueEvaluated = true
			return pr, nil
		}
		if rules, err = p.CustomerValueRules(ctx); err != nil {
			return pr, err
		}
		pr.ValueEvaluated = len(rules) == 0
		if rec, ok := pr.Pricing.(pricing.Record); ok {
			facts = valueFacts(p.Conversion, rec)
		}
		return pr, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return workflows.PriceResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotFound, err)
	}
	if err != nil {
		return workflows.PriceResult{}, err
	}
	for _, sig := range signals {
		// The outbox keeps what fails here for the sweeper.
		if err := a.sendCycleSignal(ctx, sig); err != nil {
			a.logger.WarnContext(ctx, "tell commission cycle; the sweeper will retry", "cycle", workflows.CycleWorkflowID(cycleOf(sig)), "error", err)
		}
	}
	if priced {
		a.logger.DebugContext(ctx, "priced conversion", "conversion_id", c.ID, "payout", c.Payout.String())
	}
	res := workflows.PriceResult{Priced: priced, PartnerID: c.PartnerID, OfferID: c.OfferID, Payout: c.Payout.String()}
	if priced && !c.Anonymous() {
		// The customer's workflow evaluates the Customer Value rules.
		res.Rules = rules
		loc, err := a.store.NetworkTimeZone(ctx)
		if err != nil {
			return workflows.PriceResult{}, err
		}
		res.Conversion, res.TimeZone = facts, loc.String()
	}
	return res, nil
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
