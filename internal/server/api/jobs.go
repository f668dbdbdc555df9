package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
)

// JobBody is what a user writes to create or replace a job.
type JobBody struct {
	Namespace   string          `json:"namespace,omitempty" doc:"Namespace; default \"default\". Cannot change after creation." example:"default"`
	Name        string          `json:"name" doc:"Unique within the namespace: letters, digits, '.', '_' or '-'." example:"nightly-backup"`
	Description string          `json:"description,omitempty" maxLength:"4096"`
	Status      model.JobStatus `json:"status,omitempty" enum:"1,99,100" doc:"1 created, 99 disabled, 100 enabled (default). Only enabled jobs run on their schedules."`
	Config      model.JobConfig `json:"config" doc:"What to run and how."`
	// Schedules are created with the job, in its transaction: a job and
	// the schedules it was created with exist together or not at all.
	Schedules []ScheduleSpec `json:"schedules,omitempty" maxItems:"100" doc:"Create only: schedules created with the job, in the same transaction (the job exists with all of them or not at all). Change them later through /api/v1/schedules."`
}

// JobOutput is a job response.
type JobOutput struct {
	Body *model.Job
}

// JobCreateOutput is the response to a created job.
type JobCreateOutput struct {
	Location string `header:"Location"`
	Body     *JobWithSchedules
}

// JobWithSchedules is a created job with the schedules created with it
// (an event schedule's webhook address and secret are shown this once).
type JobWithSchedules struct {
	*model.Job
	Schedules []*ScheduleWithHook `json:"schedules,omitempty" doc:"The schedules created with the job."`
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
	if err := allowCreate(ctx, in.Body.Namespace); err != nil {
		return nil, err
	}
	if err := a.checkTriggers(ctx, uuid.Nil, in.Body.Config.Triggers); err != nil {
		return nil, err
	}
	var (
		job    *model.Job
		scheds []*model.Schedule
	)
	insert := func(ex store.Executor) error {
		var err error
		job, err = ex.JobInsert(ctx, &store.JobInsertParams{
			ID: uuid.Must(uuid.NewV7()), Config: in.Body.Config, CreatedBy: actor(ctx),
			Description: in.Body.Description, Name: in.Body.Name, Namespace: in.Body.Namespace, Status: in.Body.Status,
		})
		if err != nil {
			return storeError(err, "job "+in.Body.Namespace+"/"+in.Body.Name)
		}
		now := time.Now()
		for i := range in.Body.Schedules {
			s, err := insertSchedule(ctx, ex, job, &in.Body.Schedules[i], now)
			if err != nil {
				return storeError(model.Prefix(fmt.Sprintf("schedules[%d]", i), err), "schedule")
			}
			scheds = append(scheds, s)
		}
		// The audit entry holds the schedules without their webhook secrets.
		noteAudit(ctx, job.Namespace, job.ID.String(), nil, struct {
			*model.Job
			Schedules []*model.Schedule `json:"schedules,omitempty"`
		}{job, scheds})
		return nil
	}
	if err := a.inTx(ctx, insert); err != nil {
		return nil, err
	}
	out := &JobWithSchedules{Job: job}
	for _, s := range scheds {
		out.Schedules = append(out.Schedules, withHook(s))
		a.deps.Scheduler.WakeGeneratorFor(s.NextFireAt)
	}
	return &JobCreateOutput{Location: Prefix + "/jobs/" + job.ID.String(), Body: out}, nil
}

