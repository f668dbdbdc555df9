package sched

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Finished is a task that has just reached a final status.
type Finished struct {
	Task   *model.Task // as it was before the move
	Status model.TaskStatus
	// Instance is the attempt whose end finished the task, when one did.
	Instance *model.TaskInstance
}

// FinalEffects says what the follow-up of finished tasks started.
type FinalEffects struct {
	// Rearmed counts one-at-a-time schedules given their next fire.
	Rearmed int
	// Triggered counts tasks started by job triggers and flow edges.
	Triggered int
}

// Daemon restart backoff: it doubles per run shorter than daemonStable, from
// daemonBackoffMin up to daemonBackoffMax.
const (
	daemonBackoffMin = time.Second
	daemonBackoffMax = 5 * time.Minute
	daemonStable     = time.Minute
)

// AfterFinal does what follows tasks reaching a final status, in the
// caller's transaction: a fixed-delay or daemon schedule plans its next run
// (the interval, or the daemon's restart backoff, after now), the job's
// triggers start the jobs they name, and flow runs move on.
func AfterFinal(ctx context.Context, ex store.Executor, done []Finished, now time.Time) (FinalEffects, error) {
	var eff FinalEffects
	if len(done) == 0 {
		return eff, nil
	}
	var scheduleIDs []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, d := range done {
		if id := d.Task.ScheduleID; id != nil && !seen[*id] {
			seen[*id] = true
			scheduleIDs = append(scheduleIDs, *id)
		}
	}
	if len(scheduleIDs) > 0 {
		n, err := rearm(ctx, ex, scheduleIDs, now)
		if err != nil {
			return eff, err
		}
		eff.Rearmed = n
	}
	for _, d := range done {
		n, err := fireTriggers(ctx, ex, d, now)
		if err != nil {
			return eff, err
		}
		eff.Triggered += n
	}
	n, err := advanceFlows(ctx, ex, done, now)
	eff.Triggered += n
	return eff, err
}

// rearm gives one-at-a-time schedules whose run ended their next fire.
// Only parked schedules are read: the others (most, under load) have their
// next fire already and need nothing.
func rearm(ctx context.Context, ex store.Executor, ids []uuid.UUID, now time.Time) (int, error) {
	scheds, err := ex.ScheduleListParked(ctx, &store.ScheduleListParkedParams{IDs: ids})
	if err != nil {
		return 0, fmt.Errorf("load schedules to re-arm: %w", err)
	}
	n := 0
	for _, s := range scheds {
		// The store returns only parked schedules (no next fire); of
		// those, only daemon and fixed-delay ones wait for their run.
		if !OneAtATime(s) {
			continue
		}
		delay := s.Interval.D()
		if s.Kind == model.ScheduleDaemon {
			if delay, err = daemonBackoff(ctx, ex, s); err != nil {
				return n, err
			}
		}
		next := now.Add(delay).UTC()
		if _, err := ex.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: s.ID, NextFireAt: &next, NextFireAtDoUpdate: true}); err != nil {
			return n, fmt.Errorf("re-arm schedule %s: %w", s.ID, err)
		}
		n++
	}
	return n, nil
}

// daemonBackoff is the pause before restarting a daemon: doubling for each
// of its latest runs that ended within daemonStable of starting.
func daemonBackoff(ctx context.Context, ex store.Executor, s *model.Schedule) (time.Duration, error) {
	recent, err := ex.TaskList(ctx, &store.TaskListParams{
		Filter:  store.Filter{{Field: "schedule_id", Op: store.OpEq, Value: s.ID}},
		OrderBy: []store.Order{{Field: "scheduled_at", Desc: true}},
		Limit:   10,
	})
	if err != nil {
		return 0, fmt.Errorf("load daemon history: %w", err)
	}
	d := daemonBackoffMin
	for _, t := range recent {
		if t.FinishedAt == nil || t.FinishedAt.Sub(t.RunAt) >= daemonStable {
			break
		}
		d = min(2*d, daemonBackoffMax)
	}
	// The first short run restarts after the minimum.
	return max(daemonBackoffMin, d/2), nil
}

// fireTriggers starts the jobs a finished task's job names for its outcome.
func fireTriggers(ctx context.Context, ex store.Executor, d Finished, now time.Time) (int, error) {
	n := 0
	for _, tr := range d.Task.Config.Triggers {
		if !triggerMatches(tr.On, d.Status) {
			continue
		}
		job, err := ex.JobGetByID(ctx, &store.JobGetByIDParams{ID: tr.JobID})
		if err != nil {
			// A deleted target is not an error of this run; say so on it
			// when the API shows the trigger, not here.
			continue
		}
		cfg, err := model.RenderConfig(job.Config, model.DefaultParams(job.Config.Params))
		if err != nil {
			cfg = job.Config
		}
		reason := fmt.Sprintf("triggered: task %s of job %s %s", d.Task.ID, d.Task.JobID, d.Status)
		if _, err := ex.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{{
			ID: uuid.Must(uuid.NewV7()), Config: cfg, JobID: job.ID, Namespace: job.Namespace,
			Parameters: model.DefaultParams(job.Config.Params), Reason: reason, RunAt: now, ScheduledAt: now, Status: model.TaskPending,
		}}}); err != nil {
			return n, fmt.Errorf("start triggered job %s: %w", job.ID, err)
		}
		n++
	}
	return n, nil
}

func triggerMatches(on string, status model.TaskStatus) bool {
	switch on {
	case model.TriggerOnSuccess:
		return status == model.TaskSucceeded
	case model.TriggerOnFailure:
		return status == model.TaskFailed
	case model.TriggerOnEnd:
		return status.Final() && status != model.TaskSkipped
	}
	return false
}

// Fence checks, first in a leader service's transaction, that this server
// still leads, and keeps the lead from changing hands until the transaction
// ends (leader.Elector.Fence).
type Fence func(ctx context.Context, ex store.Executor) error

// fencedTx runs fn in a transaction that starts with fence, if set.
func fencedTx(ctx context.Context, st store.Store, fence Fence, fn func(ex store.Executor) error) error {
	return store.InTx(ctx, st, func(ex store.Executor) error {
		if fence != nil {
			if err := fence(ctx, ex); err != nil {
				return err
			}
		}
		return fn(ex)
	})
}
