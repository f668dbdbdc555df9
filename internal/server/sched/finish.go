package sched

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// FinishResult says what finishing instances set in motion.
type FinishResult struct {
	// Runnable counts tasks that can run again (retry or requeue).
	Runnable int
	// Done are the tasks that reached a final status.
	Done []Finished
	// StartLags are, for the finished instances that started, how late
	// each started (started minus planned).
	StartLags []time.Duration
	FinalEffects
}

// wakesDispatcher reports whether what finishing set in motion wants a
// dispatch pass, here and on the other servers: tasks that can run again,
// flow steps triggered, or the end of a task of a job with an overlap
// policy or a concurrency cap, whose next run may go now (the freed slot's
// own wake comes before the commit, so the pass it starts may still see
// the run as live).
func (res FinishResult) wakesDispatcher() bool {
	if res.Runnable > 0 || res.Triggered > 0 {
		return true
	}
	for _, f := range res.Done {
		if constrained(f.Task) {
			return true
		}
	}
	return false
}

// FinishInstances ends live instances and moves their tasks on: succeeded,
// retried after the job's backoff, requeued (an instance that never
// started), or failed for good; tasks that became final get their follow-up
// (AfterFinal). Items whose instance is no longer live are skipped.
func FinishInstances(ctx context.Context, ex store.Executor, items []*store.TaskInstanceFinish, now time.Time) (FinishResult, error) {
	var res FinishResult
	finished, err := ex.TaskInstanceFinishMany(ctx, &store.TaskInstanceFinishManyParams{Items: items})
	if err != nil {
		return res, fmt.Errorf("finish instances: %w", err)
	}
	if len(finished) == 0 {
		return res, nil
	}
	ids := make([]uuid.UUID, len(finished))
	for i, in := range finished {
		ids[i] = in.TaskID
	}
	tasks, err := ex.TaskListByID(ctx, &store.TaskListByIDParams{IDs: ids})
	if err != nil {
		return res, fmt.Errorf("load tasks: %w", err)
	}
	byID := make(map[uuid.UUID]*model.Task, len(tasks))
	for _, t := range tasks {
		byID[t.ID] = t
	}
	shards, err := loadShards(ctx, ex, finished)
	if err != nil {
		return res, err
	}
	moves := make([]*store.TaskFinish, 0, len(finished))
	var done []Finished
	for _, in := range finished {
		if in.StartedAt != nil && !in.PlannedAt.IsZero() {
			res.StartLags = append(res.StartLags, in.StartedAt.Sub(in.PlannedAt))
		}
	}
	decided := map[uuid.UUID]bool{}
	for _, in := range finished {
		t := byID[in.TaskID]
		if t == nil || decided[t.ID] {
			continue
		}
		var mv *store.TaskFinish
		if in.ShardTotal > 0 {
			mv = broadcastState(t, shards[t.ID], now)
		} else {
			mv = nextTaskState(t, in, now)
		}
		if mv == nil {
			continue
		}
		decided[t.ID] = true
		if mv.Status == model.TaskPending || mv.Status == model.TaskWaitingRetry {
			res.Runnable++
		} else {
			done = append(done, Finished{Task: t, Status: mv.Status, Instance: in})
		}
		moves = append(moves, mv)
	}
	if len(moves) > 0 {
		if _, err := ex.TaskFinishMany(ctx, &store.TaskFinishManyParams{Items: moves}); err != nil {
			return res, fmt.Errorf("finish tasks: %w", err)
		}
	}
	res.Done = done
	res.FinalEffects, err = AfterFinal(ctx, ex, done, now)
	return res, err
}

// nextTaskState decides what a task does after its instance ended. It
// returns nil when the task is not at that instance's attempt (a stale
// report already superseded).
func nextTaskState(t *model.Task, in *model.TaskInstance, now time.Time) *store.TaskFinish {
	if t.Status != model.TaskDoing || t.Attempt != in.Attempt {
		return nil
	}
	mv := &store.TaskFinish{ID: t.ID, Attempt: t.Attempt}
	switch in.Status {
	case model.InstanceSucceeded:
		mv.Status = model.TaskSucceeded
	case model.InstanceCancelled:
		mv.Status, mv.Reason = model.TaskCancelled, in.Error
	case model.InstanceLost:
		if in.StartedAt == nil {
			// It never ran: this was not an attempt, so dispatch it again
			// under the same attempt number.
			mv.Status = model.TaskPending
			mv.Reason = "dispatched again: " + in.Error
			return mv
		}
		fallthrough
	default: // Failed, Timeout, Lost while running
		failed(t, mv, in, describeFailure(in), now)
	}
	return mv
}

// failed moves a task whose attempt failed (its instance in, described by
// reason) to a retry or to Failed, per its retry policy.
func failed(t *model.Task, mv *store.TaskFinish, in *model.TaskInstance, reason string, now time.Time) {
	policy := t.Config.Retry
	kind := failureKind(in)
	switch {
	case t.Attempt >= policy.Attempts():
		mv.Status = model.TaskFailed
		mv.Reason = fmt.Sprintf("attempt %d of %d %s", t.Attempt, policy.Attempts(), reason)
	case !policy.Retries(kind):
		mv.Status = model.TaskFailed
		mv.Reason = fmt.Sprintf("attempt %d of %d %s; not retried (retry_on excludes %s)", t.Attempt, policy.Attempts(), reason, kind)
	default:
		runAt := retryFrom(in, now).Add(retryPause(policy, t.Attempt))
		mv.Status, mv.RunAt = model.TaskWaitingRetry, &runAt
		mv.Reason = fmt.Sprintf("attempt %d of %d %s; retry at %s", t.Attempt, policy.Attempts(), reason, runAt.UTC().Format(time.RFC3339Nano))
	}
}

// maxEndAhead bounds how far ahead of the server's clock a reported end
// may move a retry: estimate noise, not a broken agent clock.
const maxEndAhead = time.Second

// retryFrom is when a failed attempt's pause starts: when the server
// learned of the end, or the end the agent reported if that is later. The
// agent reports times in its estimate of the server's clock, which can be a
// few milliseconds ahead; counting from the report keeps every recorded
// pause (next start − this end) at least the policy's, as the next start is
// recorded in the same kind of estimate and never before its planned time.
func retryFrom(in *model.TaskInstance, now time.Time) time.Time {
	switch {
	case in.FinishedAt == nil || !in.FinishedAt.After(now):
		return now
	case in.FinishedAt.After(now.Add(maxEndAhead)):
		return now.Add(maxEndAhead)
	default:
		return *in.FinishedAt
	}
}

// failureKind names a failed instance's cause as a RetryOn value.
func failureKind(in *model.TaskInstance) string {
	switch in.Status {
	case model.InstanceTimeout:
		return model.RetryOnTimeout
	case model.InstanceLost:
		return model.RetryOnLost
	}
	return model.RetryOnExitCode
}

// retryPause is the pause after failed attempt n, with the policy's jitter:
// uniform over the pause's second half, so runs that failed together spread
// out but none retries sooner than half its pause.
func retryPause(p model.RetryPolicy, n int) time.Duration {
	d := p.RetryDelay(n)
	if p.Jitter && d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

func describeFailure(in *model.TaskInstance) string {
	switch {
	case in.Reason == "oom":
		return "ran out of memory: " + in.Error
	case in.Status == model.InstanceTimeout:
		return "timed out"
	case in.Status == model.InstanceLost:
		return "was lost: " + in.Error
	case in.ExitCode != nil:
		return fmt.Sprintf("exited with code %d", *in.ExitCode)
	case in.Error != "":
		return "failed: " + in.Error
	}
	return "failed"
}
