package ingest

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tierwise/tierwise/store"
)

// Sweeper signals conversions that were stored but whose workflow was never
// told: the accept's signal failed (Temporal was down, the process died
// between the write and the signal, the signal queue was full) or an
// approval's signal did.
type Sweeper struct {
	Ingester *Ingester
}

// sweepBatch is how many conversions a sweep reads at a time, and
// sweepWorkers how many it signals at once: a backlog left by an overload
// drains at Temporal's pace, not one round trip at a time.
const (
	sweepBatch   = 500
	sweepWorkers = 16
)

// Sweep signals, oldest first, the approved conversions received more than
// grace ago that were never signalled, and returns how many it signalled.
// A customer's conversions are signalled one after another, in order;
// different customers' at once. It stops after a batch with a failed
// signal (Temporal is likely down).
func (s *Sweeper) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	i := s.Ingester
	signalled := 0
	for {
		batch, err := i.store.Unsignalled(ctx, i.now().Add(-grace), sweepBatch)
		if err != nil {
			return signalled, err
		}
		shards := make([][]store.Conversion, sweepWorkers)
		for _, c := range batch {
			n := shard(c, sweepWorkers)
			shards[n] = append(shards[n], c)
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			failed   int
			firstErr error
		)
		for _, cs := range shards {
			wg.Go(func() {
				for _, c := range cs {
					sctx, cancel := context.WithTimeout(ctx, signalTimeout)
					err := i.signal(sctx, c)
					cancel()
					mu.Lock()
					if err != nil {
						failed++
						firstErr = cmp.Or(firstErr, err)
					} else {
						signalled++
					}
					mu.Unlock()
					if err != nil {
						return // keep the customer's order: the rest waits for the next sweep
					}
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return signalled, fmt.Errorf("%d signals failed: %w", failed, firstErr)
		}
		if len(batch) < sweepBatch {
			return signalled, nil
		}
	}
}
