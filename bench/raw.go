package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// rawWorkflow is the no-op workflow the raw rate is measured with, and
// rawSignal the signal it is started with.
const (
	rawWorkflow = "TierwiseBenchNoop"
	rawSignal   = "signal"
)

// RawResult is the raw rate of bare signal-with-start calls.
type RawResult struct {
	Calls     int64
	Errors    int64
	PerSecond float64 // calls completed per second of calling
	// Ran is how long after the calls the no-op worker had run every
	// workflow they started, and Sustained the calls per second of calling
	// and running: the rate the server keeps up with, each workflow's task
	// included (as a priced conversion includes its workflow's).
	Ran       time.Duration
	Sustained float64
	// Drained is how long after the calls the server had also written
	// their visibility records (its visibility queue may wait up to its
	// one-minute poll interval); the bench waits for it so that work does
	// not spill into the load, but does not count it.
	Drained time.Duration
}

// rawSignalRate measures, against the given Temporal server, how many bare
// signal-with-start calls to a no-op workflow complete per second with the
// given concurrency: each call starts a new workflow on a task queue of its
// own, which a second SDK worker in this process runs (and which does
// nothing but return). It waits for the worker to finish those workflows
// before returning, so they do not weigh on what is measured next.
func rawSignalRate(ctx context.Context, c client.Client, runID string, clients int, d time.Duration) (RawResult, error) {
	queue := "tierwise-bench-raw-" + runID
	var finished atomic.Int64
	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		// Take the signal, so the SDK does not warn of an unhandled one.
		workflow.GetSignalChannel(ctx, rawSignal).ReceiveAsync(nil)
		finished.Add(1)
		return nil
	}, workflow.RegisterOptions{Name: rawWorkflow})
	if err := w.Start(); err != nil {
		return RawResult{}, fmt.Errorf("start the raw-rate worker: %w", err)
	}
	defer w.Stop()

	var calls, errs, seq atomic.Int64
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				id := fmt.Sprintf("bench-raw/%s/%d", runID, seq.Add(1))
				_, err := c.SignalWithStartWorkflow(ctx, id, rawSignal, seq.Load(),
					client.StartWorkflowOptions{ID: id, TaskQueue: queue}, rawWorkflow)
				if err != nil {
					errs.Add(1)
					continue
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := RawResult{Calls: calls.Load(), Errors: errs.Load(), PerSecond: float64(calls.Load()) / elapsed.Seconds()}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// Wait until the workflows ran and their visibility records (start and
	// close, written by the server's visibility queue after the fact) are
	// written: that work is part of what a call costs, and must not spill
	// into what is measured next.
	drainEnd := time.Now().Add(2 * time.Minute)
	query := fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Completed'", queue)
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		if finished.Load() >= res.Calls {
			if res.Ran == 0 {
				res.Ran = time.Since(start.Add(elapsed))
			}
			n, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
			if err != nil {
				return res, fmt.Errorf("count the raw-rate workflows: %w", err)
			}
			if n.GetCount() >= res.Calls {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.Drained = time.Since(start.Add(elapsed))
	if res.Ran == 0 {
		res.Ran = res.Drained
	}
	res.Sustained = float64(res.Calls) / (elapsed + res.Ran).Seconds()
	return res, nil
}