func (a *API) getJob(ctx context.Context, in *IDInput) (*JobOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id, Namespaces: visible(ctx)})
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
	old, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	if err := allow(ctx, old.Namespace); err != nil {
		return nil, err
	}
	if in.Body.Namespace != "" && in.Body.Namespace != old.Namespace {
		return nil, fieldError("body.namespace", "cannot change; create the job in the other namespace instead")
	}
	if len(in.Body.Schedules) > 0 {
		return nil, fieldError("body.schedules", "only when creating a job; change its schedules through /api/v1/schedules")
	}
	in.Body.Namespace = old.Namespace
	if in.Body.Status == 0 {
		in.Body.Status = old.Status
	}
	if err := in.Body.validate(); err != nil {
		return nil, storeError(err, "job")
	}
	if err := a.checkTriggers(ctx, id, in.Body.Config.Triggers); err != nil {
		return nil, err
	}
	var (
		job     *model.Job
		cancels []instanceCancel
	)
	err = a.inTx(ctx, func(ex store.Executor) error {
		job, err = ex.JobUpdate(ctx, &store.JobUpdateParams{
			ID: id, Config: in.Body.Config, ConfigDoUpdate: true, Description: in.Body.Description, DescriptionDoUpdate: true,
			Name: in.Body.Name, NameDoUpdate: true, Status: in.Body.Status, StatusDoUpdate: true, UpdatedBy: actor(ctx),
		})
		if err != nil {
			return err
		}
		if err := replanConfig(ctx, ex, old, job); err != nil {
			return err
		}
		noteAudit(ctx, job.Namespace, job.ID.String(), old, job)
		return a.afterJobStatus(ctx, ex, old.Status, job, &cancels)
	})
	if err != nil {
		return nil, storeError(err, "job "+in.Body.Name)
	}
	a.sendCancels(cancels)
	a.deps.Scheduler.WakeGenerator()
	return &JobOutput{Body: job}, nil
}

// afterJobStatus keeps planned tasks in step with a job's status: disabling
// drops the tasks planned ahead; enabling restarts its schedules from now, so
// the time it was disabled does not count as missed.
func (a *API) afterJobStatus(ctx context.Context, ex store.Executor, was model.JobStatus, job *model.Job, cancels *[]instanceCancel) error {
	switch {
	case was == job.Status:
		return nil
	case job.Status != model.JobEnabled:
		_, err := ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{JobID: &job.ID, ScheduledAfter: time.Now()})
		if err != nil {
			return err
		}
		// A daemon runs while its job is enabled.
		daemons, err := ex.ScheduleList(ctx, &store.ScheduleListParams{Filter: store.Filter{
			{Field: "job_id", Op: store.OpEq, Value: job.ID},
			{Field: "kind", Op: store.OpEq, Value: int64(model.ScheduleDaemon)},
		}, Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, d := range daemons {
			c, err := cancelScheduleRuns(ctx, ex, d.ID, "job disabled", time.Now())
			if err != nil {
				return err
			}
			*cancels = append(*cancels, c...)
		}
		return nil
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

// restartSchedule drops a schedule's tasks planned from now on, moves its
// cursor to its first fire at or after now, and restarts its ledger there.
func restartSchedule(ctx context.Context, ex store.Executor, s *model.Schedule, now time.Time) error {
	if _, err := ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduleID: &s.ID, ScheduledAfter: now}); err != nil {
		return err
	}
	p := &store.ScheduleUpdateParams{ID: s.ID, NextFireAtDoUpdate: true, SpecChanged: true}
	next, err := firstFire(s, now)
	var fe *model.FieldError
	switch {
	case errors.As(err, &fe):
		// The window has closed while it was disabled.
		p.Status, p.StatusDoUpdate = model.ScheduleExpired, true
	case err != nil:
		return err
	case sched.OneAtATime(s):
		if p.NextFireAt, err = parkIfRunning(ctx, ex, s.ID, next); err != nil {
			return err
		}
	default:
		p.NextFireAt = next
	}
	_, err = ex.ScheduleUpdate(ctx, p)
	return err
}

// parkIfRunning returns nil (the cursor waits) when a one-at-a-time
// schedule still has a run under way, which re-arms it when it ends; next
// otherwise.
func parkIfRunning(ctx context.Context, ex store.Executor, id uuid.UUID, next *time.Time) (*time.Time, error) {
	n, err := ex.TaskCount(ctx, &store.TaskCountParams{Filter: store.Filter{
		{Field: "schedule_id", Op: store.OpEq, Value: id},
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskPending), int64(model.TaskDoing), int64(model.TaskWaitingRetry)}},
	}})
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, nil
	}
	return next, nil
}

// instanceCancel is a run an agent must be told to stop once the
// transaction that cancelled it has committed.
type instanceCancel struct {
	agentID string
	id      uuid.UUID
	reason  string
}

