package litestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// JobCount implements [store.Executor].
func (e *executor) JobCount(ctx context.Context, params *store.JobCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.JobResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", e.interpretError(err))
	}
	return n, nil
}

// JobDelete implements [store.Executor].
func (e *executor) JobDelete(ctx context.Context, params *store.JobDeleteParams) (*model.Job, error) {
	row, err := e.q.JobDelete(ctx, e.w, &dbsqlc.JobDeleteParams{
		ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("delete job %s: %w", params.ID, e.interpretError(err))
	}
	return jobFromRow(row)
}

// JobGetByID implements [store.Executor].
func (e *executor) JobGetByID(ctx context.Context, params *store.JobGetByIDParams) (*model.Job, error) {
	row, err := e.q.JobGetByID(ctx, e.r, &dbsqlc.JobGetByIDParams{
		ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", params.ID, e.interpretError(err))
	}
	return jobFromRow(row)
}

// JobInsert implements [store.Executor].
func (e *executor) JobInsert(ctx context.Context, params *store.JobInsertParams) (*model.Job, error) {
	config, err := json.Marshal(params.Config)
	if err != nil {
		return nil, fmt.Errorf("insert job: encode config: %w", err)
	}
	arg := &dbsqlc.JobInsertParams{
		ID:          params.ID,
		Namespace:   params.Namespace,
		Name:        params.Name,
		Description: params.Description,
		Status:      int64(params.Status),
		Config:      string(config),
		Now:         nowMicros(params.Now),
		CreatedBy:   params.CreatedBy,
	}
	if err := e.q.JobInsert(ctx, e.w, arg); err != nil {
		return nil, fmt.Errorf("insert job: %w", e.interpretError(err))
	}
	// The row as the statement inserted it.
	return jobFromRow(&dbsqlc.SchedJob{
		ID: arg.ID, Namespace: arg.Namespace, Name: arg.Name, Description: arg.Description, Status: arg.Status,
		Config: arg.Config, CreatedAt: arg.Now, CreatedBy: arg.CreatedBy, UpdatedAt: arg.Now, UpdatedBy: arg.CreatedBy,
	})
}

// JobList implements [store.Executor].
func (e *executor) JobList(ctx context.Context, params *store.JobListParams) ([]*model.Job, error) {
	rows, err := listRows[dbsqlc.SchedJob](ctx, e.r, store.JobResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", e.interpretError(err))
	}
	return fromRows(rows, jobFromRow)
}

// JobUpdate implements [store.Executor].
func (e *executor) JobUpdate(ctx context.Context, params *store.JobUpdateParams) (*model.Job, error) {
	var config []byte
	if params.ConfigDoUpdate {
		var err error
		if config, err = json.Marshal(params.Config); err != nil {
			return nil, fmt.Errorf("update job %s: encode config: %w", params.ID, err)
		}
	}
	row, err := e.q.JobUpdate(ctx, e.w, &dbsqlc.JobUpdateParams{
		ConfigDoUpdate:      params.ConfigDoUpdate,
		Config:              string(config),
		DescriptionDoUpdate: params.DescriptionDoUpdate,
		Description:         params.Description,
		NameDoUpdate:        params.NameDoUpdate,
		Name:                params.Name,
		StatusDoUpdate:      params.StatusDoUpdate,
		Status:              int64(params.Status),
		Now:                 nowMicros(params.Now),
		UpdatedBy:           params.UpdatedBy,
		ID:                  params.ID,
		AnyNamespace:        params.Namespaces == nil,
		Namespaces:          params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("update job %s: %w", params.ID, e.interpretError(err))
	}
	return jobFromRow(row)
}

// JobLockMany implements [store.Executor]. SQLite transactions already take
// turns (one writer), so it only counts the jobs.
func (e *executor) JobLockMany(ctx context.Context, params *store.JobLockManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	ids := make([]any, len(params.IDs))
	for i, id := range params.IDs {
		ids[i] = id
	}
	n, err := e.JobCount(ctx, &store.JobCountParams{Filter: store.Filter{{Field: "id", Op: store.OpIn, Value: ids}}})
	if err != nil {
		return 0, fmt.Errorf("lock jobs: %w", err)
	}
	return n, nil
}
