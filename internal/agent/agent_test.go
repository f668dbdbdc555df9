package agent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

type testBundle struct {
	agent *Agent
	srv   *fakeServer
	cfg   Config
}

type setupOpts struct {
	cfg     func(*Config)     // adjusts the config before New
	srv     func(*fakeServer) // adjusts the fake server before the agent connects
	agent   func(*Agent)      // adjusts the agent before Start
	noStart bool
}

func setup(t *testing.T, opts *setupOpts) *testBundle {
	t.Helper()
	if opts == nil {
		opts = &setupOpts{}
	}
	fs := newFakeServer(t)
	cfg := Config{
		ID:           "agent-1",
		Name:         "test-agent",
		Servers:      []string{fs.url()},
		Token:        "secret",
		Labels:       map[string]string{"zone": "a"},
		Capacity:     7,
		DataDir:      t.TempDir(),
		Version:      "0.0.0-test",
		ReconnectMin: 5 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
	}
	if opts.cfg != nil {
		opts.cfg(&cfg)
	}
	if opts.srv != nil {
		fs.set(opts.srv)
	}
	a, err := New(cfg, lifecycletest.Logger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.TestSignals.Init()
	if opts.agent != nil {
		opts.agent(a)
	}
	b := &testBundle{agent: a, srv: fs, cfg: a.cfg}
	if !opts.noStart {
		b.start(t)
	}
	return b
}

// start starts the agent and waits until it is connected.
func (b *testBundle) start(t *testing.T) {
	t.Helper()
	if err := b.agent.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.agent.Stop)
	b.agent.TestSignals.Connected.Wait(t)
}

// run dispatches d and waits for its result at the server.
func (b *testBundle) run(t *testing.T, d *protocol.DispatchedInstance) *protocol.TaskDone {
	t.Helper()
	b.srv.dispatch(d)
	return b.srv.waitDone(t, d.InstanceID)
}

func newInstance(cfg model.JobConfig) *protocol.DispatchedInstance {
	now := time.Now()
	return &protocol.DispatchedInstance{
		InstanceID:  uuid.New(),
		TaskID:      uuid.New(),
		JobID:       uuid.New(),
		Namespace:   "default",
		Attempt:     1,
		ScheduledAt: now,
		FireAt:      now,
		Config:      cfg,
	}
}

func script(s string) model.JobConfig { return model.JobConfig{Script: s} }

func exitCode(d *protocol.TaskDone) string {
	if d.ExitCode == nil {
		return "nil"
	}
	return strconv.Itoa(*d.ExitCode)
}

func wantStatus(t *testing.T, d *protocol.TaskDone, want model.InstanceStatus) {
	t.Helper()
	if d.Status != want {
		t.Fatalf("status = %s (exit code %s, error %q), want %s", d.Status, exitCode(d), d.Error, want)
	}
}

