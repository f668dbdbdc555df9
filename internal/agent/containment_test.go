package agent

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// eachContainment runs f as a parallel subtest per way of containing runs:
// Cgroup, skipped where the agent gets no delegated cgroup v2, and
// Fallback (session, /proc sweep, subreaper, rlimits), which runs
// everywhere.
func eachContainment(t *testing.T, f func(t *testing.T, noCgroup bool)) {
	t.Helper()
	for _, mode := range []struct {
		name     string
		noCgroup bool
	}{{"Cgroup", false}, {"Fallback", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			if !mode.noCgroup {
				if why := cgroupUnavailable(); why != "" {
					t.Skipf("no delegated cgroup v2 on this machine: %s", why)
				}
			}
			f(t, mode.noCgroup)
		})
	}
}

// cgroupUnavailable returns why the agent gets no cgroup here, or "".
func cgroupUnavailable() string {
	sb := acquireSandbox(false)
	defer sb.release()
	if sb.cg == nil {
		return strings.Join(sb.warnings, "; ")
	}
	return ""
}

// noCgroup configures a test agent to contain runs without cgroups.
func noCgroup(on bool) func(*Agent) { return func(a *Agent) { a.noCgroup = on } }

// waitDead fails the test unless pid is dead when the run's result
// arrives (gone, or a zombie), and gone soon after, unless it is a zombie
// of a parent that is not this process: reaping it is then that parent's
// job (an init that does not reap, as in some containers).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	if p, ok := readProcInfo(pid); ok && p.alive() {
		t.Fatalf("process %d (state %c) alive after its run ended", pid, p.state)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for {
		p, ok := readProcInfo(pid)
		if !ok || p.ppid != selfPID {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("zombie %d of the agent not reaped within %s", pid, waitTimeout)
		}
	}
}

// daemonScripts start a process that leaves the run's session (setsid,
// its stdio on /dev/null, as a daemon does), write its pid to the file
// named by $PIDFILE, and wait until it has left. The double fork also
// loses its parent, so it is reparented to the nearest subreaper.
var daemonScripts = []struct{ name, script string }{
	{"Setsid", `setsid sleep 300 </dev/null >/dev/null 2>&1 & p=$!; echo $p > "$PIDFILE"
		while [ "$(cut -d' ' -f6 /proc/$p/stat)" != "$p" ]; do :; done`},
	{"DoubleFork", `( setsid sleep 300 </dev/null >/dev/null 2>&1 & p=$!; echo $p > "$PIDFILE"
		while [ "$(cut -d' ' -f6 /proc/$p/stat)" != "$p" ]; do :; done ) </dev/null >/dev/null 2>&1`},
}

func TestDaemonDoesNotOutliveRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not installed")
	}
	eachContainment(t, func(t *testing.T, noCgroupOn bool) {
		for _, ds := range daemonScripts {
			t.Run(ds.name, func(t *testing.T) {
				t.Parallel()
				for _, tc := range []struct {
					name   string
					then   string // what the leader does after the daemon left
					config func(*protocol.DispatchedInstance)
					cancel bool
					want   model.InstanceStatus
				}{
					{name: "EndsNormally", then: `echo ready`, want: model.InstanceSucceeded},
					{name: "Timeout", then: `echo ready; while :; do sleep 0.05; done`, want: model.InstanceTimeout,
						config: func(d *protocol.DispatchedInstance) {
							d.Config.Timeout = model.Duration(300 * time.Millisecond)
							d.Config.KillGrace = model.Duration(100 * time.Millisecond)
						}},
					{name: "Cancel", then: `echo ready; sleep 300`, cancel: true, want: model.InstanceCancelled},
				} {
					t.Run(tc.name, func(t *testing.T) {
						t.Parallel()
						b := setup(t, &setupOpts{agent: noCgroup(noCgroupOn)})
						pidFile := filepath.Join(t.TempDir(), "pid")
						d := newInstance(script(ds.script + "\n" + tc.then))
						d.Config.Env = map[string]string{"PIDFILE": pidFile}
						if tc.config != nil {
							tc.config(d)
						}
						b.srv.dispatch(d)
						if tc.cancel {
							b.srv.waitOutput(t, d.InstanceID, model.Stdout, "ready\n")
							b.srv.send(protocol.KindCancel, &protocol.Cancel{InstanceID: d.InstanceID, Reason: "cancelled by test"})
						}
						done := b.srv.waitDone(t, d.InstanceID)
						wantStatus(t, done, tc.want)
						waitDead(t, readPID(t, pidFile))
					})
				}
			})
		}
	})
}

func TestProcessTreeKilledOnStop(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not installed")
	}
	eachContainment(t, func(t *testing.T, noCgroupOn bool) {
		b := setup(t, &setupOpts{agent: noCgroup(noCgroupOn)})
		pidFile := filepath.Join(t.TempDir(), "pid")
		d := newInstance(script(daemonScripts[1].script + "\necho ready; sleep 300"))
		d.Config.Env = map[string]string{"PIDFILE": pidFile}
		b.srv.dispatch(d)
		b.srv.waitOutput(t, d.InstanceID, model.Stdout, "ready\n")
		b.agent.Stop()
		done := b.agent.TestSignals.Done.Wait(t)
		wantStatus(t, done, model.InstanceCancelled)
		if done.Reason != reasonCancelled {
			t.Errorf("reason = %q, want %q", done.Reason, reasonCancelled)
		}
		waitDead(t, readPID(t, pidFile))
	})
}

