// Package tasklog stores the output of task instances as files under the
// server's data directory, one file per instance and stream. Chunks carry
// their byte offset in the stream, so a chunk that arrives twice is written
// twice to the same place and a chunk that arrives early leaves a hole that
// the missing one fills: duplicates and reordering after a reconnect cost
// nothing.
//
// Once a run is over its log is finished ([Store.Finish]): later chunks that
// repeat stored bytes are ignored, chunks with new bytes are refused with
// [ErrFinished], followers are told (see [Broker]), and a [Compressor]
// replaces each stream file by a gzip file of the same name plus ".gz".
// Every read works on either form.
package tasklog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// MaxChunkBytes bounds one chunk, so a bad offset cannot grow a file without
// limit in one write.
const MaxChunkBytes = 4 << 20

// MaxStreamBytes bounds one stream of one instance; agents cap output well
// below it. It also keeps a stream's size exact in the gzip trailer, which
// holds it modulo 2^32.
const MaxStreamBytes = 1 << 30

// ErrFinished is returned by [Store.Write] for a chunk that would add bytes
// to a stream whose log was finished: the run is over, so the chunk comes
// from an agent that lost it. Chunks that only repeat stored bytes are
// ignored without an error.
var ErrFinished = errors.New("tasklog: output after the run finished")

// gzExt is added to a stream file's name once it is compressed.
const gzExt = ".gz"

// Streams lists the streams of a run.
var streams = [...]model.LogStream{model.Stdout, model.Stderr}

// Store reads and writes instance output. It is safe for concurrent use.
// Writes are serialised; reads take no lock.
type Store struct {
	dir    string
	broker *Broker

	// mu serialises writes with finishing and with the last step of a
	// compression, so no write lands in a file being replaced.
	mu sync.Mutex
	// finished remembers logs finished recently; older ones are known by
	// their gzip files.
	finished recentSet

	// compress queues finished instances for the Compressor. It is bounded:
	// when full, a log stays plain, which reads the same.
	compress chan uuid.UUID
}

// compressQueue bounds the instances waiting for compression.
const compressQueue = 1024

// New returns a Store keeping files under dir, creating it if needed. Its
// logs are compressed only while a [Compressor] runs for it.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	return &Store{
		dir:      dir,
		broker:   NewBroker(),
		finished: newRecentSet(50_000),
		compress: make(chan uuid.UUID, compressQueue),
	}, nil
}

// Broker returns the broker the store tells about new output and finished
// logs.
func (s *Store) Broker() *Broker { return s.broker }

func (s *Store) path(id uuid.UUID, stream model.LogStream) string {
	hex := id.String()
	// Spread files over directories by the random tail of the UUIDv7; its
	// head is a timestamp and would put everything in one place.
	return filepath.Join(s.dir, hex[len(hex)-2:], hex+"."+string(stream))
}

