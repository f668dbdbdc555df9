package pgstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// TaskLogChunkInsertMany implements [store.Executor] in one statement.
func (e *executor) TaskLogChunkInsertMany(ctx context.Context, params *store.TaskLogChunkInsertManyParams) ([]*model.TaskLog, error) {
	items, err := store.PrepareTaskLogChunks(params.Items)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 && len(params.FinishInstanceIDs) == 0 {
		return nil, nil
	}
	arg := &dbsqlc.TaskLogChunkInsertManyParams{
		InstanceIDs:       make([]uuid.UUID, len(items)),
		Streams:           make([]string, len(items)),
		ByteOffsets:       make([]int64, len(items)),
		ChunkData:         make([][]byte, len(items)),
		FinishInstanceIDs: params.FinishInstanceIDs,
		Now:               params.Now,
	}
	for i, c := range items {
		arg.InstanceIDs[i] = c.InstanceID
		arg.Streams[i] = string(c.Stream)
		arg.ByteOffsets[i] = c.Offset
		arg.ChunkData[i] = c.Data
	}
	rows, err := e.q.TaskLogChunkInsertMany(ctx, e.db, arg)
	if err != nil {
		return nil, fmt.Errorf("insert log chunks: %w", interpretError(err))
	}
	out := make([]*model.TaskLog, len(rows))
	for i, r := range rows {
		out[i] = taskLogFromRow((*dbsqlc.SchedTaskLog)(r))
	}
	return out, nil
}

// TaskLogChunkList implements [store.Executor].
func (e *executor) TaskLogChunkList(ctx context.Context, params *store.TaskLogChunkListParams) ([]*model.TaskLogChunk, error) {
	rows, err := e.q.TaskLogChunkList(ctx, e.db, &dbsqlc.TaskLogChunkListParams{
		InstanceID:    params.InstanceID,
		Stream:        string(params.Stream),
		FromOffset:    params.FromOffset,
		MaxBytes:      params.MaxBytes,
		MaxChunkBytes: store.MaxTaskLogChunkBytes,
		MaxChunks:     int32(store.TaskLogChunkLimit(params.Limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("list log chunks of %s: %w", params.InstanceID, interpretError(err))
	}
	out := make([]*model.TaskLogChunk, len(rows))
	for i, r := range rows {
		out[i] = &model.TaskLogChunk{InstanceID: r.InstanceID, Stream: model.LogStream(r.Stream), Offset: r.ByteOffset, Data: r.Data}
	}
	return out, nil
}

// TaskLogChunkReplace implements [store.Executor] in one statement.
func (e *executor) TaskLogChunkReplace(ctx context.Context, params *store.TaskLogChunkReplaceParams) (int, error) {
	if len(params.Data) > store.MaxTaskLogChunkBytes {
		return 0, fmt.Errorf("replace log chunks of %s: %d bytes is more than a chunk holds", params.InstanceID, len(params.Data))
	}
	n, err := e.q.TaskLogChunkReplace(ctx, e.db, &dbsqlc.TaskLogChunkReplaceParams{
		InstanceID: params.InstanceID,
		Stream:     string(params.Stream),
		FromOffset: params.FromOffset,
		Data:       params.Data,
	})
	if err != nil {
		return 0, fmt.Errorf("replace log chunks of %s: %w", params.InstanceID, interpretError(err))
	}
	return int(n), nil
}
