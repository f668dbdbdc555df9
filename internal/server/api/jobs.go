package api

import (
	"context"
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// JobBody is what a user writes to create or replace a job.
type JobBody struct {
	Namespace   string          `json:"namespace,omitempty" doc:"Namespace; default \"default\". Cannot change after creation." example:"default"`
	Name        string          `json:"name" doc:"Unique within the namespace: letters, digits, '.', '_' or '-'." example:"nightly-backup"`
	Description string          `json:"description,omitempty" maxLength:"4096"`
	Status      model.JobStatus `json:"status,omitempty" enum:"1,99,100" doc:"1 created, 99 disabled, 100 enabled (default). Only enabled jobs run on their schedules."`
	Config      model.JobConfig `json:"config" doc:"What to run and how."`
}

// JobOutput is a job response.
type JobOutput struct {
	Body *model.Job
}

// JobCreateOutput is the response to a created job.
type JobCreateOutput struct {
	Location string `header:"Location"`
	Body     *model.Job
}

func (b *JobBody) validate() error {
	if b.Namespace == "" {
		b.Namespace = model.DefaultNamespace
	}
	if b.Status == 0 {
		b.Status = model.JobEnabled
	}
	if err := model.ValidateNamespace("namespace", b.Namespace); err != nil {
		return err
	}
	if err := model.ValidateName("name", b.Name); err != nil {
		return err
	}
	if err := b.Config.Validate(); err != nil {
		return model.Prefix("config", err)
	}
	return nil
}

func (a *API) createJob(ctx context.Context, in *struct{ Body JobBody }) (*JobCreateOutput, error) {
	if err := in.Body.validate(); err != nil {
		return nil, storeError(err, "job")
	}
	job, err := a.deps.Store.JobInsert(ctx, &store.JobInsertParams{
		ID: uuid.Must(uuid.NewV7()), Config: in.Body.Config, CreatedBy: "admin",
		Description: in.Body.Description, Name: in.Body.Name, Namespace: in.Body.Namespace, Status: in.Body.Status,
	})
	if err != nil {
		return nil, storeError(err, "job "+in.Body.Namespace+"/"+in.Body.Name)
	}
	return &JobCreateOutput{Location: Prefix + "/jobs/" + job.ID.String(), Body: job}, nil
}

func (a *API) getJob(ctx context.Context, in *IDInput) (*JobOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	return &JobOutput{Body: job}, nil
}

func (a *API) replaceJob(ctx context.Context, in *struct {
	IDInput
	Body JobBody
}) (*JobOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	old, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	if in.Body.Namespace != "" && in.Body.Namespace != old.Namespace {
		return nil, fieldError("body.namespace", "cannot change; create the job in the other namespace instead")
	}
	in.Body.Namespace = old.Namespace
	if in.Body.Status == 0 {
		in.Body.Status = old.Status
	}
	if err := in.Body.validate(); err != nil {
		return nil, storeError(err, "job")
	}
	var job *model.Job
	err = store.InTx(ctx, a.deps.Store, func(ex store.Executor) error {
		job, err = ex.JobUpdate(ctx, &store.JobUpdateParams{
			ID: id, Config: in.Body.Config, ConfigDoUpdate: true, Description: in.Body.Description, DescriptionDoUpdate: true,
			Name: in.Body.Name, NameDoUpdate: true, Status: in.Body.Status, StatusDoUpdate: true, UpdatedBy: "admin",
		})
		if err != nil {
			return err
		}
		return a.afterJobStatus(ctx, ex, old.Status, job)
	})
	if err != nil {
		return nil, storeError(err, "job "+in.Body.Name)
	}
	a.deps.Scheduler.WakeGenerator()
	return &JobOutput{Body: job}, nil
}

// afterJobStatus keeps planned tasks in step with a job's status: disabling
// drops the tasks planned ahead; enabling restarts its schedules from now, so
// the time it was disabled does not count as missed.
func (a *API) afterJobStatus(ctx context.Context, ex store.Executor, was model.JobStatus, job *model.Job) error {
	switch {
	case was == job.Status:
		return nil
	case job.Status != model.JobEnabled:
		_, err := ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{JobID: &job.ID, ScheduledAfter: time.Now()})
		return err
	}
	scheds, err := ex.ScheduleList(ctx, &store.ScheduleListParams{Filter: store.Filter{{Field: "job_id", Op: store.OpEq, Value: job.ID}}, Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	now := time.Now()
	for _, s := range scheds {
		if s.Status != model.ScheduleEnabled {
			continue
		}
		if err := restartSchedule(ctx, ex, s, now); err != nil {
			return err
		}
	}
	return nil
}

// restartSchedule drops a schedule's tasks planned from now on and moves its
// cursor to its first fire at or after now.
func restartSchedule(ctx context.Context, ex store.Executor, s *model.Schedule, now time.Time) error {
	if _, err := ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduleID: &s.ID, ScheduledAfter: now}); err != nil {
		return err
	}
	spec, err := cron.ForSchedule(s)
	if err != nil {
		return err
	}
	p := &store.ScheduleUpdateParams{ID: s.ID, NextFireAtDoUpdate: true}
	if next, ok := cron.First(spec, now); ok {
		t := next.UTC()
		p.NextFireAt = &t
	} else {
		p.Status, p.StatusDoUpdate = model.ScheduleExpired, true
	}
	_, err = ex.ScheduleUpdate(ctx, p)
	return err
}

