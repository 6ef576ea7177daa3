package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
)

// Sweeper signals what was stored but never told to its workflow: a
// conversion whose accept's signal failed (Temporal was down, the process
// died between the write and the signal, the signal queue was full) or
// whose approval's signal did, and a lifecycle signal (a reversal, a
// refund) whose delivery after commit failed.
//
// One that keeps failing never holds up the others: its failures are
// counted on its row and it backs off alone (store.RetryAfter); only the
// same customer's later signals wait behind it, so a customer's order is
// kept. After store.StuckAfterAttempts failures it is stuck, logged once.
// When Temporal itself is unreachable, nothing is counted against any row:
// the sweep stops and the next one tries again.
type Sweeper struct {
	Ingester *Ingester
	// Workers is how many customers are signalled at once; default 16.
	Workers int
}

// sweepBatch is how many rows a sweep reads at a time, and sweepWorkers how
// many customers it signals at once by default: a backlog left by an
// overload drains at Temporal's pace, not one round trip at a time.
const (
	sweepBatch   = 500
	sweepWorkers = 16
)

// ErrTemporalUnavailable is returned by a sweep that stopped because
// Temporal did not answer.
var ErrTemporalUnavailable = errors.New("temporal unavailable")

// TemporalUnavailable reports whether a call failed because Temporal did not
// answer, rather than because of the call itself: an outbox counts only the
// latter against its row.
func TemporalUnavailable(err error) bool {
	var down *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var exhausted *serviceerror.ResourceExhausted
	var canceled *serviceerror.Canceled
	return errors.As(err, &down) || errors.As(err, &deadline) || errors.As(err, &exhausted) || errors.As(err, &canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// Sweep signals, oldest first, the approved conversions received more than
// grace ago that were never signalled, and returns how many it signalled. A
// customer's conversions are signalled one after another, in order;
// different customers' at once.
func (s *Sweeper) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	i := s.Ingester
	total := 0
	for {
		batch, err := i.store.Unsignalled(ctx, i.now().Add(-grace), sweepBatch)
		if err != nil {
			return total, err
		}
		n, err := sweepInOrder(ctx, s.workers(), batch,
			func(c store.Conversion) string { return c.WorkflowID },
			func(ctx context.Context, c store.Conversion) error { return i.signal(ctx, c) },
			func(ctx context.Context, c store.Conversion, cause error) (store.Delivery, error) {
				return i.store.SignalFailed(ctx, c.ID, cause)
			},
			func(c store.Conversion, d store.Delivery, cause error) {
				i.logger.Error("conversion is stuck: its signal to its customer's workflow keeps failing; it is retried, and GET /conversions?state=stuck lists it",
					slog.Int64("conversion_id", c.ID), slog.String("workflow_id", limits.Shorten(c.WorkflowID, 128)),
					slog.Int("attempts", d.Attempts), slog.String("error", limits.Shorten(cause.Error(), 512)))
			})
		total += n
		if err != nil || len(batch) < sweepBatch {
			return total, err
		}
	}
}

// SweepLifecycle delivers, oldest first and in order per customer, the
// lifecycle signals written more than grace ago and not delivered.
func (s *Sweeper) SweepLifecycle(ctx context.Context, grace time.Duration) (int, error) {
	i := s.Ingester
	total := 0
	for {
		batch, err := i.store.UnsentLifecycleSignals(ctx, "", i.now().Add(-grace), sweepBatch)
		if err != nil {
			return total, err
		}
		n, err := sweepInOrder(ctx, s.workers(), batch,
			func(l store.LifecycleSignal) string { return l.WorkflowID },
			i.deliverLifecycle,
			func(ctx context.Context, l store.LifecycleSignal, cause error) (store.Delivery, error) {
				return i.store.LifecycleSignalFailed(ctx, l.ID, cause)
			},
			func(l store.LifecycleSignal, d store.Delivery, cause error) {
				i.logger.Error("lifecycle signal is stuck: its delivery to the customer's workflow keeps failing; it is retried",
					slog.Int64("lifecycle_signal_id", l.ID), slog.Int64("conversion_id", l.ConversionID),
					slog.String("workflow_id", limits.Shorten(l.WorkflowID, 128)), slog.String("kind", l.Kind),
					slog.Int("attempts", d.Attempts), slog.String("error", limits.Shorten(cause.Error(), 512)))
			})
		total += n
		if err != nil || len(batch) < sweepBatch {
			return total, err
		}
	}
}

func (s *Sweeper) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return sweepWorkers
}

// sweepInOrder delivers rows, workers customers (by key) at once and each
// customer's rows in the given order. A row whose delivery fails is
// recorded (failed) and the rest of its customer's rows wait for the next
// sweep; every other customer goes on. When Temporal does not answer the
// sweep stops at once, counting nothing against any row. It returns how
// many rows it delivered.
func sweepInOrder[T any](ctx context.Context, workers int, rows []T, key func(T) string,
	deliver func(context.Context, T) error,
	failed func(context.Context, T, error) (store.Delivery, error),
	stuck func(T, store.Delivery, error),
) (int, error) {
	shards := make([][]T, workers)
	for _, r := range rows {
		n := shardOf(key(r), workers)
		shards[n] = append(shards[n], r)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		delivered int
		firstErr  error
	)
	down := make(chan struct{})
	var downOnce sync.Once
	for _, rs := range shards {
		wg.Go(func() {
			blocked := map[string]bool{} // customers with a failed row in this sweep
			for _, r := range rs {
				select {
				case <-down:
					return
				default:
				}
				k := key(r)
				if k != "" && blocked[k] {
					continue // keep the customer's order: the rest waits for the next sweep
				}
				sctx, cancel := context.WithTimeout(ctx, signalTimeout)
				err := deliver(sctx, r)
				cancel()
				if err == nil {
					mu.Lock()
					delivered++
					mu.Unlock()
					continue
				}
				if TemporalUnavailable(err) || ctx.Err() != nil {
					downOnce.Do(func() {
						close(down)
						mu.Lock()
						firstErr = fmt.Errorf("%w: %w", ErrTemporalUnavailable, err)
						mu.Unlock()
					})
					return
				}
				blocked[k] = true
				d, ferr := failed(ctx, r, err)
				if ferr != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = ferr
					}
					mu.Unlock()
					continue
				}
				if d.Stuck {
					stuck(r, d, err)
				}
			}
		})
	}
	wg.Wait()
	return delivered, firstErr
}
