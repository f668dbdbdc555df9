package agent

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

func TestWorkDir(t *testing.T) {
	t.Parallel()

	t.Run("FreshDirRemovedAfterRun", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`pwd; touch file`))
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		dir := filepath.Join(b.cfg.DataDir, "runs", d.InstanceID.String())
		if got := b.srv.output(d.InstanceID, model.Stdout); got != dir+"\n" {
			t.Errorf("pwd = %q, want %q", got, dir+"\n")
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("work dir after the run: %v, want it removed", err)
		}
	})

	t.Run("KeepWorkDir", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(script(`echo kept > file`))
		d.Config.KeepWorkDir = true
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		got, err := os.ReadFile(filepath.Join(b.cfg.DataDir, "runs", d.InstanceID.String(), "file"))
		if err != nil || string(got) != "kept\n" {
			t.Errorf("file in the kept work dir = %q, %v; want %q", got, err, "kept\n")
		}
	})

	t.Run("FixedDirUsedAsIs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		dir := t.TempDir()
		d := newInstance(script(`pwd; touch file`))
		d.Config.WorkDir = dir
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		if got := b.srv.output(d.InstanceID, model.Stdout); got != dir+"\n" {
			t.Errorf("pwd = %q, want %q", got, dir+"\n")
		}
		if _, err := os.Stat(filepath.Join(dir, "file")); err != nil {
			t.Errorf("fixed work dir lost its file: %v", err)
		}
	})

	t.Run("MissingFixedDirFailsToStart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		d := newInstance(model.JobConfig{Command: "true", WorkDir: filepath.Join(t.TempDir(), "missing")})
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonStartFailed || !strings.Contains(done.Error, "work dir") || !done.StartedAt.IsZero() {
			t.Errorf("done = %+v, want %q naming the work dir, never started", done, reasonStartFailed)
		}
	})
}

func TestRunAsUser(t *testing.T) {
	t.Parallel()

	t.Run("NotRootFailsToStart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, &setupOpts{agent: func(a *Agent) { a.euid = 1000 }})
		d := newInstance(model.JobConfig{Command: "true", User: "root"})
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonStartFailed || !strings.Contains(done.Error, "not root") {
			t.Errorf("reason %q, error %q; want %q saying the agent is not root", done.Reason, done.Error, reasonStartFailed)
		}
	})

	t.Run("UnknownUserFailsToStart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		done := b.run(t, newInstance(model.JobConfig{Command: "true", User: "hetuflow-no-such-user"}))
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonStartFailed || !strings.Contains(done.Error, "hetuflow-no-such-user") {
			t.Errorf("reason %q, error %q; want %q naming the user", done.Reason, done.Error, reasonStartFailed)
		}
	})

	t.Run("RootRunsAsNobody", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() != 0 {
			t.Skip("the agent must run as root to switch users")
		}
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Skipf("no user nobody: %v", err)
		}
		// nobody must be able to reach its work dir under DataDir.
		dataDir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dataDir, 0o711); err != nil {
			t.Fatal(err)
		}
		for dir := dataDir; dir != filepath.Clean(os.TempDir()) && dir != "/"; dir = filepath.Dir(dir) {
			if err := os.Chmod(dir, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		b := setup(t, &setupOpts{cfg: func(c *Config) { c.DataDir = dataDir }})
		d := newInstance(script(`id -u; echo "$USER $HOME"; touch file && echo wrote`))
		d.Config.User = "nobody"
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceSucceeded)
		want := fmt.Sprintf("%s\nnobody %s\nwrote\n", nobody.Uid, nobody.HomeDir)
		if got := b.srv.output(d.InstanceID, model.Stdout); got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
	})
}

func TestOutputTail(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// The streams interleave as the agent reads them; one stream each keeps
	// the test exact.
	d := newInstance(script(`i=1; while [ $i -le 1000 ]; do echo "line $i"; i=$((i+1)); done; printf 'no newline'`))
	done := b.run(t, d)
	wantStatus(t, done, model.InstanceSucceeded)
	tail := done.OutputTail
	if len(tail) > tailSize || len(tail) < tailSize-len("line 1000\n") ||
		!strings.HasSuffix(tail, "line 1000\nno newline") || !strings.HasPrefix(tail, "line ") {
		t.Errorf("tail (%d bytes) = %q, want the whole last lines that fit in %d bytes", len(tail), tail, tailSize)
	}
	done = b.run(t, newInstance(script(`echo oops >&2; exit 1`)))
	if done.OutputTail != "oops\n" {
		t.Errorf("tail = %q, want stderr too", done.OutputTail)
	}
}

func TestOutputTailRing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"Empty", nil, ""},
		{"Short", []string{"a\n", "b"}, "a\nb"},
		{"WrapsToLineStart", []string{strings.Repeat("x", tailSize-2) + "\n", "ab\ncd\n"}, "ab\ncd\n"},
		{"OneBigWrite", []string{"first\n" + strings.Repeat("y", tailSize) + "\nlast\n"}, "last\n"},
		{"NoLineBreakKeepsBytes", []string{strings.Repeat("z", 3*tailSize)}, strings.Repeat("z", tailSize)},
		{"CutsAtRuneStart", []string{strings.Repeat("é", tailSize)}, strings.Repeat("é", tailSize/2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tail outputTail
			for _, w := range tc.writes {
				tail.write([]byte(w))
			}
			if got := tail.String(); got != tc.want {
				t.Errorf("tail = %q (%d bytes), want %q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
		})
	}
}

