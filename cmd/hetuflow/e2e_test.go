package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// binary is the hetuflow binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hetuflow-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hetuflow")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hetuflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// proc is a running hetuflow process whose output the test can watch.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd

	mu     sync.Mutex
	output bytes.Buffer
	lines  chan string
	done   chan struct{}
}

const (
	e2eAdminToken = "hf_e2e-admin-token-0123456789"
	e2eAgentToken = "hf_e2e-agent-token-0123456789"
)

// fastEnv shortens the scheduler's timings for tests.
var fastEnv = []string{
	// The tests read English human messages, whatever the machine's locale.
	"LC_ALL=C",
	"HETUFLOW_LOG_FORMAT=json",
	"HETUFLOW_LOG_LEVEL=info",
	"HETUFLOW_SCHEDULER_GENERATE_INTERVAL=100ms",
	"HETUFLOW_SCHEDULER_DISPATCH_INTERVAL=50ms",
	"HETUFLOW_SCHEDULER_DISPATCH_HORIZON=1s",
	"HETUFLOW_SCHEDULER_HOUSEKEEPING_INTERVAL=200ms",
	"HETUFLOW_SCHEDULER_HEARTBEAT_INTERVAL=500ms",
	"HETUFLOW_SCHEDULER_HEARTBEAT_TTL=3s",
}

func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), fastEnv...), env...)
	cmd.Dir = t.TempDir()
	p := &proc{t: t, name: name, cmd: cmd, lines: make(chan string, 10_000), done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.output.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s output:\n%s", name, p.output.String())
			p.mu.Unlock()
		}
	})
	return p
}

// waitLine returns the first submatch of re in the process's output.
func (p *proc) waitLine(re *regexp.Regexp, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line := <-p.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m[len(m)-1]
			}
		case <-p.done:
			p.t.Fatalf("%s exited before printing %s", p.name, re)
		case <-deadline:
			p.t.Fatalf("%s did not print %s within %s", p.name, re, timeout)
		}
	}
}

// stop sends SIGTERM and checks the process exits cleanly in time.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("%s exited with %d after SIGTERM, want 0", p.name, code)
	}
}

var serverAddrRe = regexp.MustCompile(`"msg":"server started".*"address":"([^"]+)"`)

// client calls the HTTP API of a server.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) call(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("decode %s: %v", raw, err)
		}
	}
	if resp.StatusCode >= 300 {
		c.t.Logf("%s %s = %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

func (c *client) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// api returns the Go client of the same server, for helpers that need
// typed calls.
func (c *client) api() *hf.Client {
	c.t.Helper()
	a, err := hf.New(c.base, hf.WithToken(c.token))
	if err != nil {
		c.t.Fatalf("client: %v", err)
	}
	return a
}

func (c *client) instances(filter map[string]any) []*model.TaskInstance {
	c.t.Helper()
	res, err := c.api().QueryInstances(c.t.Context(), &hf.Query{Filter: filter, Page: hf.Page{Limit: 1000}})
	if err != nil {
		c.t.Logf("query instances: %v", err)
		return nil
	}
	return res.Result
}

func TestBinaryPostgresServerAndLabelledAgents(t *testing.T) {
	t.Parallel()
	dbURL := teststore.SchemaURL(t)
	srv := start(t, "server", []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true"},
		"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", dbURL)
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	c := &client{t: t, base: "http://" + addr, token: e2eAdminToken}
	agents := map[string]*proc{}
	for _, zone := range []string{"a", "b"} {
		agents[zone] = start(t, "agent-"+zone, nil, "agent", "--server", "ws://"+addr, "--token", e2eAgentToken,
			"--id", "agent-"+zone, "--label", "zone="+zone, "--data-dir", t.TempDir())
	}
	c.waitFor(15*time.Second, "both agents online", func() bool {
		var page struct{ Result []*model.Agent }
		c.call("POST", "/agents/query", map[string]any{"filter": map[string]any{"status": "online"}}, &page)
		return len(page.Result) == 2
	})
	jobs := map[string]*model.Job{}
	for _, zone := range []string{"a", "b"} {
		var job model.Job
		if st := c.call("POST", "/jobs", map[string]any{"name": "job-" + zone, "config": map[string]any{
			"script": "echo ran in zone " + zone, "labels": map[string]string{"zone": zone}}}, &job); st != 201 {
			t.Fatalf("create job-%s = %d", zone, st)
		}
		jobs[zone] = &job
		for range 3 {
			if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, nil); st != 201 {
				t.Fatalf("run job-%s = %d", zone, st)
			}
		}
	}
	// And a schedule, to see planned runs land on the right agent too.
	if st := c.call("POST", "/schedules", map[string]any{"job_id": jobs["a"].ID, "kind": 2, "interval": "1s"}, nil); st != 201 {
		t.Fatalf("create schedule = %d", st)
	}
	for zone, job := range jobs {
		want := 3
		if zone == "a" {
			want = 5
		}
		c.waitFor(30*time.Second, "succeeded runs of job-"+zone, func() bool {
			return len(c.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})) >= want
		})
		for _, in := range c.instances(map[string]any{"job_id": job.ID.String()}) {
			if in.AgentID != "agent-"+zone {
				t.Errorf("job-%s ran on %s, want agent-%s only", zone, in.AgentID, zone)
			}
		}
	}
	for _, a := range agents {
		a.stop(40 * time.Second)
	}
	srv.stop(20 * time.Second)
}

