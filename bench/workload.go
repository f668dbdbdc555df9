package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// forEach calls fn for every i in [0, n) from workers goroutines and returns
// the first error; after an error the items not yet started are skipped. It
// returns once every call has returned.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

// createWorkers is how many requests setup code has in flight at once.
const createWorkers = 8

// createJobs creates n jobs named prefix-<i> running cfg and returns their
// ids in order.
func createJobs(ctx context.Context, api *client, n int, prefix string, cfg model.JobConfig) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, n)
	err := forEach(ctx, n, createWorkers, func(ctx context.Context, i int) error {
		id, err := api.createJob(ctx, fmt.Sprintf("%s-%d", prefix, i), cfg)
		ids[i] = id
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create jobs: %w", err)
	}
	return ids, nil
}

// createSchedules creates the schedules and returns their ids in order.
func createSchedules(ctx context.Context, api *client, bodies []*scheduleBody) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, len(bodies))
	err := forEach(ctx, len(bodies), createWorkers, func(ctx context.Context, i int) error {
		id, err := api.createSchedule(ctx, bodies[i])
		ids[i] = id
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create schedules: %w", err)
	}
	return ids, nil
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// openTaskStatuses are the statuses of tasks not yet finished.
var openTaskStatuses = []int{int(model.TaskPending), int(model.TaskDoing), int(model.TaskWaitingRetry)}

// waitSettled polls until no task scheduled in [from, to) is still open, or
// until timeout; it reports whether everything settled.
func waitSettled(ctx context.Context, api *client, from, to time.Time, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	f := filter{"scheduled_at": map[string]any{"$gte": from, "$lt": to}, "status": map[string]any{"$in": openTaskStatuses}}
	for {
		n, err := api.count(ctx, "tasks", f)
		if err != nil {
			return false, fmt.Errorf("count open tasks: %w", err)
		}
		if n == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleepUntil(ctx, time.Now().Add(250*time.Millisecond)); err != nil {
			return false, err
		}
	}
}

// cmdConfig is a job that runs path with args directly (no shell).
func cmdConfig(path string, args ...string) model.JobConfig {
	return model.JobConfig{Command: path, Args: args}
}

// reportedStart returns when the agent reported an instance started. A
// lost instance's start is left out: the server may have filled it in with
// the planned instant when it gave the instance up.
func reportedStart(in *model.TaskInstance) (time.Time, bool) {
	if in.StartedAt == nil || in.Status == model.InstanceLost {
		return time.Time{}, false
	}
	return *in.StartedAt, true
}
