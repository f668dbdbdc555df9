package tasklog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
)

type testBundle struct {
	dir   string
	store *Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testBundle{dir: dir, store: s}
}

// readAt reads a stream from offset to its end.
func readAt(t *testing.T, s *Store, id uuid.UUID, stream model.LogStream, offset int64) (string, int64) {
	t.Helper()
	r, size, err := s.OpenAt(id, stream, offset)
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
	n, err := s.Write(id, stream, off, []byte(data))
	if err != nil {
		t.Fatalf("Write(%d, %q): %v", off, data, err)
	}
	return n
}

// compress finishes id's log and compresses it with a running Compressor.
func compress(t *testing.T, s *Store, id uuid.UUID) {
	t.Helper()
	c := NewCompressor(s, lifecycletest.WarnLogger(t))
	c.TestSignals.Init()
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer c.Stop()
	s.Finish(id)
	if got := c.TestSignals.Compressed.Wait(t); got != id {
		t.Fatalf("compressed %s, want %s", got, id)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestStore(t *testing.T) {
	t.Parallel()

	t.Run("DuplicatesAndReorderingLandInPlace", func(t *testing.T) {
		t.Parallel()
		s := setup(t).store
		id := uuid.New()
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
		if n, _ := s.Size(id, model.Stdout); n != 12 {
			t.Errorf("Size = %d, want 12", n)
		}
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		s := setup(t).store
		if _, err := s.Write(uuid.New(), "stdin", 0, []byte("x")); err == nil {
			t.Errorf("Write(stdin) = nil, want an error")
		}
		if _, err := s.Write(uuid.New(), model.Stdout, MaxStreamBytes, []byte("x")); err == nil {
			t.Errorf("Write past the stream bound = nil, want an error")
		}
		if _, _, err := s.OpenAt(uuid.New(), model.Stdout, -1); err == nil {
			t.Errorf("OpenAt(-1) = nil, want an error")
		}
	})

	// Reads give the same answers on a plain stream and on its gzip form.
	for _, compressed := range []bool{false, true} {
		t.Run(fmt.Sprintf("RangesAndTail/Compressed=%v", compressed), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := b.store
			id := uuid.New()
			var want strings.Builder
			for i := range 5000 { // past one tail block
				fmt.Fprintf(&want, "line %04d\n", i)
			}
			want.WriteString("no newline at the end")
			all := want.String()
			mustWrite(t, s, id, model.Stdout, 0, all)
			if compressed {
				compress(t, s, id)
				p := s.path(id, model.Stdout)
				if exists(p) || !exists(p+gzExt) {
					t.Fatalf("after compression: plain %v, gzip %v; want only gzip", exists(p), exists(p+gzExt))
				}
			}
			if n, err := s.Size(id, model.Stdout); err != nil || n != int64(len(all)) {
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
				off, size, err := s.TailOffset(id, model.Stdout, tc.n)
				if err != nil {
					t.Fatalf("TailOffset(%d): %v", tc.n, err)
				}
				if got := all[off:size]; got != tc.want {
					t.Errorf("tail %d = %d bytes from %d, want %d", tc.n, len(got), off, len(tc.want))
				}
			}
			if off, size, err := s.TailOffset(id, model.Stderr, 3); err != nil || off != 0 || size != 0 {
				t.Errorf("TailOffset of an empty stream = %d, %d, %v; want 0, 0, nil", off, size, err)
			}
		})
	}

	t.Run("FinishedLogIgnoresDuplicatesAndRefusesNewBytes", func(t *testing.T) {
		t.Parallel()
		for _, compressed := range []bool{false, true} {
			b := setup(t)
			s := b.store
			id := uuid.New()
			mustWrite(t, s, id, model.Stdout, 0, "hello ")
			mustWrite(t, s, id, model.Stdout, 6, "world\n")
			if compressed {
				compress(t, s, id)
			} else {
				s.Finish(id)
			}
			if !s.Finished(id) {
				t.Errorf("Finished = false after Finish")
			}
			p := s.path(id, model.Stdout)
			// A chunk resent after the done report: bytes stored already.
			if n, err := s.Write(id, model.Stdout, 6, []byte("world\n")); err != nil || n != 12 {
				t.Errorf("duplicate Write (compressed %v) = %d, %v; want 12, nil", compressed, n, err)
			}
			if _, err := s.Write(id, model.Stdout, 12, []byte("more")); !errors.Is(err, ErrFinished) {
				t.Errorf("Write of new bytes (compressed %v) = %v, want ErrFinished", compressed, err)
			}
			if _, err := s.Write(id, model.Stderr, 0, []byte("late")); !errors.Is(err, ErrFinished) {
				t.Errorf("Write to the empty stream (compressed %v) = %v, want ErrFinished", compressed, err)
			}
			if compressed && (exists(p) || exists(s.path(id, model.Stderr))) {
				t.Errorf("a late chunk reopened a plain file")
			}
			if got, _ := readAt(t, s, id, model.Stdout, 0); got != "hello world\n" {
				t.Errorf("stdout (compressed %v) = %q, want %q", compressed, got, "hello world\n")
			}
		}
	})

	t.Run("CompressedLogStaysFinishedAfterRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := uuid.New()
		mustWrite(t, b.store, id, model.Stdout, 0, "done\n")
		compress(t, b.store, id)
		again, err := New(b.dir)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if !again.Finished(id) {
			t.Errorf("Finished = false after a restart, want true from the gzip file")
		}
		if n, err := again.Write(id, model.Stdout, 0, []byte("done\n")); err != nil || n != 5 {
			t.Errorf("duplicate Write after a restart = %d, %v; want 5, nil", n, err)
		}
		if exists(again.path(id, model.Stdout)) {
			t.Errorf("duplicate Write after a restart reopened the plain file")
		}
		if other := uuid.New(); again.Finished(other) {
			t.Errorf("Finished(unknown) = true")
		}
	})

	t.Run("DeleteRemovesBothStreamsInEitherForm", func(t *testing.T) {
		t.Parallel()
		s := setup(t).store
		plain, packed := uuid.New(), uuid.New()
		for _, id := range []uuid.UUID{plain, packed} {
			for _, st := range streams {
				mustWrite(t, s, id, st, 0, "x")
			}
		}
		compress(t, s, packed)
		for _, id := range []uuid.UUID{plain, packed} {
			if err := s.Delete(id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			for _, st := range streams {
				p := s.path(id, st)
				if exists(p) || exists(p+gzExt) {
					t.Errorf("%s of %s still stored after Delete", st, id)
				}
				if n, _ := s.Size(id, st); n != 0 {
					t.Errorf("Size after Delete = %d, want 0", n)
				}
			}
		}
	})
}

func TestTailStartAgreesForwardAndBackward(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", tailBlock+7) + "\n"
	for _, in := range []string{"", "\n", "\n\n", "a", "a\n", "a\nb", "a\nb\n", "a\n\nb\n\n", long + long + "tail", "\n" + long} {
		for n := 0; n <= 5; n++ {
			back, err := tailStart(strings.NewReader(in), int64(len(in)), n)
			if err != nil {
				t.Fatalf("tailStart: %v", err)
			}
			fwd, err := tailStartStream(strings.NewReader(in), int64(len(in)), n)
			if err != nil {
				t.Fatalf("tailStartStream: %v", err)
			}
			if back != fwd {
				t.Errorf("tail %d of %q: backward %d, forward %d", n, in[:min(len(in), 20)], back, fwd)
			}
			// The tail has n lines, or all of them.
			tail := in[back:]
			lines := strings.Count(tail, "\n")
			if tail != "" && !strings.HasSuffix(tail, "\n") {
				lines++
			}
			if total := strings.Count(in, "\n") + btoi(in != "" && !strings.HasSuffix(in, "\n")); lines != min(n, total) {
				t.Errorf("tail %d of %q = %q with %d lines", n, in[:min(len(in), 20)], tail[:min(len(tail), 20)], lines)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCompressor(t *testing.T) {
	t.Parallel()

	t.Run("CompressesOnlyAfterFinish", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := setup(t).store
			c := NewCompressor(s, lifecycletest.WarnLogger(t))
			if err := c.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer c.Stop()
			id := uuid.New()
			payload := bytes.Repeat([]byte("0123456789abcdef\n"), 4096)
			mustWrite(t, s, id, model.Stderr, 0, string(payload))
			synctest.Wait()
			p := s.path(id, model.Stderr)
			if !exists(p) || exists(p+gzExt) {
				t.Fatalf("a running log was compressed")
			}
			s.Finish(id)
			synctest.Wait() // the compressor is idle again
			if exists(p) || !exists(p+gzExt) || exists(p+gzExt+tmpExt) {
				t.Fatalf("after Finish: plain %v, gzip %v, temp %v; want only gzip", exists(p), exists(p+gzExt), exists(p+gzExt+tmpExt))
			}
			if st, _ := os.Stat(p + gzExt); st.Size() >= int64(len(payload))/4 {
				t.Errorf("gzip file is %d bytes for %d bytes of repetitive output", st.Size(), len(payload))
			}
			if got, _ := readAt(t, s, id, model.Stderr, 0); got != string(payload) {
				t.Errorf("read after compression differs (%d bytes, want %d)", len(got), len(payload))
			}
		})
	})

	t.Run("DeleteDuringQueueLeavesNothing", func(t *testing.T) {
		t.Parallel()
		s := setup(t).store
		id := uuid.New()
		mustWrite(t, s, id, model.Stdout, 0, "x\n")
		s.Finish(id) // queued; no compressor runs yet
		if err := s.Delete(id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		compressAfter := NewCompressor(s, lifecycletest.WarnLogger(t))
		compressAfter.TestSignals.Init()
		if err := compressAfter.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer compressAfter.Stop()
		compressAfter.TestSignals.Compressed.Wait(t)
		p := s.path(id, model.Stdout)
		if exists(p) || exists(p+gzExt) {
			t.Errorf("a deleted log came back: plain %v, gzip %v", exists(p), exists(p+gzExt))
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		s := setup(t).store
		mk := func() *Compressor { return NewCompressor(s, lifecycletest.WarnLogger(t)) }
		lifecycletest.Stress(t.Context(), t, mk())
		lifecycletest.StopsImmediately(t.Context(), t, mk())
		lifecycletest.RespectsContextCancellation(t.Context(), t, mk())
		lifecycletest.CanRestart(t.Context(), t, mk())
	})
}
