package agent

import (
	"os"
	"slices"
	"testing"

	"github.com/google/uuid"
)

func TestRunMarks(t *testing.T) {
	t.Parallel()

	sorted := func(ids []uuid.UUID) []uuid.UUID {
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return ids
	}
	listOf := func(t *testing.T, m *runMarks) []uuid.UUID {
		t.Helper()
		ids, err := m.list()
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return sorted(ids)
	}

	t.Run("AddRemoveSurviveReopen", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		m := newRunMarks(dir)
		a, b, c := uuid.New(), uuid.New(), uuid.New()
		for _, id := range []uuid.UUID{a, b, c} {
			if err := m.add(id); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.remove(b); err != nil {
			t.Fatal(err)
		}
		// Removing what is not marked writes nothing.
		if err := m.remove(uuid.New()); err != nil {
			t.Fatal(err)
		}
		if err := m.close(); err != nil {
			t.Fatal(err)
		}
		if got, want := listOf(t, newRunMarks(dir)), sorted([]uuid.UUID{a, c}); !slices.Equal(got, want) {
			t.Errorf("marks after reopen = %v, want %v", got, want)
		}
		if fi, err := os.Stat(m.path); err != nil || fi.Size() != int64(4*markRecordBytes) {
			t.Errorf("file = %v, %v; want 4 records", fi, err)
		}
	})

	t.Run("TornRecordIsIgnoredAndTrimmed", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		m := newRunMarks(dir)
		a := uuid.New()
		if err := m.add(a); err != nil {
			t.Fatal(err)
		}
		if err := m.close(); err != nil {
			t.Fatal(err)
		}
		// A crash mid-write leaves part of a record.
		f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte{markAdd, 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		m2 := newRunMarks(dir)
		if got := listOf(t, m2); !slices.Equal(got, []uuid.UUID{a}) {
			t.Errorf("marks = %v, want [%v]", got, a)
		}
		// The next record must not be read shifted by the torn bytes.
		b := uuid.New()
		if err := m2.add(b); err != nil {
			t.Fatal(err)
		}
		if got, want := listOf(t, m2), sorted([]uuid.UUID{a, b}); !slices.Equal(got, want) {
			t.Errorf("marks = %v, want %v", got, want)
		}
		if err := m2.close(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CompactionKeepsLiveMarksAndBoundsTheFile", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		m := newRunMarks(dir)
		keep := []uuid.UUID{uuid.New(), uuid.New()}
		for _, id := range keep {
			if err := m.add(id); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 * minMarkRecordsToCompact {
			id := uuid.New()
			if err := m.add(id); err != nil {
				t.Fatal(err)
			}
			if err := m.remove(id); err != nil {
				t.Fatal(err)
			}
		}
		fi, err := os.Stat(m.path)
		if err != nil {
			t.Fatal(err)
		}
		if limit := int64(minMarkRecordsToCompact * markRecordBytes); fi.Size() > limit {
			t.Errorf("file holds %d bytes after %d runs, want at most %d", fi.Size(), 3*minMarkRecordsToCompact, limit)
		}
		if err := m.close(); err != nil {
			t.Fatal(err)
		}
		if got := listOf(t, newRunMarks(dir)); !slices.Equal(got, sorted(keep)) {
			t.Errorf("marks after compactions = %v, want %v", got, sorted(keep))
		}
		if _, err := os.Stat(m.path + ".tmp"); !os.IsNotExist(err) {
			t.Errorf("temporary file left: %v", err)
		}
	})
}
