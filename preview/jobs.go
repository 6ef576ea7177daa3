package preview

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Jobs keeps previews running in the background for the console, in
// memory, per owner (a console session): a manager starts one, the page
// polls its progress, and it can be cancelled. A job runs at most
// JobTimeout; a finished one is kept JobRetention; an owner has at most
// JobsPerOwner, and starting one more cancels and forgets the oldest.
// Previews are read-only, so a job lost with its process (a restart, or
// another API replica answering the poll) only has to be started again.
type Jobs struct {
	mu   sync.Mutex
	byID map[string]*Job
	now  func() time.Time
}

// Bounds of the jobs.
const (
	JobTimeout   = 2 * time.Minute
	JobRetention = 15 * time.Minute
	JobsPerOwner = 3
)

// NewJobs returns an empty set of jobs.
func NewJobs() *Jobs { return &Jobs{byID: map[string]*Job{}, now: time.Now} }

// Job is one preview running or done.
type Job struct {
	ID      string
	owner   string
	started time.Time
	cancel  context.CancelFunc
	ended   chan struct{} // closed once done

	mu       sync.Mutex
	progress Progress
	done     time.Time
	result   Result
	err      error
}

// JobState is a job as its page shows it.
type JobState struct {
	ID       string
	Progress Progress
	Done     bool
	Result   Result
	Err      error
	Started  time.Time
}

// Cancelled reports whether the job ended because it was cancelled or ran
// out of time.
func (s JobState) Cancelled() bool {
	return errors.Is(s.Err, context.Canceled) || errors.Is(s.Err, context.DeadlineExceeded)
}

// Percent is the progress in whole percent.
func (s JobState) Percent() int {
	if s.Progress.Total == 0 {
		if s.Done {
			return 100
		}
		return 0
	}
	return s.Progress.Done * 100 / s.Progress.Total
}

// Start runs a preview for owner in the background and returns its job.
func (j *Jobs) Start(owner string, run func(ctx context.Context, progress func(Progress)) (Result, error)) *Job {
	ctx, cancel := context.WithTimeout(context.Background(), JobTimeout)
	job := &Job{ID: newJobID(), owner: owner, started: j.now(), cancel: cancel, ended: make(chan struct{}), progress: Progress{Phase: "reading"}}
	j.mu.Lock()
	j.sweep()
	var oldest *Job
	n := 0
	for _, other := range j.byID {
		if other.owner == owner {
			n++
			if oldest == nil || other.started.Before(oldest.started) {
				oldest = other
			}
		}
	}
	if n >= JobsPerOwner && oldest != nil {
		oldest.cancel()
		delete(j.byID, oldest.ID)
	}
	j.byID[job.ID] = job
	j.mu.Unlock()

	go func() {
		defer cancel()
		res, err := run(ctx, func(p Progress) {
			job.mu.Lock()
			job.progress = p
			job.mu.Unlock()
		})
		job.mu.Lock()
		job.result, job.err, job.done = res, err, j.now()
		job.mu.Unlock()
		close(job.ended)
	}()
	return job
}

// Get returns owner's job id; another owner's job is not found.
func (j *Jobs) Get(owner, id string) (*Job, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sweep()
	job, ok := j.byID[id]
	if !ok || job.owner != owner {
		return nil, false
	}
	return job, true
}

// Cancel stops owner's job id; it reports whether there was one.
func (j *Jobs) Cancel(owner, id string) bool {
	job, ok := j.Get(owner, id)
	if ok {
		job.cancel()
	}
	return ok
}

// Stop cancels every job, for a server that shuts down.
func (j *Jobs) Stop() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, job := range j.byID {
		job.cancel()
	}
}

// sweep forgets jobs finished more than JobRetention ago.
func (j *Jobs) sweep() {
	now := j.now()
	for id, job := range j.byID {
		job.mu.Lock()
		old := !job.done.IsZero() && now.Sub(job.done) > JobRetention
		job.mu.Unlock()
		if old {
			delete(j.byID, id)
		}
	}
}

// State returns the job as it is now.
func (job *Job) State() JobState {
	job.mu.Lock()
	defer job.mu.Unlock()
	return JobState{ID: job.ID, Progress: job.progress, Done: !job.done.IsZero(), Result: job.result, Err: job.err, Started: job.started}
}

// Wait blocks until the job is done or ctx ends, and returns its state.
func (job *Job) Wait(ctx context.Context) JobState {
	select {
	case <-job.ended:
	case <-ctx.Done():
	}
	return job.State()
}

func newJobID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
