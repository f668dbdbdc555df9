package agent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// openTestOutbox opens an outbox on dir, closed at the end of the test.
func openTestOutbox(t *testing.T, dir string, maxMsgs, maxBytes int, segmentBytes int64) (*outbox, *journalLoad) {
	t.Helper()
	o := newOutbox(maxMsgs, maxBytes)
	o.segmentBytes = segmentBytes
	load, err := o.open(t.Context(), dir)
	if err != nil {
		t.Fatalf("open outbox: %v", err)
	}
	t.Cleanup(func() { _ = o.close() })
	return o, load
}

// live returns the outbox's messages after syncing them.
func live(t *testing.T, o *outbox) []outMsg {
	t.Helper()
	if err := o.sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	var out []outMsg
	for m, ok := o.next(0); ok; m, ok = o.next(m.seq) {
		out = append(out, m)
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestJournal(t *testing.T) {
	t.Parallel()
	logMsg := func(n int) *protocol.TaskLog {
		return &protocol.TaskLog{InstanceID: uuid.New(), Stream: model.Stdout, Data: bytes.Repeat([]byte("x"), n)}
	}
	add := func(t *testing.T, o *outbox, kind protocol.Kind, payload any, force bool) {
		t.Helper()
		if ok, err := o.add(kind, payload, force); !ok || err != nil {
			t.Fatalf("add %s = %v, %v", kind, ok, err)
		}
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o, load := openTestOutbox(t, dir, 100, 1<<20, 0)
		if load.runID == "" || load.seq != 0 || len(load.msgs) != 0 {
			t.Fatalf("new journal = %+v, want a run id and nothing else", load)
		}
		id := uuid.New()
		add(t, o, protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: id, PID: 42}, true)
		add(t, o, protocol.KindTaskLog, logMsg(10), false)
		add(t, o, protocol.KindTaskDone, &protocol.TaskDone{InstanceID: id, Status: model.InstanceSucceeded}, true)
		want := live(t, o)
		if err := o.close(); err != nil {
			t.Fatalf("close: %v", err)
		}

		o2, load2 := openTestOutbox(t, dir, 100, 1<<20, 0)
		if load2.runID != load.runID {
			t.Errorf("run id after reopening = %q, want %q", load2.runID, load.runID)
		}
		got := live(t, o2)
		if len(got) != 3 || !slices.EqualFunc(got, want, func(a, b outMsg) bool {
			return a.seq == b.seq && a.id == b.id && a.kind == b.kind && bytes.Equal(a.payload, b.payload)
		}) {
			t.Fatalf("reloaded %+v, want %+v", got, want)
		}
		add(t, o2, protocol.KindTaskLog, logMsg(1), false)
		if o2.lastSeq() != 4 {
			t.Errorf("next sequence after reloading = %d, want 4", o2.lastSeq())
		}
	})

	t.Run("LogsWaitForSyncResultsDoNot", func(t *testing.T) {
		t.Parallel()
		o, _ := openTestOutbox(t, t.TempDir(), 100, 1<<20, 0)
		add(t, o, protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: uuid.New()}, true)
		add(t, o, protocol.KindTaskLog, logMsg(1), false)
		if _, ok := o.next(0); ok {
			t.Errorf("a start or a log chunk could be sent before it was synced")
		}
		add(t, o, protocol.KindTaskDone, &protocol.TaskDone{InstanceID: uuid.New(), Status: model.InstanceFailed}, true)
		// Syncing the result synced what came before it too.
		if m, ok := o.next(0); !ok || m.seq != 1 {
			t.Errorf("next(0) = %d, %v; want 1 once the result was synced", m.seq, ok)
		}
		if m, ok := o.next(2); !ok || m.seq != 3 {
			t.Errorf("next(2) = %d, %v; want the result at once", m.seq, ok)
		}
	})

	t.Run("TornTailDropped", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o, _ := openTestOutbox(t, dir, 100, 1<<20, 0)
		for range 3 {
			add(t, o, protocol.KindTaskLog, logMsg(100), false)
		}
		if err := o.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		segs := segments(t, dir)
		if len(segs) != 1 {
			t.Fatalf("%d segments, want 1", len(segs))
		}
		// A crash in the middle of the third record's write.
		st, err := os.Stat(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(segs[0], st.Size()-30); err != nil {
			t.Fatal(err)
		}

		o2, load := openTestOutbox(t, dir, 100, 1<<20, 0)
		if load.numTorn != 1 {
			t.Errorf("numTorn = %d, want 1", load.numTorn)
		}
		if got := live(t, o2); len(got) != 2 || got[1].seq != 2 {
			t.Fatalf("reloaded %d messages, want the first two", len(got))
		}
		// The torn record was cut off: what follows is readable.
		add(t, o2, protocol.KindTaskLog, logMsg(5), false)
		if err := o2.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		o3, load3 := openTestOutbox(t, dir, 100, 1<<20, 0)
		if got := live(t, o3); load3.numTorn != 0 || len(got) != 3 || got[2].seq != 3 {
			t.Errorf("after appending past the cut: %d messages, %d torn; want 3 and 0", len(got), load3.numTorn)
		}
	})

	t.Run("CorruptRecordDetectedByChecksum", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o, _ := openTestOutbox(t, dir, 100, 1<<20, 0)
		add(t, o, protocol.KindTaskLog, logMsg(100), false)
		add(t, o, protocol.KindTaskLog, logMsg(100), false)
		if err := o.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		seg := segments(t, dir)[0]
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-10] ^= 0xff // a byte of the second record's payload
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		o2, load := openTestOutbox(t, dir, 100, 1<<20, 0)
		if got := live(t, o2); load.numTorn != 1 || len(got) != 1 {
			t.Errorf("reloaded %d messages with %d torn, want 1 and 1", len(got), load.numTorn)
		}
	})

	t.Run("AcksRemoveWholeSegments", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		// About three 1 KiB messages per segment.
		o, _ := openTestOutbox(t, dir, 100, 1<<20, 5000)
		for range 9 {
			add(t, o, protocol.KindTaskLog, logMsg(1000), false)
		}
		if n := len(segments(t, dir)); n != 3 {
			t.Fatalf("%d segments for 9 messages, want 3", n)
		}
		// Acking into the second segment frees only the first.
		if n, err := o.ack(5); n != 5 || err != nil {
			t.Fatalf("ack(5) = %d, %v", n, err)
		}
		if n := len(segments(t, dir)); n != 2 {
			t.Errorf("%d segments after acking 5 of 9, want 2", n)
		}
		if err := o.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		o2, load := openTestOutbox(t, dir, 100, 1<<20, 5000)
		got := live(t, o2)
		if len(got) != 4 || got[0].seq != 6 || load.seq != 9 {
			t.Fatalf("reloaded %d messages from %d, counter %d; want 4 from 6, counter 9: acks must survive", len(got), got[0].seq, load.seq)
		}
		// Acking everything keeps only the segment being written, whose
		// name keeps the counter.
		if _, err := o2.ack(9); err != nil {
			t.Fatalf("ack(9): %v", err)
		}
		if n := len(segments(t, dir)); n != 1 {
			t.Errorf("%d segments with nothing unacknowledged, want 1", n)
		}
		if err := o2.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		o3, load3 := openTestOutbox(t, dir, 100, 1<<20, 5000)
		add(t, o3, protocol.KindTaskLog, logMsg(1), false)
		if len(load3.msgs) != 0 || o3.lastSeq() != 10 {
			t.Errorf("after acking all and reopening: %d messages, next sequence %d; want none and 10", len(load3.msgs), o3.lastSeq())
		}
	})

	t.Run("BoundsHoldOnDisk", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o, _ := openTestOutbox(t, dir, 2, 1<<20, 0)
		add(t, o, protocol.KindTaskLog, logMsg(1), false)
		add(t, o, protocol.KindTaskLog, logMsg(1), false)
		if ok, _ := o.add(protocol.KindTaskLog, logMsg(1), false); ok {
			t.Errorf("log chunk over the bound accepted")
		}
		add(t, o, protocol.KindTaskDone, &protocol.TaskDone{InstanceID: uuid.New(), Status: model.InstanceSucceeded}, true)
		if err := o.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		o2, _ := openTestOutbox(t, dir, 2, 1<<20, 0)
		if o2.len() != 3 {
			t.Errorf("reloaded %d messages, want the two chunks and the result", o2.len())
		}
		if ok, _ := o2.add(protocol.KindTaskLog, logMsg(1), false); ok {
			t.Errorf("log chunk over the bound accepted after reloading")
		}
		o2.ack(3)
		if ok, _ := o2.add(protocol.KindTaskLog, logMsg(1), false); !ok {
			t.Errorf("log chunk refused after the ack made room")
		}
	})

	t.Run("InUseByAnotherAgent", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		openTestOutbox(t, dir, 100, 1<<20, 0)
		o := newOutbox(100, 1<<20)
		if _, err := o.open(t.Context(), dir); !errors.Is(err, errJournalInUse) {
			t.Errorf("second open = %v, want %v", err, errJournalInUse)
		}
	})

	t.Run("DiskFailureFallsBackToMemory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o, load := openTestOutbox(t, dir, 100, 1<<20, 0)
		add(t, o, protocol.KindTaskLog, logMsg(1), false)
		// The disk goes away under the journal.
		o.journal.mu.Lock()
		_ = o.journal.f.Close()
		o.journal.mu.Unlock()
		ok, err := o.add(protocol.KindTaskDone, &protocol.TaskDone{InstanceID: uuid.New(), Status: model.InstanceSucceeded}, true)
		if !ok || err == nil {
			t.Fatalf("add on a failed disk = %v, %v; want kept, with an error", ok, err)
		}
		if o.persistent() {
			t.Errorf("still persistent after the failure")
		}
		if got := live(t, o); len(got) != 2 {
			t.Errorf("%d messages can be sent, want both", len(got))
		}
		if err := o.close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		// The next start discards the journal and begins a new run: the
		// sequences assigned in memory were never on disk.
		o2, load2 := openTestOutbox(t, dir, 100, 1<<20, 0)
		if load2.runID == load.runID || load2.numDiscarded != 1 || o2.len() != 0 || load2.seq != 0 {
			t.Errorf("after a failure: run id %q (was %q), %d discarded, %d messages, counter %d; want a new run from scratch",
				load2.runID, load.runID, load2.numDiscarded, o2.len(), load2.seq)
		}
		// The failed outbox stays in memory: it does not reopen.
		if l, err := o.open(t.Context(), dir); l != nil || err != nil {
			t.Errorf("reopening a failed outbox = %v, %v; want nil, nil", l, err)
		}
	})
}

