package litestore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// TaskLogGetByInstanceID implements [store.Executor].
func (e *executor) TaskLogGetByInstanceID(ctx context.Context, params *store.TaskLogGetByInstanceIDParams) (*model.TaskLog, error) {
	row, err := e.q.TaskLogGetByInstanceID(ctx, e.r, &dbsqlc.TaskLogGetByInstanceIDParams{InstanceID: params.InstanceID})
	if err != nil {
		return nil, fmt.Errorf("get task log %s: %w", params.InstanceID, e.interpretError(err))
	}
	return taskLogFromRow(row), nil
}

// TaskLogUpsertMany implements [store.Executor], one statement per item in
// one transaction. When an instance appears more than once, its last item
// wins.
func (e *executor) TaskLogUpsertMany(ctx context.Context, params *store.TaskLogUpsertManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	now := nowMicros(params.Now)
	total := 0
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		for _, it := range params.Items {
			n, err := e.q.TaskLogUpsertMany(ctx, w, &dbsqlc.TaskLogUpsertManyParams{
				InstanceID:  it.InstanceID,
				StdoutBytes: it.StdoutBytes,
				StderrBytes: it.StderrBytes,
				Now:         now,
			})
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("upsert task logs: %w", e.interpretError(err))
	}
	return total, nil
}

// TaskLogDeleteMany implements [store.Executor]: two deletes in one
// transaction.
func (e *executor) TaskLogDeleteMany(ctx context.Context, params *store.TaskLogDeleteManyParams) (int, error) {
	if len(params.InstanceIDs) == 0 {
		return 0, nil
	}
	var n int64
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		if _, err := e.q.TaskLogDeleteManyChunks(ctx, w, &dbsqlc.TaskLogDeleteManyChunksParams{InstanceIDs: params.InstanceIDs}); err != nil {
			return err
		}
		var err error
		n, err = e.q.TaskLogDeleteMany(ctx, w, &dbsqlc.TaskLogDeleteManyParams{InstanceIDs: params.InstanceIDs})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete task logs: %w", e.interpretError(err))
	}
	return int(n), nil
}

// TaskLogFinishMany implements [store.Executor].
func (e *executor) TaskLogFinishMany(ctx context.Context, params *store.TaskLogFinishManyParams) ([]*model.TaskLog, error) {
	if len(params.InstanceIDs) == 0 {
		return nil, nil
	}
	rows, err := e.q.TaskLogFinishMany(ctx, e.w, &dbsqlc.TaskLogFinishManyParams{InstanceIDs: params.InstanceIDs, Now: nowMicros(params.Now)})
	if err != nil {
		return nil, fmt.Errorf("finish task logs: %w", e.interpretError(err))
	}
	return fromRows(rows, func(r *dbsqlc.SchedTaskLog) (*model.TaskLog, error) { return taskLogFromRow(r), nil })
}