func (a *API) setJobStatus(status model.JobStatus) func(context.Context, *IDInput) (*JobOutput, error) {
	return func(ctx context.Context, in *IDInput) (*JobOutput, error) {
		id, err := parseID(in.ID)
		if err != nil {
			return nil, err
		}
		var job *model.Job
		err = store.InTx(ctx, a.deps.Store, func(ex store.Executor) error {
			old, err := ex.JobGetByID(ctx, &store.JobGetByIDParams{ID: id})
			if err != nil {
				return err
			}
			job, err = ex.JobUpdate(ctx, &store.JobUpdateParams{ID: id, Status: status, StatusDoUpdate: true, UpdatedBy: "admin"})
			if err != nil {
				return err
			}
			return a.afterJobStatus(ctx, ex, old.Status, job)
		})
		if err != nil {
			return nil, storeError(err, "job "+in.ID)
		}
		a.deps.Scheduler.WakeGenerator()
		return &JobOutput{Body: job}, nil
	}
}

func (a *API) deleteJob(ctx context.Context, in *IDInput) (*struct{}, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	live, err := a.deps.Store.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{Filter: store.Filter{
		{Field: "job_id", Op: store.OpEq, Value: id},
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceDispatched), int64(model.InstanceAcked), int64(model.InstanceRunning)}},
	}})
	if err != nil {
		return nil, storeError(err, "job")
	}
	if live > 0 {
		return nil, huma.Error409Conflict(fmt.Sprintf("job has %d runs in progress; cancel them or wait, then delete", live))
	}
	if _, err := a.deps.Store.JobDelete(ctx, &store.JobDeleteParams{ID: id}); err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	return nil, nil
}

func (a *API) queryJobs(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Job], error) {
	return runQuery(store.JobResource(), in.Body, func(q *query) ([]*model.Job, error) {
		return a.deps.Store.JobList(ctx, &store.JobListParams{Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.JobCount(ctx, &store.JobCountParams{Filter: f})
	})
}

// RunBody asks for a run now.
type RunBody struct {
	Parameters map[string]string `json:"parameters,omitempty" doc:"Parameters for this run; they reach the process as HETUFLOW_PARAM_<NAME>."`
	Priority   int               `json:"priority,omitempty" minimum:"-1000" maximum:"1000" doc:"Higher runs first when agents are busy."`
}

// TaskCreateOutput is the response to a created task.
type TaskCreateOutput struct {
	Location string `header:"Location"`
	Body     *model.Task
}

func (a *API) runJob(ctx context.Context, in *struct {
	IDInput
	Body *RunBody
}) (*TaskCreateOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	body := in.Body
	if body == nil {
		body = &RunBody{}
	}
	t, err := a.insertRun(ctx, job, nil, body, "run now")
	if err != nil {
		return nil, err
	}
	return &TaskCreateOutput{Location: Prefix + "/tasks/" + t.ID.String(), Body: t}, nil
}

// insertRun creates a task for a manual run of job and wakes the dispatcher.
func (a *API) insertRun(ctx context.Context, job *model.Job, scheduleID *uuid.UUID, body *RunBody, reason string) (*model.Task, error) {
	for k := range body.Parameters {
		if k == "" || len(k) > 128 {
			return nil, fieldError("body.parameters", "parameter names must be 1-128 characters")
		}
	}
	now := time.Now().UTC()
	tasks, err := a.deps.Store.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{{
		ID: uuid.Must(uuid.NewV7()), Config: job.Config, JobID: job.ID, Namespace: job.Namespace, Parameters: body.Parameters,
		Priority: body.Priority, Reason: reason, RunAt: now, ScheduleID: scheduleID, ScheduledAt: now, Status: model.TaskPending,
	}}})
	if err != nil {
		return nil, storeError(err, "task")
	}
	if len(tasks) != 1 {
		return nil, huma.Error409Conflict("a run of this schedule at this instant already exists; try again")
	}
	a.deps.Scheduler.WakeDispatcher()
	return tasks[0], nil
}
