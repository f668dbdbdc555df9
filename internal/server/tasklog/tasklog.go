// Package tasklog stores the output of task instances. Chunks carry their
// byte offset in the stream, so a chunk that arrives twice lands on itself
// and a chunk that arrives early leaves a hole that the missing one fills:
// duplicates and reordering after a reconnect cost nothing.
//
// Two backends keep the bytes, chosen by the configuration (see [New] and
// [NewDB]); both answer every call the same way:
//
//   - Files, one per instance and stream under the server's data directory,
//     for a SQLite server asked to keep output out of its database.
//   - Rows of sched_task_log_chunk, the default, and the only choice when
//     servers share PostgreSQL: an agent may send a run's output to any
//     server (and switch servers mid-run), and any server answers for it. Each chunk is a row at its offset; a
//     resent chunk lands on its own row, and one split differently is read
//     back correctly because reads assemble by offset and skip overlaps.
//     The stream sizes and the finish mark live in sched_task_log, so every
//     server knows them.
//
// Once a run is over its log is finished ([Store.Finish]): later chunks that
// repeat stored bytes are ignored, chunks with new bytes are refused with
// [ErrFinished], followers are told (see [Broker] and [Relay]), and a
// [Compressor] packs the log: files become gzip files of the same name plus
// ".gz" (those under 2 KiB are only sealed, made read-only); rows are
// merged into segments of up to 1 MiB (see compactStream), which
// PostgreSQL's TOAST then compresses. Every read works on either form.
package tasklog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// MaxChunkBytes bounds one chunk, so a bad offset cannot grow a file without
// limit in one write, and so a read finds the chunk holding a byte within
// this distance before it.
const MaxChunkBytes = store.MaxTaskLogChunkBytes

// MaxStreamBytes bounds one stream of one instance; agents cap output well
// below it. It also keeps a stream's size exact in the gzip trailer, which
// holds it modulo 2^32.
const MaxStreamBytes = 1 << 30

// ErrFinished is returned by [Store.Write] for a chunk that would add bytes
// to a stream whose log was finished: the run is over, so the chunk comes
// from an agent that lost it. Chunks that only repeat stored bytes are
// ignored without an error.
var ErrFinished = errors.New("tasklog: output after the run finished")

// streams lists the streams of a run.
var streams = [...]model.LogStream{model.Stdout, model.Stderr}

// Store reads and writes instance output. It is safe for concurrent use.
type Store struct {
	b      backend
	broker *Broker
	// relay, once set by NewRelay, tells other servers about writes.
	relay atomic.Pointer[Relay]

	// compress queues finished instances for the Compressor. It is bounded:
	// when full, a log stays unpacked, which reads the same.
	compress chan uuid.UUID
}

// backend keeps the bytes; Store adds checks, wake-ups and compression
// around it. It is internal and may change freely.
type backend interface {
	// flush stores b's chunks, setting each one's result, and, for the
	// database, b's finish marks (setting b.packable). ex is the caller's
	// transaction, or nil outside one.
	flush(ctx context.Context, ex store.Executor, b *Batch) error
	// committed runs after the caller's transaction committed: files are
	// finished here, setting b.packable, so a rolled-back batch finishes
	// nothing.
	committed(b *Batch)
	finished(ctx context.Context, id uuid.UUID) (bool, error)
	size(ctx context.Context, id uuid.UUID, stream model.LogStream) (int64, error)
	openAt(ctx context.Context, id uuid.UUID, stream model.LogStream, offset int64) (io.ReadCloser, int64, error)
	tailOffset(ctx context.Context, id uuid.UUID, stream model.LogStream, n int) (offset, size int64, err error)
	deleteMany(ctx context.Context, ids []uuid.UUID) error
	// pack compresses a finished log.
	pack(ctx context.Context, id uuid.UUID) error
}

// compressQueue bounds the instances waiting for compression.
const compressQueue = 1024

func newStore(b backend) *Store {
	return &Store{b: b, broker: NewBroker(), compress: make(chan uuid.UUID, compressQueue)}
}

// New returns a Store keeping files under dir, creating it if needed. Its
// logs are compressed only while a [Compressor] runs for it.
func New(dir string) (*Store, error) {
	f, err := newFiles(dir)
	if err != nil {
		return nil, err
	}
	return newStore(f), nil
}

// NewDB returns a Store keeping output in st's sched_task_log_chunk rows,
// for servers sharing a database. Its logs are packed only while a
// [Compressor] runs for it.
func NewDB(st store.Store) *Store {
	if st == nil {
		panic("tasklog: NewDB needs a store")
	}
	return newStore(&chunkRows{st: st})
}

