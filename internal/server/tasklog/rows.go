package tasklog

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// chunkRows keeps output in the database, one sched_task_log_chunk row per
// chunk, and the streams' sizes and finish marks in sched_task_log, so
// every server sharing the database reads and follows every log.
type chunkRows struct {
	st store.Store
}

// errNoInstance refuses a chunk of an instance that does not exist (its
// job was deleted meanwhile).
var errNoInstance = errors.New("tasklog: no such task instance")

// flush stores every chunk and marks the finishes in one statement of ex,
// the caller's transaction: a batch holding a run's last chunks and its end
// costs one round trip, and lands whole or not at all.
func (r *chunkRows) flush(ctx context.Context, ex store.Executor, b *Batch) error {
	if ex == nil {
		ex = r.st
	}
	var items []*model.TaskLogChunk
	b.pending(func(_ int, c *model.TaskLogChunk) { items = append(items, c) })
	got, err := ex.TaskLogChunkInsertMany(ctx, &store.TaskLogChunkInsertManyParams{Items: items, FinishInstanceIDs: b.finish})
	if err != nil {
		return err
	}
	logs := make(map[uuid.UUID]*model.TaskLog, len(got))
	for _, l := range got {
		logs[l.InstanceID] = l
	}
	var lookupErr error
	b.pending(func(i int, c *model.TaskLogChunk) {
		l := logs[c.InstanceID]
		if l == nil && len(c.Data) == 0 && lookupErr == nil {
			// Empty chunks are not sent; an instance with only those has
			// no metadata back.
			l, lookupErr = getLog(ctx, ex, c.InstanceID)
		}
		if l == nil {
			b.results[i].err = errNoInstance
			return
		}
		size := l.StdoutBytes
		if c.Stream == model.Stderr {
			size = l.StderrBytes
		}
		b.results[i].size = size
		// A stored chunk raised the size to its end at least; a log
		// finished before this batch took nothing, so a chunk reaching
		// past its size had new bytes.
		if end := c.Offset + int64(len(c.Data)); l.FinishedAt != nil && end > size {
			b.results[i].err = fmt.Errorf("chunk at %d of %d bytes past %d stored: %w", c.Offset, len(c.Data), size, ErrFinished)
		}
	})
	if lookupErr != nil {
		return lookupErr
	}
	for _, id := range b.finish {
		// A log finished twice (a done report resent) is packed twice,
		// which only reads it again.
		if l := logs[id]; l != nil && l.StdoutBytes+l.StderrBytes >= packMinBytes {
			b.packable = append(b.packable, id)
		}
	}
	return nil
}

// packMinBytes is the smallest log worth packing. A smaller one holds few
// rows and nothing PostgreSQL would compress, so the reads that packing
// costs would buy nothing; the many runs that print a line or two skip it.
const packMinBytes = 2 << 10

// committed has nothing to do: flush wrote the finish marks with the rest.
func (r *chunkRows) committed(*Batch) {}

// getLog returns an instance's log metadata; one with no output yet has
// zero sizes and is not finished.
func getLog(ctx context.Context, ex store.Executor, id uuid.UUID) (*model.TaskLog, error) {
	l, err := ex.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: id})
	if errors.Is(err, store.ErrNotFound) {
		return &model.TaskLog{InstanceID: id}, nil
	}
	return l, err
}

func (r *chunkRows) finished(ctx context.Context, id uuid.UUID) (bool, error) {
	l, err := getLog(ctx, r.st, id)
	if err != nil {
		return false, err
	}
	return l.FinishedAt != nil, nil
}

func (r *chunkRows) size(ctx context.Context, id uuid.UUID, stream model.LogStream) (int64, error) {
	l, err := getLog(ctx, r.st, id)
	if err != nil {
		return 0, err
	}
	if stream == model.Stderr {
		return l.StderrBytes, nil
	}
	return l.StdoutBytes, nil
}

func (r *chunkRows) openAt(ctx context.Context, id uuid.UUID, stream model.LogStream, offset int64) (io.ReadCloser, int64, error) {
	size, err := r.size(ctx, id, stream)
	if err != nil {
		return nil, 0, err
	}
	if offset >= size {
		return emptyReader{}, size, nil
	}
	return &rowReader{ra: r.readerAt(ctx, id, stream, size), pos: offset}, size, nil
}

func (r *chunkRows) tailOffset(ctx context.Context, id uuid.UUID, stream model.LogStream, n int) (offset, size int64, err error) {
	if size, err = r.size(ctx, id, stream); err != nil {
		return 0, 0, err
	}
	if offset, err = tailStart(r.readerAt(ctx, id, stream, size), size, n); err != nil {
		return 0, 0, fmt.Errorf("tail log: %w", err)
	}
	return offset, size, nil
}

func (r *chunkRows) deleteMany(ctx context.Context, ids []uuid.UUID) error {
	if _, err := r.st.TaskLogDeleteMany(ctx, &store.TaskLogDeleteManyParams{InstanceIDs: ids}); err != nil {
		return err
	}
	return nil
}

// readPage bounds the bytes one query reads.
const readPage = 1 << 20

// rowsReaderAt reads a stream's chunks as bytes. It keeps ctx because
// io.ReaderAt has none; it lives no longer than the call that made it.
type rowsReaderAt struct {
	ctx    context.Context
	ex     store.Executor
	id     uuid.UUID
	stream model.LogStream
	// end is the stream's size when it was opened: asking past it would
	// make the database look for a chunk that does not exist.
	end int64
}

