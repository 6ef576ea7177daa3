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
	// Interval between sweeps; default 2s.
	Interval time.Duration
	// Grace leaves fresh conversions to the API's own signal; default 5s.
	Grace time.Duration
}

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	interval, grace := s.Interval, s.Grace
	if interval == 0 {
		interval = 2 * time.Second
	}
	if grace == 0 {
		grace = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx, grace); err != nil && ctx.Err() == nil {
			s.Ingester.logger.WarnContext(ctx, "sweep unsignalled conversions", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
