package api

import (
	"context"
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
)

// FlowBody is what a user writes to create or replace a flow.
type FlowBody struct {
	Namespace   string          `json:"namespace,omitempty" doc:"Namespace; default \"default\". Cannot change after creation."`
	Name        string          `json:"name" doc:"Unique within the namespace."`
	Description string          `json:"description,omitempty" maxLength:"4096"`
	Status      model.JobStatus `json:"status,omitempty" enum:"99,100" doc:"99 disabled, 100 enabled (default)."`
	Spec        model.FlowSpec  `json:"spec" doc:"Nodes (jobs) and edges (which node starts which, on success, failure or end). Cycles are refused."`
}

// FlowOutput is a flow response.
type FlowOutput struct {
	Body *model.Flow
}

func (a *API) checkFlow(ctx context.Context, b *FlowBody) error {
	if b.Namespace == "" {
		b.Namespace = model.DefaultNamespace
	}
	if b.Status == 0 {
		b.Status = model.JobEnabled
	}
	if err := model.ValidateNamespace("namespace", b.Namespace); err != nil {
		return storeError(err, "flow")
	}
	// Permission before the job references, so that a flow in a namespace
	// the caller may not edit is refused without looking at its jobs.
	if err := allowCreate(ctx, b.Namespace); err != nil {
		return err
	}
	if err := model.ValidateName("name", b.Name); err != nil {
		return storeError(err, "flow")
	}
	if err := b.Spec.Validate(); err != nil {
		return storeError(model.Prefix("spec", err), "flow")
	}
	for i, n := range b.Spec.Nodes {
		if _, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: n.JobID, Namespaces: visible(ctx)}); err != nil {
			return fieldError(fmt.Sprintf("body.spec.nodes[%d].job_id", i), "no job with this id")
		}
	}
	return nil
}

// gateFlow returns a flow the caller may act on as its route says: 404
// when it cannot see it, 403 when it may not act.
func (a *API) gateFlow(ctx context.Context, id uuid.UUID) (*model.Flow, error) {
	f, err := a.deps.Store.FlowGetByID(ctx, &store.FlowGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "flow "+id.String())
	}
	if err := allow(ctx, f.Namespace); err != nil {
		return nil, err
	}
	return f, nil
}

func (a *API) createFlow(ctx context.Context, in *struct{ Body FlowBody }) (*FlowOutput, error) {
	if err := a.checkFlow(ctx, &in.Body); err != nil {
		return nil, err
	}
	b := in.Body
	f, err := a.deps.Store.FlowInsert(ctx, &store.FlowInsertParams{ID: uuid.Must(uuid.NewV7()), Description: b.Description, Name: b.Name, Namespace: b.Namespace, Spec: b.Spec, Status: b.Status})
	if err != nil {
		return nil, storeError(err, "flow "+b.Namespace+"/"+b.Name)
	}
	noteAudit(ctx, f.Namespace, f.ID.String(), nil, f)
	return &FlowOutput{Body: f}, nil
}

func (a *API) getFlow(ctx context.Context, in *IDInput) (*FlowOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	f, err := a.deps.Store.FlowGetByID(ctx, &store.FlowGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "flow "+in.ID)
	}
	return &FlowOutput{Body: f}, nil
}

