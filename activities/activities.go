// Package activities holds tierwise's Temporal activities: all of the
// workflows' I/O. Each is idempotent: a retry or a duplicate delivery changes
// nothing more.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
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

// PriceConversion prices a conversion through layers 1–3 and appends its
// ledger lines, once: the conversion row is locked while it is priced, and a
// priced conversion is left as it is.
func (a *Activities) PriceConversion(ctx context.Context, conversionID int64) (workflows.PriceResult, error) {
	c, priced, err := a.store.PriceConversion(ctx, conversionID, Price)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.PriceResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeNotFound, err)
	}
	if err != nil {
		return workflows.PriceResult{}, err
	}
	if priced {
		a.logger.DebugContext(ctx, "priced conversion", "conversion_id", c.ID, "payout", c.Payout.String())
	}
	return workflows.PriceResult{Priced: priced, PartnerID: c.PartnerID, OfferID: c.OfferID, Payout: c.Payout.String()}, nil
}

// Price computes a conversion's layer 1–3 ledger lines and its pricing
// record from the data read in the pricing transaction.
func Price(c store.Conversion, d store.PricingData) (store.Priced, error) {
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
	return store.Priced{
		Lines: []store.NewLine{
			{Kind: store.KindPayout, Amount: res.Payout, Reason: store.ReasonPrice, Layer: string(res.Explanation.PayoutLayer), Key: store.ReasonPrice},
			{Kind: store.KindRevenue, Amount: res.Revenue, Reason: store.ReasonPrice, Layer: string(res.Explanation.RevenueLayer), Key: store.ReasonPrice},
		},
		Pricing: record,
	}, nil
}
