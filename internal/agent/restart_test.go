package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

func TestAgentRestart(t *testing.T) {
	t.Parallel()

	// The server goes away mid-run and the agent is stopped before it comes
	// back; a new agent process on the same data dir delivers the result
	// and every byte of output, once, under the same run id.
	t.Run("OutboxSurvivesRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{srv: func(fs *fakeServer) {
			fs.dropOnRunning, fs.rejectAfterDrop, fs.noAck = true, true, true
		}})
		first := recv(t, b.srv.hellos, "hello")
		gate := filepath.Join(t.TempDir(), "gate")
		d := newInstance(script(`echo before; while [ ! -f ` + gate + ` ]; do sleep 0.01; done; seq 1 5000; echo after >&2`))
		b.srv.dispatch(d)
		recv(t, b.srv.drops, "dropped connection")
		b.agent.TestSignals.Disconnected.Wait(t)
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := b.agent.TestSignals.Done.Wait(t); got.InstanceID != d.InstanceID {
			t.Fatalf("done for %s, want %s", got.InstanceID, d.InstanceID)
		}
		b.agent.Stop()

		a2, err := New(b.cfg, lifecycletest.Logger(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		a2.TestSignals.Init()
		b.srv.set(func(fs *fakeServer) { fs.reject, fs.noAck = false, false })
		if err := a2.Start(t.Context()); err != nil {
			t.Fatalf("Start after restart: %v", err)
		}
		t.Cleanup(a2.Stop)
		second := recv(t, b.srv.hellos, "hello after restart")
		if second.hello.RunID != first.hello.RunID {
			t.Errorf("run id after restart = %q, want %q kept from the outbox", second.hello.RunID, first.hello.RunID)
		}
		if second.hello.OutboxSeq < 3 {
			t.Errorf("outbox seq after restart = %d, want at least running, a log chunk and done", second.hello.OutboxSeq)
		}
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceSucceeded)
		var want strings.Builder
		want.WriteString("before\n")
		for i := 1; i <= 5000; i++ {
			fmt.Fprintf(&want, "%d\n", i)
		}
		if got := b.srv.output(d.InstanceID, model.Stdout); got != want.String() {
			t.Errorf("stdout has %d bytes, want %d", len(got), want.Len())
		}
		if got := b.srv.output(d.InstanceID, model.Stderr); got != "after\n" {
			t.Errorf("stderr = %q, want %q", got, "after\n")
		}
		// Sequences went on from the outbox's: a new run is taken, not
		// dropped as a duplicate.
		next := newInstance(script(`true`))
		b.srv.dispatch(next)
		wantStatus(t, b.srv.waitDone(t, next.InstanceID), model.InstanceSucceeded)
		b.srv.mu.Lock()
		numDup := b.srv.numDup
		b.srv.mu.Unlock()
		if n := len(b.srv.doneFor(d.InstanceID)); n != 1 || numDup != 0 {
			t.Errorf("server applied %d task.done and saw %d duplicates, want 1 and 0", n, numDup)
		}
	})

	// What an agent process that died mid-run leaves: a mark per run in
	// flight and its outbox. The next start reports each run it did not
	// finish Lost, once.
	t.Run("RunsInFlightReportedLost", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		o := newOutbox(outboxMaxMessages, outboxMaxBytes)
		load, err := o.open(t.Context(), filepath.Join(dir, "outbox"))
		if err != nil {
			t.Fatalf("open outbox: %v", err)
		}
		startedAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
		lost, finished, unstarted := uuid.New(), uuid.New(), uuid.New()
		for _, m := range []struct {
			kind    protocol.Kind
			payload any
		}{
			{protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: lost, StartedAt: startedAt, PID: 1}},
			{protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: finished, StartedAt: startedAt, PID: 2}},
			{protocol.KindTaskDone, &protocol.TaskDone{InstanceID: finished, Status: model.InstanceSucceeded, StartedAt: startedAt, FinishedAt: startedAt}},
		} {
			if ok, err := o.add(m.kind, m.payload, true); !ok || err != nil {
				t.Fatalf("add %s: %v, %v", m.kind, ok, err)
			}
		}
		if err := o.close(); err != nil {
			t.Fatalf("close outbox: %v", err)
		}
		marks := newRunMarks(filepath.Join(dir, "outbox"))
		for _, id := range []uuid.UUID{lost, finished, unstarted} {
			if err := marks.add(id); err != nil {
				t.Fatal(err)
			}
		}

		b := setup(t, &setupOpts{cfg: func(c *Config) { c.DataDir = dir }})
		if h := recv(t, b.srv.hellos, "hello"); h.hello.RunID != load.runID {
			t.Errorf("run id = %q, want %q from the outbox", h.hello.RunID, load.runID)
		}
		got := map[uuid.UUID]*protocol.TaskDone{}
		for len(got) < 3 {
			d := recv(t, b.srv.dones, "task.done")
			got[d.InstanceID] = d
		}
		wantStatus(t, got[finished], model.InstanceSucceeded)
		for _, tc := range []struct {
			id      uuid.UUID
			started time.Time
		}{{lost, startedAt}, {unstarted, time.Time{}}} {
			d := got[tc.id]
			wantStatus(t, d, model.InstanceLost)
			if d.Reason != reasonAgentRestarted || !d.StartedAt.Equal(tc.started) || d.FinishedAt.IsZero() {
				t.Errorf("lost run = reason %q, started %v, finished %v; want %q, %v, a finish", d.Reason, d.StartedAt, d.FinishedAt, reasonAgentRestarted, tc.started)
			}
		}
		// A later report comes after any stray repeat.
		wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
		for _, id := range []uuid.UUID{lost, finished, unstarted} {
			if n := len(b.srv.doneFor(id)); n != 1 {
				t.Errorf("%d task.done for %s, want 1", n, id)
			}
		}
		ids, err := marks.list()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id == lost || id == finished || id == unstarted {
				t.Errorf("mark of %s left after the restart", id)
			}
		}
	})

	t.Run("RunsAreMarkedWhileInFlight", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		marks := newRunMarks(filepath.Join(b.cfg.DataDir, "outbox"))
		d := newInstance(script(`sleep 300`))
		b.srv.dispatch(d)
		b.srv.waitRunning(t, d.InstanceID)
		if ids, err := marks.list(); err != nil || len(ids) != 1 || ids[0] != d.InstanceID {
			t.Errorf("marks while running = %v, %v; want the run", ids, err)
		}
		b.srv.send(protocol.KindCancel, &protocol.Cancel{InstanceID: d.InstanceID})
		// The mark goes once the result is in the outbox, just before the
		// run is forgotten.
		if got := b.agent.TestSignals.Done.Wait(t); got.InstanceID != d.InstanceID {
			t.Fatalf("done for %s, want %s", got.InstanceID, d.InstanceID)
		}
		if ids, err := marks.list(); err != nil || len(ids) != 0 {
			t.Errorf("marks after the run = %v, %v; want none", ids, err)
		}
	})

	t.Run("DataDirInUseFailsStart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		other, err := New(b.cfg, lifecycletest.Logger(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if err := other.Start(t.Context()); !errors.Is(err, errJournalInUse) {
			other.Stop()
			t.Fatalf("second agent on one data dir: Start = %v, want %v", err, errJournalInUse)
		}
	})
}

