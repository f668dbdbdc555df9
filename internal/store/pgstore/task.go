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

// TaskClaimDue implements [store.Executor]. A zero Limit means 1000.
func (e *executor) TaskClaimDue(ctx context.Context, params *store.TaskClaimDueParams) ([]*model.Task, error) {
	tasks, err := store.ClaimByPriority(ctx, params, int(batchLimit(params.Limit)), store.ClaimStep{
		Priorities: func(ctx context.Context, below int) ([]int, error) {
			ps, err := e.q.TaskClaimDuePriorities(ctx, e.db, &dbsqlc.TaskClaimDuePrioritiesParams{Below: int32(below)})
			out := make([]int, len(ps))
			for i, p := range ps {
				out[i] = int(p)
			}
			return out, err
		},
		At: func(ctx context.Context, priority int, runAt time.Time, id uuid.UUID, limit int) ([]*model.Task, error) {
			rows, err := e.q.TaskClaimDueAt(ctx, e.db, &dbsqlc.TaskClaimDueAtParams{
				Priority: int32(priority), Horizon: params.Horizon, AfterRunAt: runAt, AfterID: id, Max: int32(limit),
			})
			if err != nil {
				return nil, err
			}
			return fromRows(rows, taskFromRow)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", interpretError(err))
	}
	return tasks, nil
}

// TaskCount implements [store.Executor].
func (e *executor) TaskCount(ctx context.Context, params *store.TaskCountParams) (int, error) {
	n, err := countRows(ctx, e.db, store.TaskResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}

// TaskFinishMany implements [store.Executor] in one statement.
func (e *executor) TaskFinishMany(ctx context.Context, params *store.TaskFinishManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	n := len(params.Items)
	arg := &dbsqlc.TaskFinishManyParams{
		Now:      params.Now,
		IDs:      make([]uuid.UUID, n),
		Attempts: make([]int32, n),
		Reasons:  make([]string, n),
		RunAts:   make([]time.Time, n),
		Statuses: make([]int32, n),
	}
	for i, it := range params.Items {
		arg.IDs[i] = it.ID
		arg.Attempts[i] = int32(it.Attempt)
		arg.Reasons[i] = it.Reason
		arg.RunAts[i] = zeroIfNil(it.RunAt)
		arg.Statuses[i] = int32(it.Status)
	}
	changed, err := e.q.TaskFinishMany(ctx, e.db, arg)
	if err != nil {
		return 0, fmt.Errorf("finish tasks: %w", interpretError(err))
	}
	return int(changed), nil
}

// TaskGetByID implements [store.Executor].
func (e *executor) TaskGetByID(ctx context.Context, params *store.TaskGetByIDParams) (*model.Task, error) {
	row, err := e.q.TaskGetByID(ctx, e.db, &dbsqlc.TaskGetByIDParams{ID: params.ID, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", params.ID, interpretError(err))
	}
	return taskFromRow(row)
}

// TaskInsertMany implements [store.Executor] in one statement. The tasks
// come back in no particular order.
func (e *executor) TaskInsertMany(ctx context.Context, params *store.TaskInsertManyParams) ([]*model.Task, error) {
	if len(params.Tasks) == 0 {
		return []*model.Task{}, nil
	}
	n := len(params.Tasks)
	arg := &dbsqlc.TaskInsertManyParams{
		Now:          params.Now,
		IDs:          make([]uuid.UUID, n),
		Configs:      make([][]byte, n),
		JobIDs:       make([]uuid.UUID, n),
		Namespaces:   make([]string, n),
		Parameters:   make([][]byte, n),
		Priorities:   make([]int32, n),
		Reasons:      make([]string, n),
		RunAts:       make([]time.Time, n),
		ScheduleIDs:  make([]uuid.UUID, n),
		ScheduledAts: make([]time.Time, n),
		Statuses:     make([]int32, n),
		Events:       make([][]byte, n),
		FlowRunIds:   make([]uuid.UUID, n),
		FlowNodes:    make([]string, n),
	}
	for i, t := range params.Tasks {
		config, err := json.Marshal(t.Config)
		if err != nil {
			return nil, fmt.Errorf("insert tasks: encode config: %w", err)
		}
		parameters, err := json.Marshal(t.Parameters)
		if err != nil {
			return nil, fmt.Errorf("insert tasks: encode parameters: %w", err)
		}
		arg.IDs[i] = t.ID
		arg.Configs[i] = config
		arg.JobIDs[i] = t.JobID
		arg.Namespaces[i] = t.Namespace
		arg.Parameters[i] = parameters
		arg.Priorities[i] = int32(t.Priority)
		arg.Reasons[i] = t.Reason
		arg.RunAts[i] = t.RunAt
		if t.ScheduleID != nil {
			arg.ScheduleIDs[i] = *t.ScheduleID
		}
		arg.ScheduledAts[i] = t.ScheduledAt
		arg.Statuses[i] = int32(t.Status)
		arg.Events[i] = t.Event
		if t.FlowRunID != nil {
			arg.FlowRunIds[i] = *t.FlowRunID
		}
		arg.FlowNodes[i] = t.FlowNode
	}
	rows, err := e.q.TaskInsertMany(ctx, e.db, arg)
	if err != nil {
		return nil, fmt.Errorf("insert tasks: %w", interpretError(err))
	}
	return fromRows(rows, taskFromRow)
}

// TaskList implements [store.Executor].
func (e *executor) TaskList(ctx context.Context, params *store.TaskListParams) ([]*model.Task, error) {
	rows, err := listRows[dbsqlc.SchedTask](ctx, e.db, store.TaskResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return fromRows(rows, taskFromRow)
}

// TaskListByID implements [store.Executor].
func (e *executor) TaskListByID(ctx context.Context, params *store.TaskListByIDParams) ([]*model.Task, error) {
	if len(params.IDs) == 0 {
		return nil, nil
	}
	rows, err := e.q.TaskListByID(ctx, e.db, &dbsqlc.TaskListByIDParams{IDs: params.IDs})
	if err != nil {
		return nil, fmt.Errorf("list tasks by id: %w", interpretError(err))
	}
	return fromRows(rows, taskFromRow)
}

// TaskSetStateIf implements [store.Executor].
func (e *executor) TaskSetStateIf(ctx context.Context, params *store.TaskSetStateIfParams) (*model.Task, error) {
	from := make([]int32, len(params.FromStatuses))
	for i, s := range params.FromStatuses {
		from[i] = int32(s)
	}
	row, err := e.q.TaskSetStateIf(ctx, e.db, &dbsqlc.TaskSetStateIfParams{
		Status:       int32(params.Status),
		Reason:       params.Reason,
		Now:          params.Now,
		ID:           params.ID,
		FromStatuses: from,
		Namespaces:   params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("set task %s state: %w", params.ID, interpretError(err))
	}
	return taskFromRow(row)
}

// TaskStartAttemptMany implements [store.Executor].
func (e *executor) TaskStartAttemptMany(ctx context.Context, params *store.TaskStartAttemptManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskStartAttemptMany(ctx, e.db, &dbsqlc.TaskStartAttemptManyParams{Now: params.Now, IDs: params.IDs})
	if err != nil {
		return 0, fmt.Errorf("start task attempts: %w", interpretError(err))
	}
	return int(n), nil
}

// TaskDeletePending implements [store.Executor].
func (e *executor) TaskDeletePending(ctx context.Context, params *store.TaskDeletePendingParams) (int, error) {
	if params.JobID == nil && params.ScheduleID == nil {
		return 0, fmt.Errorf("delete pending tasks: a job or schedule id is required")
	}
	n, err := e.q.TaskDeletePending(ctx, e.db, &dbsqlc.TaskDeletePendingParams{ScheduledAfter: params.ScheduledAfter, JobID: params.JobID, ScheduleID: params.ScheduleID})
	if err != nil {
		return 0, fmt.Errorf("delete pending tasks: %w", interpretError(err))
	}
	return int(n), nil
}

// TaskDeleteMany implements [store.Executor].
func (e *executor) TaskDeleteMany(ctx context.Context, params *store.TaskDeleteManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskDeleteMany(ctx, e.db, &dbsqlc.TaskDeleteManyParams{IDs: params.IDs})
	if err != nil {
		return 0, fmt.Errorf("delete tasks: %w", interpretError(err))
	}
	return int(n), nil
}