// cancelScheduleRuns cancels a schedule's unfinished tasks: waiting ones at
// once, running ones by finishing their instances Cancelled. It returns the
// runs whose agents must be told.
func cancelScheduleRuns(ctx context.Context, ex store.Executor, scheduleID uuid.UUID, reason string, now time.Time) ([]instanceCancel, error) {
	tasks, err := ex.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{
		{Field: "schedule_id", Op: store.OpEq, Value: scheduleID},
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskPending), int64(model.TaskDoing), int64(model.TaskWaitingRetry)}},
	}, Limit: store.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	var cancels []instanceCancel
	for _, t := range tasks {
		c, err := cancelTaskIn(ctx, ex, t, reason, now)
		if err != nil {
			return nil, err
		}
		cancels = append(cancels, c...)
	}
	return cancels, nil
}

// cancelTaskIn cancels one unfinished task in ex's transaction.
func cancelTaskIn(ctx context.Context, ex store.Executor, t *model.Task, reason string, now time.Time) ([]instanceCancel, error) {
	if t.Status != model.TaskDoing {
		if _, err := ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: t.ID, FromStatuses: []model.TaskStatus{model.TaskPending, model.TaskWaitingRetry}, Status: model.TaskCancelled, Reason: reason}); err != nil {
			return nil, err
		}
		_, err := sched.AfterFinal(ctx, ex, []sched.Finished{{Task: t, Status: model.TaskCancelled}}, now)
		return nil, err
	}
	live, err := ex.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{
		{Field: "task_id", Op: store.OpEq, Value: t.ID},
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceDispatched), int64(model.InstanceAcked), int64(model.InstanceRunning)}},
	}, Limit: 10})
	if err != nil {
		return nil, err
	}
	items := make([]*store.TaskInstanceFinish, len(live))
	cancels := make([]instanceCancel, len(live))
	for i, in := range live {
		items[i] = &store.TaskInstanceFinish{ID: in.ID, Status: model.InstanceCancelled, Reason: "cancelled", Error: reason}
		cancels[i] = instanceCancel{agentID: in.AgentID, id: in.ID, reason: reason}
	}
	_, err = sched.FinishInstances(ctx, ex, items, now)
	return cancels, err
}

// sendCancels tells agents to stop runs cancelled by a committed change.
func (a *API) sendCancels(cancels []instanceCancel) {
	for _, c := range cancels {
		a.deps.Scheduler.CancelInstance(c.agentID, c.id, c.reason)
	}
}

func (a *API) setJobStatus(status model.JobStatus) func(context.Context, *IDInput) (*JobOutput, error) {
	return func(ctx context.Context, in *IDInput) (*JobOutput, error) {
		id, err := parseID(in.ID)
		if err != nil {
			return nil, err
		}
		var (
			job     *model.Job
			cancels []instanceCancel
		)
		err = a.inTx(ctx, func(ex store.Executor) error {
			old, err := ex.JobGetByID(ctx, &store.JobGetByIDParams{ID: id, Namespaces: visible(ctx)})
			if err != nil {
				return err
			}
			if err := allow(ctx, old.Namespace); err != nil {
				return err
			}
			noteAudit(ctx, old.Namespace, old.ID.String(), map[string]any{"status": old.Status}, map[string]any{"status": status})
			job, err = ex.JobUpdate(ctx, &store.JobUpdateParams{ID: id, Status: status, StatusDoUpdate: true, UpdatedBy: actor(ctx)})
			if err != nil {
				return err
			}
			return a.afterJobStatus(ctx, ex, old.Status, job, &cancels)
		})
		if err != nil {
			return nil, storeError(err, "job "+in.ID)
		}
		a.sendCancels(cancels)
		a.deps.Scheduler.WakeGenerator()
		return &JobOutput{Body: job}, nil
	}
}

