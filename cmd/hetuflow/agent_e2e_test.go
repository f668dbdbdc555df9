package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// tcpProxy forwards loopback connections to a server and can cut them, so a
// test can take the server away from an agent without stopping it.
type tcpProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	up    bool
	conns map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &tcpProxy{ln: ln, target: target, up: true, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.accept()
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(s, c) }()
		go func() { defer p.wg.Done(); p.pipe(c, s) }()
	}
}

// pipe copies until either side ends, then closes both.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut drops every connection and refuses new ones until restore.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	p.up = false
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.up = true
	p.mu.Unlock()
}

var instanceFinishedRe = regexp.MustCompile(`"msg":"instance finished".*"instance_id":"([^"]+)"`)

// agentServer starts a server for the agent tests: a long heartbeat TTL, so
// an agent away for a few seconds keeps its runs.
func agentServer(t *testing.T) (*proc, *client) {
	t.Helper()
	srv := start(t, "server", []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
		"HETUFLOW_SCHEDULER_HEARTBEAT_TTL=30s"}, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	return srv, &client{t: t, base: "http://" + addr, token: e2eAdminToken}
}

func (c *client) waitAgent(id string, status model.AgentStatus) {
	c.t.Helper()
	c.waitFor(15*time.Second, "agent "+id+" "+status.String(), func() bool {
		var ag model.Agent
		return c.call("GET", "/agents/"+id, nil, &ag) == 200 && ag.Status == status
	})
}

func (c *client) runJob(script string) (*model.Job, *model.Task) {
	c.t.Helper()
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": fmt.Sprintf("job-%d", time.Now().UnixNano()), "config": map[string]any{"script": script}}, &job); st != 201 {
		c.t.Fatalf("create job = %d", st)
	}
	var task model.Task
	if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
		c.t.Fatalf("run job = %d", st)
	}
	return &job, &task
}

// waitInstance waits until the task has an instance for which cond holds.
func (c *client) waitInstance(task *model.Task, what string, cond func(*model.TaskInstance) bool) *model.TaskInstance {
	c.t.Helper()
	var got *model.TaskInstance
	c.waitFor(30*time.Second, what, func() bool {
		for _, in := range c.instances(map[string]any{"task_id": task.ID.String()}) {
			if cond(in) {
				got = in
				return true
			}
		}
		return false
	})
	return got
}

func (c *client) log(id string) string {
	c.t.Helper()
	ch, err := c.api().ReadLog(c.t.Context(), uuid.MustParse(id), nil)
	if err != nil {
		c.t.Fatalf("get log: %v", err)
	}
	return string(ch.Data)
}

// TestBinaryAgentRestartKeepsOutbox cuts an agent off from its server
// mid-run, lets the run finish, stops the agent, and starts it again on the
// same data dir once the server is reachable: the result and every byte of
// output arrive, once.
func TestBinaryAgentRestartKeepsOutbox(t *testing.T) {
	t.Parallel()
	srv, c := agentServer(t)
	proxy := newProxy(t, strings.TrimPrefix(c.base, "http://"))
	dataDir := t.TempDir()
	agentArgs := []string{"agent", "--server", "ws://" + proxy.addr(), "--token", e2eAgentToken, "--id", "restarted", "--data-dir", dataDir}
	agentEnv := []string{"HETUFLOW_AGENT_SHUTDOWN_GRACE=3s"}
	agent := start(t, "agent", agentEnv, agentArgs...)
	c.waitAgent("restarted", model.AgentOnline)

	gate := filepath.Join(t.TempDir(), "gate")
	_, task := c.runJob(`echo before; while [ ! -f ` + gate + ` ]; do sleep 0.02; done; seq 1 20000; echo after`)
	in := c.waitInstance(task, "the run to start", func(in *model.TaskInstance) bool { return in.Status == model.InstanceRunning })

	proxy.cut()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if id := agent.waitLine(instanceFinishedRe, 20*time.Second); id != in.ID.String() {
		t.Fatalf("agent finished %s, want %s", id, in.ID)
	}
	// Stopped while the server is out of reach: the reports stay on disk.
	agent.stop(30 * time.Second)

	proxy.restore()
	agent2 := start(t, "agent again", agentEnv, agentArgs...)
	got := c.waitInstance(task, "the result after the restart", func(in *model.TaskInstance) bool { return in.Status.Final() })
	if got.ID != in.ID || got.Status != model.InstanceSucceeded {
		t.Fatalf("instance %s ended %s (%s), want %s succeeded", got.ID, got.Status, got.Error, in.ID)
	}
	var want strings.Builder
	want.WriteString("before\n")
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	want.WriteString("after\n")
	if log := c.log(in.ID.String()); log != want.String() {
		t.Errorf("log has %d bytes, want %d: every byte exactly once", len(log), want.Len())
	}
	if ins := c.instances(map[string]any{"task_id": task.ID.String()}); len(ins) != 1 {
		t.Errorf("task has %d instances, want 1", len(ins))
	}
	agent2.stop(30 * time.Second)
	srv.stop(20 * time.Second)
}

