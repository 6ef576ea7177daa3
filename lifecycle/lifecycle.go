// Package lifecycle changes a conversion after it was accepted, the same
// way for the JSON API and the console: a status change, a partial refund
// or a reversal is written to the ledger by store in one transaction, and
// then told to the customer's workflow (an approval is priced as a new
// arrival; a refund or a reversal updates the customer's rule progress).
// A signal that fails leaves the ledger right: an approval is signalled
// again by the sweeper, and a refund or reversal only lags the progress.
package lifecycle

import (
	"context"

	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// Service changes conversions.
type Service struct {
	store    *store.Store
	ingester *ingest.Ingester
	reprice  store.Repricer
}

// New returns the service. reprice re-prices a refunded conversion's layer
// 1–3 amounts from its pricing record (the API's, for now: once the store
// re-prices refunds itself, it goes).
func New(st *store.Store, ing *ingest.Ingester, reprice store.Repricer) *Service {
	return &Service{store: st, ingester: ing, reprice: reprice}
}

// SetStatus moves a conversion pending → approved or rejected, or approved
// → rejected (which reverses its lines). An approval signals the customer's
// workflow to price it; a rejection of an approved conversion tells the
// workflow of the reversal.
func (s *Service) SetStatus(ctx context.Context, id int64, status string) (store.Conversion, error) {
	before, err := s.store.Conversion(ctx, id)
	if err != nil {
		return store.Conversion{}, err
	}
	c, signal, err := s.store.SetStatus(ctx, id, status)
	if err != nil {
		return store.Conversion{}, err
	}
	if signal {
		s.ingester.Signal(ctx, c)
	}
	if before.Status == store.StatusApproved && c.Status == store.StatusRejected {
		s.ingester.Tell(ctx, c, workflows.SignalReversal, workflows.ReversalSignal{ConversionID: c.ID})
	}
	return c, nil
}

// Refund records a partial refund: the conversion is re-priced under its
// original decisions and the differences written as new lines; the
// customer's workflow learns the refunded totals.
func (s *Service) Refund(ctx context.Context, id int64, in store.RefundInput) (store.Conversion, store.Refund, error) {
	c, refund, err := s.store.RefundConversion(ctx, id, in, s.reprice)
	if err != nil {
		return store.Conversion{}, store.Refund{}, err
	}
	sale, revenue, err := s.store.RefundTotals(ctx, id)
	if err != nil {
		return store.Conversion{}, store.Refund{}, err
	}
	s.ingester.Tell(ctx, c, workflows.SignalRefund, workflows.RefundSignal{ConversionID: id, SaleAmount: sale.String(), Revenue: revenue.String()})
	return c, refund, nil
}

// Reverse reverses every line of a conversion and tells the customer's
// workflow, which takes it out of its cycles and re-arms what it fired.
func (s *Service) Reverse(ctx context.Context, id int64, note string) (store.Conversion, error) {
	c, err := s.store.ReverseConversion(ctx, id, note)
	if err != nil {
		return store.Conversion{}, err
	}
	s.ingester.Tell(ctx, c, workflows.SignalReversal, workflows.ReversalSignal{ConversionID: id})
	return c, nil
}
