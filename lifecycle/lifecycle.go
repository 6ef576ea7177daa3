// Package lifecycle changes a conversion after it was accepted, the same
// way for the JSON API and the console: a status change, a partial refund,
// a reversal or a manual edit is written to the ledger by store in one
// transaction, and then told to the customer's workflow (an approval is
// priced as a new arrival; a refund or a reversal updates the customer's
// rule progress). What the workflow is to be told of a refund or a reversal
// is an outbox row written in that same transaction, delivered here after
// commit and by the worker's sweeper when that fails: it is never lost.
package lifecycle

import (
	"context"

	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/store"
)

// Service changes conversions.
type Service struct {
	store    *store.Store
	ingester *ingest.Ingester
}

// New returns the service.
func New(st *store.Store, ing *ingest.Ingester) *Service {
	return &Service{store: st, ingester: ing}
}

// SetStatus changes a conversion's status (store.SetStatus says which
// moves are allowed). An approval signals the customer's workflow to price
// it; a rejection of an approved conversion tells the workflow of the
// reversal.
func (s *Service) SetStatus(ctx context.Context, id int64, status string) (store.Conversion, error) {
	change, err := s.store.SetStatus(ctx, id, status)
	if err != nil {
		return store.Conversion{}, err
	}
	c := change.Conversion
	if change.Price {
		s.ingester.Signal(ctx, c)
	}
	if change.Reversed {
		s.ingester.TellCustomer(ctx, c)
	}
	return c, nil
}

// Refund records a partial refund: the conversion is re-priced under its
// original decisions and the differences written as new lines; the
// customer's workflow learns the refunded totals.
func (s *Service) Refund(ctx context.Context, id int64, in store.RefundInput) (store.Conversion, store.Refund, error) {
	c, refund, err := s.store.RefundConversion(ctx, id, in)
	if err != nil {
		return store.Conversion{}, store.Refund{}, err
	}
	s.ingester.TellCustomer(ctx, c)
	return c, refund, nil
}

// Reverse reverses a conversion, for good, and tells the customer's
// workflow when it had counted it.
func (s *Service) Reverse(ctx context.Context, id int64, note string) (store.Conversion, error) {
	c, tell, err := s.store.ReverseConversion(ctx, id, note)
	if err != nil {
		return store.Conversion{}, err
	}
	if tell {
		s.ingester.TellCustomer(ctx, c)
	}
	return c, nil
}

// RetryStuck makes a stuck conversion's signal, and its customer's stuck
// lifecycle signals, due again at once with their failures forgotten (an
// operator fixed the cause), and tries them now.
func (s *Service) RetryStuck(ctx context.Context, id int64) (store.Conversion, error) {
	c, err := s.store.RetryStuck(ctx, id)
	if err != nil {
		return store.Conversion{}, err
	}
	if c.SignalledAt == nil && c.Status == store.StatusApproved {
		s.ingester.Signal(ctx, c)
	}
	s.ingester.TellCustomer(ctx, c)
	return c, nil
}

// Edit sets a conversion's layer 1–3 payout and/or revenue by hand, with the
// reason and the admin who did it (DESIGN §14.11).
func (s *Service) Edit(ctx context.Context, id int64, in store.EditInput) (store.Conversion, error) {
	return s.store.EditConversion(ctx, id, in)
}
