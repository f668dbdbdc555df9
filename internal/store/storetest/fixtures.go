package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// The fixtures below insert complete, valid rows through store methods.
// Options are pointers: nil means a valid default, and names and ids are
// unique, so tests set only what matters to them.

// newID returns a fresh UUIDv7.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// JobOpts are the options of [Job] and [JobBuild].
type JobOpts struct {
	Config      *model.JobConfig
	CreatedBy   *string
	Description *string
	ID          *uuid.UUID
	Name        *string
	Namespace   *string
	Now         *time.Time
	Status      *model.JobStatus
}

// JobBuild returns the params of a valid, enabled job in the default
// namespace with a unique name, changed by opts (which may be nil).
func JobBuild(opts *JobOpts) *store.JobInsertParams {
	if opts == nil {
		opts = &JobOpts{}
	}
	id := valueOr(opts.ID, newID())
	return &store.JobInsertParams{
		ID:          id,
		Config:      valueOr(opts.Config, model.JobConfig{Command: "/bin/true"}),
		CreatedBy:   valueOr(opts.CreatedBy, "storetest"),
		Description: valueOr(opts.Description, ""),
		Name:        valueOr(opts.Name, "job-"+id.String()),
		Namespace:   valueOr(opts.Namespace, model.DefaultNamespace),
		Now:         opts.Now,
		Status:      valueOr(opts.Status, model.JobEnabled),
	}
}

// Job inserts a job built by [JobBuild] and returns it.
func Job(ctx context.Context, t testing.TB, exec store.Executor, opts *JobOpts) *model.Job {
	t.Helper()
	job, err := exec.JobInsert(ctx, JobBuild(opts))
	if err != nil {
		t.Fatalf("insert job fixture: %v", err)
	}
	return job
}

// ScheduleOpts are the options of [Schedule]. A nil JobID inserts a new
// enabled job in Namespace.
type ScheduleOpts struct {
	Cron       *string
	EndTime    *time.Time
	ID         *uuid.UUID
	Interval   *time.Duration
	JobID      *uuid.UUID
	Kind       *model.ScheduleKind
	MaxCount   *int64
	Name       *string
	Namespace  *string
	NextFireAt *time.Time
	Now        *time.Time
	StartTime  *time.Time
	Status     *model.ScheduleStatus
	TimeZone   *string
}

// Schedule inserts a valid, enabled cron schedule (every minute, UTC) and
// returns it. Its cursor (NextFireAt) is nil unless set.
func Schedule(ctx context.Context, t testing.TB, exec store.Executor, opts *ScheduleOpts) *model.Schedule {
	t.Helper()
	if opts == nil {
		opts = &ScheduleOpts{}
	}
	ns := valueOr(opts.Namespace, model.DefaultNamespace)
	jobID := valueOr(opts.JobID, uuid.Nil)
	if opts.JobID == nil {
		jobID = Job(ctx, t, exec, &JobOpts{Namespace: &ns, Now: opts.Now}).ID
	}
	id := valueOr(opts.ID, newID())
	sched, err := exec.ScheduleInsert(ctx, &store.ScheduleInsertParams{
		ID:         id,
		Cron:       valueOr(opts.Cron, "0 * * * * *"),
		EndTime:    opts.EndTime,
		Interval:   valueOr(opts.Interval, 0),
		JobID:      jobID,
		Kind:       valueOr(opts.Kind, model.ScheduleCron),
		MaxCount:   valueOr(opts.MaxCount, 0),
		Name:       valueOr(opts.Name, "schedule-"+id.String()),
		Namespace:  ns,
		NextFireAt: opts.NextFireAt,
		Now:        opts.Now,
		StartTime:  opts.StartTime,
		Status:     valueOr(opts.Status, model.ScheduleEnabled),
		TimeZone:   valueOr(opts.TimeZone, "UTC"),
	})
	if err != nil {
		t.Fatalf("insert schedule fixture: %v", err)
	}
	return sched
}

// TaskOpts are the options of [Task]. A nil JobID inserts a new enabled job
// in Namespace.
type TaskOpts struct {
	Config      *model.JobConfig
	ID          *uuid.UUID
	JobID       *uuid.UUID
	Namespace   *string
	Now         *time.Time
	Parameters  map[string]string
	Priority    *int
	Reason      *string
	RunAt       *time.Time
	ScheduleID  *uuid.UUID
	ScheduledAt *time.Time
	Status      *model.TaskStatus
}

// taskBuild returns a valid Pending manual task, changed by opts. ScheduledAt defaults to the current time and RunAt to ScheduledAt.
// JobID is left nil when opts does not set it.
func taskBuild(opts *TaskOpts) *store.TaskInsert {
	scheduledAt := valueOr(opts.ScheduledAt, time.Now().UTC().Truncate(time.Microsecond))
	return &store.TaskInsert{
		ID:          valueOr(opts.ID, newID()),
		Config:      valueOr(opts.Config, model.JobConfig{Command: "/bin/true"}),
		JobID:       valueOr(opts.JobID, uuid.Nil),
		Namespace:   valueOr(opts.Namespace, model.DefaultNamespace),
		Parameters:  opts.Parameters,
		Priority:    valueOr(opts.Priority, 0),
		Reason:      valueOr(opts.Reason, ""),
		RunAt:       valueOr(opts.RunAt, scheduledAt),
		ScheduleID:  opts.ScheduleID,
		ScheduledAt: scheduledAt,
		Status:      valueOr(opts.Status, model.TaskPending),
	}
}

