package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// JobCount implements [store.Executor].
func (e *executor) JobCount(ctx context.Context, params *store.JobCountParams) (int, error) {
	n, err := countRows(ctx, e.db, store.JobResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}

// JobDelete implements [store.Executor].
func (e *executor) JobDelete(ctx context.Context, params *store.JobDeleteParams) (*model.Job, error) {
	row, err := e.q.JobDelete(ctx, e.db, &dbsqlc.JobDeleteParams{ID: params.ID, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("delete job %s: %w", params.ID, interpretError(err))
	}
	return jobFromRow(row)
}

// JobGetByID implements [store.Executor].
func (e *executor) JobGetByID(ctx context.Context, params *store.JobGetByIDParams) (*model.Job, error) {
	row, err := e.q.JobGetByID(ctx, e.db, &dbsqlc.JobGetByIDParams{ID: params.ID, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", params.ID, interpretError(err))
	}
	return jobFromRow(row)
}

// JobInsert implements [store.Executor].
func (e *executor) JobInsert(ctx context.Context, params *store.JobInsertParams) (*model.Job, error) {
	config, err := json.Marshal(params.Config)
	if err != nil {
		return nil, fmt.Errorf("insert job: encode config: %w", err)
	}
	row, err := e.q.JobInsert(ctx, e.db, &dbsqlc.JobInsertParams{
		ID:          params.ID,
		Namespace:   params.Namespace,
		Name:        params.Name,
		Description: params.Description,
		Status:      int32(params.Status),
		Config:      config,
		Now:         params.Now,
		CreatedBy:   params.CreatedBy,
	})
	if err != nil {
		return nil, fmt.Errorf("insert job: %w", interpretError(err))
	}
	return jobFromRow(row)
}

// JobList implements [store.Executor].
func (e *executor) JobList(ctx context.Context, params *store.JobListParams) ([]*model.Job, error) {
	rows, err := listRows[dbsqlc.SchedJob](ctx, e.db, store.JobResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
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
	row, err := e.q.JobUpdate(ctx, e.db, &dbsqlc.JobUpdateParams{
		ConfigDoUpdate:      params.ConfigDoUpdate,
		Config:              config,
		DescriptionDoUpdate: params.DescriptionDoUpdate,
		Description:         params.Description,
		NameDoUpdate:        params.NameDoUpdate,
		Name:                params.Name,
		StatusDoUpdate:      params.StatusDoUpdate,
		Status:              int32(params.Status),
		Now:                 params.Now,
		UpdatedBy:           params.UpdatedBy,
		ID:                  params.ID,
		Namespaces:          params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("update job %s: %w", params.ID, interpretError(err))
	}
	return jobFromRow(row)
}

// JobLockMany implements [store.Executor].
func (e *executor) JobLockMany(ctx context.Context, params *store.JobLockManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	ids, err := e.q.JobLockMany(ctx, e.db, &dbsqlc.JobLockManyParams{IDs: params.IDs})
	if err != nil {
		return 0, fmt.Errorf("lock jobs: %w", interpretError(err))
	}
	return len(ids), nil
}
