package tasklog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

type testBundle struct {
	store *Store
	// dir holds the files of the file backend; empty for the database.
	dir string
	// db is the database of the rows backend; nil for files.
	db store.Store
}

// newID returns the id of an instance that may have output: any id for
// files, an inserted instance for the database (chunks reference it).
func (b *testBundle) newID(t *testing.T) uuid.UUID {
	t.Helper()
	if b.db == nil {
		return uuid.New()
	}
	return storetest.TaskInstance(t.Context(), t, b.db, nil).ID
}

// setup returns a file-backed store.
func setup(t *testing.T) *testBundle {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testBundle{dir: dir, store: s}
}

func setupRows(t *testing.T, db store.Store) *testBundle {
	t.Helper()
	return &testBundle{store: NewDB(db), db: db}
}

// backends lists every backend, each opening a fresh store per test.
func backends() []struct {
	name  string
	setup func(t *testing.T) *testBundle
} {
	return []struct {
		name  string
		setup func(t *testing.T) *testBundle
	}{
		{"Files", setup},
		{"RowsSQLite", func(t *testing.T) *testBundle { return setupRows(t, teststore.SQLite(t)) }},
		{"RowsPostgres", func(t *testing.T) *testBundle { return setupRows(t, teststore.Postgres(t)) }},
	}
}

// eachBackend runs fn as a parallel subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, setup func(t *testing.T) *testBundle)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.setup)
		})
	}
}

