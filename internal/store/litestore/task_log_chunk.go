package litestore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// TaskLogChunkInsertMany implements [store.Executor]: per chunk, an insert
// and, when it changed a row, a size raise, then the finish marks, all in
// one transaction; then one read of the metadata.
func (e *executor) TaskLogChunkInsertMany(ctx context.Context, params *store.TaskLogChunkInsertManyParams) ([]*model.TaskLog, error) {
	items, err := store.PrepareTaskLogChunks(params.Items)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 && len(params.FinishInstanceIDs) == 0 {
		return nil, nil
	}
	now := nowMicros(params.Now)
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	var rows []*dbsqlc.SchedTaskLog
	err = e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		for _, c := range items {
			if !seen[c.InstanceID] {
				seen[c.InstanceID] = true
				ids = append(ids, c.InstanceID)
			}
			n, err := e.q.TaskLogChunkInsertMany(ctx, w, &dbsqlc.TaskLogChunkInsertManyParams{
				InstanceID: c.InstanceID.String(),
				Stream:     string(c.Stream),
				ByteOffset: c.Offset,
				Data:       c.Data,
			})
			if err != nil {
				return err
			}
			if n == 0 {
				continue // a duplicate, or the log is finished or gone
			}
			raise := &dbsqlc.TaskLogChunkInsertManyRaiseParams{InstanceID: c.InstanceID, Now: now}
			if c.Stream == model.Stdout {
				raise.StdoutBytes = c.Offset + int64(len(c.Data))
			} else {
				raise.StderrBytes = c.Offset + int64(len(c.Data))
			}
			if err := e.q.TaskLogChunkInsertManyRaise(ctx, w, raise); err != nil {
				return err
			}
		}
		if len(params.FinishInstanceIDs) > 0 {
			if _, err := e.q.TaskLogFinishMany(ctx, w, &dbsqlc.TaskLogFinishManyParams{InstanceIDs: params.FinishInstanceIDs, Now: now}); err != nil {
				return err
			}
			for _, id := range params.FinishInstanceIDs {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		rows, err = e.q.TaskLogChunkInsertManyLogs(ctx, w, &dbsqlc.TaskLogChunkInsertManyLogsParams{InstanceIDs: ids})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("insert log chunks: %w", e.interpretError(err))
	}
	out := make([]*model.TaskLog, len(rows))
	for i, r := range rows {
		out[i] = taskLogFromRow(r)
	}
	return out, nil
}

// TaskLogChunkList implements [store.Executor].
func (e *executor) TaskLogChunkList(ctx context.Context, params *store.TaskLogChunkListParams) ([]*model.TaskLogChunk, error) {
	rows, err := e.q.TaskLogChunkList(ctx, e.r, &dbsqlc.TaskLogChunkListParams{
		InstanceID:    params.InstanceID.String(),
		Stream:        string(params.Stream),
		FromOffset:    params.FromOffset,
		MaxBytes:      params.MaxBytes,
		MaxChunkBytes: store.MaxTaskLogChunkBytes,
		MaxChunks:     int64(store.TaskLogChunkLimit(params.Limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("list log chunks of %s: %w", params.InstanceID, e.interpretError(err))
	}
	out := make([]*model.TaskLogChunk, len(rows))
	for i, r := range rows {
		id, err := uuid.Parse(r.InstanceID)
		if err != nil {
			return nil, fmt.Errorf("list log chunks of %s: bad instance id %q: %w", params.InstanceID, r.InstanceID, err)
		}
		out[i] = &model.TaskLogChunk{InstanceID: id, Stream: model.LogStream(r.Stream), Offset: r.ByteOffset, Data: r.Data}
	}
	return out, nil
}

// TaskLogChunkReplace implements [store.Executor]: a delete and an upsert in
// one transaction.
func (e *executor) TaskLogChunkReplace(ctx context.Context, params *store.TaskLogChunkReplaceParams) (int, error) {
	if len(params.Data) > store.MaxTaskLogChunkBytes {
		return 0, fmt.Errorf("replace log chunks of %s: %d bytes is more than a chunk holds", params.InstanceID, len(params.Data))
	}
	var n int64
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		if _, err := e.q.TaskLogChunkReplaceDelete(ctx, w, &dbsqlc.TaskLogChunkReplaceDeleteParams{
			InstanceID: params.InstanceID.String(),
			Stream:     string(params.Stream),
			FromOffset: params.FromOffset,
			Length:     int64(len(params.Data)),
		}); err != nil {
			return err
		}
		var err error
		n, err = e.q.TaskLogChunkReplace(ctx, w, &dbsqlc.TaskLogChunkReplaceParams{
			InstanceID: params.InstanceID.String(),
			Stream:     string(params.Stream),
			FromOffset: params.FromOffset,
			Data:       params.Data,
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("replace log chunks of %s: %w", params.InstanceID, e.interpretError(err))
	}
	return int(n), nil
}
