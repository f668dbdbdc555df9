package tasklog

import (
	"io"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

func TestStore(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *Store {
		t.Helper()
		s, err := New(t.TempDir())
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	}
	read := func(t *testing.T, s *Store, id uuid.UUID, stream model.LogStream) string {
		t.Helper()
		r, _, err := s.Open(id, stream)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(b)
	}

	t.Run("DuplicatesAndReorderingLandInPlace", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		id := uuid.New()
		for _, c := range []struct {
			off  int64
			data string
		}{{6, "world\n"}, {0, "hello "}, {0, "hello "}, {6, "world\n"}} {
			if _, err := s.Write(id, model.Stdout, c.off, []byte(c.data)); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		if got := read(t, s, id, model.Stdout); got != "hello world\n" {
			t.Errorf("stdout = %q, want %q", got, "hello world\n")
		}
		if got := read(t, s, id, model.Stderr); got != "" {
			t.Errorf("stderr = %q, want empty", got)
		}
		if n, _ := s.Size(id, model.Stdout); n != 12 {
			t.Errorf("Size = %d, want 12", n)
		}
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		if _, err := s.Write(uuid.New(), "stdin", 0, []byte("x")); err == nil {
			t.Errorf("Write(stdin) = nil, want an error")
		}
		if _, err := s.Write(uuid.New(), model.Stdout, MaxStreamBytes, []byte("x")); err == nil {
			t.Errorf("Write past the stream bound = nil, want an error")
		}
	})

	t.Run("DeleteRemovesBothStreams", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		id := uuid.New()
		for _, st := range []model.LogStream{model.Stdout, model.Stderr} {
			if _, err := s.Write(id, st, 0, []byte("x")); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		if err := s.Delete(id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if n, _ := s.Size(id, model.Stderr); n != 0 {
			t.Errorf("Size after Delete = %d, want 0", n)
		}
	})
}