func TestAgentRemoteDrain(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	recv(t, b.srv.hellos, "hello")
	held := newInstance(script(`true`))
	held.FireAt = time.Now().Add(time.Hour)
	b.srv.dispatch(held)
	gate := filepath.Join(t.TempDir(), "gate")
	d := newInstance(script(`while [ ! -f ` + gate + ` ]; do sleep 0.01; done; echo bye`))
	b.srv.dispatch(d)
	b.srv.waitRunning(t, d.InstanceID)

	b.srv.send(protocol.KindDrain, &protocol.Drain{Reason: "maintenance", Exit: true})
	recv(t, b.agent.ExitRequested(), "exit request")
	for hb := recv(t, b.srv.heartbeats, "heartbeat"); !hb.Draining; hb = recv(t, b.srv.heartbeats, "heartbeat") {
	}
	// Unlike a server's drain, this one outlives the connection.
	b.srv.closeConn(websocket.StatusGoingAway, "")
	b.agent.TestSignals.Connected.Wait(t)
	if h := recv(t, b.srv.hellos, "hello after reconnect"); !h.hello.Draining {
		t.Errorf("hello after reconnect not draining")
	}
	if !b.agent.Status().Draining {
		t.Errorf("status not draining after reconnect")
	}

	// The owner drains the agent and exits, as hetuflow agent does.
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := b.agent.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wantStatus(t, b.srv.waitDone(t, d.InstanceID), model.InstanceSucceeded)
	if got := b.srv.output(d.InstanceID, model.Stdout); got != "bye\n" {
		t.Errorf("stdout = %q, want %q", got, "bye\n")
	}
	hds := b.srv.doneFor(held.InstanceID)
	if len(hds) != 1 || hds[0].Status != model.InstanceLost || hds[0].Reason != reasonAgentDraining {
		t.Errorf("held instance reports = %+v, want one Lost %s", hds, reasonAgentDraining)
	}
	if st := b.agent.Status(); st.Connected || st.OutboxLen != 0 || st.Running != 0 {
		t.Errorf("status after drain = %+v, want stopped with nothing left", st)
	}
}