// TestBinaryAgentDrain drains agents with SIGTERM and through the API: each
// shows Draining, lets its run finish, and exits 0.
func TestBinaryAgentDrain(t *testing.T) {
	t.Parallel()
	srv, c := agentServer(t)
	addr := strings.TrimPrefix(c.base, "http://")
	for _, tc := range []struct {
		name  string
		drain func(t *testing.T, c *client, p *proc)
	}{
		{"SIGTERM", func(t *testing.T, _ *client, p *proc) {
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("SIGTERM: %v", err)
			}
		}},
		{"API", func(t *testing.T, c *client, _ *proc) {
			if st := c.call("POST", "/agents/drain-API/drain", nil, nil); st != 202 {
				t.Fatalf("drain = %d, want 202", st)
			}
		}},
	} {
		// One after the other, not in parallel: the server's only agent
		// is the one under test, so its job can only run there.
		t.Run(tc.name, func(t *testing.T) {
			c := &client{t: t, base: c.base, token: c.token}
			id := "drain-" + tc.name
			agent := start(t, id, nil, "agent", "--server", "ws://"+addr, "--token", e2eAgentToken, "--id", id, "--data-dir", t.TempDir())
			c.waitAgent(id, model.AgentOnline)
			gate := filepath.Join(t.TempDir(), "gate")
			var job model.Job
			if st := c.call("POST", "/jobs", map[string]any{"name": "job-" + id, "config": map[string]any{
				"script": `while [ ! -f ` + gate + ` ]; do sleep 0.02; done; echo finished`}}, &job); st != 201 {
				t.Fatalf("create job = %d", st)
			}
			var task model.Task
			if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
				t.Fatalf("run job = %d", st)
			}
			in := c.waitInstance(&task, "the run to start", func(in *model.TaskInstance) bool { return in.Status == model.InstanceRunning })

			tc.drain(t, c, agent)
			c.waitAgent(id, model.AgentDraining)
			select {
			case <-agent.done:
				t.Fatalf("agent exited before its run finished")
			default:
			}
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			select {
			case <-agent.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("agent did not exit after its run finished")
			}
			if code := agent.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("agent exited with %d, want 0", code)
			}
			got := c.waitInstance(&task, "the result", func(in *model.TaskInstance) bool { return in.Status.Final() })
			if got.ID != in.ID || got.Status != model.InstanceSucceeded {
				t.Errorf("instance %s ended %s (%s), want %s succeeded", got.ID, got.Status, got.Error, in.ID)
			}
			if log := c.log(in.ID.String()); log != "finished\n" {
				t.Errorf("log = %q, want %q", log, "finished\n")
			}
		})
	}
	srv.stop(20 * time.Second)
}

// TestBinaryAgentRestartReportsLostRun SIGKILLs an agent mid-run and starts it again
// on the same data dir: it reports the run it lost, at once.
func TestBinaryAgentRestartReportsLostRun(t *testing.T) {
	t.Parallel()
	srv, c := agentServer(t)
	addr := strings.TrimPrefix(c.base, "http://")
	dataDir := t.TempDir()
	args := []string{"agent", "--server", "ws://" + addr, "--token", e2eAgentToken, "--id", "killed", "--data-dir", dataDir}
	agent := start(t, "agent", nil, args...)
	c.waitAgent("killed", model.AgentOnline)
	gate := filepath.Join(t.TempDir(), "gate")
	t.Cleanup(func() { _ = os.WriteFile(gate, nil, 0o644) }) // ends an orphaned run
	_, task := c.runJob(`while [ ! -f ` + gate + ` ]; do sleep 0.02; done`)
	in := c.waitInstance(task, "the run to start", func(in *model.TaskInstance) bool { return in.Status == model.InstanceRunning })
	if err := agent.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL agent: %v", err)
	}
	<-agent.done

	agent2 := start(t, "agent again", nil, args...)
	got := c.waitInstance(task, "the lost run reported", func(i *model.TaskInstance) bool { return i.ID == in.ID && i.Status.Final() })
	if got.Status != model.InstanceLost || got.Reason != "agent_restarted" || got.StartedAt == nil {
		t.Errorf("instance ended %s, reason %q, started %v; want lost, agent_restarted, its start kept", got.Status, got.Reason, got.StartedAt)
	}
	agent2.stop(30 * time.Second)
	srv.stop(20 * time.Second)
}
