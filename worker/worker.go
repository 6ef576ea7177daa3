// Package worker assembles the Temporal worker: it registers tierwise's
// workflows and activities on one task queue and makes sure the namespace has
// the search attributes the workflows set.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/tierwise/tierwise/activities"
	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// TaskQueue is the one task queue of tierwise's workflows and activities.
const TaskQueue = workflows.TaskQueue

// SearchAttributes are the custom search attributes the workflows set, so an
// operator can find a customer's workflow in the Web UI.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	workflows.AttrCustomer.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	workflows.AttrLastPartner.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	workflows.AttrLastOffer.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// Config holds what the activities need.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// SweepInterval is how often unsignalled conversions are looked for;
	// default 2s.
	SweepInterval time.Duration
	// SweepWorkers is how many customers the sweeper signals at once;
	// default 16.
	SweepWorkers int
}

// Worker is the Temporal worker plus the sweeper that signals conversions
// whose accept could not.
type Worker struct {
	temporal   sdkworker.Worker
	activities *activities.Activities
	sweeper    *ingest.Sweeper
	interval   time.Duration
	logger     *slog.Logger
	cancel     context.CancelFunc
	done       chan struct{}
}

// New returns a worker with every workflow and activity registered.
func New(c client.Client, cfg Config) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 2 * time.Second
	}
	st := store.New(cfg.Pool)
	acts := activities.New(st, c, cfg.Logger)
	w := sdkworker.New(c, TaskQueue, sdkworker.Options{OnFatalError: func(err error) {
		cfg.Logger.Error("worker stopped on a fatal error", "error", err)
	}})
	workflows.Register(w)
	w.RegisterActivity(acts)
	return &Worker{
		temporal:   w,
		activities: acts,
		sweeper: &ingest.Sweeper{Ingester: ingest.New(st, c, cfg.Logger, ingest.Options{PriceAnonymous: acts.PriceAnonymous}),
			Workers: cfg.SweepWorkers},
		interval: cfg.SweepInterval,
		logger:   cfg.Logger,
	}
}

// Start starts polling and sweeping.
func (w *Worker) Start() error {
	if err := w.temporal.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		w.sweep(ctx)
	}()
	return nil
}

// sweepGrace leaves fresh work to the API's and the activities' own
// delivery.
const sweepGrace = 5 * time.Second

// sweep delivers, until ctx ends, what was stored but never delivered:
// conversions not signalled to their customer, lifecycle signals (reversals,
// refunds) not delivered, cycle signals not sent.
func (w *Worker) sweep(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		n, err := w.sweeper.Sweep(ctx, sweepGrace)
		metrics.SweeperDelivered(metrics.OutboxConversions, n)
		if err != nil && ctx.Err() == nil {
			w.logger.WarnContext(ctx, "sweep unsignalled conversions", "error", limits.Shorten(err.Error(), 512))
		}
		n, err = w.sweeper.SweepLifecycle(ctx, sweepGrace)
		metrics.SweeperDelivered(metrics.OutboxLifecycleSignals, n)
		if err != nil && ctx.Err() == nil {
			w.logger.WarnContext(ctx, "sweep undelivered lifecycle signals", "error", limits.Shorten(err.Error(), 512))
		}
		n, err = activities.SweepCycleSignals(ctx, w.activities, sweepGrace)
		metrics.SweeperDelivered(metrics.OutboxCycleSignals, n)
		if err != nil && ctx.Err() == nil {
			w.logger.WarnContext(ctx, "sweep unsent cycle signals", "error", limits.Shorten(err.Error(), 512))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop stops sweeping and polling, waiting for running tasks.
func (w *Worker) Stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
	w.temporal.Stop()
}

// Prepare readies a namespace for tierwise: the search attributes and the
// schedule of the commission-cycle safety net. It is safe to run from every
// worker at every start.
func Prepare(ctx context.Context, c client.Client, namespace string) error {
	if err := ensureSearchAttributes(ctx, c, namespace); err != nil {
		return err
	}
	return ensureSafetyNet(ctx, c)
}

// The safety net's schedule: every quarter of an hour, two minutes past
// (:02, :17, :32, :47 UTC). A commission period ends at the first instant
// of a local day in the network's zone, and every zone's offset from UTC is
// a whole number of quarter hours, so each run comes just after a moment a
// period can end, once the cycle workflow's own timer (the first line) has
// had its minute of grace. A cycle whose workflow is missing is closed
// within about 17 minutes of its end; a run costs one small workflow, 96 a
// day instead of 1,440 (ARCHITECTURE.md, "The safety net").
const (
	SafetyNetEvery  = 15 * time.Minute
	SafetyNetOffset = 2 * time.Minute
)

// SafetyNetSpec is the safety net's schedule spec.
func SafetyNetSpec() client.ScheduleSpec {
	return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: SafetyNetEvery, Offset: SafetyNetOffset}}}
}

// ensureSafetyNet creates the safety net's schedule, or brings the one a
// deployment already has to SafetyNetSpec (earlier versions ran it every
// minute).
func ensureSafetyNet(ctx context.Context, c client.Client) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      workflows.CloseEndedCyclesSchedule,
		Spec:    SafetyNetSpec(),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID:        workflows.CloseEndedCyclesSchedule,
			Workflow:  workflows.CloseEndedCycles,
			TaskQueue: TaskQueue,
		},
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", workflows.CloseEndedCyclesSchedule, err)
	}
	handle := c.ScheduleClient().GetHandle(ctx, workflows.CloseEndedCyclesSchedule)
	err = handle.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		schedule := in.Description.Schedule
		if isSafetyNetSpec(schedule.Spec) {
			return nil, temporal.ErrSkipScheduleUpdate
		}
		spec := SafetyNetSpec()
		schedule.Spec = &spec
		return &client.ScheduleUpdate{Schedule: &schedule}, nil
	}})
	if err == nil {
		return nil
	}
	// Workers starting together race to update it: a lost race is fine
	// when the winner wrote the same spec.
	desc, derr := handle.Describe(ctx)
	if derr == nil && isSafetyNetSpec(desc.Schedule.Spec) {
		return nil
	}
	return fmt.Errorf("update schedule %s: %w", workflows.CloseEndedCyclesSchedule, err)
}

// isSafetyNetSpec reports whether a schedule's spec is SafetyNetSpec.
func isSafetyNetSpec(spec *client.ScheduleSpec) bool {
	want := SafetyNetSpec()
	return spec != nil && len(spec.Calendars) == 0 && len(spec.CronExpressions) == 0 &&
		slices.Equal(spec.Intervals, want.Intervals)
}

// ensureSearchAttributes adds the search attributes the workflows set to the
// namespace, where they are missing.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes {
		if _, ok := existing.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