// A run cgroup that needed cgroup.kill is not reused: recent kernels kill
// every process later started in it.
func TestRunsAfterKilledRunSucceed(t *testing.T) {
	t.Parallel()
	eachContainment(t, func(t *testing.T, noCgroupOn bool) {
		b := setup(t, &setupOpts{agent: noCgroup(noCgroupOn)})
		wantStatus(t, b.run(t, newInstance(script(`sleep 300 & true`))), model.InstanceSucceeded)
		for range 5 {
			wantStatus(t, b.run(t, newInstance(script(`true`))), model.InstanceSucceeded)
		}
	})
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	allocate := model.JobConfig{
		Command: python,
		Args:    []string{"-c", "x = bytearray(200*1024*1024); print('allocated')"},
		Limits:  &model.ResourceLimits{MemoryMB: 50},
	}

	t.Run("CgroupKillsWithReasonOOM", func(t *testing.T) {
		t.Parallel()
		sb := acquireSandbox(false)
		hasMemory := sb.cg != nil && sb.cg.memory
		why := strings.Join(sb.warnings, "; ")
		sb.release()
		if !hasMemory {
			t.Skipf("no delegated cgroup v2 with the memory controller on this machine (%s); the RLIMIT_DATA path is tested instead", why)
		}
		b := setup(t, nil)
		done := b.run(t, newInstance(allocate))
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonOOM || !strings.Contains(done.Error, "50 MiB") {
			t.Errorf("reason %q, error %q; want %q and an error naming the 50 MiB limit", done.Reason, done.Error, reasonOOM)
		}
	})

	t.Run("RlimitFailsAllocation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{agent: noCgroup(true)})
		d := newInstance(allocate)
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonExitCode || !strings.Contains(done.Error, "RLIMIT_DATA") {
			t.Errorf("reason %q, error %q; want %q and an error naming RLIMIT_DATA", done.Reason, done.Error, reasonExitCode)
		}
		if got := b.srv.output(d.InstanceID, model.Stderr); !strings.Contains(got, "MemoryError") {
			t.Errorf("stderr = %q, want a MemoryError", got)
		}
		if got := b.srv.output(d.InstanceID, model.Stdout); got != "" {
			t.Errorf("stdout = %q, want nothing: the allocation must fail", got)
		}
	})

	t.Run("UnderTheLimitSucceeds", func(t *testing.T) {
		t.Parallel()
		eachContainment(t, func(t *testing.T, noCgroupOn bool) {
			b := setup(t, &setupOpts{agent: noCgroup(noCgroupOn)})
			cfg := allocate
			cfg.Args = []string{"-c", "x = bytearray(10*1024*1024); print('allocated')"}
			wantStatus(t, b.run(t, newInstance(cfg)), model.InstanceSucceeded)
		})
	})
}

func TestUsageReported(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	eachContainment(t, func(t *testing.T, noCgroupOn bool) {
		b := setup(t, &setupOpts{agent: noCgroup(noCgroupOn)})
		done := b.run(t, newInstance(model.JobConfig{
			Command: python,
			Args:    []string{"-c", "x = bytearray(40*1024*1024); sum(range(5_000_000))"},
		}))
		wantStatus(t, done, model.InstanceSucceeded)
		u := done.Usage
		if u.UserCPUMillis+u.SystemCPUMillis <= 0 {
			t.Errorf("usage = %+v, want some CPU time", u)
		}
		if u.PeakMemoryBytes < 40<<20 {
			t.Errorf("usage = %+v, want a peak of at least 40 MiB", u)
		}
	})
}

func TestHelloReportsLimits(t *testing.T) {
	t.Parallel()
	valid := map[string]bool{enforcedCgroup: true, enforcedRlimit: true, enforcedNone: true}
	eachContainment(t, func(t *testing.T, noCgroupOn bool) {
		b := setup(t, &setupOpts{agent: noCgroup(noCgroupOn)})
		h := recv(t, b.srv.hellos, "hello").hello
		l := h.Limits
		if !valid[l.Memory] || !valid[l.CPU] || !valid[l.Pids] {
			t.Fatalf("limits = %+v, want each of cgroup, rlimit or none", l)
		}
		if st := b.agent.Status(); st.Limits != l || len(st.Warnings) != len(h.Warnings) {
			t.Errorf("status limits %+v, warnings %q; hello said %+v, %q", st.Limits, st.Warnings, l, h.Warnings)
		}
		if noCgroupOn {
			if want := (protocol.LimitSupport{Memory: enforcedRlimit, CPU: enforcedNone, Pids: enforcedNone}); l != want {
				t.Errorf("limits = %+v, want %+v", l, want)
			}
		}
		// A limit not enforced by a cgroup comes with a warning.
		if (l.Memory != enforcedCgroup || l.CPU != enforcedCgroup || l.Pids != enforcedCgroup) && len(h.Warnings) == 0 {
			t.Errorf("limits = %+v without a warning", l)
		}
	})
}
