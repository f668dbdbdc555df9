package pgstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// TaskLogGetByInstanceID implements [store.Executor].
func (e *executor) TaskLogGetByInstanceID(ctx context.Context, params *store.TaskLogGetByInstanceIDParams) (*model.TaskLog, error) {
	row, err := e.q.TaskLogGetByInstanceID(ctx, e.db, &dbsqlc.TaskLogGetByInstanceIDParams{InstanceID: params.InstanceID})
	if err != nil {
		return nil, fmt.Errorf("get task log %s: %w", params.InstanceID, interpretError(err))
	}
	return taskLogFromRow(row), nil
}

// TaskLogUpsertMany implements [store.Executor] in one statement. When an
// instance appears more than once, its last item wins.
func (e *executor) TaskLogUpsertMany(ctx context.Context, params *store.TaskLogUpsertManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	// One statement cannot update a row twice, so keep each instance's last
	// item.
	last := make(map[uuid.UUID]int, len(params.Items))
	for i, it := range params.Items {
		last[it.InstanceID] = i
	}
	arg := &dbsqlc.TaskLogUpsertManyParams{
		InstanceIDs: make([]uuid.UUID, 0, len(last)),
		StdoutBytes: make([]int64, 0, len(last)),
		StderrBytes: make([]int64, 0, len(last)),
		Now:         params.Now,
	}
	for i, it := range params.Items {
		if last[it.InstanceID] != i {
			continue
		}
		arg.InstanceIDs = append(arg.InstanceIDs, it.InstanceID)
		arg.StdoutBytes = append(arg.StdoutBytes, it.StdoutBytes)
		arg.StderrBytes = append(arg.StderrBytes, it.StderrBytes)
	}
	n, err := e.q.TaskLogUpsertMany(ctx, e.db, arg)
	if err != nil {
		return 0, fmt.Errorf("upsert task logs: %w", interpretError(err))
	}
	return int(n), nil
}

// TaskLogDeleteMany implements [store.Executor] in one statement.
func (e *executor) TaskLogDeleteMany(ctx context.Context, params *store.TaskLogDeleteManyParams) (int, error) {
	if len(params.InstanceIDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskLogDeleteMany(ctx, e.db, &dbsqlc.TaskLogDeleteManyParams{InstanceIDs: params.InstanceIDs})
	if err != nil {
		return 0, fmt.Errorf("delete task logs: %w", interpretError(err))
	}
	return int(n), nil
}

// TaskLogFinishMany implements [store.Executor] in one statement.
func (e *executor) TaskLogFinishMany(ctx context.Context, params *store.TaskLogFinishManyParams) ([]*model.TaskLog, error) {
	if len(params.InstanceIDs) == 0 {
		return nil, nil
	}
	rows, err := e.q.TaskLogFinishMany(ctx, e.db, &dbsqlc.TaskLogFinishManyParams{InstanceIDs: params.InstanceIDs, Now: params.Now})
	if err != nil {
		return nil, fmt.Errorf("finish task logs: %w", interpretError(err))
	}
	out := make([]*model.TaskLog, len(rows))
	for i, r := range rows {
		out[i] = taskLogFromRow(r)
	}
	return out, nil
}
