package pgstore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// ServerCount implements [store.Executor].
func (e *executor) ServerCount(ctx context.Context, params *store.ServerCountParams) (int, error) {
	n, err := countRows(ctx, e.db, store.ServerResource(), params.Filter, nil)
	if err != nil {
		return 0, fmt.Errorf("count servers: %w", err)
	}
	return n, nil
}

// ServerGetByID implements [store.Executor].
func (e *executor) ServerGetByID(ctx context.Context, params *store.ServerGetByIDParams) (*model.Server, error) {
	row, err := e.q.ServerGetByID(ctx, e.db, &dbsqlc.ServerGetByIDParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("get server %s: %w", params.ID, interpretError(err))
	}
	return serverFromRow(row), nil
}

// ServerHeartbeat implements [store.Executor].
func (e *executor) ServerHeartbeat(ctx context.Context, params *store.ServerHeartbeatParams) (int, error) {
	n, err := e.q.ServerHeartbeat(ctx, e.db, &dbsqlc.ServerHeartbeatParams{Now: params.Now, ID: params.ID})
	if err != nil {
		return 0, fmt.Errorf("record heartbeat of server %s: %w", params.ID, interpretError(err))
	}
	return int(n), nil
}

// ServerList implements [store.Executor].
func (e *executor) ServerList(ctx context.Context, params *store.ServerListParams) ([]*model.Server, error) {
	rows, err := listRows[dbsqlc.SchedServer](ctx, e.db, store.ServerResource(), listPage{
		filter: params.Filter, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	return fromRows(rows, infallible(serverFromRow))
}

// ServerUpsert implements [store.Executor].
func (e *executor) ServerUpsert(ctx context.Context, params *store.ServerUpsertParams) (*model.Server, error) {
	row, err := e.q.ServerUpsert(ctx, e.db, &dbsqlc.ServerUpsertParams{
		ID:      params.ID,
		Address: params.Address,
		Version: params.Version,
		Now:     params.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("upsert server %s: %w", params.ID, interpretError(err))
	}
	return serverFromRow(row), nil
}