func TestReasons(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct {
		name   string
		script string
		want   string
	}{
		{"Success", `true`, ""},
		{"ExitCode", `exit 3`, reasonExitCode},
		{"Signal", `kill -SEGV $$`, reasonSignal},
	} {
		done := b.run(t, newInstance(script(tc.script)))
		if done.Reason != tc.want {
			t.Errorf("%s: reason = %q, want %q", tc.name, done.Reason, tc.want)
		}
	}
	done := b.run(t, newInstance(model.JobConfig{Command: "hetuflow-no-such-command"}))
	if done.Reason != reasonStartFailed {
		t.Errorf("command not found: reason = %q, want %q", done.Reason, reasonStartFailed)
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	line := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 10000 200 18446744073709551615"
	p, ok := parseProcStat(4242, []byte(line))
	if want := (procInfo{pid: 4242, ppid: 1, pgrp: 4242, sid: 4242, state: 'S', start: 987654}); !ok || p != want {
		t.Errorf("parseProcStat = %+v, %v; want %+v", p, ok, want)
	}
	if _, ok := parseProcStat(1, []byte("1 (x) S 0")); ok {
		t.Errorf("parseProcStat of a short line succeeded")
	}
	self, ok := readProcInfo(selfPID)
	if !ok || self.ppid != syscall.Getppid() || !self.alive() {
		t.Errorf("readProcInfo(self) = %+v, %v; want our parent %d", self, ok, syscall.Getppid())
	}
}

func TestFindCgroup2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mountinfo, mnt, root string
	}{
		{"Unified", "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup", "/"},
		{"Hybrid", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified", "/"},
		{"PrefersSysFsCgroup", "50 1 0:40 /x /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n30 23 0:26 /sub /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup", "/sub"},
		{"Escaped", "50 1 0:40 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n", "/mnt/cg two", "/"},
		{"None", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mnt, root, ok := findCgroup2([]byte(tc.mountinfo))
			if mnt != tc.mnt || root != tc.root || ok != (tc.mnt != "") {
				t.Errorf("findCgroup2 = %q, %q, %v; want %q, %q", mnt, root, ok, tc.mnt, tc.root)
			}
		})
	}
}

func TestStatField(t *testing.T) {
	t.Parallel()
	b := []byte("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n")
	for key, want := range map[string]int64{"user_usec": 1000, "system_usec": 500, "usage_usec": 1500, "missing": 0} {
		if got := statField(b, key); got != want {
			t.Errorf("statField(%q) = %d, want %d", key, got, want)
		}
	}
}

// Every fired process run is counted off the start gate once its start is
// over, whatever became of it: a count left behind would hold reports back
// at the start of every burst.
func TestStartGateCountsEveryRun(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	secrets := newInstance(model.JobConfig{Command: "true"})
	secrets.SecretError = "vault sealed"
	for _, d := range []*protocol.DispatchedInstance{
		newInstance(model.JobConfig{Command: "true"}),
		newInstance(model.JobConfig{Command: "hetuflow-no-such-command"}),
		newInstance(model.JobConfig{Command: "true", WorkDir: filepath.Join(t.TempDir(), "missing")}),
		newInstance(model.JobConfig{Command: "true", User: "hetuflow-no-such-user"}),
		secrets,
	} {
		b.run(t, d)
		if n := b.agent.starts.pending.Load(); n != 0 {
			t.Errorf("after %q (%s): %d starts pending, want 0", d.Config.Command, d.Config.WorkDir+d.Config.User+d.SecretError, n)
		}
	}
}

func TestWorkDirsWarm(t *testing.T) {
	t.Parallel()
	var w workDirs
	runs := filepath.Join(t.TempDir(), "runs")
	if err := os.Mkdir(runs, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := w.reset(runs); err != nil {
		t.Fatal(err)
	}
	if err := w.warm(3); err != nil {
		t.Fatal(err)
	}
	if len(w.free) != 3 {
		t.Fatalf("pool holds %d dirs after warm(3), want 3", len(w.free))
	}
	for _, dir := range w.free {
		if !pristine(dir) {
			t.Errorf("warm dir %s is not as a run's work dir is made", dir)
		}
	}
	if err := w.warm(10 * workDirPoolSize); err != nil {
		t.Fatal(err)
	}
	if len(w.free) != workDirPoolSize {
		t.Errorf("pool holds %d dirs, want at most %d", len(w.free), workDirPoolSize)
	}
	// A run's dir is a warm one moved into place, not a new one.
	from := w.free[len(w.free)-1]
	dir := filepath.Join(runs, "run-1")
	if err := w.get(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(from); !errors.Is(err, os.ErrNotExist) || !pristine(dir) {
		t.Errorf("get: warm dir %s still there (%v) or %s not made from it", from, err, dir)
	}
}

// TestCgroupsWarm is not parallel: the run cgroups' pool is the process's,
// and the package's parallel tests take from it.
func TestCgroupsWarm(t *testing.T) {
	if why := cgroupUnavailable(); why != "" {
		t.Skip("no cgroup for runs here: " + why)
	}
	sb := acquireSandbox(false)
	defer sb.release()
	c := sb.cg
	if err := c.warm(5); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	pooled, seq := len(c.pool), c.seq
	for _, rc := range c.pool {
		if rc.fd < 0 || !fileExists(rc.dir+"/cgroup.procs") {
			t.Errorf("pooled cgroup %s: fd %d, or gone", rc.dir, rc.fd)
		}
	}
	c.mu.Unlock()
	if pooled < 5 {
		t.Fatalf("pool holds %d cgroups after warm(5), want at least 5", pooled)
	}
	rc, err := c.get(&model.ResourceLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.put()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq || len(c.pool) != pooled-1 {
		t.Errorf("get made a cgroup (seq %d → %d, pool %d → %d), want a pooled one", seq, c.seq, pooled, len(c.pool))
	}
}
