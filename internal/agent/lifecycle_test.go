package agent

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
)

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"NoID", Config{Servers: []string{"ws://h"}}, "id"},
		{"NoServers", Config{ID: "a"}, "servers"},
		{"HTTPScheme", Config{ID: "a", Servers: []string{"http://h"}}, "servers[0]"},
		{"NegativeCapacity", Config{ID: "a", Servers: []string{"ws://h"}, Capacity: -1}, "capacity"},
		{"BackoffInverted", Config{ID: "a", Servers: []string{"ws://h"}, ReconnectMin: time.Second, ReconnectMax: time.Millisecond}, "reconnect_max"},
		{"AutomaticLabel", Config{ID: "a", Servers: []string{"ws://h"}, Labels: map[string]string{"zone": "a", "os": "plan9"}}, "labels.os"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg, lifecycletest.Logger(t))
			var fe *model.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("New(%+v) = %v, want a field error for %q", tc.cfg, err, tc.field)
			}
		})
	}
	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		a, err := New(Config{ID: "a", Servers: []string{"wss://h:1", "ws://h/custom"}}, lifecycletest.Logger(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if want := []string{"wss://h:1" + WSPath, "ws://h/custom"}; !slices.Equal(a.urls, want) {
			t.Errorf("urls = %v, want %v", a.urls, want)
		}
		if a.cfg.Capacity <= 0 || a.cfg.Name == "" || a.cfg.DataDir == "" ||
			a.cfg.ReconnectMin != DefaultReconnectMin || a.cfg.ReconnectMax != DefaultReconnectMax || a.cfg.ShutdownGrace != DefaultShutdownGrace {
			t.Errorf("defaults not filled: %+v", a.cfg)
		}
	})
}

func TestAgentLifecycle(t *testing.T) {
	t.Parallel()
	newAgent := func(t *testing.T) *Agent {
		b := setup(t, &setupOpts{noStart: true})
		return b.agent
	}
	t.Run("StartStopStress", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		a.log = lifecycletest.WarnLogger(t).With("agent_id", a.cfg.ID)
		lifecycletest.Stress(t.Context(), t, a)
	})
	t.Run("StopsImmediately", func(t *testing.T) {
		t.Parallel()
		lifecycletest.StopsImmediately(t.Context(), t, newAgent(t))
	})
	t.Run("RespectsContextCancellation", func(t *testing.T) {
		t.Parallel()
		lifecycletest.RespectsContextCancellation(t.Context(), t, newAgent(t))
	})
	t.Run("CanRestart", func(t *testing.T) {
		t.Parallel()
		lifecycletest.CanRestart(t.Context(), t, newAgent(t))
	})
	t.Run("StopKillsRunningProcesses", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		pidFile := filepath.Join(t.TempDir(), "pid")
		d := newInstance(script(`sleep 300 & echo $! > ` + pidFile + `; echo ready; wait`))
		b.srv.dispatch(d)
		b.srv.waitOutput(t, d.InstanceID, model.Stdout, "ready\n")
		b.agent.Stop()
		done := b.agent.TestSignals.Done.Wait(t)
		wantStatus(t, done, model.InstanceCancelled)
		if done.Error != "agent stopped" {
			t.Errorf("error = %q, want %q", done.Error, "agent stopped")
		}
		waitGone(t, readPID(t, pidFile))
	})
	t.Run("ShutdownLetsRunningFinish", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		held := newInstance(script(`true`))
		held.FireAt = time.Now().Add(time.Hour)
		b.srv.dispatch(held)
		d := newInstance(script(`sleep 0.3; echo bye`))
		b.srv.dispatch(d)
		b.srv.waitRunning(t, d.InstanceID)
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		if err := b.agent.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceSucceeded)
		if got := b.srv.output(d.InstanceID, model.Stdout); got != "bye\n" {
			t.Errorf("stdout = %q, want %q", got, "bye\n")
		}
		// Shutdown returned after the server acknowledged everything.
		hds := b.srv.doneFor(held.InstanceID)
		if len(hds) != 1 {
			t.Fatalf("server has %d task.done for the held instance, want 1", len(hds))
		}
		// The held instance was given back, never started, to be
		// dispatched again elsewhere.
		hd := hds[0]
		wantStatus(t, hd, model.InstanceLost)
		if hd.Reason != reasonAgentDraining || hd.Error != errGivenBack || !hd.StartedAt.IsZero() {
			t.Errorf("held = reason %q, error %q, started %v; want %q, %q, never", hd.Reason, hd.Error, hd.StartedAt, reasonAgentDraining, errGivenBack)
		}
		if st := b.agent.Status(); st.Connected || st.OutboxLen != 0 {
			t.Errorf("status after shutdown = %+v, want disconnected with an empty outbox", st)
		}
		sawDraining := false
		for len(b.srv.heartbeats) > 0 {
			if hb := <-b.srv.heartbeats; hb.Draining {
				sawDraining = true
			}
		}
		if !sawDraining {
			t.Errorf("no heartbeat said draining")
		}
	})
	t.Run("ShutdownKillsAfterGrace", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{cfg: func(c *Config) { c.ShutdownGrace = 200 * time.Millisecond }})
		d := newInstance(script(`sleep 300`))
		b.srv.dispatch(d)
		b.srv.waitRunning(t, d.InstanceID)
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		if err := b.agent.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceCancelled)
		if done.Reason != reasonDrainTimeout || done.Error != errDrainTimeout || done.StartedAt.IsZero() {
			t.Errorf("done = reason %q, error %q, started %v; want %q, %q, a start", done.Reason, done.Error, done.StartedAt, reasonDrainTimeout, errDrainTimeout)
		}
	})
	t.Run("ShutdownReturnsContextError", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`sleep 300`))
		b.srv.dispatch(d)
		b.srv.waitRunning(t, d.InstanceID)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		if err := b.agent.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want %v", err, context.DeadlineExceeded)
		}
		if st := b.agent.Status(); st.Running != 0 {
			t.Errorf("status after shutdown = %+v, want nothing running", st)
		}
	})
}