var devTokenRe = regexp.MustCompile(`admin token: (hf_\S+)`)
var devAddrRe = regexp.MustCompile(`hetuflow dev is running: (http://\S+)`)

func TestBinaryDevMode(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	dev := start(t, "dev", nil, "dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	base := dev.waitLine(devAddrRe, 20*time.Second)
	token := dev.waitLine(devTokenRe, 5*time.Second)
	c := &client{t: t, base: base, token: token}
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "hello", "config": map[string]any{"command": "echo", "args": []string{"hello from hetuflow"}}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	var task model.Task
	if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
		t.Fatalf("run = %d", st)
	}
	var ins []*model.TaskInstance
	c.waitFor(20*time.Second, "the run to succeed", func() bool {
		ins = c.instances(map[string]any{"task_id": task.ID.String(), "status": "succeeded"})
		return len(ins) == 1
	})
	req, _ := http.NewRequest("GET", base+"/api/v1/task-instances/"+ins[0].ID.String()+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("get log: %v", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(out) != "hello from hetuflow\n" {
		t.Errorf("log = %q, want %q", out, "hello from hetuflow\n")
	}
	dev.stop(40 * time.Second)

	// A second start on the same data directory prints the same token and
	// finds the job again.
	dev2 := start(t, "dev again", nil, "dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	base2 := dev2.waitLine(devAddrRe, 20*time.Second)
	if tok := dev2.waitLine(devTokenRe, 5*time.Second); tok != token {
		t.Errorf("token after restart = %q, want %q", tok, token)
	}
	c2 := &client{t: t, base: base2, token: token}
	if st := c2.call("GET", "/jobs/"+job.ID.String(), nil, nil); st != 200 {
		t.Errorf("job after restart = %d, want 200", st)
	}
	dev2.stop(40 * time.Second)
}

func TestBinaryConfigAndTools(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (string, int) {
		cmd := exec.CommandContext(context.Background(), binary, args...)
		cmd.Dir = t.TempDir()
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[scheduler]\nack_timout = \"5s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run("server", "--config", bad); code != exitConfig || !strings.Contains(out, "scheduler.ack_timout") {
		t.Errorf("server with an unknown key: exit %d, %q; want exit %d naming scheduler.ack_timout", code, out, exitConfig)
	}
	if out, code := run("version"); code != 0 || !strings.HasPrefix(out, "hetuflow ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	if out, code := run("migrate", "status", "--database", db); code != 0 || !strings.Contains(out, "pending") {
		t.Errorf("migrate status on a new database: exit %d, %q; want pending migrations", code, out)
	}
	if out, code := run("migrate", "up", "--database", db); code != 0 {
		t.Errorf("migrate up: exit %d, %q", code, out)
	}
	if out, code := run("migrate", "status", "--database", db); code != 0 || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
		t.Errorf("migrate status after up: exit %d, %q; want all applied", code, out)
	}
}