// readAt reads a stream from offset to its end.
func readAt(t *testing.T, s *Store, id uuid.UUID, stream model.LogStream, offset int64) (string, int64) {
	t.Helper()
	r, size, err := s.OpenAt(t.Context(), id, stream, offset)
	if err != nil {
		t.Fatalf("OpenAt(%d): %v", offset, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b), size
}

func mustWrite(t *testing.T, s *Store, id uuid.UUID, stream model.LogStream, off int64, data string) int64 {
	t.Helper()
	n, err := s.Write(t.Context(), id, stream, off, []byte(data))
	if err != nil {
		t.Fatalf("Write(%d, %q): %v", off, data, err)
	}
	return n
}

func mustFinish(t *testing.T, s *Store, id uuid.UUID) {
	t.Helper()
	if err := s.Finish(t.Context(), id); err != nil {
		t.Fatalf("Finish: %v", err)
	}
}

// compress finishes id's log and packs it with a running Compressor; a log
// in rows too small to be worth packing is only finished.
func compress(t *testing.T, s *Store, id uuid.UUID) {
	t.Helper()
	if _, ok := s.b.(*chunkRows); ok {
		out, _ := s.Size(t.Context(), id, model.Stdout)
		errs, _ := s.Size(t.Context(), id, model.Stderr)
		if out+errs < packMinBytes {
			mustFinish(t, s, id)
			return
		}
	}
	c := NewCompressor(s, lifecycletest.WarnLogger(t))
	c.TestSignals.Init()
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer c.Stop()
	mustFinish(t, s, id)
	if got := c.TestSignals.Compressed.Wait(t); got != id {
		t.Fatalf("compressed %s, want %s", got, id)
	}
}

// TestBackends runs the same cases on every backend: the Store's answers
// must not depend on where the bytes live.
func TestBackends(t *testing.T) {
	t.Parallel()
	eachBackend(t, testBackend)
}

func testBackend(t *testing.T, setup func(t *testing.T) *testBundle) {
	t.Run("DuplicatesAndReorderingLandInPlace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, id := b.store, b.newID(t)
		for _, c := range []struct {
			off  int64
			data string
		}{{6, "world\n"}, {0, "hello "}, {0, "hello "}, {6, "world\n"}} {
			mustWrite(t, s, id, model.Stdout, c.off, c.data)
		}
		if got, _ := readAt(t, s, id, model.Stdout, 0); got != "hello world\n" {
			t.Errorf("stdout = %q, want %q", got, "hello world\n")
		}
		if got, _ := readAt(t, s, id, model.Stderr, 0); got != "" {
			t.Errorf("stderr = %q, want empty", got)
		}
		if n, _ := s.Size(t.Context(), id, model.Stdout); n != 12 {
			t.Errorf("Size = %d, want 12", n)
		}
	})

	t.Run("ResendSplitDifferentlyReadsBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, id := b.store, b.newID(t)
		all := "0123456789abcdefghij"
		// The first sending, with a chunk lost; then the whole resent in
		// other pieces, one of them inside a stored chunk.
		mustWrite(t, s, id, model.Stdout, 0, all[0:5])
		mustWrite(t, s, id, model.Stdout, 5, all[5:8])
		mustWrite(t, s, id, model.Stdout, 12, all[12:20])
		mustWrite(t, s, id, model.Stdout, 0, all[0:14])
		mustWrite(t, s, id, model.Stdout, 6, all[6:7])
		for off := int64(0); off <= 20; off++ {
			if got, size := readAt(t, s, id, model.Stdout, off); got != all[off:] || size != 20 {
				t.Errorf("read from %d = %q (size %d), want %q (size 20)", off, got, size, all[off:])
			}
		}
		if off, size, err := s.TailOffset(t.Context(), id, model.Stdout, 1); err != nil || off != 0 || size != 20 {
			t.Errorf("TailOffset = %d, %d, %v; want 0, 20, nil", off, size, err)
		}
	})

	t.Run("HoleReadsAsZeros", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, id := b.store, b.newID(t)
		mustWrite(t, s, id, model.Stdout, 4, "tail")
		if got, size := readAt(t, s, id, model.Stdout, 0); got != "\x00\x00\x00\x00tail" || size != 8 {
			t.Errorf("read = %q (size %d), want four zero bytes then tail (size 8)", got, size)
		}
		mustWrite(t, s, id, model.Stdout, 0, "head")
		if got, _ := readAt(t, s, id, model.Stdout, 0); got != "headtail" {
			t.Errorf("read after the hole filled = %q, want headtail", got)
		}
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, id := b.store, b.newID(t)
		if _, err := s.Write(t.Context(), id, "stdin", 0, []byte("x")); err == nil {
			t.Errorf("Write(stdin) = nil, want an error")
		}
		if _, err := s.Write(t.Context(), id, model.Stdout, MaxStreamBytes, []byte("x")); err == nil {
			t.Errorf("Write past the stream bound = nil, want an error")
		}
		if _, err := s.Write(t.Context(), id, model.Stdout, -1, []byte("x")); err == nil {
			t.Errorf("Write at -1 = nil, want an error")
		}
		if _, _, err := s.OpenAt(t.Context(), id, model.Stdout, -1); err == nil {
			t.Errorf("OpenAt(-1) = nil, want an error")
		}
	})

	// Reads give the same answers on a plain stream and on its packed form.
	for _, packed := range []bool{false, true} {
		t.Run(fmt.Sprintf("RangesAndTail/Packed=%v", packed), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s, id := b.store, b.newID(t)
			var want strings.Builder
			for i := range 5000 { // past one tail block
				fmt.Fprintf(&want, "line %04d\n", i)
			}
			want.WriteString("no newline at the end")
			all := want.String()
			// Chunks of uneven sizes, as an agent sends them, in one batch.
			batch := s.NewBatch()
			for off, i := 0, 0; off < len(all); i++ {
				n := min(len(all)-off, 100+i%37*50)
				batch.Add(&model.TaskLogChunk{InstanceID: id, Stream: model.Stdout, Offset: int64(off), Data: []byte(all[off : off+n])})
				off += n
			}
			if err := batch.Flush(t.Context(), nil); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			batch.Committed()
			if failed := batch.Failed(); len(failed) > 0 {
				t.Fatalf("Failed = %v", failed)
			}
			if packed {
				compress(t, s, id)
			}
			if n, err := s.Size(t.Context(), id, model.Stdout); err != nil || n != int64(len(all)) {
				t.Errorf("Size = %d, %v; want %d", n, err, len(all))
			}
			for _, off := range []int64{0, 1, 10, 32 << 10, int64(len(all)) - 3, int64(len(all)), int64(len(all)) + 5} {
				got, size := readAt(t, s, id, model.Stdout, off)
				if size != int64(len(all)) {
					t.Errorf("OpenAt(%d) size = %d, want %d", off, size, len(all))
				}
				if w := all[min(off, int64(len(all))):]; got != w {
					t.Errorf("OpenAt(%d) read %d bytes, want %d", off, len(got), len(w))
				}
			}
			for _, tc := range []struct {
				n    int
				want string
			}{
				{0, ""},
				{1, "no newline at the end"},
				{2, "line 4999\nno newline at the end"},
				{5001, all},
				{100000, all},
			} {
				off, size, err := s.TailOffset(t.Context(), id, model.Stdout, tc.n)
				if err != nil {
					t.Fatalf("TailOffset(%d): %v", tc.n, err)
				}
				if got := all[off:size]; got != tc.want {
					t.Errorf("tail %d = %d bytes from %d, want %d", tc.n, len(got), off, len(tc.want))
				}
			}
			if off, size, err := s.TailOffset(t.Context(), id, model.Stderr, 3); err != nil || off != 0 || size != 0 {
				t.Errorf("TailOffset of an empty stream = %d, %d, %v; want 0, 0, nil", off, size, err)
			}
		})
	}

	t.Run("FinishedLogIgnoresDuplicatesAndRefusesNewBytes", func(t *testing.T) {
		t.Parallel()
		for _, packed := range []bool{false, true} {
			b := setup(t)
			s, id := b.store, b.newID(t)
			mustWrite(t, s, id, model.Stdout, 0, "hello ")
			mustWrite(t, s, id, model.Stdout, 6, "world\n")
			if finished, err := s.Finished(t.Context(), id); err != nil || finished {
				t.Errorf("Finished before Finish = %v, %v; want false", finished, err)
			}
			if packed {
				compress(t, s, id)
			} else {
				mustFinish(t, s, id)
			}
			if finished, err := s.Finished(t.Context(), id); err != nil || !finished {
				t.Errorf("Finished after Finish = %v, %v; want true", finished, err)
			}
			// A chunk resent after the done report: bytes stored already.
			if n, err := s.Write(t.Context(), id, model.Stdout, 6, []byte("world\n")); err != nil || n != 12 {
				t.Errorf("duplicate Write (packed %v) = %d, %v; want 12, nil", packed, n, err)
			}
			if _, err := s.Write(t.Context(), id, model.Stdout, 12, []byte("more")); !errors.Is(err, ErrFinished) {
				t.Errorf("Write of new bytes (packed %v) = %v, want ErrFinished", packed, err)
			}
			if _, err := s.Write(t.Context(), id, model.Stderr, 0, []byte("late")); !errors.Is(err, ErrFinished) {
				t.Errorf("Write to the empty stream (packed %v) = %v, want ErrFinished", packed, err)
			}
			if got, _ := readAt(t, s, id, model.Stdout, 0); got != "hello world\n" {
				t.Errorf("stdout (packed %v) = %q, want %q", packed, got, "hello world\n")
			}
			if n, _ := s.Size(t.Context(), id, model.Stderr); n != 0 {
				t.Errorf("stderr size after a refused chunk = %d, want 0", n)
			}
			mustFinish(t, s, id) // twice is harmless
		}
	})

	t.Run("DeleteRemovesBothStreams", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s := b.store
		plain, packed := b.newID(t), b.newID(t)
		for _, id := range []uuid.UUID{plain, packed} {
			for _, st := range streams {
				mustWrite(t, s, id, st, 0, "x")
				mustWrite(t, s, id, st, 1, "y")
			}
		}
		compress(t, s, packed)
		if err := s.DeleteMany(t.Context(), []uuid.UUID{plain, packed}); err != nil {
			t.Fatalf("DeleteMany: %v", err)
		}
		for _, id := range []uuid.UUID{plain, packed} {
			for _, st := range streams {
				if n, _ := s.Size(t.Context(), id, st); n != 0 {
					t.Errorf("Size after Delete = %d, want 0", n)
				}
				if got, _ := readAt(t, s, id, st, 0); got != "" {
					t.Errorf("%s after Delete = %q, want empty", st, got)
				}
			}
		}
	})

	t.Run("BatchRefusesChunksItCannotStore", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s := b.store
		done, running := b.newID(t), b.newID(t)
		mustWrite(t, s, done, model.Stdout, 0, "x")
		mustFinish(t, s, done)
		batch := s.NewBatch()
		batch.Add(&model.TaskLogChunk{InstanceID: running, Stream: model.Stdout, Offset: 0, Data: []byte("ok")})
		batch.Add(&model.TaskLogChunk{InstanceID: done, Stream: model.Stdout, Offset: 1, Data: []byte("late")})
		batch.Add(&model.TaskLogChunk{InstanceID: running, Stream: "stdin", Offset: 0, Data: []byte("?")})
		batch.Finish(running)
		sub := s.Broker().Subscribe(running)
		defer sub.Close()
		if err := batch.Flush(t.Context(), b.db); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if sub.Finished() {
			t.Errorf("followers told before Committed")
		}
		batch.Committed()
		failed := batch.Failed()
		if len(failed) != 2 || !errors.Is(failed[0], ErrFinished) || failed[1].Chunk.Stream != "stdin" {
			t.Errorf("Failed = %v, want the late chunk (ErrFinished) and the stdin one", failed)
		}
		if !sub.Finished() {
			t.Errorf("follower not told of the finish after Committed")
		}
		if got, _ := readAt(t, s, running, model.Stdout, 0); got != "ok" {
			t.Errorf("stdout = %q, want ok", got)
		}
		if finished, _ := s.Finished(t.Context(), running); !finished {
			t.Errorf("Finished = false after a batch finished it")
		}
	})
}

