package litestore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// ServerCount implements [store.Executor].
func (e *executor) ServerCount(ctx context.Context, params *store.ServerCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.ServerResource(), params.Filter, nil)
	if err != nil {
		return 0, fmt.Errorf("count servers: %w", e.interpretError(err))
	}
	return n, nil
}

// ServerGetByID implements [store.Executor].
func (e *executor) ServerGetByID(ctx context.Context, params *store.ServerGetByIDParams) (*model.Server, error) {
	row, err := e.q.ServerGetByID(ctx, e.r, &dbsqlc.ServerGetByIDParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("get server %s: %w", params.ID, e.interpretError(err))
	}
	return serverFromRow(row), nil
}

// ServerHeartbeat implements [store.Executor].
func (e *executor) ServerHeartbeat(ctx context.Context, params *store.ServerHeartbeatParams) (int, error) {
	n, err := e.q.ServerHeartbeat(ctx, e.w, &dbsqlc.ServerHeartbeatParams{Now: nowMicros(params.Now), ID: params.ID})
	if err != nil {
		return 0, fmt.Errorf("record heartbeat of server %s: %w", params.ID, e.interpretError(err))
	}
	return int(n), nil
}

// ServerList implements [store.Executor].
func (e *executor) ServerList(ctx context.Context, params *store.ServerListParams) ([]*model.Server, error) {
	rows, err := listRows[dbsqlc.SchedServer](ctx, e.r, store.ServerResource(), listPage{
		filter: params.Filter, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", e.interpretError(err))
	}
	return fromRows(rows, infallible(serverFromRow))
}

// ServerUpsert implements [store.Executor].
func (e *executor) ServerUpsert(ctx context.Context, params *store.ServerUpsertParams) (*model.Server, error) {
	row, err := e.q.ServerUpsert(ctx, e.w, &dbsqlc.ServerUpsertParams{
		ID:      params.ID,
		Address: params.Address,
		Version: params.Version,
		Now:     nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("upsert server %s: %w", params.ID, e.interpretError(err))
	}
	return serverFromRow(row), nil
}
