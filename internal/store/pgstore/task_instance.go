package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// TaskInstanceAckMany implements [store.Executor].
func (e *executor) TaskInstanceAckMany(ctx context.Context, params *store.TaskInstanceAckManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskInstanceAckMany(ctx, e.db, &dbsqlc.TaskInstanceAckManyParams{
		Now:            params.Now,
		LeaseGraceSecs: params.LeaseGrace.Seconds(),
		IDs:            params.IDs,
		AgentID:        params.AgentID,
	})
	if err != nil {
		return 0, fmt.Errorf("ack task instances: %w", interpretError(err))
	}
	return int(n), nil
}

// TaskInstanceCount implements [store.Executor].
func (e *executor) TaskInstanceCount(ctx context.Context, params *store.TaskInstanceCountParams) (int, error) {
	n, err := countRows(ctx, e.db, store.TaskInstanceResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count task instances: %w", err)
	}
	return n, nil
}

// TaskInstanceFinishMany implements [store.Executor] in one statement. The
// instances come back in no particular order.
func (e *executor) TaskInstanceFinishMany(ctx context.Context, params *store.TaskInstanceFinishManyParams) ([]*model.TaskInstance, error) {
	if len(params.Items) == 0 {
		return []*model.TaskInstance{}, nil
	}
	n := len(params.Items)
	arg := &dbsqlc.TaskInstanceFinishManyParams{
		Now:            params.Now,
		IDs:            make([]uuid.UUID, n),
		AgentIDs:       make([]string, n),
		Errors:         make([]string, n),
		ExitCodes:      make([]int32, n),
		ExitCodeValids: make([]bool, n),
		FinishedAts:    make([]time.Time, n),
		StartedAts:     make([]time.Time, n),
		Statuses:       make([]int32, n),
		Usages:         make([][]byte, n),
		Reasons:        make([]string, n),
		OutputTails:    make([]string, n),
		Ackeds:         make([]bool, n),
	}
	for i, it := range params.Items {
		arg.IDs[i] = it.ID
		arg.AgentIDs[i] = it.AgentID
		arg.Errors[i] = it.Error
		if it.ExitCode != nil {
			arg.ExitCodes[i] = int32(*it.ExitCode)
			arg.ExitCodeValids[i] = true
		}
		arg.FinishedAts[i] = zeroIfNil(it.FinishedAt)
		arg.StartedAts[i] = zeroIfNil(it.StartedAt)
		arg.Statuses[i] = int32(it.Status)
		arg.Reasons[i] = it.Reason
		arg.OutputTails[i] = it.OutputTail
		arg.Ackeds[i] = it.Acked
		if it.Usage != nil {
			usage, err := json.Marshal(it.Usage)
			if err != nil {
				return nil, fmt.Errorf("finish task instances: encode usage: %w", err)
			}
			arg.Usages[i] = usage
		}
	}
	rows, err := e.q.TaskInstanceFinishMany(ctx, e.db, arg)
	if err != nil {
		return nil, fmt.Errorf("finish task instances: %w", interpretError(err))
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceGetByID implements [store.Executor].
func (e *executor) TaskInstanceGetByID(ctx context.Context, params *store.TaskInstanceGetByIDParams) (*model.TaskInstance, error) {
	row, err := e.q.TaskInstanceGetByID(ctx, e.db, &dbsqlc.TaskInstanceGetByIDParams{ID: params.ID, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("get task instance %s: %w", params.ID, interpretError(err))
	}
	return taskInstanceFromRow(row)
}

// TaskInstanceInsertMany implements [store.Executor] in one statement.
func (e *executor) TaskInstanceInsertMany(ctx context.Context, params *store.TaskInstanceInsertManyParams) (int, error) {
	if len(params.Instances) == 0 {
		return 0, nil
	}
	n := len(params.Instances)
	arg := &dbsqlc.TaskInstanceInsertManyParams{
		Now:             params.Now,
		StartAttempts:   params.StartAttempts,
		IDs:             make([]uuid.UUID, n),
		AgentIDs:        make([]string, n),
		Attempts:        make([]int32, n),
		DispatchedAts:   make([]time.Time, n),
		JobIDs:          make([]uuid.UUID, n),
		LeaseExpiresAts: make([]time.Time, n),
		Namespaces:      make([]string, n),
		PlannedAts:      make([]time.Time, n),
		ServerIDs:       make([]string, n),
		Statuses:        make([]int32, n),
		TaskIDs:         make([]uuid.UUID, n),
		Placements:      make([]string, n),
		ShardIndexes:    make([]int32, n),
		ShardTotals:     make([]int32, n),
	}
	for i, ti := range params.Instances {
		arg.IDs[i] = ti.ID
		arg.AgentIDs[i] = ti.AgentID
		arg.Attempts[i] = int32(ti.Attempt)
		arg.DispatchedAts[i] = zeroIfNil(ti.DispatchedAt)
		arg.JobIDs[i] = ti.JobID
		arg.LeaseExpiresAts[i] = zeroIfNil(ti.LeaseExpiresAt)
		arg.Namespaces[i] = ti.Namespace
		arg.PlannedAts[i] = ti.PlannedAt
		arg.ServerIDs[i] = ti.ServerID
		arg.Statuses[i] = int32(ti.Status)
		arg.TaskIDs[i] = ti.TaskID
		arg.Placements[i] = ti.Placement
		arg.ShardIndexes[i] = int32(ti.ShardIndex)
		arg.ShardTotals[i] = int32(ti.ShardTotal)
	}
	inserted, err := e.q.TaskInstanceInsertMany(ctx, e.db, arg)
	if err != nil {
		return 0, fmt.Errorf("insert task instances: %w", interpretError(err))
	}
	return int(inserted), nil
}

// TaskInstanceList implements [store.Executor].
func (e *executor) TaskInstanceList(ctx context.Context, params *store.TaskInstanceListParams) ([]*model.TaskInstance, error) {
	rows, err := listRows[dbsqlc.SchedTaskInstance](ctx, e.db, store.TaskInstanceResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list task instances: %w", err)
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceListLeaseExpired implements [store.Executor]. A zero Limit
// means 1000.
func (e *executor) TaskInstanceListLeaseExpired(ctx context.Context, params *store.TaskInstanceListLeaseExpiredParams) ([]*model.TaskInstance, error) {
	rows, err := e.q.TaskInstanceListLeaseExpired(ctx, e.db, &dbsqlc.TaskInstanceListLeaseExpiredParams{
		Now: params.Now,
		Max: batchLimit(params.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list lease-expired task instances: %w", interpretError(err))
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceListLiveByAgent implements [store.Executor].
func (e *executor) TaskInstanceListLiveByAgent(ctx context.Context, params *store.TaskInstanceListLiveByAgentParams) ([]*model.TaskInstance, error) {
	rows, err := e.q.TaskInstanceListLiveByAgent(ctx, e.db, &dbsqlc.TaskInstanceListLiveByAgentParams{AgentID: params.AgentID})
	if err != nil {
		return nil, fmt.Errorf("list live task instances of agent %s: %w", params.AgentID, interpretError(err))
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceStartMany implements [store.Executor] in one statement.
func (e *executor) TaskInstanceStartMany(ctx context.Context, params *store.TaskInstanceStartManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	n := len(params.Items)
	arg := &dbsqlc.TaskInstanceStartManyParams{
		Now:        params.Now,
		IDs:        make([]uuid.UUID, n),
		AgentIDs:   make([]string, n),
		StartedAts: make([]time.Time, n),
	}
	for i, it := range params.Items {
		arg.IDs[i] = it.ID
		arg.AgentIDs[i] = it.AgentID
		arg.StartedAts[i] = it.StartedAt
	}
	started, err := e.q.TaskInstanceStartMany(ctx, e.db, arg)
	if err != nil {
		return 0, fmt.Errorf("start task instances: %w", interpretError(err))
	}
	return int(started), nil
}
