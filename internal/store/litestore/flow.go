package litestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

func flowFromRow(r *dbsqlc.SchedFlow) (*model.Flow, error) {
	f := &model.Flow{
		ID: r.ID, Namespace: r.Namespace, Name: r.Name, Description: r.Description,
		Status: model.JobStatus(r.Status), CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
	if err := json.Unmarshal([]byte(r.Spec), &f.Spec); err != nil {
		return nil, fmt.Errorf("decode spec of flow %s: %w", r.ID, err)
	}
	return f, nil
}

func flowRunFromRow(r *dbsqlc.SchedFlowRun) (*model.FlowRun, error) {
	fr := &model.FlowRun{
		ID: r.ID, FlowID: r.FlowID, Namespace: r.Namespace, Status: model.TaskStatus(r.Status), Reason: r.Reason,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), FinishedAt: fromMicrosPtr(r.FinishedAt),
	}
	if err := json.Unmarshal([]byte(r.Spec), &fr.Spec); err != nil {
		return nil, fmt.Errorf("decode spec of flow run %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Parameters), &fr.Parameters); err != nil {
		return nil, fmt.Errorf("decode parameters of flow run %s: %w", r.ID, err)
	}
	return fr, nil
}

// FlowCount implements [store.Executor].
func (e *executor) FlowCount(ctx context.Context, params *store.FlowCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.FlowResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count flows: %w", e.interpretError(err))
	}
	return n, nil
}

// FlowDelete implements [store.Executor].
func (e *executor) FlowDelete(ctx context.Context, params *store.FlowDeleteParams) (*model.Flow, error) {
	row, err := e.q.FlowDelete(ctx, e.w, &dbsqlc.FlowDeleteParams{ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("delete flow %s: %w", params.ID, e.interpretError(err))
	}
	return flowFromRow(row)
}

// FlowGetByID implements [store.Executor].
func (e *executor) FlowGetByID(ctx context.Context, params *store.FlowGetByIDParams) (*model.Flow, error) {
	row, err := e.q.FlowGetByID(ctx, e.r, &dbsqlc.FlowGetByIDParams{ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("get flow %s: %w", params.ID, e.interpretError(err))
	}
	return flowFromRow(row)
}

// FlowInsert implements [store.Executor].
func (e *executor) FlowInsert(ctx context.Context, params *store.FlowInsertParams) (*model.Flow, error) {
	spec, err := json.Marshal(params.Spec)
	if err != nil {
		return nil, fmt.Errorf("insert flow: encode spec: %w", err)
	}
	row, err := e.q.FlowInsert(ctx, e.w, &dbsqlc.FlowInsertParams{
		ID: params.ID, Namespace: params.Namespace, Name: params.Name, Description: params.Description,
		Status: int64(params.Status), Spec: string(spec), Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("insert flow: %w", e.interpretError(err))
	}
	return flowFromRow(row)
}

// FlowList implements [store.Executor].
func (e *executor) FlowList(ctx context.Context, params *store.FlowListParams) ([]*model.Flow, error) {
	rows, err := listRows[dbsqlc.SchedFlow](ctx, e.r, store.FlowResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	return fromRows(rows, flowFromRow)
}

// FlowUpdate implements [store.Executor].
func (e *executor) FlowUpdate(ctx context.Context, params *store.FlowUpdateParams) (*model.Flow, error) {
	spec, err := json.Marshal(params.Spec)
	if err != nil {
		return nil, fmt.Errorf("update flow: encode spec: %w", err)
	}
	row, err := e.q.FlowUpdate(ctx, e.w, &dbsqlc.FlowUpdateParams{
		Now: nowMicros(params.Now), NameDoUpdate: params.NameDoUpdate, Name: params.Name,
		DescriptionDoUpdate: params.DescriptionDoUpdate, Description: params.Description,
		StatusDoUpdate: params.StatusDoUpdate, Status: int64(params.Status),
		SpecDoUpdate: params.SpecDoUpdate, Spec: string(spec), ID: params.ID,
		AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("update flow %s: %w", params.ID, e.interpretError(err))
	}
	return flowFromRow(row)
}

// FlowRunCount implements [store.Executor].
func (e *executor) FlowRunCount(ctx context.Context, params *store.FlowRunCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.FlowRunResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count flow runs: %w", e.interpretError(err))
	}
	return n, nil
}

// FlowRunFinishIf implements [store.Executor].
func (e *executor) FlowRunFinishIf(ctx context.Context, params *store.FlowRunFinishIfParams) (int, error) {
	n, err := e.q.FlowRunFinishIf(ctx, e.w, &dbsqlc.FlowRunFinishIfParams{Now: nowMicros(params.Now), Status: int64(params.Status), Reason: params.Reason, ID: params.ID})
	if err != nil {
		return 0, fmt.Errorf("finish flow run %s: %w", params.ID, e.interpretError(err))
	}
	return int(n), nil
}

// FlowRunGetByID implements [store.Executor].
func (e *executor) FlowRunGetByID(ctx context.Context, params *store.FlowRunGetByIDParams) (*model.FlowRun, error) {
	row, err := e.q.FlowRunGetByID(ctx, e.r, &dbsqlc.FlowRunGetByIDParams{ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("get flow run %s: %w", params.ID, e.interpretError(err))
	}
	return flowRunFromRow(row)
}

// FlowRunInsert implements [store.Executor].
func (e *executor) FlowRunInsert(ctx context.Context, params *store.FlowRunInsertParams) (*model.FlowRun, error) {
	spec, err := json.Marshal(params.Spec)
	if err != nil {
		return nil, fmt.Errorf("insert flow run: encode spec: %w", err)
	}
	parameters, err := json.Marshal(params.Parameters)
	if err != nil {
		return nil, fmt.Errorf("insert flow run: encode parameters: %w", err)
	}
	row, err := e.q.FlowRunInsert(ctx, e.w, &dbsqlc.FlowRunInsertParams{
		ID: params.ID, FlowID: params.FlowID, Namespace: params.Namespace, Status: int64(params.Status),
		Spec: string(spec), Parameters: string(parameters), Reason: params.Reason, Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("insert flow run: %w", e.interpretError(err))
	}
	return flowRunFromRow(row)
}

// FlowRunList implements [store.Executor].
func (e *executor) FlowRunList(ctx context.Context, params *store.FlowRunListParams) ([]*model.FlowRun, error) {
	rows, err := listRows[dbsqlc.SchedFlowRun](ctx, e.r, store.FlowRunResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list flow runs: %w", err)
	}
	return fromRows(rows, flowRunFromRow)
}

// FlowRunLock implements [store.Executor]. SQLite transactions already take
// turns (one writer), so it only reads the run.
func (e *executor) FlowRunLock(ctx context.Context, params *store.FlowRunLockParams) (*model.FlowRun, error) {
	return e.FlowRunGetByID(ctx, &store.FlowRunGetByIDParams{ID: params.ID})
}