func TestLockFileWait(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T, path string) *os.File {
		t.Helper()
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}

	t.Run("GivesUpAfterLockWait", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "lock")
		if err := lockFileWait(t.Context(), open(t, path)); err != nil {
			t.Fatalf("first lock: %v", err)
		}
		other := open(t, path)
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			err := lockFileWait(t.Context(), other)
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				t.Errorf("second lock = %v, want EWOULDBLOCK", err)
			}
			if waited := time.Since(start); waited != lockWait {
				t.Errorf("gave up after %v, want %v", waited, lockWait)
			}
		})
	})

	t.Run("TakesALockReleasedMeanwhile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "lock")
		holder, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := lockFileWait(t.Context(), holder); err != nil {
			t.Fatalf("first lock: %v", err)
		}
		other := open(t, path)
		synctest.Test(t, func(t *testing.T) {
			go func() {
				time.Sleep(100 * time.Millisecond)
				holder.Close() // releases the flock
			}()
			start := time.Now()
			if err := lockFileWait(t.Context(), other); err != nil {
				t.Errorf("lock after release = %v", err)
			}
			if waited := time.Since(start); waited < 100*time.Millisecond || waited >= lockWait {
				t.Errorf("took the lock after %v, want soon after its release at 100ms", waited)
			}
		})
	})
}
