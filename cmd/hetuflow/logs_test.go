package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// logsRun is one finished `hetuflow logs` process.
type logsRun struct {
	lines  []string
	at     []time.Time // when each line arrived
	stderr string
	code   int
}

// runLogs runs `hetuflow logs args…` with the token in HETUFLOW_TOKEN and
// records when each line of its output arrives.
func runLogs(t *testing.T, token string, args ...string) *logsRun {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, append([]string{"logs"}, args...)...)
	cmd.Env = append(os.Environ(), "HETUFLOW_TOKEN="+token, "HETUFLOW_SERVER=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start logs: %v", err)
	}
	r := &logsRun{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		r.lines = append(r.lines, sc.Text())
		r.at = append(r.at, time.Now())
	}
	_ = cmd.Wait()
	r.stderr, r.code = stderr.String(), cmd.ProcessState.ExitCode()
	return r
}

// TestBinaryLogsFollow follows and reads logs through `hetuflow logs` with
// output kept in the database (the default) and in files.
func TestBinaryLogsFollow(t *testing.T) {
	t.Parallel()
	for _, logStore := range []string{"database", "files"} {
		t.Run(logStore, func(t *testing.T) {
			t.Parallel()
			testBinaryLogs(t, logStore)
		})
	}
}

func testBinaryLogs(t *testing.T, logStore string) {
	dataDir := t.TempDir()
	dev := start(t, "dev", []string{"HETUFLOW_SERVER_LOG_STORE=" + logStore}, "dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	base := dev.waitLine(devAddrRe, 20*time.Second)
	token := dev.waitLine(devTokenRe, 5*time.Second)
	c := &client{t: t, base: base, token: token}
	runJob := func(name, script string) *model.Task {
		t.Helper()
		var job model.Job
		if st := c.call("POST", "/jobs", map[string]any{"name": name, "config": map[string]any{"script": script}}, &job); st != 201 {
			t.Fatalf("create job %s = %d", name, st)
		}
		var task model.Task
		if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
			t.Fatalf("run %s = %d", name, st)
		}
		return &task
	}

	// Follow by task id, started before the run has an instance: the
	// command waits for it, then streams the lines as they are printed.
	task := runJob("ten-lines", `for i in $(seq 1 10); do echo "line $i"; sleep 0.1; done`)
	r := runLogs(t, token, "-f", task.ID.String(), "--server", base)
	var want []string
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if r.code != 0 || strings.Join(r.lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logs -f: exit %d, lines %q, stderr %q; want exit 0 and %q", r.code, r.lines, r.stderr, want)
	}
	// The lines came over about a second, not all at once at the end.
	if spread := r.at[len(r.at)-1].Sub(r.at[0]); spread < 300*time.Millisecond {
		t.Errorf("lines arrived within %s of each other; want them as the run printed them", spread)
	}

	// A failed run: its output, then exit status 6 naming the exit code.
	failed := runJob("fails", `echo "about to fail"; exit 3`)
	r = runLogs(t, token, "-f", failed.ID.String(), "--server", strings.TrimPrefix(base, "http://"))
	if r.code != exitRunFailed || strings.Join(r.lines, "\n") != "about to fail" || !strings.Contains(r.stderr, "exit code 3") {
		t.Errorf("logs -f of a failed run: exit %d, lines %q, stderr %q; want exit 6, its line, and exit code 3", r.code, r.lines, r.stderr)
	}

	// Without -f, by instance id, from the finished log; as files, once
	// packed: ten short lines stay plain and are sealed (made read-only)
	// rather than gzipped (see tasklog). In the database no file is written.
	ins := c.instances(map[string]any{"task_id": task.ID.String()})
	if len(ins) != 1 {
		t.Fatalf("instances of the first task = %d, want 1", len(ins))
	}
	plain := filepath.Join(dataDir, "logs", "*", ins[0].ID.String()+".stdout")
	if logStore == "files" {
		c.waitFor(10*time.Second, "the finished log to be sealed", func() bool {
			m, _ := filepath.Glob(plain)
			if len(m) != 1 {
				return false
			}
			st, err := os.Stat(m[0])
			return err == nil && st.Mode().Perm()&0o200 == 0
		})
	} else if m, _ := filepath.Glob(filepath.Join(dataDir, "logs", "*", "*")); len(m) > 0 {
		t.Errorf("log files %q with output kept in the database", m)
	}
	r = runLogs(t, token, "--tail", "2", ins[0].ID.String(), "--server", base)
	if r.code != 0 || strings.Join(r.lines, "\n") != "line 9\nline 10" {
		t.Errorf("logs --tail 2: exit %d, lines %q, stderr %q; want the last two lines", r.code, r.lines, r.stderr)
	}
	if r := runLogs(t, "hf_wrong", ins[0].ID.String(), "--server", base); r.code != exitUnauthorized || !strings.Contains(r.stderr, "401") {
		t.Errorf("logs with a wrong token: exit %d, stderr %q; want exit %d and 401", r.code, r.stderr, exitUnauthorized)
	}
	dev.stop(40 * time.Second)
}