// Broker returns the broker the store tells about new output and finished
// logs.
func (s *Store) Broker() *Broker { return s.broker }

// Write stores data at offset in the instance's stream and returns the
// stream's size afterwards. After [Store.Finish], a chunk whose bytes are
// all stored already is ignored, and one that would add bytes returns
// [ErrFinished]; neither reopens a packed stream. Writes that go with a
// transaction use a [Batch] instead.
func (s *Store) Write(ctx context.Context, id uuid.UUID, stream model.LogStream, offset int64, data []byte) (int64, error) {
	b := s.NewBatch()
	b.Add(&model.TaskLogChunk{InstanceID: id, Stream: stream, Offset: offset, Data: data})
	if err := b.Flush(ctx, nil); err != nil {
		return 0, err
	}
	b.Committed()
	return b.results[0].size, b.results[0].err
}

// Finish marks the instance's log as complete: the run is over and every
// chunk its agent sent before reporting the end was written. Followers are
// told, later chunks are ignored or refused (see [Store.Write]), and the
// log is queued for compression. Finishing twice is harmless.
//
// Call it only after the instance's last chunk was written: a Write of the
// same instance that runs concurrently may be lost.
func (s *Store) Finish(ctx context.Context, id uuid.UUID) error {
	return s.FinishMany(ctx, []uuid.UUID{id})
}

// FinishMany is [Store.Finish] for several instances at once.
func (s *Store) FinishMany(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	b := s.NewBatch()
	for _, id := range ids {
		b.Finish(id)
	}
	if err := b.Flush(ctx, nil); err != nil {
		return err
	}
	b.Committed()
	return nil
}

// Finished reports whether the instance's log was finished. With files it
// knows logs finished recently by this process, and any whose stream was
// compressed; a log with no output finished long ago, or before a restart,
// reads as not finished. With the database it knows every log finished by
// Finish, on any server, but not those finished by [Batch.FinishEmpty]:
// their run's final status and usage say they are complete.
func (s *Store) Finished(ctx context.Context, id uuid.UUID) (bool, error) {
	return s.b.finished(ctx, id)
}

// Size returns the stored size of a stream, 0 when nothing was stored.
func (s *Store) Size(ctx context.Context, id uuid.UUID, stream model.LogStream) (int64, error) {
	return s.b.size(ctx, id, stream)
}

// Open returns a reader for a stream from its start, and its size. A stream
// with no output reads as empty.
func (s *Store) Open(ctx context.Context, id uuid.UUID, stream model.LogStream) (io.ReadCloser, int64, error) {
	return s.OpenAt(ctx, id, stream, 0)
}

// OpenAt returns a reader for a stream from offset, and the stream's size
// when it was opened. The reader of a stream still being written may read
// past that size; callers that want a consistent answer stop there. An
// offset at or past the size reads as empty, and a hole (a chunk not yet
// arrived) as zero bytes. The reader uses ctx for its reads.
func (s *Store) OpenAt(ctx context.Context, id uuid.UUID, stream model.LogStream, offset int64) (io.ReadCloser, int64, error) {
	if offset < 0 {
		return nil, 0, fmt.Errorf("negative offset %d", offset)
	}
	return s.b.openAt(ctx, id, stream, offset)
}

// TailOffset returns where the last n lines of a stream begin, and the
// size it looked at. A last line without a newline counts as a line; n of
// zero or less gives the size (nothing).
func (s *Store) TailOffset(ctx context.Context, id uuid.UUID, stream model.LogStream, n int) (offset, size int64, err error) {
	return s.b.tailOffset(ctx, id, stream, n)
}

// Delete removes both streams of an instance, in either form.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	return s.DeleteMany(ctx, []uuid.UUID{id})
}

// DeleteMany is [Store.Delete] for several instances at once: one
// statement with the database.
func (s *Store) DeleteMany(ctx context.Context, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	return s.b.deleteMany(ctx, ids)
}

// wake tells local followers, and through the relay those on other
// servers, that an instance's output grew or its log finished.
func (s *Store) wake(id uuid.UUID, finished bool) {
	if finished {
		s.broker.Finish(id)
	} else {
		s.broker.Notify(id)
	}
	if r := s.relay.Load(); r != nil {
		r.publish(id, finished)
	}
}

// queueCompression hands a newly finished log to the Compressor.
func (s *Store) queueCompression(id uuid.UUID) {
	select {
	case s.compress <- id:
	default:
		// The compressor is behind or not running; the log stays unpacked.
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) Close() error             { return nil }
