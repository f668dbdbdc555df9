package api

import (
	"context"
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// TaskOutput is a task response.
type TaskOutput struct {
	Body *model.Task
}

func (a *API) getTask(ctx context.Context, in *IDInput) (*TaskOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	t, err := a.deps.Store.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "task "+in.ID)
	}
	return &TaskOutput{Body: t}, nil
}

func (a *API) queryTasks(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Task], error) {
	return runQuery(store.TaskResource(), in.Body, func(q *query) ([]*model.Task, error) {
		return a.deps.Store.TaskList(ctx, &store.TaskListParams{Namespaces: visible(ctx), Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.TaskCount(ctx, &store.TaskCountParams{Filter: f, Namespaces: visible(ctx)})
	})
}

// CancelBody says why a task is cancelled.
type CancelBody struct {
	Reason string `json:"reason,omitempty" maxLength:"500" doc:"Recorded on the task and the instance."`
}

// cancelTask cancels a task that has not finished. A waiting task is
// cancelled at once; a running one is recorded Cancelled and its agent is told
// to stop the process group (SIGTERM, then SIGKILL after the job's grace).
func (a *API) cancelTask(ctx context.Context, in *struct {
	IDInput
	Body *CancelBody
}) (*TaskOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	reason := "cancelled by admin"
	if in.Body != nil && in.Body.Reason != "" {
		reason = "cancelled by admin: " + in.Body.Reason
	}
	var (
		t       *model.Task
		cancels []instanceCancel
	)
	err = a.inTx(ctx, func(ex store.Executor) error {
		t, err = ex.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: id, Namespaces: visible(ctx)})
		if err != nil {
			return err
		}
		if err := allow(ctx, t.Namespace); err != nil {
			return err
		}
		noteAudit(ctx, t.Namespace, in.ID, nil, map[string]any{"reason": reason})
		if t.Status.Final() {
			return huma.Error409Conflict(fmt.Sprintf("task is already %s", t.Status))
		}
		if cancels, err = cancelTaskIn(ctx, ex, t, reason, time.Now()); err != nil {
			return err
		}
		t, err = ex.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: id, Namespaces: visible(ctx)})
		return err
	})
	if err != nil {
		if _, ok := err.(huma.StatusError); ok {
			return nil, err
		}
		return nil, storeError(err, "task "+in.ID)
	}
	a.sendCancels(cancels)
	a.deps.Scheduler.WakeGenerator()
	return &TaskOutput{Body: t}, nil
}

// gateInstance returns an instance the caller may act on as its route says
// (read its log): 404 when it cannot see it, 403 when it may not act.
func (a *API) gateInstance(ctx context.Context, id uuid.UUID) (*model.TaskInstance, error) {
	ti, err := a.deps.Store.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "task instance "+id.String())
	}
	t, err := a.deps.Store.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: ti.TaskID, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "task "+ti.TaskID.String())
	}
	if err := allow(ctx, t.Namespace); err != nil {
		return nil, err
	}
	return ti, nil
}

// InstanceOutput is a task instance response.
type InstanceOutput struct {
	Body *model.TaskInstance
}

func (a *API) getInstance(ctx context.Context, in *IDInput) (*InstanceOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	ti, err := a.deps.Store.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "task instance "+in.ID)
	}
	return &InstanceOutput{Body: ti}, nil
}

func (a *API) queryInstances(ctx context.Context, in *QueryInput) (*QueryOutput[*model.TaskInstance], error) {
	return runQuery(store.TaskInstanceResource(), in.Body, func(q *query) ([]*model.TaskInstance, error) {
		return a.deps.Store.TaskInstanceList(ctx, &store.TaskInstanceListParams{Namespaces: visible(ctx), Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{Filter: f, Namespaces: visible(ctx)})
	})
}
