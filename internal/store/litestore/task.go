package litestore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// TaskClaimDue implements [store.Executor]. A zero Limit means 1000.
func (e *executor) TaskClaimDue(ctx context.Context, params *store.TaskClaimDueParams) ([]*model.Task, error) {
	tasks, err := store.ClaimByPriority(ctx, params, int(batchLimit(params.Limit)), store.ClaimStep{
		Priorities: func(ctx context.Context, below int) ([]int, error) {
			ps, err := e.q.TaskClaimDuePriorities(ctx, e.r, &dbsqlc.TaskClaimDuePrioritiesParams{Below: int64(below)})
			out := make([]int, len(ps))
			for i, p := range ps {
				out[i] = int(p)
			}
			return out, err
		},
		At: func(ctx context.Context, priority int, runAt time.Time, id uuid.UUID, limit int) ([]*model.Task, error) {
			rows, err := e.q.TaskClaimDueAt(ctx, e.r, &dbsqlc.TaskClaimDueAtParams{
				Priority: int64(priority), Horizon: micros(params.Horizon), AfterRunAt: micros(runAt), AfterID: id.String(),
				Max: int64(claimBucket(limit)),
			})
			if err != nil {
				return nil, err
			}
			return fromRows(rows[:min(len(rows), limit)], taskFromRow)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", e.interpretError(err))
	}
	return tasks, nil
}

// claimBucket rounds a claim's limit up to a power of two, at least 16, and
// the caller keeps only what it asked for. SQLite prepares a statement
// again whenever the value bound to its LIMIT changes (see limitClause), and
// a dispatcher asks for as many tasks as it has free slots, which change
// from pass to pass.
func claimBucket(n int) int {
	b := 16
	for b < n {
		b *= 2
	}
	return b
}

// TaskCount implements [store.Executor].
func (e *executor) TaskCount(ctx context.Context, params *store.TaskCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.TaskResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", e.interpretError(err))
	}
	return n, nil
}

// TaskFinishMany implements [store.Executor], one statement per item in one
// transaction.
func (e *executor) TaskFinishMany(ctx context.Context, params *store.TaskFinishManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	now := nowMicros(params.Now)
	total := 0
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		for _, it := range params.Items {
			n, err := e.q.TaskFinishMany(ctx, w, &dbsqlc.TaskFinishManyParams{
				Status:     int64(it.Status),
				Reason:     it.Reason,
				RunAt:      microsPtr(it.RunAt),
				Now:        now,
				FinishedAt: finishedAt(it.Status.Final(), now),
				ID:         it.ID,
				Attempt:    int64(it.Attempt),
			})
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("finish tasks: %w", e.interpretError(err))
	}
	return total, nil
}

// TaskGetByID implements [store.Executor].
func (e *executor) TaskGetByID(ctx context.Context, params *store.TaskGetByIDParams) (*model.Task, error) {
	row, err := e.q.TaskGetByID(ctx, e.r, &dbsqlc.TaskGetByIDParams{
		ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", params.ID, e.interpretError(err))
	}
	return taskFromRow(row)
}

// TaskInsertMany implements [store.Executor], one statement per task in one
// transaction. The tasks come back in input order.
func (e *executor) TaskInsertMany(ctx context.Context, params *store.TaskInsertManyParams) ([]*model.Task, error) {
	out := make([]*model.Task, 0, len(params.Tasks))
	if len(params.Tasks) == 0 {
		return out, nil
	}
	now := nowMicros(params.Now)
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		for _, t := range params.Tasks {
			config, err := json.Marshal(t.Config)
			if err != nil {
				return fmt.Errorf("encode config: %w", err)
			}
			parameters, err := json.Marshal(t.Parameters)
			if err != nil {
				return fmt.Errorf("encode parameters: %w", err)
			}
			arg := &dbsqlc.TaskInsertManyParams{
				ID:          t.ID,
				JobID:       t.JobID,
				ScheduleID:  t.ScheduleID,
				Namespace:   t.Namespace,
				ScheduledAt: micros(t.ScheduledAt),
				RunAt:       micros(t.RunAt),
				Priority:    int64(t.Priority),
				Parameters:  string(parameters),
				Config:      string(config),
				Status:      int64(t.Status),
				Reason:      t.Reason,
				Now:         now,
				FinishedAt:  finishedAt(t.Status.Final(), now),
				Event:       t.Event,
				FlowRunID:   t.FlowRunID,
				FlowNode:    t.FlowNode,
			}
			n, err := e.q.TaskInsertMany(ctx, w, arg)
			if err != nil {
				return err
			}
			if n > 0 {
				out = append(out, insertedTask(t, arg))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert tasks: %w", e.interpretError(err))
	}
	return out, nil
}

// insertedTask is the task row arg inserted for t, as TaskGetByID would
// return it: times at the stored precision, the config and parameters the
// caller gave.
func insertedTask(t *store.TaskInsert, arg *dbsqlc.TaskInsertManyParams) *model.Task {
	return &model.Task{
		ID:          arg.ID,
		JobID:       arg.JobID,
		ScheduleID:  arg.ScheduleID,
		Namespace:   arg.Namespace,
		ScheduledAt: fromMicros(arg.ScheduledAt),
		RunAt:       fromMicros(arg.RunAt),
		Priority:    t.Priority,
		Parameters:  t.Parameters,
		Config:      t.Config,
		Status:      t.Status,
		Reason:      arg.Reason,
		Event:       arg.Event,
		FlowRunID:   arg.FlowRunID,
		FlowNode:    arg.FlowNode,
		CreatedAt:   fromMicros(arg.Now),
		UpdatedAt:   fromMicros(arg.Now),
		FinishedAt:  fromMicrosPtr(arg.FinishedAt),
	}
}

// TaskList implements [store.Executor].
func (e *executor) TaskList(ctx context.Context, params *store.TaskListParams) ([]*model.Task, error) {
	rows, err := listRows[dbsqlc.SchedTask](ctx, e.r, store.TaskResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", e.interpretError(err))
	}
	return fromRows(rows, taskFromRow)
}

// TaskListByID implements [store.Executor].
func (e *executor) TaskListByID(ctx context.Context, params *store.TaskListByIDParams) ([]*model.Task, error) {
	if len(params.IDs) == 0 {
		return nil, nil
	}
	rows, err := e.q.TaskListByID(ctx, e.r, &dbsqlc.TaskListByIDParams{IDs: idsJSON(params.IDs)})
	if err != nil {
		return nil, fmt.Errorf("list tasks by id: %w", e.interpretError(err))
	}
	return fromRows(rows, taskFromRow)
}

// TaskSetStateIf implements [store.Executor].
func (e *executor) TaskSetStateIf(ctx context.Context, params *store.TaskSetStateIfParams) (*model.Task, error) {
	from := make([]int64, len(params.FromStatuses))
	for i, s := range params.FromStatuses {
		from[i] = int64(s)
	}
	now := nowMicros(params.Now)
	row, err := e.q.TaskSetStateIf(ctx, e.w, &dbsqlc.TaskSetStateIfParams{
		Status:       int64(params.Status),
		Reason:       params.Reason,
		Now:          now,
		FinishedAt:   finishedAt(params.Status.Final(), now),
		ID:           params.ID,
		AnyNamespace: params.Namespaces == nil,
		Namespaces:   params.Namespaces,
		FromStatuses: from,
	})
	if err != nil {
		return nil, fmt.Errorf("set task %s state: %w", params.ID, e.interpretError(err))
	}
	return taskFromRow(row)
}

// TaskStartAttemptMany implements [store.Executor].
func (e *executor) TaskStartAttemptMany(ctx context.Context, params *store.TaskStartAttemptManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskStartAttemptMany(ctx, e.w, &dbsqlc.TaskStartAttemptManyParams{Now: nowMicros(params.Now), IDs: idsJSON(params.IDs)})
	if err != nil {
		return 0, fmt.Errorf("start task attempts: %w", e.interpretError(err))
	}
	return int(n), nil
}

// TaskDeletePending implements [store.Executor].
func (e *executor) TaskDeletePending(ctx context.Context, params *store.TaskDeletePendingParams) (int, error) {
	if params.JobID == nil && params.ScheduleID == nil {
		return 0, fmt.Errorf("delete pending tasks: a job or schedule id is required")
	}
	p := &dbsqlc.TaskDeletePendingParams{ScheduledAfter: micros(params.ScheduledAfter)}
	if params.JobID != nil {
		s := params.JobID.String()
		p.JobID = &s
	}
	if params.ScheduleID != nil {
		s := params.ScheduleID.String()
		p.ScheduleID = &s
	}
	n, err := e.q.TaskDeletePending(ctx, e.w, p)
	if err != nil {
		return 0, fmt.Errorf("delete pending tasks: %w", e.interpretError(err))
	}
	return int(n), nil
}

// TaskDeleteMany implements [store.Executor].
func (e *executor) TaskDeleteMany(ctx context.Context, params *store.TaskDeleteManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskDeleteMany(ctx, e.w, &dbsqlc.TaskDeleteManyParams{IDs: params.IDs})
	if err != nil {
		return 0, fmt.Errorf("delete tasks: %w", e.interpretError(err))
	}
	return int(n), nil
}
