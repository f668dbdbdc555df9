package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"
)

// runMarks remembers the runs in flight, from the moment a run fires until
// its result is in the outbox (or, for a run the server gave away, until it
// ends), in one append-only file, DataDir/outbox/running.marks. A run still
// marked at start names a run the agent lost by dying: its process was
// killed with the agent's cgroup, or lives on orphaned, and either way no
// result will come, so the agent reports it Lost (reason agent_restarted).
//
// The file is a sequence of 17-byte records, '+' or '-' and an instance id,
// each written by one write(2), so a crash of the agent process keeps every
// record written before it; a record torn by a crash mid-write is ignored.
// The file is rewritten with only the live marks once it holds many more
// records than marks. (An earlier layout kept one empty file per run: at a
// few hundred runs a second, creating and unlinking those inodes cost the
// agent most of a core in the file system.)
//
// Marks are not synced: a crash of the agent process keeps them, and after
// a crash of the machine the server's reconciliation (DESIGN §6) marks the
// runs the agent no longer reports lost instead.
type runMarks struct {
	path string

	mu      sync.Mutex
	f       *os.File // open for appending once loaded; nil before
	live    map[uuid.UUID]struct{}
	records int // records in the file
}

const (
	markRecordBytes = 1 + len(uuid.UUID{})
	markAdd         = '+'
	markRemove      = '-'
	// minMarkRecordsToCompact keeps small files as they are: rewriting
	// costs a create and a rename, which is what the log avoids.
	minMarkRecordsToCompact = 4096
)

// newRunMarks returns the marks kept in dir (the outbox directory).
func newRunMarks(dir string) *runMarks {
	return &runMarks{path: filepath.Join(dir, "running.marks")}
}

// add marks id as running.
func (m *runMarks) add(id uuid.UUID) error {
	return m.write(markAdd, id)
}

// remove forgets id's mark.
func (m *runMarks) remove(id uuid.UUID) error {
	return m.write(markRemove, id)
}

func (m *runMarks) write(op byte, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.loadLocked(); err != nil {
		return err
	}
	if op == markRemove {
		if _, ok := m.live[id]; !ok {
			return nil
		}
		delete(m.live, id)
	} else {
		m.live[id] = struct{}{}
	}
	var rec [markRecordBytes]byte
	rec[0] = op
	copy(rec[1:], id[:])
	if _, err := m.f.Write(rec[:]); err != nil {
		return fmt.Errorf("write run mark: %w", err)
	}
	m.records++
	if m.records >= minMarkRecordsToCompact && m.records > 4*len(m.live) {
		return m.compactLocked()
	}
	return nil
}

// loadLocked reads the file into live and opens it for appending, once.
func (m *runMarks) loadLocked() error {
	if m.f != nil {
		return nil
	}
	live, records, err := readMarks(m.path)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open run marks: %w", err)
	}
	if err := f.Truncate(int64(records * markRecordBytes)); err != nil {
		// A torn record left at the end would misalign every later one.
		_ = f.Close()
		return fmt.Errorf("trim run marks: %w", err)
	}
	m.f, m.live, m.records = f, live, records
	return nil
}

// compactLocked replaces the file with one holding only the live marks.
func (m *runMarks) compactLocked() error {
	buf := make([]byte, 0, len(m.live)*markRecordBytes)
	for id := range m.live {
		buf = append(buf, markAdd)
		buf = append(buf, id[:]...)
	}
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o600); err != nil {
		return fmt.Errorf("compact run marks: %w", err)
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return fmt.Errorf("compact run marks: %w", err)
	}
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open run marks: %w", err)
	}
	_ = m.f.Close()
	m.f, m.records = f, len(m.live)
	return nil
}

// list returns the marked runs, as the file holds them.
func (m *runMarks) list() ([]uuid.UUID, error) {
	live, _, err := readMarks(m.path)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	return ids, nil
}

// close closes the file; the marks stay on disk.
func (m *runMarks) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	return err
}

// readMarks replays the file at path: the live marks and the number of
// whole records before the first torn or unknown one. A missing file holds
// no marks.
func readMarks(path string) (map[uuid.UUID]struct{}, int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[uuid.UUID]struct{}{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read run marks: %w", err)
	}
	live := map[uuid.UUID]struct{}{}
	records := 0
	for ; len(data) >= markRecordBytes; data = data[markRecordBytes:] {
		id := uuid.UUID(data[1:markRecordBytes])
		switch data[0] {
		case markAdd:
			live[id] = struct{}{}
		case markRemove:
			delete(live, id)
		default:
			return live, records, nil
		}
		records++
	}
	return live, records, nil
}
