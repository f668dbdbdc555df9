package tasklog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// gzExt is added to a stream file's name once it is compressed.
const gzExt = ".gz"

// files keeps output in files under dir, one per instance and stream.
// Writes are serialised; reads take no lock.
type files struct {
	dir string

	// mu serialises writes with finishing and with the last step of a
	// compression, so no write lands in a file being replaced.
	mu sync.Mutex
	// done remembers logs finished recently; older ones are known by their
	// gzip files.
	done recentSet
}

func newFiles(dir string) (*files, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	return &files{dir: dir, done: newRecentSet(50_000)}, nil
}

func (f *files) path(id uuid.UUID, stream model.LogStream) string {
	hex := id.String()
	// Spread files over directories by the random tail of the UUIDv7; its
	// head is a timestamp and would put everything in one place.
	return filepath.Join(f.dir, hex[len(hex)-2:], hex+"."+string(stream))
}

// flush writes the chunks and, in a transaction, records the sizes of the
// streams written in sched_task_log. Finishes wait for committed.
func (f *files) flush(ctx context.Context, ex store.Executor, b *Batch) error {
	sizes := map[uuid.UUID]*store.TaskLogUpsert{}
	var order []uuid.UUID
	b.pending(func(i int, c *model.TaskLogChunk) {
		size, err := f.write(c.InstanceID, c.Stream, c.Offset, c.Data)
		b.results[i] = chunkResult{size: size, err: err}
		if err != nil || ex == nil {
			return
		}
		it := sizes[c.InstanceID]
		if it == nil {
			it = &store.TaskLogUpsert{InstanceID: c.InstanceID}
			// The other stream's size comes from its file. A stream that
			// cannot be read costs this chunk, not the caller's batch.
			if it.StdoutBytes, err = f.size(ctx, c.InstanceID, model.Stdout); err == nil {
				it.StderrBytes, err = f.size(ctx, c.InstanceID, model.Stderr)
			}
			if err != nil {
				b.results[i].err = err
				return
			}
			sizes[c.InstanceID] = it
			order = append(order, c.InstanceID)
		}
		if c.Stream == model.Stdout {
			it.StdoutBytes = size
		} else {
			it.StderrBytes = size
		}
	})
	if len(order) == 0 {
		return nil
	}
	items := make([]*store.TaskLogUpsert, len(order))
	for i, id := range order {
		items[i] = sizes[id]
	}
	if _, err := ex.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{Items: items}); err != nil {
		return fmt.Errorf("log sizes: %w", err)
	}
	return nil
}

// committed finishes the batch's logs: only in memory, so only once the
// caller's transaction holds the runs' ends.
func (f *files) committed(b *Batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range b.finish {
		if f.done.add(id) {
			b.packable = append(b.packable, id)
		}
	}
	// Remembering costs nothing here, and keeps refusing late output.
	for _, id := range b.finishEmpty {
		f.done.add(id)
	}
}

// write stores data at offset in a stream file and returns the file's
// size afterwards.
func (f *files) write(id uuid.UUID, stream model.LogStream, offset int64, data []byte) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.path(id, stream)
	if f.done.has(id) {
		return f.late(p, offset, data)
	}
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		// New, or compressed: a compressed stream's log is finished even
		// when the server restarted since.
		if _, gzErr := os.Stat(p + gzExt); gzErr == nil {
			return f.late(p, offset, data)
		}
		if err = os.MkdirAll(filepath.Dir(p), 0o750); err == nil {
			fh, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o640)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat log: %w", err)
	}
	if sealed(st.Mode()) {
		// Finished before a restart, and too small to compress.
		return f.late(p, offset, data)
	}
	if len(data) > 0 {
		if _, err := fh.WriteAt(data, offset); err != nil {
			return 0, fmt.Errorf("write log: %w", err)
		}
	}
	return max(st.Size(), offset+int64(len(data))), nil
}

// late handles a chunk for a finished log at path p: a duplicate is
// ignored, anything else refused.
func (f *files) late(p string, offset int64, data []byte) (int64, error) {
	size, err := sizeOf(p)
	if err != nil {
		return 0, err
	}
	if offset+int64(len(data)) <= size {
		return size, nil
	}
	return size, fmt.Errorf("chunk at %d of %d bytes past %d stored: %w", offset, len(data), size, ErrFinished)
}

func (f *files) finished(_ context.Context, id uuid.UUID) (bool, error) {
	f.mu.Lock()
	recent := f.done.has(id)
	f.mu.Unlock()
	if recent {
		return true, nil
	}
	for _, stream := range streams {
		p := f.path(id, stream)
		if _, err := os.Stat(p + gzExt); err == nil {
			return true, nil
		}
		if st, err := os.Stat(p); err == nil && sealed(st.Mode()) {
			return true, nil
		}
	}
	return false, nil
}

func (f *files) size(_ context.Context, id uuid.UUID, stream model.LogStream) (int64, error) {
	return sizeOf(f.path(id, stream))
}

// sizeOf returns the size of the stream at path p, plain or compressed.
func sizeOf(p string) (int64, error) {
	st, err := os.Stat(p)
	if err == nil {
		return st.Size(), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("stat log: %w", err)
	}
	// The compressor writes the gzip file before it removes the plain one,
	// so a stream missing here is compressed or empty.
	fh, err := os.Open(p + gzExt)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer fh.Close()
	return gzSize(fh)
}

func (f *files) openAt(_ context.Context, id uuid.UUID, stream model.LogStream, offset int64) (io.ReadCloser, int64, error) {
	p := f.path(id, stream)
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return openGz(p+gzExt, offset)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, fmt.Errorf("stat log: %w", err)
	}
	if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		fh.Close()
		return nil, 0, fmt.Errorf("seek log: %w", err)
	}
	return fh, st.Size(), nil
}

func (f *files) tailOffset(_ context.Context, id uuid.UUID, stream model.LogStream, n int) (offset, size int64, err error) {
	p := f.path(id, stream)
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return tailGz(p+gzExt, n)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("open log: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("stat log: %w", err)
	}
	offset, err = tailStart(fh, st.Size(), n)
	if err != nil {
		return 0, 0, fmt.Errorf("tail log: %w", err)
	}
	return offset, st.Size(), nil
}

func (f *files) deleteMany(_ context.Context, ids []uuid.UUID) error {
	// The lock keeps a compression from renaming its result into place
	// after the plain file is gone, which would leave an orphan.
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, id := range ids {
		for _, stream := range streams {
			p := f.path(id, stream)
			for _, name := range []string{p, p + gzExt, p + gzExt + tmpExt} {
				if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// recentSet remembers the ids added lately, up to about 2×max: when the
// current generation is full it becomes the previous one, and the previous
// one is forgotten.
type recentSet struct {
	max        int
	cur, older map[uuid.UUID]struct{}
}

func newRecentSet(max int) recentSet {
	return recentSet{max: max, cur: map[uuid.UUID]struct{}{}, older: map[uuid.UUID]struct{}{}}
}

// add adds id and reports whether it was new.
func (r *recentSet) add(id uuid.UUID) bool {
	if r.has(id) {
		return false
	}
	if len(r.cur) >= r.max {
		r.older, r.cur = r.cur, make(map[uuid.UUID]struct{}, r.max)
	}
	r.cur[id] = struct{}{}
	return true
}

func (r *recentSet) has(id uuid.UUID) bool {
	if _, ok := r.cur[id]; ok {
		return true
	}
	_, ok := r.older[id]
	return ok
}