func TestAgent(t *testing.T) {
	t.Parallel()

	t.Run("HelloAndAuthHeaders", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		rec := recv(t, b.srv.hellos, "hello")
		if got := rec.header.Get("Authorization"); got != "Bearer secret" {
			t.Errorf("Authorization = %q, want %q", got, "Bearer secret")
		}
		if got := rec.header.Get("Hetuflow-Agent-Id"); got != "agent-1" {
			t.Errorf("Hetuflow-Agent-Id = %q, want agent-1", got)
		}
		h := rec.hello
		if h.AgentID != "agent-1" || h.Name != "test-agent" || h.Version != "0.0.0-test" ||
			h.ProtocolVersion != protocol.Version || h.Capacity != 7 || h.Labels["zone"] != "a" {
			t.Errorf("hello = %+v, want the agent's config", h)
		}
		host, _ := os.Hostname()
		for k, want := range map[string]string{"os": runtime.GOOS, "arch": runtime.GOARCH, "hostname": host, "hetuflow_version": "0.0.0-test"} {
			if got := h.Labels[k]; got != want {
				t.Errorf("automatic label %s = %q, want %q", k, got, want)
			}
		}
		if h.RunID == "" || h.OutboxSeq != 0 || h.ServerSeq != 0 || h.ServerRunID != "" || len(h.Held) != 0 || len(h.Running) != 0 {
			t.Errorf("hello = %+v, want a run id and nothing else yet", h)
		}
		hb := recv(t, b.srv.heartbeats, "heartbeat")
		if hb.FreeSlots != 7 || hb.Draining {
			t.Errorf("heartbeat = %+v, want 7 free slots, not draining", hb)
		}
	})

	t.Run("RunsScriptAndStreamsOutput", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`printf 'line1\nline2\n'; printf 'oops' >&2`))
		b.srv.dispatch(d)
		r := b.srv.waitRunning(t, d.InstanceID)
		if r.PID <= 0 || r.StartedAt.IsZero() {
			t.Errorf("task.running = %+v, want a pid and a start time", r)
		}
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceSucceeded)
		if done.ExitCode == nil || *done.ExitCode != 0 {
			t.Errorf("exit code = %s, want 0", exitCode(done))
		}
		if got := b.srv.output(d.InstanceID, model.Stdout); got != "line1\nline2\n" {
			t.Errorf("stdout = %q, want %q", got, "line1\nline2\n")
		}
		if got := b.srv.output(d.InstanceID, model.Stderr); got != "oops" {
			t.Errorf("stderr = %q, want %q", got, "oops")
		}
		u := done.Usage
		if u.StdoutBytes != 12 || u.StderrBytes != 4 || u.DroppedBytes != 0 {
			t.Errorf("usage = %+v, want 12 stdout bytes, 4 stderr bytes, none dropped", u)
		}
		if !done.StartedAt.Equal(r.StartedAt) || done.FinishedAt.Before(done.StartedAt) {
			t.Errorf("done times %v..%v, running at %v", done.StartedAt, done.FinishedAt, r.StartedAt)
		}
		if _, err := os.Stat(filepath.Join(b.cfg.DataDir, "runs", d.InstanceID.String())); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("work dir after the run: %v, want it removed", err)
		}
	})

	t.Run("LargeOutputInOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		done := b.run(t, newInstance(script(`seq 1 30000`)))
		wantStatus(t, done, model.InstanceSucceeded)
		var want strings.Builder
		for i := 1; i <= 30000; i++ {
			fmt.Fprintf(&want, "%d\n", i)
		}
		if got := b.srv.output(done.InstanceID, model.Stdout); got != want.String() {
			t.Errorf("stdout has %d bytes, want the %d bytes of seq 1 30000", len(got), want.Len())
		}
	})

	t.Run("RunsCommandWithoutShell", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		done := b.run(t, newInstance(model.JobConfig{Command: "echo", Args: []string{"a  b", "$HOME"}}))
		wantStatus(t, done, model.InstanceSucceeded)
		if got := b.srv.output(done.InstanceID, model.Stdout); got != "a  b $HOME\n" {
			t.Errorf("stdout = %q, want the args verbatim", got)
		}
	})

	t.Run("NonZeroExitFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		done := b.run(t, newInstance(script(`exit 3`)))
		wantStatus(t, done, model.InstanceFailed)
		if done.ExitCode == nil || *done.ExitCode != 3 {
			t.Errorf("exit code = %s, want 3", exitCode(done))
		}
	})

	t.Run("KilledBySignalFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		done := b.run(t, newInstance(script(`kill -SEGV $$`)))
		wantStatus(t, done, model.InstanceFailed)
		if done.ExitCode != nil || done.Error != "killed by signal SIGSEGV" {
			t.Errorf("exit code %s, error %q, want nil and %q", exitCode(done), done.Error, "killed by signal SIGSEGV")
		}
	})

	t.Run("EventBodyReachesTheRunAsAFile", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`cat "$HETUFLOW_EVENT_FILE"; echo; echo "$HETUFLOW_EVENT_FILE" >&2`))
		d.Event = []byte(`{"action":"push"}`)
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceSucceeded)
		if got := b.srv.output(d.InstanceID, model.Stdout); got != `{"action":"push"}`+"\n" {
			t.Errorf("event file held %q", got)
		}
		path := strings.TrimSpace(b.srv.output(d.InstanceID, model.Stderr))
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("event file %s still exists after the run (%v)", path, err)
		}
	})

	t.Run("Environment", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`env | grep '^HETUFLOW_' | sort; echo "FOO=$FOO"`))
		d.Config.Env = map[string]string{"FOO": "bar baz"}
		d.Parameters = map[string]string{"my-param": "v1", "Region": "eu west"}
		d.Attempt = 2
		d.ShardIndex, d.ShardTotal = 1, 3
		d.Namespace = "team-a"
		d.ScheduledAt = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceSucceeded)
		want := []string{
			"HETUFLOW_ATTEMPT=2",
			"HETUFLOW_INSTANCE_ID=" + d.InstanceID.String(),
			"HETUFLOW_JOB_ID=" + d.JobID.String(),
			"HETUFLOW_NAMESPACE=team-a",
			"HETUFLOW_PARAM_MY_PARAM=v1",
			"HETUFLOW_PARAM_REGION=eu west",
			"HETUFLOW_SCHEDULED_AT=2026-03-01T11:00:00.123456789Z",
			"HETUFLOW_SHARD_INDEX=1",
			"HETUFLOW_SHARD_TOTAL=3",
			"HETUFLOW_TASK_ID=" + d.TaskID.String(),
			"FOO=bar baz",
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(b.srv.output(d.InstanceID, model.Stdout), "\n"), "\n") {
			// Variables the test process itself carries (CI sets some
			// HETUFLOW_ ones) are inherited, not set by the agent.
			if name, _, _ := strings.Cut(line, "="); os.Getenv(name) != "" && !strings.HasPrefix(line, "FOO=") {
				continue
			}
			got = append(got, line)
		}
		if !slices.Equal(got, want) {
			t.Errorf("environment:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("ScriptInterpreters", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ interpreter, script, want string }{
			{"", `echo "$0"`, "sh\n"},
			{"sh", `echo "$0"; [ 1 -eq 1 ] && echo ok`, "sh\nok\n"},
			{"bash", `echo "$0"; [[ -n "$BASH_VERSION" ]] && echo ok`, "bash\nok\n"},
		} {
			t.Run("Interpreter_"+tc.interpreter, func(t *testing.T) {
				t.Parallel()
				if _, err := exec.LookPath(cmp(tc.interpreter, "sh")); err != nil {
					t.Skipf("%s not installed", tc.interpreter)
				}
				b := setup(t, nil)
				d := newInstance(model.JobConfig{Script: tc.script, Interpreter: tc.interpreter})
				done := b.run(t, d)
				wantStatus(t, done, model.InstanceSucceeded)
				if got := b.srv.output(d.InstanceID, model.Stdout); got != tc.want {
					t.Errorf("stdout = %q, want %q", got, tc.want)
				}
			})
		}
	})

	t.Run("CommandNotFoundFailsAndAgentGoesOn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		notExec := filepath.Join(t.TempDir(), "not-executable")
		if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ command, wantErr string }{
			{"hetuflow-no-such-command", `command "hetuflow-no-such-command": executable file not found in $PATH`},
			{notExec, fmt.Sprintf("command %q: permission denied", notExec)},
		} {
			d := newInstance(model.JobConfig{Command: tc.command})
			done := b.run(t, d)
			wantStatus(t, done, model.InstanceFailed)
			if done.ExitCode != nil || done.Error != tc.wantErr || done.Reason != reasonStartFailed || !done.StartedAt.IsZero() {
				t.Errorf("done = exit code %s, error %q, started %v; want nil, %q, zero", exitCode(done), done.Error, done.StartedAt, tc.wantErr)
			}
			if r := b.srv.runningFor(d.InstanceID); r != nil {
				t.Errorf("task.running sent for a command that never started: %+v", r)
			}
		}
		wantStatus(t, b.run(t, newInstance(model.JobConfig{Command: "true"})), model.InstanceSucceeded)
	})

	t.Run("MissingWorkDirFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(model.JobConfig{Command: "true", WorkDir: filepath.Join(t.TempDir(), "missing")})
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if !strings.Contains(done.Error, "work dir") {
			t.Errorf("error = %q, want it to name the work dir", done.Error)
		}
		dir := t.TempDir()
		d = newInstance(model.JobConfig{Command: "pwd", WorkDir: dir})
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		if got := b.srv.output(d.InstanceID, model.Stdout); got != dir+"\n" {
			t.Errorf("pwd = %q, want %q", got, dir+"\n")
		}
	})

	t.Run("OutputLimitTruncates", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`head -c 1000 /dev/zero | tr '\0' x; printf 'e' >&2`))
		d.Config.OutputLimit = 100
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceSucceeded)
		want := strings.Repeat("x", 100) + "\n[hetuflow: output truncated: 900 bytes dropped]\n"
		if got := b.srv.output(d.InstanceID, model.Stdout); got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if got := b.srv.output(d.InstanceID, model.Stderr); got != "e" {
			t.Errorf("stderr = %q, want %q", got, "e")
		}
		if u := done.Usage; u.StdoutBytes != 1000 || u.DroppedBytes != 900 {
			t.Errorf("usage = %+v, want 1000 stdout bytes, 900 dropped", u)
		}
	})

	t.Run("FullOutboxDropsLogsNotResults", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{
			srv:   func(fs *fakeServer) { fs.noAck = true },
			agent: func(a *Agent) { a.out.maxMsgs = 1 }, // task.running fills it
		})
		d := newInstance(script(`printf abc; printf de >&2`))
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceSucceeded)
		if got, want := b.srv.output(d.InstanceID, model.Stdout), "\n[hetuflow: output truncated: 3 bytes dropped]\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if got, want := b.srv.output(d.InstanceID, model.Stderr), "\n[hetuflow: output truncated: 2 bytes dropped]\n"; got != want {
			t.Errorf("stderr = %q, want %q", got, want)
		}
		if u := done.Usage; u.StdoutBytes != 3 || u.StderrBytes != 2 || u.DroppedBytes != 5 {
			t.Errorf("usage = %+v, want 3 and 2 bytes written, 5 dropped", u)
		}
	})

	t.Run("TimeoutKillsProcessGroup", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ name, trap string }{
			{"OnSIGTERM", ""},
			{"OnSIGKILLAfterGrace", "trap '' TERM; "}, // TERM ignored by the shell and its children
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, nil)
				pidFile := filepath.Join(t.TempDir(), "pid")
				d := newInstance(script(tc.trap + `sleep 300 & echo $! > ` + pidFile + `; echo started; while :; do sleep 0.05; done`))
				d.Config.Timeout = model.Duration(300 * time.Millisecond)
				d.Config.KillGrace = model.Duration(200 * time.Millisecond)
				done := b.run(t, d)
				wantStatus(t, done, model.InstanceTimeout)
				if done.Error != "timed out after 300ms" || done.Reason != reasonTimeout {
					t.Errorf("error %q, reason %q; want %q, %q", done.Error, done.Reason, "timed out after 300ms", reasonTimeout)
				}
				if got := b.srv.output(d.InstanceID, model.Stdout); got != "started\n" {
					t.Errorf("stdout = %q, want %q", got, "started\n")
				}
				waitGone(t, readPID(t, pidFile))
			})
		}
	})

	t.Run("BackgroundChildDoesNotOutliveRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		pidFile := filepath.Join(t.TempDir(), "pid")
		done := b.run(t, newInstance(script(`sleep 300 & echo $! > `+pidFile)))
		wantStatus(t, done, model.InstanceSucceeded)
		waitGone(t, readPID(t, pidFile))
	})

	t.Run("EscapedDaemonDoesNotBlockResult", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("setsid"); err != nil {
			t.Skip("setsid not installed")
		}
		b := setup(t, nil)
		pidFile := filepath.Join(t.TempDir(), "pid")
		// The daemon leaves the process group but keeps stdout open.
		d := newInstance(script(`setsid sh -c 'echo $$ > ` + pidFile + `; exec sleep 300' & while [ ! -s ` + pidFile + ` ]; do sleep 0.01; done; echo out`))
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceSucceeded)
		if got := b.srv.output(d.InstanceID, model.Stdout); got != "out\n" {
			t.Errorf("stdout = %q, want %q", got, "out\n")
		}
		pid := readPID(t, pidFile)
		_ = syscallKill(pid)
		waitGone(t, pid)
	})

	t.Run("CancelHeld", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`echo never`))
		d.FireAt = time.Now().Add(time.Hour)
		b.srv.dispatch(d)
		if got := b.agent.TestSignals.Dispatched.Wait(t); got != d.InstanceID {
			t.Fatalf("dispatched %s, want %s", got, d.InstanceID)
		}
		if st := b.agent.Status(); st.Held != 1 || st.Running != 0 {
			t.Errorf("status = %+v, want 1 held", st)
		}
		b.srv.send(protocol.KindCancel, &protocol.Cancel{InstanceID: d.InstanceID, Reason: "cancelled by alice"})
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceCancelled)
		if done.Error != "cancelled by alice" || done.Reason != reasonCancelled || !done.StartedAt.IsZero() || done.ExitCode != nil {
			t.Errorf("done = %+v, want the reason, no start, no exit code", done)
		}
		if r := b.srv.runningFor(d.InstanceID); r != nil {
			t.Errorf("task.running for a cancelled held instance: %+v", r)
		}
		if st := b.agent.Status(); st.Held != 0 {
			t.Errorf("status = %+v, want nothing held", st)
		}
	})

	t.Run("CancelRunning", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`sleep 300`))
		b.srv.dispatch(d)
		b.srv.waitRunning(t, d.InstanceID)
		b.srv.send(protocol.KindCancel, &protocol.Cancel{InstanceID: d.InstanceID, Reason: "replaced"})
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceCancelled)
		if done.Error != "replaced" || done.Reason != reasonCancelled || done.StartedAt.IsZero() {
			t.Errorf("done = %+v, want error %q and a start time", done, "replaced")
		}
	})

	t.Run("FiresAtFireAt", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`true`))
		d.FireAt = time.Now().Add(300 * time.Millisecond)
		b.srv.dispatch(d)
		r := b.srv.waitRunning(t, d.InstanceID)
		if r.StartedAt.Before(d.FireAt) {
			t.Errorf("started at %v, %v before FireAt", r.StartedAt, d.FireAt.Sub(r.StartedAt))
		}
		if lag := r.StartedAt.Sub(d.FireAt); lag > 5*time.Second {
			t.Errorf("started %v after FireAt", lag)
		}
		wantStatus(t, b.srv.waitDone(t, d.InstanceID), model.InstanceSucceeded)
	})

	t.Run("LateInstanceStartsAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`true`))
		d.FireAt = time.Now().Add(-time.Hour)
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
	})

	t.Run("DuplicateDispatchIgnored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		held := newInstance(script(`true`))
		held.FireAt = time.Now().Add(time.Hour)
		b.srv.dispatch(held)
		b.srv.dispatch(held) // same instance, new sequence
		fresh := newInstance(script(`true`))
		fresh.FireAt = held.FireAt
		b.srv.dispatch(fresh)
		for _, want := range []uuid.UUID{held.InstanceID, fresh.InstanceID} {
			if got := b.agent.TestSignals.Dispatched.Wait(t); got != want {
				t.Fatalf("dispatched %s, want %s", got, want)
			}
		}
		if st := b.agent.Status(); st.Held != 2 {
			t.Errorf("held = %d, want 2", st.Held)
		}
	})

	t.Run("DuplicateServerSeqIgnored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		mk := func() *protocol.DispatchedInstance {
			d := newInstance(script(`true`))
			d.FireAt = time.Now().Add(time.Hour)
			return d
		}
		first, repeat, next := mk(), mk(), mk()
		b.srv.sendSeq(protocol.KindDispatch, 1, &protocol.Dispatch{Instances: []*protocol.DispatchedInstance{first}})
		b.srv.sendSeq(protocol.KindDispatch, 1, &protocol.Dispatch{Instances: []*protocol.DispatchedInstance{repeat}})
		b.srv.sendSeq(protocol.KindDispatch, 2, &protocol.Dispatch{Instances: []*protocol.DispatchedInstance{next}})
		for _, want := range []uuid.UUID{first.InstanceID, next.InstanceID} {
			if got := b.agent.TestSignals.Dispatched.Wait(t); got != want {
				t.Fatalf("dispatched %s, want %s (a repeated sequence must not apply)", got, want)
			}
		}
	})
}

// cmp returns a, or b if a is empty.
func cmp(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}