// Write stores data at offset in the instance's stream and returns the
// stream's size afterwards. After [Store.Finish], a chunk whose bytes are
// all stored already is ignored, and one that would add bytes returns
// [ErrFinished]; neither reopens a compressed stream.
func (s *Store) Write(id uuid.UUID, stream model.LogStream, offset int64, data []byte) (int64, error) {
	if stream != model.Stdout && stream != model.Stderr {
		return 0, fmt.Errorf("unknown stream %q", stream)
	}
	if offset < 0 || len(data) > MaxChunkBytes || offset+int64(len(data)) > MaxStreamBytes {
		return 0, fmt.Errorf("chunk at %d of %d bytes is out of bounds", offset, len(data))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.path(id, stream)
	if s.finished.has(id) {
		return s.late(p, offset, data)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		// New, or compressed: a compressed stream's log is finished even
		// when the server restarted since.
		if _, gzErr := os.Stat(p + gzExt); gzErr == nil {
			return s.late(p, offset, data)
		}
		if err = os.MkdirAll(filepath.Dir(p), 0o750); err == nil {
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o640)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if len(data) > 0 {
		if _, err := f.WriteAt(data, offset); err != nil {
			return 0, fmt.Errorf("write log: %w", err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat log: %w", err)
	}
	if len(data) > 0 {
		s.broker.Notify(id)
	}
	return st.Size(), nil
}

// late handles a chunk for a finished log at path p: a duplicate is
// ignored, anything else refused.
func (s *Store) late(p string, offset int64, data []byte) (int64, error) {
	size, err := sizeOf(p)
	if err != nil {
		return 0, err
	}
	if offset+int64(len(data)) <= size {
		return size, nil
	}
	return size, fmt.Errorf("chunk at %d of %d bytes past %d stored: %w", offset, len(data), size, ErrFinished)
}

// Finish marks the instance's log as complete: the run is over and every
// chunk its agent sent before reporting the end was written. Followers are
// told, later chunks are ignored or refused (see [Store.Write]), and the
// streams are queued for compression. Finishing twice is harmless.
//
// Call it only after the instance's last chunk was written: a Write of the
// same instance that runs concurrently may be lost.
func (s *Store) Finish(id uuid.UUID) {
	s.mu.Lock()
	added := s.finished.add(id)
	s.mu.Unlock()
	s.broker.Finish(id)
	if !added {
		return
	}
	select {
	case s.compress <- id:
	default:
		// The compressor is behind or not running; the log stays plain.
	}
}

// Finished reports whether the instance's log was finished: recently by
// this process, or at any time if a stream of it was compressed. A log with
// no output that was finished long ago, or before a restart, reads as not
// finished.
func (s *Store) Finished(id uuid.UUID) bool {
	s.mu.Lock()
	recent := s.finished.has(id)
	s.mu.Unlock()
	if recent {
		return true
	}
	for _, stream := range streams {
		if _, err := os.Stat(s.path(id, stream) + gzExt); err == nil {
			return true
		}
	}
	return false
}

// Size returns the stored size of a stream, 0 when nothing was stored.
func (s *Store) Size(id uuid.UUID, stream model.LogStream) (int64, error) {
	return sizeOf(s.path(id, stream))
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
	f, err := os.Open(p + gzExt)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	return gzSize(f)
}

// Open returns a reader for a stream from its start, and its size. A stream
// with no output reads as empty.
func (s *Store) Open(id uuid.UUID, stream model.LogStream) (io.ReadCloser, int64, error) {
	return s.OpenAt(id, stream, 0)
}

// OpenAt returns a reader for a stream from offset, and the stream's size
// when it was opened. The reader of a stream still being written may read
// past that size; callers that want a consistent answer stop there. An
// offset at or past the size reads as empty.
func (s *Store) OpenAt(id uuid.UUID, stream model.LogStream, offset int64) (io.ReadCloser, int64, error) {
	if offset < 0 {
		return nil, 0, fmt.Errorf("negative offset %d", offset)
	}
	p := s.path(id, stream)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return openGz(p+gzExt, offset)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat log: %w", err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("seek log: %w", err)
	}
	return f, st.Size(), nil
}

// TailOffset returns where the last n lines of a stream begin, and the
// size it looked at. A last line without a newline counts as a line; n of
// zero or less gives the size (nothing).
func (s *Store) TailOffset(id uuid.UUID, stream model.LogStream, n int) (offset, size int64, err error) {
	p := s.path(id, stream)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return tailGz(p+gzExt, n)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("stat log: %w", err)
	}
	offset, err = tailStart(f, st.Size(), n)
	if err != nil {
		return 0, 0, fmt.Errorf("tail log: %w", err)
	}
	return offset, st.Size(), nil
}

// Delete removes both streams of an instance, in either form.
func (s *Store) Delete(id uuid.UUID) error {
	// The lock keeps a compression from renaming its result into place
	// after the plain file is gone, which would leave an orphan.
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, stream := range streams {
		p := s.path(id, stream)
		for _, name := range []string{p, p + gzExt, p + gzExt + tmpExt} {
			if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) Close() error             { return nil }

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
