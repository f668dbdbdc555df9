package tasklog

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Batch collects the chunks and finishes that go with one transaction of
// the caller, so a burst of small chunks costs one statement with the
// database rather than one per chunk. Use it in three steps: Add and Finish
// while reading reports, Flush inside the transaction, Committed once it
// committed (followers are woken then, when the bytes are visible). A batch
// whose transaction rolled back is dropped; the next one writes again,
// which chunks' offsets make harmless. A Batch is not safe for concurrent
// use.
type Batch struct {
	s       *Store
	chunks  []*model.TaskLogChunk
	results []chunkResult // by chunk
	finish  []uuid.UUID
	// finishEmpty lists finishes that wake followers only.
	finishEmpty []uuid.UUID
	// packable lists the logs this batch newly finished, for compression.
	packable []uuid.UUID
	flushed  bool
}

// chunkResult is what became of one chunk: its stream's size after it, or
// why it was not stored.
type chunkResult struct {
	size int64
	err  error
}

// ChunkError is a chunk a batch did not store, and why.
type ChunkError struct {
	Chunk *model.TaskLogChunk
	Err   error
}

// Error implements error.
func (e *ChunkError) Error() string {
	return fmt.Sprintf("log chunk of %s %s at %d: %v", e.Chunk.InstanceID, e.Chunk.Stream, e.Chunk.Offset, e.Err)
}

// Unwrap returns the reason, such as [ErrFinished].
func (e *ChunkError) Unwrap() error { return e.Err }

// NewBatch returns an empty batch for the store.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// Add queues a chunk. A chunk that is out of bounds is refused at once
// (see [Batch.Failed]).
func (b *Batch) Add(c *model.TaskLogChunk) {
	var err error
	switch {
	case c.Stream != model.Stdout && c.Stream != model.Stderr:
		err = fmt.Errorf("unknown stream %q", c.Stream)
	case c.Offset < 0 || len(c.Data) > MaxChunkBytes || c.Offset+int64(len(c.Data)) > MaxStreamBytes:
		err = fmt.Errorf("chunk at %d of %d bytes is out of bounds", c.Offset, len(c.Data))
	}
	b.chunks = append(b.chunks, c)
	b.results = append(b.results, chunkResult{err: err})
}

// Finish queues the finish of an instance's log; see [Store.Finish]. The
// batch's chunks are stored before it.
func (b *Batch) Finish(id uuid.UUID) { b.finish = append(b.finish, id) }

// FinishEmpty queues the finish of the log of a run that printed nothing
// (its agent says so): followers are told as by Finish, but the database
// is not written, since an empty log has no bytes to protect and its run's
// final status and usage already say it is complete. Most runs of a busy
// scheduler print nothing; this spares each a statement.
func (b *Batch) FinishEmpty(id uuid.UUID) { b.finishEmpty = append(b.finishEmpty, id) }

// Pending reports whether Flush has anything to store.
func (b *Batch) Pending() bool { return len(b.chunks) > 0 || len(b.finish) > 0 }

// Flush stores the batch with ex, the caller's transaction (nil runs
// outside one): the database backend inserts every chunk in one statement
// and marks the finishes in another; the file backend writes the files and
// records the streams' sizes with ex. It returns an error when the
// transaction should roll back; a chunk that cannot be stored is reported
// by Failed instead.
func (b *Batch) Flush(ctx context.Context, ex store.Executor) error {
	if len(b.chunks) == 0 && len(b.finish) == 0 {
		// Nothing to write; FinishEmpty needs only Committed.
		b.flushed = true
		return nil
	}
	if err := b.s.b.flush(ctx, ex, b); err != nil {
		return fmt.Errorf("store output: %w", err)
	}
	b.flushed = true
	return nil
}

// Committed wakes the followers of the batch's instances, here and on
// other servers, and queues finished logs for compression. Call it once
// the transaction Flush ran in committed.
func (b *Batch) Committed() {
	if !b.flushed {
		return
	}
	b.s.b.committed(b)
	finished := make(map[uuid.UUID]bool, len(b.finish)+len(b.finishEmpty))
	for _, id := range b.finish {
		finished[id] = true
	}
	for _, id := range b.finishEmpty {
		finished[id] = true
	}
	grown := map[uuid.UUID]bool{}
	for i, c := range b.chunks {
		if b.results[i].err == nil && len(c.Data) > 0 && !finished[c.InstanceID] && !grown[c.InstanceID] {
			grown[c.InstanceID] = true
			b.s.wake(c.InstanceID, false)
		}
	}
	for id := range finished {
		b.s.wake(id, true)
	}
	for _, id := range b.packable {
		b.s.queueCompression(id)
	}
}

// Failed returns the chunks the batch did not store, with why: out of
// bounds, for a finished log ([ErrFinished]), or for an instance that does
// not exist. It is complete after Flush.
func (b *Batch) Failed() []*ChunkError {
	var out []*ChunkError
	for i, r := range b.results {
		if r.err != nil {
			out = append(out, &ChunkError{Chunk: b.chunks[i], Err: r.err})
		}
	}
	return out
}

// pending calls fn for each chunk not refused yet, with its index.
func (b *Batch) pending(fn func(i int, c *model.TaskLogChunk)) {
	for i, c := range b.chunks {
		if b.results[i].err == nil {
			fn(i, c)
		}
	}
}
