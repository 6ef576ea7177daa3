package ingest

import (
	"context"
	"time"
)

// Sweeper signals conversions that were stored but whose workflow was never
// told: the accept's signal failed (Temporal was down, the process died
// between the write and the signal) or an approval's signal did.
type Sweeper struct {
	Ingester *Ingester
}

// Sweep signals, oldest first, the approved conversions received more than
// grace ago that were never signalled, and returns how many it signalled.
func (s *Sweeper) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	i := s.Ingester
	signalled := 0
	for {
		batch, err := i.store.Unsignalled(ctx, i.now().Add(-grace), 500)
		if err != nil {
			return signalled, err
		}
		for _, c := range batch {
			sctx, cancel := context.WithTimeout(ctx, signalTimeout)
			err := i.signal(sctx, c)
			cancel()
			if err != nil {
				return signalled, err
			}
			signalled++
		}
		if len(batch) < 500 {
			return signalled, nil
		}
	}
}
