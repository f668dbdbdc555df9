package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

func TestAgentConnection(t *testing.T) {
	t.Parallel()

	t.Run("ReconnectsAfterCleanClose", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		first := recv(t, b.srv.hellos, "hello")
		b.srv.closeConn(websocket.StatusGoingAway, "reconnect elsewhere")
		b.agent.TestSignals.Disconnected.Wait(t)
		b.agent.TestSignals.Connected.Wait(t)
		second := recv(t, b.srv.hellos, "second hello")
		if second.hello.RunID != first.hello.RunID {
			t.Errorf("run id changed across a reconnect: %s, then %s", first.hello.RunID, second.hello.RunID)
		}
		wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
	})

	// The server drops the socket right after task.running and refuses to
	// take the agent back until the run is over: every report waits in the
	// outbox and arrives, once, after the reconnect.
	for _, tc := range []struct {
		name string
		lag  uint64 // the server acknowledges less than it applied
	}{
		{"NoReportLostAcrossReconnect", 0},
		{"ResentReportsDeduplicated", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &setupOpts{srv: func(fs *fakeServer) {
				fs.dropOnRunning, fs.rejectAfterDrop, fs.noAck, fs.welcomeSeqLag = true, true, true, tc.lag
			}})
			recv(t, b.srv.hellos, "hello")
			gate := filepath.Join(t.TempDir(), "gate")
			d := newInstance(script(`echo before; while [ ! -f ` + gate + ` ]; do sleep 0.01; done; seq 1 5000; echo after >&2; exit 4`))
			b.srv.dispatch(d)
			recv(t, b.srv.drops, "dropped connection")
			b.agent.TestSignals.Disconnected.Wait(t)
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := b.agent.TestSignals.Done.Wait(t); got.InstanceID != d.InstanceID {
				t.Fatalf("done for %s, want %s", got.InstanceID, d.InstanceID)
			}
			if st := b.agent.Status(); st.Connected || st.OutboxLen < 3 {
				t.Errorf("status = %+v, want disconnected with logs and the result queued", st)
			}
			b.srv.set(func(fs *fakeServer) { fs.reject, fs.noAck = false, false })
			hello := recv(t, b.srv.hellos, "hello after reconnect")
			if hello.hello.OutboxSeq < 3 {
				t.Errorf("outbox seq = %d, want at least running, a log chunk and done", hello.hello.OutboxSeq)
			}
			done := b.srv.waitDone(t, d.InstanceID)
			wantStatus(t, done, model.InstanceFailed)
			if done.ExitCode == nil || *done.ExitCode != 4 {
				t.Errorf("exit code = %s, want 4", exitCode(done))
			}
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
			// A later run's result comes after any stray duplicate.
			wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
			if n := len(b.srv.doneFor(d.InstanceID)); n != 1 {
				t.Errorf("server applied %d task.done, want 1", n)
			}
			b.srv.mu.Lock()
			numDup := b.srv.numDup
			b.srv.mu.Unlock()
			if tc.lag > 0 && numDup == 0 {
				t.Errorf("no duplicate reached the server, want the unacknowledged ones resent")
			}
			if tc.lag == 0 && numDup != 0 {
				t.Errorf("%d duplicates reached the server, want none", numDup)
			}
		})
	}

	t.Run("ServerRestartResetsWatermark", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		first := recv(t, b.srv.hellos, "hello")
		wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
		wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
		b.srv.mu.Lock()
		oldRunID := b.srv.runID
		b.srv.mu.Unlock()
		b.srv.restart()
		b.agent.TestSignals.Disconnected.Wait(t)
		b.agent.TestSignals.Connected.Wait(t)
		second := recv(t, b.srv.hellos, "hello after restart")
		if second.hello.ServerSeq != 2 || second.hello.ServerRunID != oldRunID {
			t.Errorf("hello server seq %d of run %q, want 2 of %q", second.hello.ServerSeq, second.hello.ServerRunID, oldRunID)
		}
		if second.hello.RunID != first.hello.RunID {
			t.Errorf("agent run id changed without an agent restart")
		}
		// The restarted server numbers from 1 again; the agent must apply it.
		wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
	})

	t.Run("WelcomeDropGivesUpInstances", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		held := newInstance(script(`true`))
		held.FireAt = time.Now().Add(time.Hour)
		b.srv.dispatch(held)
		running := newInstance(script(`sleep 300`))
		b.srv.dispatch(running)
		b.srv.waitRunning(t, running.InstanceID)
		b.srv.set(func(fs *fakeServer) { fs.nextDrop = []uuid.UUID{held.InstanceID, running.InstanceID} })
		b.srv.closeConn(websocket.StatusNormalClosure, "")
		if got := b.agent.TestSignals.Done.Wait(t); got.InstanceID != running.InstanceID {
			t.Fatalf("done for %s, want the dropped running instance", got.InstanceID)
		}
		if st := b.agent.Status(); st.Held != 0 || st.Running != 0 {
			t.Errorf("status = %+v, want nothing held or running", st)
		}
		wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
		for _, id := range []uuid.UUID{held.InstanceID, running.InstanceID} {
			if got := b.srv.doneFor(id); len(got) != 0 {
				t.Errorf("task.done for dropped instance %s: %+v", id, got[0])
			}
		}
	})

	t.Run("DrainSetsDraining", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.srv.send(protocol.KindDrain, &protocol.Drain{Reason: "server stopping"})
		for hb := recv(t, b.srv.heartbeats, "heartbeat"); !hb.Draining; hb = recv(t, b.srv.heartbeats, "heartbeat") {
		}
		if !b.agent.Status().Draining {
			t.Errorf("status not draining after drain")
		}
		// The drain was that server's; a new connection takes work again.
		b.srv.closeConn(websocket.StatusGoingAway, "draining")
		b.agent.TestSignals.Connected.Wait(t)
		if b.agent.Status().Draining {
			t.Errorf("still draining after reconnecting")
		}
	})

	t.Run("ClockOffsetFromHeartbeats", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for range 3 {
			recv(t, b.srv.heartbeats, "heartbeat")
		}
		// Same host: the offset is a measurement error of a few ms at most.
		if off := b.agent.Status().ClockOffset; off < -time.Second || off > time.Second {
			t.Errorf("clock offset = %v, want about 0", off)
		}
	})

	t.Run("TriesServersInTurn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{cfg: func(c *Config) {
			c.Servers = append([]string{"ws://127.0.0.1:1"}, c.Servers...)
		}})
		recv(t, b.srv.hellos, "hello")
	})
}
