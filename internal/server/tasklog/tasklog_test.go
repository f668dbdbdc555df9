package tasklog

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
)

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// filePath returns where the file backend keeps a stream.
func filePath(s *Store, id uuid.UUID, stream model.LogStream) string {
	return s.b.(*files).path(id, stream)
}

// TestFiles covers what only the file backend does: gzip files, and what
// survives a restart.
func TestFiles(t *testing.T) {
	t.Parallel()

	// A stream worth compressing: packMinBytes or more.
	big := strings.Repeat("0123456789abcdef\n", packMinBytes/16)

	t.Run("CompressionReplacesThePlainFile", func(t *testing.T) {
		t.Parallel()
		s := setup(t).store
		id := uuid.New()
		mustWrite(t, s, id, model.Stdout, 0, big)
		compress(t, s, id)
		p := filePath(s, id, model.Stdout)
		if exists(p) || !exists(p+gzExt) {
			t.Fatalf("after compression: plain %v, gzip %v; want only gzip", exists(p), exists(p+gzExt))
		}
		if _, err := s.Write(t.Context(), id, model.Stderr, 0, []byte("late")); err == nil {
			t.Errorf("late Write = nil, want ErrFinished")
		}
		if exists(p) || exists(filePath(s, id, model.Stderr)) {
			t.Errorf("a late chunk reopened a plain file")
		}
	})

	t.Run("CompressedLogStaysFinishedAfterRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := uuid.New()
		mustWrite(t, b.store, id, model.Stdout, 0, big)
		compress(t, b.store, id)
		again, err := New(b.dir)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if finished, _ := again.Finished(t.Context(), id); !finished {
			t.Errorf("Finished = false after a restart, want true from the gzip file")
		}
		if n, err := again.Write(t.Context(), id, model.Stdout, 0, []byte(big)); err != nil || n != int64(len(big)) {
			t.Errorf("duplicate Write after a restart = %d, %v; want %d, nil", n, err, len(big))
		}
		if exists(filePath(again, id, model.Stdout)) {
			t.Errorf("duplicate Write after a restart reopened the plain file")
		}
		if finished, _ := again.Finished(t.Context(), uuid.New()); finished {
			t.Errorf("Finished(unknown) = true")
		}
	})

	t.Run("SmallLogIsSealedNotCompressedAndStaysFinishedAfterRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := uuid.New()
		mustWrite(t, b.store, id, model.Stdout, 0, "done\n")
		compress(t, b.store, id)
		p := filePath(b.store, id, model.Stdout)
		st, err := os.Stat(p)
		if err != nil || exists(p+gzExt) || exists(p+gzExt+tmpExt) {
			t.Fatalf("after packing: plain %v, gzip %v; want only the plain file", err, exists(p+gzExt))
		}
		if !sealed(st.Mode()) {
			t.Errorf("plain file mode %v, want it sealed (%v)", st.Mode(), os.FileMode(sealedMode))
		}
		again, err := New(b.dir)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if finished, _ := again.Finished(t.Context(), id); !finished {
			t.Errorf("Finished = false after a restart, want true from the sealed file")
		}
		if n, err := again.Write(t.Context(), id, model.Stdout, 0, []byte("done\n")); err != nil || n != 5 {
			t.Errorf("duplicate Write after a restart = %d, %v; want 5, nil", n, err)
		}
		if _, err := again.Write(t.Context(), id, model.Stdout, 5, []byte("more\n")); !errors.Is(err, ErrFinished) {
			t.Errorf("Write of new bytes after a restart = %v, want ErrFinished", err)
		}
		if got, _ := readAt(t, again, id, model.Stdout, 0); got != "done\n" {
			t.Errorf("log after a refused write = %q, want %q", got, "done\n")
		}
	})

	t.Run("DeleteRemovesEitherForm", func(t *testing.T) {
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
			if err := s.Delete(t.Context(), id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			for _, st := range streams {
				p := filePath(s, id, st)
				if exists(p) || exists(p+gzExt) {
					t.Errorf("%s of %s still stored after Delete", st, id)
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
			p := filePath(s, id, model.Stderr)
			if !exists(p) || exists(p+gzExt) {
				t.Fatalf("a running log was compressed")
			}
			mustFinish(t, s, id)
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
		mustFinish(t, s, id) // queued; no compressor runs yet
		if err := s.Delete(t.Context(), id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		compressAfter := NewCompressor(s, lifecycletest.WarnLogger(t))
		compressAfter.TestSignals.Init()
		if err := compressAfter.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer compressAfter.Stop()
		compressAfter.TestSignals.Compressed.Wait(t)
		p := filePath(s, id, model.Stdout)
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
