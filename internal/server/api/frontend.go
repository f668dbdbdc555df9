package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// This file lets other front ends (the web UI) act through the same code
// paths as the HTTP handlers: each method calls the handler itself, as the
// route it names, so validation, permissions, namespace scoping, the audit
// log and scheduler wake-ups are shared. The front end authenticates the
// request and puts its principal in ctx (auth.WithPrincipal). Errors are huma
// errors (*huma.ErrorModel) whose Errors name the failing field, as in the
// API's problem documents.

// asRoute runs fn as the route method pattern (below Prefix) would run for
// the principal in ctx: it checks the route's permission, lets the handler
// check namespaces, and writes the audit entry of a successful change about
// object id, as gate and Handler do for HTTP requests.
func asRoute[T any](ctx context.Context, a *API, method, pattern, id string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	route, ok := a.perms[method+" "+Prefix+pattern]
	if !ok {
		panic(fmt.Sprintf("api: front end calls unknown route %s %s", method, pattern))
	}
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return zero, huma.Error401Unauthorized("sign in first")
	}
	if !p.Allows(route.Permission) {
		return zero, huma.Error403Forbidden(fmt.Sprintf("%s needs the %s permission", route.ID, route.Permission))
	}
	ctx = withAuditNote(context.WithValue(ctx, routeKey{}, route), func() string { return id })
	out, err := fn(ctx)
	if err == nil {
		a.audit(ctx)
	}
	return out, err
}

// CreateJob creates a job as POST /jobs does.
func (a *API) CreateJob(ctx context.Context, body JobBody) (*model.Job, error) {
	return asRoute(ctx, a, http.MethodPost, "/jobs", "", func(ctx context.Context) (*model.Job, error) {
		out, err := a.createJob(ctx, &struct{ Body JobBody }{body})
		if err != nil {
			return nil, err
		}
		return out.Body.Job, nil
	})
}