// TestFinishEmpty checks the finish of a run that printed nothing: its
// followers are told, and the database is not written.
func TestFinishEmpty(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, setup func(t *testing.T) *testBundle) {
		b := setup(t)
		id := b.newID(t)
		sub := b.store.Broker().Subscribe(id)
		defer sub.Close()
		batch := b.store.NewBatch()
		batch.FinishEmpty(id)
		if err := batch.Flush(t.Context(), nil); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		batch.Committed()
		if !woken(sub) || !sub.Finished() {
			t.Errorf("follower not told of the finish")
		}
		if b.db != nil {
			_, err := b.db.TaskLogGetByInstanceID(t.Context(), &store.TaskLogGetByInstanceIDParams{InstanceID: id})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("log metadata after FinishEmpty: %v, want none written", err)
			}
		}
	})
}

// TestRowsBackend covers what only the database backend does: its state is
// shared by every server, and its writes go in the caller's transaction.
func TestRowsBackend(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testRowsBackend(t, func(t *testing.T) *testBundle { return setupRows(t, o.Open(t)) })
		})
	}
}

func testRowsBackend(t *testing.T, setup func(t *testing.T) *testBundle) {
	t.Run("ServersShareOutputAndFinish", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := NewDB(b.db) // another server on the same database
		id := b.newID(t)
		mustWrite(t, b.store, id, model.Stdout, 0, "from a\n")
		mustWrite(t, other, id, model.Stdout, 7, "from b\n")
		for _, s := range []*Store{b.store, other} {
			if got, _ := readAt(t, s, id, model.Stdout, 0); got != "from a\nfrom b\n" {
				t.Errorf("read = %q, want both servers' output", got)
			}
		}
		mustFinish(t, b.store, id)
		if finished, err := other.Finished(t.Context(), id); err != nil || !finished {
			t.Errorf("Finished on the other server = %v, %v; want true", finished, err)
		}
		if _, err := other.Write(t.Context(), id, model.Stdout, 14, []byte("late")); !errors.Is(err, ErrFinished) {
			t.Errorf("late Write on the other server = %v, want ErrFinished", err)
		}
	})

	t.Run("BatchRollsBackWithTheTransaction", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.newID(t)
		errRollback := errors.New("roll back")
		batch := b.store.NewBatch()
		batch.Add(&model.TaskLogChunk{InstanceID: id, Stream: model.Stdout, Data: []byte("x")})
		batch.Finish(id)
		err := store.InTx(t.Context(), b.db, func(ex store.Executor) error {
			if err := batch.Flush(t.Context(), ex); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx = %v, want the rollback", err)
		}
		if n, _ := b.store.Size(t.Context(), id, model.Stdout); n != 0 {
			t.Errorf("Size after rollback = %d, want 0", n)
		}
		if finished, _ := b.store.Finished(t.Context(), id); finished {
			t.Errorf("Finished after rollback = true")
		}
	})

	t.Run("PackMergesChunksIntoSegments", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		s, id := b.store, b.newID(t)
		line := strings.Repeat("x", 99) + "\n"
		const lines = 4000 // 400 kB: two segments
		batch := s.NewBatch()
		for i := range lines {
			batch.Add(&model.TaskLogChunk{InstanceID: id, Stream: model.Stdout, Offset: int64(i * len(line)), Data: []byte(line)})
		}
		// A resent chunk split differently, overlapping two others.
		batch.Add(&model.TaskLogChunk{InstanceID: id, Stream: model.Stdout, Offset: 50, Data: []byte(strings.Repeat(line, 2)[50:150])})
		if err := batch.Flush(t.Context(), nil); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		compress(t, s, id)
		chunks := listAll(t, b.db, id, model.Stdout)
		if len(chunks) > 3 {
			t.Errorf("%d chunks after packing, want at most 3", len(chunks))
		}
		for _, c := range chunks {
			if len(c.Data) > segmentMax {
				t.Errorf("a segment of %d bytes, over %d", len(c.Data), segmentMax)
			}
		}
		want := strings.Repeat(line, lines)
		if got, size := readAt(t, s, id, model.Stdout, 0); got != want || size != int64(len(want)) {
			t.Errorf("read after packing: %d bytes (size %d), want %d", len(got), size, len(want))
		}
		if got, _ := readAt(t, s, id, model.Stdout, 123457); got != want[123457:] {
			t.Errorf("read from 123457 after packing differs")
		}
	})
}

