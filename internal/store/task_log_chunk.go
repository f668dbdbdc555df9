package store

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// PrepareTaskLogChunks checks the items of a TaskLogChunkInsertMany for the
// drivers and returns those to write: one per instance, stream and offset
// (the longest, which holds the others' bytes, since one statement cannot
// write a row twice), without empty ones, in their first order. It returns
// an error naming the first chunk with a bad stream, a negative offset or
// more than MaxTaskLogChunkBytes.
func PrepareTaskLogChunks(items []*model.TaskLogChunk) ([]*model.TaskLogChunk, error) {
	type key struct {
		id     uuid.UUID
		stream model.LogStream
		offset int64
	}
	at := make(map[key]int, len(items))
	out := make([]*model.TaskLogChunk, 0, len(items))
	for _, c := range items {
		switch {
		case c.Stream != model.Stdout && c.Stream != model.Stderr:
			return nil, fmt.Errorf("log chunk of %s: unknown stream %q", c.InstanceID, c.Stream)
		case c.Offset < 0 || len(c.Data) > MaxTaskLogChunkBytes:
			return nil, fmt.Errorf("log chunk of %s at %d of %d bytes is out of bounds", c.InstanceID, c.Offset, len(c.Data))
		case len(c.Data) == 0:
			continue
		}
		k := key{c.InstanceID, c.Stream, c.Offset}
		if i, ok := at[k]; ok {
			if len(c.Data) > len(out[i].Data) {
				out[i] = c
			}
			continue
		}
		at[k] = len(out)
		out = append(out, c)
	}
	return out, nil
}

// TaskLogChunkLimit returns the chunks a TaskLogChunkList may return for
// limit: limit, or MaxPageLimit when it is not positive.
func TaskLogChunkLimit(limit int) int {
	if limit <= 0 {
		return MaxPageLimit
	}
	return limit
}
