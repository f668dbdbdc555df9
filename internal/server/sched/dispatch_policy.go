package sched

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// misfire applies the schedule's misfire policy to a fire that was due while
// no dispatcher ran (planned ahead before an outage, due during it). It
// decides the schedule's whole run of missed fires at once: those to skip
// are recorded Skipped with the reason (guarded writes, safe on rows other
// dispatchers may hold), and it reports whether t runs. The survivors stay
// Pending and are dispatched when claimed, where a second look finds only
// them, so the decision is the same whoever makes it. Fires that become late
// while a dispatcher runs are backlog, not misfires: they wait their turn.
func (p *pass) misfire(ctx context.Context, t *model.Task) (bool, error) {
	if t.ScheduleID == nil || t.Status != model.TaskPending || t.Attempt != 0 || !t.RunAt.Before(p.startedAt) {
		return true, nil
	}
	s, ok := p.schedules[*t.ScheduleID]
	if !ok {
		var err error
		s, err = p.ex.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: *t.ScheduleID})
		if errors.Is(err, store.ErrNotFound) {
			s = nil
		} else if err != nil {
			return false, fmt.Errorf("load schedule of missed fire: %w", err)
		}
		p.schedules[*t.ScheduleID] = s
	}
	if s == nil || OneAtATime(s) {
		return true, nil
	}
	lateBefore := p.startedAt.Add(-s.Misfire.EffectiveThreshold())
	if !t.RunAt.Before(lateBefore) {
		return true, nil
	}
	missed, err := p.ex.TaskList(ctx, &store.TaskListParams{
		Filter: store.Filter{
			{Field: "schedule_id", Op: store.OpEq, Value: s.ID},
			{Field: "status", Op: store.OpEq, Value: int64(model.TaskPending)},
			{Field: "attempt", Op: store.OpEq, Value: int64(0)},
			{Field: "run_at", Op: store.OpLt, Value: lateBefore},
		},
		OrderBy: []store.Order{{Field: "scheduled_at"}},
		Limit:   store.MaxPageLimit,
	})
	if err != nil {
		return false, fmt.Errorf("list missed fires: %w", err)
	}
	firstToRun := len(missed)
	switch s.Misfire.EffectivePolicy() {
	case model.MisfireFireOnce:
		firstToRun = len(missed) - 1
	case model.MisfireFireAll:
		firstToRun = max(0, len(missed)-s.Misfire.EffectiveLimit())
	}
	runs := false
	for i, m := range missed {
		if i < firstToRun {
			p.seen[m.ID] = true
			if err := p.skip(ctx, m, "missed while no server was running; misfire policy "+describeMisfire(s.Misfire, len(missed))); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
			continue
		}
		if !strings.HasPrefix(m.Reason, "ran late") {
			reason := fmt.Sprintf("ran late: planned for %s, missed while no server was running (misfire policy %s)", m.ScheduledAt.UTC().Format(time.RFC3339Nano), s.Misfire.EffectivePolicy())
			if _, err := p.ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: m.ID, FromStatuses: []model.TaskStatus{model.TaskPending}, Status: model.TaskPending, Reason: reason}); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, fmt.Errorf("note late fire: %w", err)
			}
		}
		runs = runs || m.ID == t.ID
	}
	return runs, nil
}

// decide places a task, or for a constrained job applies its overlap policy
// or concurrency cap: wait, skip, or cancel the running run and place.
func (p *pass) decide(ctx context.Context, t *model.Task) error {
	js := p.jobs[t.JobID]
	if js == nil || t.Status == model.TaskWaitingRetry {
		// Unconstrained, or a retry of a run already admitted.
		p.place(t)
		return nil
	}
	limit := t.Config.MaxConcurrency
	policy := t.Config.Overlap.EffectivePolicy()
	if policy != model.OverlapAllow {
		limit = 1
	}
	others := 0
	for _, a := range js.active {
		if a.ID != t.ID {
			others++
		}
	}
	if others < limit {
		if p.place(t) {
			js.active = append(js.active, t)
		}
		return nil
	}
	if t.RunAt.After(p.now) {
		// Not due yet: the earlier run may end in time.
		return nil
	}
	running := js.active[0]
	switch policy {
	case model.OverlapForbid:
		return p.skip(ctx, t, fmt.Sprintf("overlap policy forbid: task %s of this job was still running at this run's time", running.ID))
	case model.OverlapQueue:
		if js.waiting >= t.Config.Overlap.EffectiveQueueSize() {
			return p.skip(ctx, t, fmt.Sprintf("overlap policy queue: %d runs already wait for task %s", js.waiting, running.ID))
		}
		js.waiting++
		p.waited++
		return nil
	case model.OverlapReplace:
		if err := p.replace(ctx, t, js); err != nil {
			return err
		}
		if p.place(t) {
			js.active = []*model.Task{t}
		}
		return nil
	}
	// allow with a concurrency cap: wait for a slot of the job.
	p.waited++
	return nil
}

// skip records a due run its overlap policy does not run.
func (p *pass) skip(ctx context.Context, t *model.Task, reason string) error {
	if _, err := p.ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: t.ID, FromStatuses: []model.TaskStatus{model.TaskPending}, Status: model.TaskSkipped, Reason: reason}); err != nil {
		return fmt.Errorf("skip task %s: %w", t.ID, err)
	}
	p.skipped++
	eff, err := AfterFinal(ctx, p.ex, []Finished{{Task: t, Status: model.TaskSkipped}}, p.now)
	p.final.Rearmed += eff.Rearmed
	p.final.Triggered += eff.Triggered
	return err
}

// replace cancels the job's unfinished runs for t.
func (p *pass) replace(ctx context.Context, t *model.Task, js *jobState) error {
	reason := fmt.Sprintf("replaced by a newer run (task %s), overlap policy replace", t.ID)
	var ids []any
	for _, a := range js.active {
		if a.Status == model.TaskWaitingRetry {
			if _, err := p.ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: a.ID, FromStatuses: []model.TaskStatus{model.TaskWaitingRetry}, Status: model.TaskCancelled, Reason: reason}); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("cancel task %s: %w", a.ID, err)
			}
			continue
		}
		ids = append(ids, a.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	live, err := p.ex.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{
		{Field: "task_id", Op: store.OpIn, Value: ids},
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceDispatched), int64(model.InstanceAcked), int64(model.InstanceRunning)}},
	}, Limit: store.MaxPageLimit})
	if err != nil {
		return fmt.Errorf("load runs to replace: %w", err)
	}
	items := make([]*store.TaskInstanceFinish, len(live))
	for i, in := range live {
		items[i] = &store.TaskInstanceFinish{ID: in.ID, Status: model.InstanceCancelled, Reason: "cancelled", Error: reason}
		p.cancels = append(p.cancels, instanceCancel{agentID: in.AgentID, id: in.ID, reason: reason})
	}
	fin, err := FinishInstances(ctx, p.ex, items, p.now)
	p.done = append(p.done, fin.Done...)
	p.final.Rearmed += fin.Rearmed
	p.final.Triggered += fin.Triggered
	return err
}