func (a *API) replaceFlow(ctx context.Context, in *struct {
	IDInput
	Body FlowBody
}) (*FlowOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	old, err := a.gateFlow(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Body.Namespace != "" && in.Body.Namespace != old.Namespace {
		return nil, fieldError("body.namespace", "cannot change")
	}
	in.Body.Namespace = old.Namespace
	if err := a.checkFlow(ctx, &in.Body); err != nil {
		return nil, err
	}
	b := in.Body
	f, err := a.deps.Store.FlowUpdate(ctx, &store.FlowUpdateParams{ID: id, Description: b.Description, DescriptionDoUpdate: true,
		Name: b.Name, NameDoUpdate: true, Spec: b.Spec, SpecDoUpdate: true, Status: b.Status, StatusDoUpdate: true})
	if err != nil {
		return nil, storeError(err, "flow "+in.ID)
	}
	noteAudit(ctx, f.Namespace, in.ID, old, f)
	return &FlowOutput{Body: f}, nil
}

func (a *API) deleteFlow(ctx context.Context, in *IDInput) (*struct{}, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	old, err := a.gateFlow(ctx, id)
	if err != nil {
		return nil, err
	}
	noteAudit(ctx, old.Namespace, in.ID, old, nil)
	running, err := a.deps.Store.FlowRunCount(ctx, &store.FlowRunCountParams{Filter: store.Filter{
		{Field: "flow_id", Op: store.OpEq, Value: id}, {Field: "status", Op: store.OpEq, Value: int64(model.TaskDoing)},
	}})
	if err != nil {
		return nil, storeError(err, "flow runs")
	}
	if running > 0 {
		return nil, huma.Error409Conflict(fmt.Sprintf("flow has %d runs in progress; cancel them first", running))
	}
	if _, err := a.deps.Store.FlowDelete(ctx, &store.FlowDeleteParams{ID: id, Namespaces: visible(ctx)}); err != nil {
		return nil, storeError(err, "flow "+in.ID)
	}
	return nil, nil
}

func (a *API) queryFlows(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Flow], error) {
	return runQuery(store.FlowResource(), in.Body, func(q *query) ([]*model.Flow, error) {
		return a.deps.Store.FlowList(ctx, &store.FlowListParams{Namespaces: visible(ctx), Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.FlowCount(ctx, &store.FlowCountParams{Filter: f, Namespaces: visible(ctx)})
	})
}

// FlowRunOutput is a flow run response.
type FlowRunOutput struct {
	Body *FlowRunView
}

// FlowRunView is a flow run with its nodes as one tree: each node with the
// task that ran it, if it has run.
type FlowRunView struct {
	*model.FlowRun
	Nodes []FlowRunNode `json:"nodes"`
}

// FlowRunNode is one node of a flow run and its task.
type FlowRunNode struct {
	Name     string      `json:"name"`
	JobID    uuid.UUID   `json:"job_id"`
	Upstream []string    `json:"upstream" doc:"Nodes with an edge to this one."`
	Task     *model.Task `json:"task" doc:"The node's task; null until it is decided."`
}

func (a *API) runFlow(ctx context.Context, in *struct {
	IDInput
	Body *RunBody
}) (*FlowRunOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	f, err := a.gateFlow(ctx, id)
	if err != nil {
		return nil, err
	}
	if f.Status != model.JobEnabled {
		return nil, huma.Error409Conflict("the flow is disabled")
	}
	var params map[string]string
	if in.Body != nil {
		params = in.Body.Parameters
	}
	var run *model.FlowRun
	err = a.inTx(ctx, func(ex store.Executor) error {
		run, err = sched.StartFlowRun(ctx, ex, f, params, "run now", time.Now().UTC())
		if err != nil {
			return err
		}
		noteAudit(ctx, f.Namespace, in.ID, nil, map[string]any{"flow_run_id": run.ID})
		return nil
	})
	if err != nil {
		return nil, storeError(err, "flow run")
	}
	a.deps.Scheduler.WakeDispatcher()
	return a.flowRunView(ctx, run)
}

func (a *API) getFlowRun(ctx context.Context, in *IDInput) (*FlowRunOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	run, err := a.deps.Store.FlowRunGetByID(ctx, &store.FlowRunGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "flow run "+in.ID)
	}
	return a.flowRunView(ctx, run)
}

func (a *API) flowRunView(ctx context.Context, run *model.FlowRun) (*FlowRunOutput, error) {
	tasks, err := a.deps.Store.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{{Field: "flow_run_id", Op: store.OpEq, Value: run.ID}}, Limit: store.MaxPageLimit})
	if err != nil {
		return nil, storeError(err, "tasks")
	}
	byNode := map[string]*model.Task{}
	for _, t := range tasks {
		byNode[t.FlowNode] = t
	}
	upstream := map[string][]string{}
	for _, e := range run.Spec.Edges {
		upstream[e.To] = append(upstream[e.To], e.From)
	}
	view := &FlowRunView{FlowRun: run, Nodes: make([]FlowRunNode, 0, len(run.Spec.Nodes))}
	for _, n := range run.Spec.Nodes {
		up := upstream[n.Name]
		if up == nil {
			up = []string{}
		}
		view.Nodes = append(view.Nodes, FlowRunNode{Name: n.Name, JobID: n.JobID, Upstream: up, Task: byNode[n.Name]})
	}
	return &FlowRunOutput{Body: view}, nil
}

// cancelFlowRun cancels a flow run's unfinished nodes; the run ends
// Cancelled.
func (a *API) cancelFlowRun(ctx context.Context, in *IDInput) (*FlowRunOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	seen, err := a.deps.Store.FlowRunGetByID(ctx, &store.FlowRunGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "flow run "+in.ID)
	}
	if err := allow(ctx, seen.Namespace); err != nil {
		return nil, err
	}
	noteAudit(ctx, seen.Namespace, in.ID, nil, nil)
	var (
		run     *model.FlowRun
		cancels []instanceCancel
	)
	now := time.Now()
	err = a.inTx(ctx, func(ex store.Executor) error {
		run, err = ex.FlowRunLock(ctx, &store.FlowRunLockParams{ID: id})
		if err != nil {
			return err
		}
		if run.Status != model.TaskDoing {
			return huma.Error409Conflict(fmt.Sprintf("flow run is already %s", run.Status))
		}
		// Finish the run first, so cancelling its nodes does not start the
		// nodes after them.
		if _, err := ex.FlowRunFinishIf(ctx, &store.FlowRunFinishIfParams{ID: id, Now: &now, Reason: "cancelled by admin", Status: model.TaskCancelled}); err != nil {
			return err
		}
		tasks, err := ex.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{
			{Field: "flow_run_id", Op: store.OpEq, Value: id},
			{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskPending), int64(model.TaskDoing), int64(model.TaskWaitingRetry)}},
		}, Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, t := range tasks {
			c, err := cancelTaskIn(ctx, ex, t, "flow run cancelled by admin", now)
			if err != nil {
				return err
			}
			cancels = append(cancels, c...)
		}
		run, err = ex.FlowRunGetByID(ctx, &store.FlowRunGetByIDParams{ID: id, Namespaces: visible(ctx)})
		return err
	})
	if err != nil {
		if _, ok := err.(huma.StatusError); ok {
			return nil, err
		}
		return nil, storeError(err, "flow run "+in.ID)
	}
	a.sendCancels(cancels)
	return a.flowRunView(ctx, run)
}

func (a *API) queryFlowRuns(ctx context.Context, in *QueryInput) (*QueryOutput[*model.FlowRun], error) {
	return runQuery(store.FlowRunResource(), in.Body, func(q *query) ([]*model.FlowRun, error) {
		return a.deps.Store.FlowRunList(ctx, &store.FlowRunListParams{Namespaces: visible(ctx), Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.FlowRunCount(ctx, &store.FlowRunCountParams{Filter: f, Namespaces: visible(ctx)})
	})
}
