package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// This file lets other front ends (the web UI) act through the same code
// paths as the HTTP handlers: each method calls the handler itself, so
// validation, transactions and scheduler wake-ups are shared. Errors are
// huma errors (*huma.ErrorModel) whose Errors name the failing field, as in
// the API's problem documents.

// CreateJob creates a job as POST /jobs does.
func (a *API) CreateJob(ctx context.Context, body JobBody) (*model.Job, error) {
	out, err := a.createJob(ctx, &struct{ Body JobBody }{body})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// ReplaceJob replaces a job as PUT /jobs/{id} does.
func (a *API) ReplaceJob(ctx context.Context, id string, body JobBody) (*model.Job, error) {
	in := &struct {
		IDInput
		Body JobBody
	}{IDInput{id}, body}
	out, err := a.replaceJob(ctx, in)
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// SetJobStatus enables or disables a job as POST /jobs/{id}/enable and
// /disable do.
func (a *API) SetJobStatus(ctx context.Context, id string, status model.JobStatus) (*model.Job, error) {
	out, err := a.setJobStatus(status)(ctx, &IDInput{id})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// DeleteJob deletes a job as DELETE /jobs/{id} does.
func (a *API) DeleteJob(ctx context.Context, id string) error {
	_, err := a.deleteJob(ctx, &IDInput{id})
	return err
}

// RunJob runs a job now as POST /jobs/{id}/run does.
func (a *API) RunJob(ctx context.Context, id string, body RunBody) (*model.Task, error) {
	out, err := a.runJob(ctx, &struct {
		IDInput
		Body *RunBody
	}{IDInput{id}, &body})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// RetryTask runs a finished task's job again now with the task's
// parameters, as a manual run.
func (a *API) RetryTask(ctx context.Context, t *model.Task) (*model.Task, error) {
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: t.JobID})
	if err != nil {
		return nil, storeError(err, "job")
	}
	return a.insertRun(ctx, job, &RunBody{Parameters: t.Parameters, Priority: t.Priority}, "retry of "+t.ID.String())
}

// CancelTask cancels a task as POST /tasks/{id}/cancel does.
func (a *API) CancelTask(ctx context.Context, id, reason string) (*model.Task, error) {
	out, err := a.cancelTask(ctx, &struct {
		IDInput
		Body *CancelBody
	}{IDInput{id}, &CancelBody{Reason: reason}})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// CreateSchedule creates a schedule as POST /schedules does.
func (a *API) CreateSchedule(ctx context.Context, body ScheduleBody) (*ScheduleWithHook, error) {
	out, err := a.createSchedule(ctx, &struct{ Body ScheduleBody }{body})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// ReplaceSchedule replaces a schedule as PUT /schedules/{id} does.
func (a *API) ReplaceSchedule(ctx context.Context, id string, body ScheduleBody) (*model.Schedule, error) {
	out, err := a.replaceSchedule(ctx, &struct {
		IDInput
		Body ScheduleBody
	}{IDInput{id}, body})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// SetScheduleStatus enables or disables a schedule as POST
// /schedules/{id}/enable and /disable do.
func (a *API) SetScheduleStatus(ctx context.Context, id string, status model.ScheduleStatus) (*model.Schedule, error) {
	out, err := a.setScheduleStatus(status)(ctx, &IDInput{id})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// DeleteSchedule deletes a schedule as DELETE /schedules/{id} does.
func (a *API) DeleteSchedule(ctx context.Context, id string) error {
	_, err := a.deleteSchedule(ctx, &IDInput{id})
	return err
}

// ScheduleLedger accounts for a schedule's fires as GET
// /schedules/{id}/ledger does.
func (a *API) ScheduleLedger(ctx context.Context, id string, limit int) (*Ledger, error) {
	out, err := a.scheduleLedger(ctx, &LedgerInput{IDInput: IDInput{id}, Limit: limit})
	if err != nil {
		return nil, err
	}
	return &out.Body, nil
}

// PreviewSchedule lists the next fires of a cron expression or interval as
// GET /schedules/preview does.
func (a *API) PreviewSchedule(ctx context.Context, in PreviewInput) (*Preview, error) {
	if in.N == 0 {
		in.N = 10
	}
	out, err := a.previewSchedule(ctx, &in)
	if err != nil {
		return nil, err
	}
	return &out.Body, nil
}

// DrainAgent asks an agent to drain as POST /agents/{id}/drain does.
func (a *API) DrainAgent(ctx context.Context, id string) (*model.Agent, error) {
	out, err := a.drainAgent(ctx, &StringIDInput{id})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// Cluster returns the cluster status as GET /cluster does.
func (a *API) Cluster(ctx context.Context) (*ClusterStatus, error) {
	out, err := a.getCluster(ctx, &struct{}{})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// Unauthenticated serves the API's routes without the bearer token check,
// for a front end that has authenticated the request itself and checked
// that it may read what it asks for (the UI's log follow and download).
func (a *API) Unauthenticated() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mux.ServeHTTP(w, r)
	})
}

// ErrorModel returns err's problem document, or nil when it is not a huma
// error.
func ErrorModel(err error) *huma.ErrorModel {
	if em, ok := err.(*huma.ErrorModel); ok {
		return em
	}
	return nil
}