// Task inserts a manual task, Pending unless Status says otherwise, and
// returns it. Skipped is inserted as such; Doing starts attempt 1; other
// statuses are set from Pending with TaskSetStateIf.
func Task(ctx context.Context, t testing.TB, exec store.Executor, opts *TaskOpts) *model.Task {
	t.Helper()
	if opts == nil {
		opts = &TaskOpts{}
	}
	ti := taskBuild(opts)
	if opts.JobID == nil {
		ti.JobID = Job(ctx, t, exec, &JobOpts{Namespace: &ti.Namespace, Now: opts.Now}).ID
	}
	status := ti.Status
	if status != model.TaskPending && status != model.TaskSkipped {
		ti.Status = model.TaskPending
	}
	tasks, err := exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Now: opts.Now, Tasks: []*store.TaskInsert{ti}})
	if err != nil {
		t.Fatalf("insert task fixture: %v", err)
	}
	if len(tasks) != 1 {
		t.Fatalf("insert task fixture: inserted %d tasks, want 1 (duplicate schedule fire?)", len(tasks))
	}
	task := tasks[0]
	switch status {
	case model.TaskPending, model.TaskSkipped:
		return task
	case model.TaskDoing:
		n, err := exec.TaskStartAttemptMany(ctx, &store.TaskStartAttemptManyParams{IDs: []uuid.UUID{task.ID}, Now: opts.Now})
		if err != nil || n != 1 {
			t.Fatalf("start task fixture attempt: n = %d, err = %v", n, err)
		}
	default:
		_, err := exec.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{
			ID:           task.ID,
			FromStatuses: []model.TaskStatus{model.TaskPending},
			Now:          opts.Now,
			Reason:       ti.Reason,
			Status:       status,
		})
		if err != nil {
			t.Fatalf("set task fixture status: %v", err)
		}
	}
	task, err = exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
	if err != nil {
		t.Fatalf("get task fixture: %v", err)
	}
	return task
}

// TaskInstanceOpts are the options of [TaskInstance]. A nil TaskID inserts
// a new task (and job) in Namespace.
type TaskInstanceOpts struct {
	AgentID        *string
	Attempt        *int
	DispatchedAt   *time.Time
	ID             *uuid.UUID
	LeaseExpiresAt *time.Time
	Namespace      *string
	Now            *time.Time
	PlannedAt      *time.Time
	ServerID       *string
	Status         *model.InstanceStatus
	TaskID         *uuid.UUID
}

// TaskInstance inserts a Dispatched instance (attempt 1, on agent "agent-1"
// through server "server-1") and returns it.
func TaskInstance(ctx context.Context, t testing.TB, exec store.Executor, opts *TaskInstanceOpts) *model.TaskInstance {
	t.Helper()
	if opts == nil {
		opts = &TaskInstanceOpts{}
	}
	var task *model.Task
	if opts.TaskID == nil {
		task = Task(ctx, t, exec, &TaskOpts{Namespace: opts.Namespace, Now: opts.Now})
	} else {
		var err error
		if task, err = exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: *opts.TaskID}); err != nil {
			t.Fatalf("get task of task instance fixture: %v", err)
		}
	}
	id := valueOr(opts.ID, newID())
	_, err := exec.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{
		Now: opts.Now,
		Instances: []*store.TaskInstanceInsert{{
			ID:             id,
			AgentID:        valueOr(opts.AgentID, "agent-1"),
			Attempt:        valueOr(opts.Attempt, 1),
			DispatchedAt:   opts.DispatchedAt,
			JobID:          task.JobID,
			LeaseExpiresAt: opts.LeaseExpiresAt,
			Namespace:      task.Namespace,
			PlannedAt:      valueOr(opts.PlannedAt, task.ScheduledAt),
			ServerID:       valueOr(opts.ServerID, "server-1"),
			Status:         valueOr(opts.Status, model.InstanceDispatched),
			TaskID:         task.ID,
		}},
	})
	if err != nil {
		t.Fatalf("insert task instance fixture: %v", err)
	}
	ti, err := exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: id})
	if err != nil {
		t.Fatalf("get task instance fixture: %v", err)
	}
	return ti
}

// AgentOpts are the options of [Agent].
type AgentOpts struct {
	Capacity *int
	ID       *string
	Labels   map[string]string
	Name     *string
	Now      *time.Time
	ServerID *string
	Status   *model.AgentStatus
	Version  *string
}

// Agent records a connected agent (capacity 4, held by "server-1") and
// returns it; a Status other than Online is set afterwards.
func Agent(ctx context.Context, t testing.TB, exec store.Executor, opts *AgentOpts) *model.Agent {
	t.Helper()
	if opts == nil {
		opts = &AgentOpts{}
	}
	id := valueOr(opts.ID, "agent-"+newID().String())
	agent, err := exec.AgentUpsert(ctx, &store.AgentUpsertParams{
		ID:       id,
		Capacity: valueOr(opts.Capacity, 4),
		Labels:   opts.Labels,
		Name:     valueOr(opts.Name, id),
		Now:      opts.Now,
		ServerID: valueOr(opts.ServerID, "server-1"),
		Version:  valueOr(opts.Version, "0.0.0-test"),
	})
	if err != nil {
		t.Fatalf("upsert agent fixture: %v", err)
	}
	if opts.Status == nil || *opts.Status == model.AgentOnline {
		return agent
	}
	n, err := exec.AgentSetStatusIf(ctx, &store.AgentSetStatusIfParams{ID: id, Now: opts.Now, Status: *opts.Status})
	if err != nil || n != 1 {
		t.Fatalf("set agent fixture status: n = %d, err = %v", n, err)
	}
	if agent, err = exec.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: id}); err != nil {
		t.Fatalf("get agent fixture: %v", err)
	}
	return agent
}

// valueOr returns *p, or def when p is nil.
func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