func (r *chunkRows) readerAt(ctx context.Context, id uuid.UUID, stream model.LogStream, end int64) *rowsReaderAt {
	return &rowsReaderAt{ctx: ctx, ex: r.st, id: id, stream: stream, end: end}
}

// ReadAt implements io.ReaderAt up to the stream's size at open.
func (r *rowsReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.readSome(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readSome reads what one query returns into p from off, at least one
// byte unless the stream ends first (io.EOF). Chunks are assembled by
// offset: parts already read are skipped, and a byte no chunk holds reads
// as zero, like the hole of a sparse file. It stops at a gap after bytes
// were read, since a chunk nested in a longer one can hide that longer
// one's tail from the query; the next call asks from there.
func (r *rowsReaderAt) readSome(p []byte, off int64) (int, error) {
	if off >= r.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.end-off)]
	chunks, err := r.ex.TaskLogChunkList(r.ctx, &store.TaskLogChunkListParams{
		InstanceID: r.id, Stream: r.stream, FromOffset: off, MaxBytes: int64(min(len(p), readPage)),
	})
	if err != nil {
		return 0, fmt.Errorf("read log: %w", err)
	}
	n, pos := 0, off
	for _, c := range chunks {
		end := c.Offset + int64(len(c.Data))
		if end <= pos {
			continue // overlaps what was read
		}
		if c.Offset > pos {
			if n > 0 {
				break
			}
			z := int(min(c.Offset-pos, int64(len(p))))
			clear(p[:z])
			n, pos = z, pos+int64(z)
			if n == len(p) {
				break
			}
		}
		m := copy(p[n:], c.Data[pos-c.Offset:])
		n, pos = n+m, pos+int64(m)
		if n == len(p) {
			break
		}
	}
	if n == 0 {
		// Deleted meanwhile: the stream ends here.
		return 0, io.EOF
	}
	return n, nil
}

// rowReader reads a stream sequentially.
type rowReader struct {
	ra  *rowsReaderAt
	pos int64
}

func (r *rowReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.ra.readSome(p, r.pos)
	r.pos += int64(n)
	return n, err
}

func (r *rowReader) Close() error { return nil }

// Segments that packing merges chunks into: it closes one once it holds
// segmentTarget bytes, and never lets one pass segmentMax, so a segment
// stays far below MaxChunkBytes (which reads rely on) and a range read
// decompresses little. Segments pass the ~2 KB at which PostgreSQL
// compresses a value (TOAST), which a line-sized chunk never does, and
// each row saved is ~70 bytes of row header and index entry.
const (
	segmentTarget = 256 << 10
	segmentMax    = 1 << 20
)

// pack merges each stream's chunks into segments.
func (r *chunkRows) pack(ctx context.Context, id uuid.UUID) error {
	l, err := getLog(ctx, r.st, id)
	if err != nil {
		return err
	}
	for _, stream := range streams {
		size := l.StdoutBytes
		if stream == model.Stderr {
			size = l.StderrBytes
		}
		if err := r.compactStream(ctx, id, stream, size); err != nil {
			return fmt.Errorf("%s: %w", stream, err)
		}
	}
	return nil
}

// compactStream walks a finished stream of size bytes in offset order and
// replaces each run of chunks, up to a segment, by one row. A replacement
// deletes only chunks wholly inside the new row, so whatever the chunks
// look like (overlapping resends, holes) no byte is lost, and each
// replacement is one statement: a reader sees the old rows or the new one,
// the same bytes. Segments end at chunk ends and at holes, which stay
// holes.
func (r *chunkRows) compactStream(ctx context.Context, id uuid.UUID, stream model.LogStream, size int64) error {
	var (
		seg      []byte
		segStart int64
		pieces   int // chunks, or parts of them, in seg
		pos      int64
	)
	closeSegment := func() error {
		if pieces > 1 {
			if _, err := r.st.TaskLogChunkReplace(ctx, &store.TaskLogChunkReplaceParams{InstanceID: id, Stream: stream, FromOffset: segStart, Data: seg}); err != nil {
				return err
			}
		}
		seg, pieces, segStart = seg[:0], 0, pos
		return nil
	}
	for pos < size {
		chunks, err := r.st.TaskLogChunkList(ctx, &store.TaskLogChunkListParams{InstanceID: id, Stream: stream, FromOffset: pos, MaxBytes: segmentMax})
		if err != nil {
			return err
		}
		moved := false
		for _, c := range chunks {
			end := c.Offset + int64(len(c.Data))
			if end <= pos {
				continue
			}
			if c.Offset > pos {
				if moved {
					break // a gap after bytes: ask again from pos
				}
				// A hole: nothing holds pos, so the segment ends here.
				if err := closeSegment(); err != nil {
					return err
				}
				pos, segStart = c.Offset, c.Offset
			}
			piece := c.Data[pos-c.Offset:]
			if len(seg) > 0 && len(seg)+len(piece) > segmentMax {
				if err := closeSegment(); err != nil {
					return err
				}
			}
			seg = append(seg, piece...)
			pieces++
			pos, moved = end, true
			if len(seg) >= segmentTarget {
				if err := closeSegment(); err != nil {
					return err
				}
			}
		}
		if !moved {
			break // deleted meanwhile
		}
	}
	return closeSegment()
}