// TestRowsSkipPackingSmallLogs checks that a log too small to gain from
// packing is not queued: most runs print a line or two.
func TestRowsSkipPackingSmallLogs(t *testing.T) {
	t.Parallel()
	b := setupRows(t, teststore.SQLite(t))
	small, big := b.newID(t), b.newID(t)
	mustWrite(t, b.store, small, model.Stdout, 0, "one line\n")
	mustWrite(t, b.store, big, model.Stderr, 0, strings.Repeat("x", packMinBytes))
	if err := b.store.FinishMany(t.Context(), []uuid.UUID{small, big}); err != nil {
		t.Fatalf("FinishMany: %v", err)
	}
	if n := len(b.store.compress); n != 1 {
		t.Fatalf("%d logs queued for packing, want 1", n)
	}
	if got := <-b.store.compress; got != big {
		t.Errorf("queued %s, want the big log %s", got, big)
	}
}

// listAll returns every chunk of a stream.
func listAll(t *testing.T, db store.Store, id uuid.UUID, stream model.LogStream) []*model.TaskLogChunk {
	t.Helper()
	var all []*model.TaskLogChunk
	for from := int64(0); ; {
		page, err := db.TaskLogChunkList(context.WithoutCancel(t.Context()), &store.TaskLogChunkListParams{InstanceID: id, Stream: stream, FromOffset: from})
		if err != nil {
			t.Fatalf("TaskLogChunkList: %v", err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		last := page[len(page)-1]
		from = last.Offset + int64(len(last.Data))
	}
}