// ReplaceJob replaces a job as PUT /jobs/{id} does.
func (a *API) ReplaceJob(ctx context.Context, id string, body JobBody) (*model.Job, error) {
	return asRoute(ctx, a, http.MethodPut, "/jobs/{id}", id, func(ctx context.Context) (*model.Job, error) {
		out, err := a.replaceJob(ctx, &struct {
			IDInput
			Body JobBody
		}{IDInput{id}, body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// SetJobStatus enables or disables a job as POST /jobs/{id}/enable and
// /disable do.
func (a *API) SetJobStatus(ctx context.Context, id string, status model.JobStatus) (*model.Job, error) {
	path := "/jobs/{id}/enable"
	if status == model.JobDisabled {
		path = "/jobs/{id}/disable"
	}
	return asRoute(ctx, a, http.MethodPost, path, id, func(ctx context.Context) (*model.Job, error) {
		out, err := a.setJobStatus(status)(ctx, &IDInput{id})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// DeleteJob deletes a job as DELETE /jobs/{id} does.
func (a *API) DeleteJob(ctx context.Context, id string) error {
	_, err := asRoute(ctx, a, http.MethodDelete, "/jobs/{id}", id, func(ctx context.Context) (*struct{}, error) {
		return a.deleteJob(ctx, &IDInput{id})
	})
	return err
}

// RunJob runs a job now as POST /jobs/{id}/run does.
func (a *API) RunJob(ctx context.Context, id string, body RunBody) (*model.Task, error) {
	return asRoute(ctx, a, http.MethodPost, "/jobs/{id}/run", id, func(ctx context.Context) (*model.Task, error) {
		out, err := a.runJob(ctx, &struct {
			IDInput
			Body *RunBody
		}{IDInput{id}, &body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// RetryTask runs a finished task's job again now with the task's
// parameters, as a manual run (the run-job route).
func (a *API) RetryTask(ctx context.Context, t *model.Task) (*model.Task, error) {
	return asRoute(ctx, a, http.MethodPost, "/jobs/{id}/run", t.JobID.String(), func(ctx context.Context) (*model.Task, error) {
		job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: t.JobID, Namespaces: visible(ctx)})
		if err != nil {
			return nil, storeError(err, "job")
		}
		if err := allow(ctx, job.Namespace); err != nil {
			return nil, err
		}
		return a.insertRun(ctx, job, job.ID, &RunBody{Parameters: t.Parameters, Priority: t.Priority}, "retry of "+t.ID.String())
	})
}

// CancelTask cancels a task as POST /tasks/{id}/cancel does.
func (a *API) CancelTask(ctx context.Context, id, reason string) (*model.Task, error) {
	return asRoute(ctx, a, http.MethodPost, "/tasks/{id}/cancel", id, func(ctx context.Context) (*model.Task, error) {
		out, err := a.cancelTask(ctx, &struct {
			IDInput
			Body *CancelBody
		}{IDInput{id}, &CancelBody{Reason: reason}})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// CreateSchedule creates a schedule as POST /schedules does.
func (a *API) CreateSchedule(ctx context.Context, body ScheduleBody) (*ScheduleWithHook, error) {
	return asRoute(ctx, a, http.MethodPost, "/schedules", "", func(ctx context.Context) (*ScheduleWithHook, error) {
		out, err := a.createSchedule(ctx, &struct{ Body ScheduleBody }{body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// ReplaceSchedule replaces a schedule as PUT /schedules/{id} does.
func (a *API) ReplaceSchedule(ctx context.Context, id string, body ScheduleBody) (*model.Schedule, error) {
	return asRoute(ctx, a, http.MethodPut, "/schedules/{id}", id, func(ctx context.Context) (*model.Schedule, error) {
		out, err := a.replaceSchedule(ctx, &struct {
			IDInput
			Body ScheduleBody
		}{IDInput{id}, body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// SetScheduleStatus enables or disables a schedule as POST
// /schedules/{id}/enable and /disable do.
func (a *API) SetScheduleStatus(ctx context.Context, id string, status model.ScheduleStatus) (*model.Schedule, error) {
	path := "/schedules/{id}/enable"
	if status == model.ScheduleDisabled {
		path = "/schedules/{id}/disable"
	}
	return asRoute(ctx, a, http.MethodPost, path, id, func(ctx context.Context) (*model.Schedule, error) {
		out, err := a.setScheduleStatus(status)(ctx, &IDInput{id})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// DeleteSchedule deletes a schedule as DELETE /schedules/{id} does.
func (a *API) DeleteSchedule(ctx context.Context, id string) error {
	_, err := asRoute(ctx, a, http.MethodDelete, "/schedules/{id}", id, func(ctx context.Context) (*struct{}, error) {
		return a.deleteSchedule(ctx, &IDInput{id})
	})
	return err
}

// ScheduleLedger accounts for a schedule's fires as GET
// /schedules/{id}/ledger does.
func (a *API) ScheduleLedger(ctx context.Context, id string, limit int) (*Ledger, error) {
	return asRoute(ctx, a, http.MethodGet, "/schedules/{id}/ledger", id, func(ctx context.Context) (*Ledger, error) {
		out, err := a.scheduleLedger(ctx, &LedgerInput{IDInput: IDInput{id}, Limit: limit})
		if err != nil {
			return nil, err
		}
		return &out.Body, nil
	})
}

// PreviewSchedule lists the next fires of a cron expression or interval as
// GET /schedules/preview does.
func (a *API) PreviewSchedule(ctx context.Context, in PreviewInput) (*Preview, error) {
	if in.N == 0 {
		in.N = 10
	}
	return asRoute(ctx, a, http.MethodGet, "/schedules/preview", "", func(ctx context.Context) (*Preview, error) {
		out, err := a.previewSchedule(ctx, &in)
		if err != nil {
			return nil, err
		}
		return &out.Body, nil
	})
}

// DrainAgent asks an agent to drain as POST /agents/{id}/drain does.
func (a *API) DrainAgent(ctx context.Context, id string) (*model.Agent, error) {
	return asRoute(ctx, a, http.MethodPost, "/agents/{id}/drain", id, func(ctx context.Context) (*model.Agent, error) {
		out, err := a.drainAgent(ctx, &StringIDInput{id})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// Cluster returns the cluster status as GET /cluster does.
func (a *API) Cluster(ctx context.Context) (*ClusterStatus, error) {
	return asRoute(ctx, a, http.MethodGet, "/cluster", "", func(ctx context.Context) (*ClusterStatus, error) {
		out, err := a.getCluster(ctx, &struct{}{})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// ServeAs serves a read-only request (a log download or live follow) as
// the principal the front end put in r's context, with the same permission
// and namespace checks as a request that authenticated itself.
func (a *API) ServeAs(w http.ResponseWriter, r *http.Request) {
	_, pattern := a.mux.Handler(r)
	route, known := a.perms[pattern]
	p := auth.PrincipalFrom(r.Context())
	switch {
	case r.Method != http.MethodGet || !known:
		writeProblem(w, http.StatusNotFound, "not found")
	case p == nil:
		writeProblem(w, http.StatusUnauthorized, "sign in first")
	case !p.Allows(route.Permission):
		writeProblem(w, http.StatusForbidden, fmt.Sprintf("%s needs the %s permission", route.ID, route.Permission))
	default:
		a.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, route)))
	}
}

// ErrorModel returns err's problem document, or nil when it is not a huma
// error.
func ErrorModel(err error) *huma.ErrorModel {
	if em, ok := err.(*huma.ErrorModel); ok {
		return em
	}
	return nil
}
