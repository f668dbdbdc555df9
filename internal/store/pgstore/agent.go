package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// AgentCount implements [store.Executor].
func (e *executor) AgentCount(ctx context.Context, params *store.AgentCountParams) (int, error) {
	n, err := countRows(ctx, e.db, store.AgentResource(), params.Filter, nil)
	if err != nil {
		return 0, fmt.Errorf("count agents: %w", err)
	}
	return n, nil
}

// AgentGetByID implements [store.Executor].
func (e *executor) AgentGetByID(ctx context.Context, params *store.AgentGetByIDParams) (*model.Agent, error) {
	row, err := e.q.AgentGetByID(ctx, e.db, &dbsqlc.AgentGetByIDParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("get agent %s: %w", params.ID, interpretError(err))
	}
	return agentFromRow(row)
}

// AgentHeartbeat implements [store.Executor].
func (e *executor) AgentHeartbeat(ctx context.Context, params *store.AgentHeartbeatParams) (int, error) {
	n, err := e.q.AgentHeartbeat(ctx, e.db, &dbsqlc.AgentHeartbeatParams{
		Now:           params.Now,
		Load:          params.Load,
		Running:       int32(params.Running),
		ClockOffsetMs: params.ClockOffsetMillis,
		Status:        int32(store.LiveAgentStatus(params.Status)),
		ID:            params.ID,
		ServerID:      params.ServerID,
	})
	if err != nil {
		return 0, fmt.Errorf("record heartbeat of agent %s: %w", params.ID, interpretError(err))
	}
	return int(n), nil
}

// AgentList implements [store.Executor].
func (e *executor) AgentList(ctx context.Context, params *store.AgentListParams) ([]*model.Agent, error) {
	rows, err := listRows[dbsqlc.SchedAgent](ctx, e.db, store.AgentResource(), listPage{
		filter: params.Filter, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return fromRows(rows, agentFromRow)
}

// AgentListStale implements [store.Executor]. A zero Limit means 1000.
func (e *executor) AgentListStale(ctx context.Context, params *store.AgentListStaleParams) ([]*model.Agent, error) {
	rows, err := e.q.AgentListStale(ctx, e.db, &dbsqlc.AgentListStaleParams{
		HeartbeatBefore: params.HeartbeatBefore,
		Max:             batchLimit(params.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list stale agents: %w", interpretError(err))
	}
	return fromRows(rows, agentFromRow)
}

// AgentSetStatusIf implements [store.Executor].
func (e *executor) AgentSetStatusIf(ctx context.Context, params *store.AgentSetStatusIfParams) (int, error) {
	n, err := e.q.AgentSetStatusIf(ctx, e.db, &dbsqlc.AgentSetStatusIfParams{
		Status:          int32(params.Status),
		Now:             params.Now,
		ID:              params.ID,
		ServerID:        params.ServerID,
		HeartbeatBefore: params.HeartbeatBefore,
	})
	if err != nil {
		return 0, fmt.Errorf("set agent %s status: %w", params.ID, interpretError(err))
	}
	return int(n), nil
}

// AgentUpsert implements [store.Executor].
func (e *executor) AgentUpsert(ctx context.Context, params *store.AgentUpsertParams) (*model.Agent, error) {
	labels, err := json.Marshal(params.Labels)
	if err != nil {
		return nil, fmt.Errorf("upsert agent %s: encode labels: %w", params.ID, err)
	}
	info, err := json.Marshal(params.Info)
	if err != nil {
		return nil, fmt.Errorf("upsert agent %s: encode info: %w", params.ID, err)
	}
	row, err := e.q.AgentUpsert(ctx, e.db, &dbsqlc.AgentUpsertParams{
		ID:            params.ID,
		Name:          params.Name,
		Labels:        labels,
		Capacity:      int32(params.Capacity),
		Status:        int32(store.LiveAgentStatus(params.Status)),
		ClockOffsetMs: params.ClockOffsetMillis,
		Info:          info,
		ServerID:      params.ServerID,
		Version:       params.Version,
		Now:           params.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("upsert agent %s: %w", params.ID, interpretError(err))
	}
	return agentFromRow(row)
}