func (a *API) deleteJob(ctx context.Context, in *IDInput) (*struct{}, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	old, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	if err := allow(ctx, old.Namespace); err != nil {
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
	err = a.inTx(ctx, func(ex store.Executor) error {
		if _, err := ex.JobDelete(ctx, &store.JobDeleteParams{ID: id, Namespaces: visible(ctx)}); err != nil {
			return err
		}
		noteAudit(ctx, old.Namespace, old.ID.String(), old, nil)
		return nil
	})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	return nil, nil
}

func (a *API) queryJobs(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Job], error) {
	return runQuery(store.JobResource(), in.Body, func(q *query) ([]*model.Job, error) {
		return a.deps.Store.JobList(ctx, &store.JobListParams{Namespaces: visible(ctx), Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.JobCount(ctx, &store.JobCountParams{Filter: f, Namespaces: visible(ctx)})
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
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "job "+in.ID)
	}
	if err := allow(ctx, job.Namespace); err != nil {
		return nil, err
	}
	body := in.Body
	if body == nil {
		body = &RunBody{}
	}
	t, err := a.insertRun(ctx, job, job.ID, body, "run now")
	if err != nil {
		return nil, err
	}
	return &TaskCreateOutput{Location: Prefix + "/tasks/" + t.ID.String(), Body: t}, nil
}

// insertRun creates a task for a manual run of job with the given
// parameters over the job's defaults, its config rendered with them, notes
// it in the audit entry about objectID (the job or the schedule run), and
// dispatches it in the same transaction when an agent here has a free slot
// (a run now waits for no pass), else wakes the dispatchers.
func (a *API) insertRun(ctx context.Context, job *model.Job, objectID uuid.UUID, body *RunBody, reason string) (*model.Task, error) {
	for k := range body.Parameters {
		if k == "" || len(k) > 128 {
			return nil, fieldError("body.parameters", "parameter names must be 1-128 characters")
		}
	}
	params, err := model.ResolveParams(job.Config.Params, body.Parameters)
	if err != nil {
		return nil, storeError(err, "run")
	}
	cfg, err := model.RenderConfig(job.Config, params)
	if err != nil {
		return nil, storeError(model.Prefix("config", err), "run")
	}
	now := time.Now().UTC()
	var (
		t         *model.Task
		done      = func(bool) {}
		placed    int
		committed bool
	)
	// Deferred, so the slots of a placement go back whatever happens.
	defer func() { done(committed) }()
	err = a.inTx(ctx, func(ex store.Executor) error {
		tasks, err := ex.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{{
			ID: uuid.Must(uuid.NewV7()), Config: cfg, JobID: job.ID, Namespace: job.Namespace, Parameters: params,
			Priority: body.Priority, Reason: reason, RunAt: now, ScheduledAt: now, Status: model.TaskPending,
		}}})
		if err != nil {
			return err
		}
		t = tasks[0]
		noteAudit(ctx, job.Namespace, objectID.String(), nil, map[string]any{"task_id": t.ID})
		done, placed, err = a.deps.Scheduler.DispatchNow(ctx, ex, tasks)
		return err
	})
	if err != nil {
		return nil, storeError(err, "task")
	}
	committed = true
	if placed == 0 {
		a.deps.Scheduler.WakeDispatcher()
	} else {
		// As committed: dispatched, its first attempt started.
		t.Status, t.Attempt = model.TaskDoing, t.Attempt+1
	}
	return t, nil
}

// checkTriggers refuses triggers naming a job that does not exist, or that
// would lead back to the job itself (id; uuid.Nil for a new job, which no
// trigger can name yet).
func (a *API) checkTriggers(ctx context.Context, id uuid.UUID, triggers []model.JobTrigger) error {
	for i, tr := range triggers {
		if _, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: tr.JobID, Namespaces: visible(ctx)}); err != nil {
			return fieldError(fmt.Sprintf("body.config.triggers[%d].job_id", i), "no job with this id")
		}
	}
	if id == uuid.Nil {
		return nil
	}
	// Walk the jobs reachable through triggers; reaching id is a cycle.
	type step struct {
		job  uuid.UUID
		path []uuid.UUID
	}
	var queue []step
	for _, tr := range triggers {
		queue = append(queue, step{tr.JobID, []uuid.UUID{id, tr.JobID}})
	}
	seen := map[uuid.UUID]bool{}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s.job == id {
			return fieldError("body.config.triggers", "would make a cycle: "+describePath(s.path))
		}
		if seen[s.job] {
			continue
		}
		seen[s.job] = true
		// Unscoped: a cycle through a job the caller cannot see is still a
		// cycle.
		j, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: s.job})
		if err != nil {
			continue
		}
		for _, tr := range j.Config.Triggers {
			queue = append(queue, step{tr.JobID, append(append([]uuid.UUID{}, s.path...), tr.JobID)})
		}
	}
	return nil
}

func describePath(path []uuid.UUID) string {
	parts := make([]string, len(path))
	for i, id := range path {
		parts[i] = id.String()
	}
	return strings.Join(parts, " → ")
}
