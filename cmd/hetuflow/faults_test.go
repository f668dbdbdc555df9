package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

// linkProxy forwards TCP connections to a target and can cut them all at
// once, like a network failure between an agent and its server.
type linkProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &linkProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *linkProxy) addr() string { return p.ln.Addr().String() }

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *linkProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every connection mid-stream and refuses new ones until heal.
func (p *linkProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *linkProxy) heal() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// readLog returns an instance's whole stored stream.
func (c *client) readLog(id string, stream model.LogStream) string {
	c.t.Helper()
	ch, err := c.api().ReadLog(c.t.Context(), uuid.MustParse(id), &hf.LogRequest{Stream: string(stream)})
	if err != nil {
		c.t.Fatalf("read log: %v", err)
	}
	return string(ch.Data)
}

// TestBinaryLinkCutMidRun cuts the agent's connection while a job prints,
// keeps it down past the job's end, and checks that after the reconnect the
// result arrives once and the log holds every line once, in order.
func TestBinaryLinkCutMidRun(t *testing.T) {
	t.Parallel()
	env := []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
		// Long enough that the outage below is a flaky link, not a lost
		// agent.
		"HETUFLOW_SCHEDULER_HEARTBEAT_TTL=8s"}
	srv := start(t, "server", env, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	c := &client{t: t, base: "http://" + addr, token: e2eAdminToken}
	proxy := newLinkProxy(t, addr)
	agent := start(t, "agent", nil, "agent", "--server", "ws://"+proxy.addr(), "--token", e2eAgentToken, "--id", "flaky-agent", "--data-dir", t.TempDir())
	c.waitFor(15*time.Second, "agent online", func() bool {
		var a model.Agent
		return c.call("GET", "/agents/flaky-agent", nil, &a) == 200 && a.Status == model.AgentOnline
	})
	const lines = 400
	script := fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "out-$i"; echo "err-$i" >&2; i=$((i+1)); if [ $((i %% 20)) -eq 0 ]; then sleep 0.1; fi; done`, lines)
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "chatty", "config": map[string]any{"script": script}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	var task model.Task
	if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
		t.Fatalf("run = %d", st)
	}
	var inst *model.TaskInstance
	c.waitFor(20*time.Second, "the run to start", func() bool {
		ins := c.instances(map[string]any{"task_id": task.ID.String(), "status": "running"})
		if len(ins) == 1 {
			inst = ins[0]
		}
		return inst != nil
	})
	// Cut while it prints, and stay down until after it ended: its output
	// and result wait in the agent's outbox.
	time.Sleep(300 * time.Millisecond)
	proxy.cut()
	time.Sleep(3 * time.Second)
	proxy.heal()
	c.waitFor(30*time.Second, "the task to succeed", func() bool {
		var got model.Task
		c.call("GET", "/tasks/"+task.ID.String(), nil, &got)
		return got.Status == model.TaskSucceeded
	})
	all := c.instances(map[string]any{"task_id": task.ID.String()})
	if len(all) != 1 || all[0].Attempt != 1 || all[0].Status != model.InstanceSucceeded {
		t.Fatalf("instances = %+v, want one succeeded attempt", all)
	}
	for _, s := range []struct {
		stream model.LogStream
		prefix string
	}{{model.Stdout, "out-"}, {model.Stderr, "err-"}} {
		var want strings.Builder
		for i := 1; i <= lines; i++ {
			fmt.Fprintf(&want, "%s%d\n", s.prefix, i)
		}
		if got := c.readLog(inst.ID.String(), s.stream); got != want.String() {
			t.Errorf("%s: %d bytes, want %d: every line once, in order (first difference at byte %d)", s.stream, len(got), want.Len(), firstDiff(got, want.String()))
		}
	}
	agent.stop(40 * time.Second)
	srv.stop(20 * time.Second)
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestBinaryAgentKilledMidRun SIGKILLs the agent running a task and checks
// that the task is retried on another agent within the heartbeat TTL plus
// one second, and that the lost attempt says why.
func TestBinaryAgentKilledMidRun(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second // fastEnv's heartbeat TTL
	env := []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true"}
	srv := start(t, "server", env, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	c := &client{t: t, base: "http://" + addr, token: e2eAdminToken}
	agents := map[string]*proc{}
	for _, id := range []string{"primary", "standby"} {
		agents[id] = start(t, id, nil, "agent", "--server", "ws://"+addr, "--token", e2eAgentToken, "--id", id, "--data-dir", t.TempDir())
	}
	c.waitFor(15*time.Second, "both agents online", func() bool {
		var page struct{ Result []*model.Agent }
		c.call("POST", "/agents/query", map[string]any{"filter": map[string]any{"status": "online"}}, &page)
		return len(page.Result) == 2
	})
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "long", "config": map[string]any{
		"script":  "sleep 4",
		"routing": map[string]any{"strategy": "failover", "prefer": []string{"primary", "standby"}},
		"retry":   map[string]any{"max_attempts": 2, "delay": "10ms"},
	}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	var task model.Task
	if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
		t.Fatalf("run = %d", st)
	}
	c.waitFor(20*time.Second, "the run to start on primary", func() bool {
		ins := c.instances(map[string]any{"task_id": task.ID.String(), "status": "running"})
		return len(ins) == 1 && ins[0].AgentID == "primary"
	})
	if err := agents["primary"].cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL primary: %v", err)
	}
	killed := time.Now()
	<-agents["primary"].done
	var retry *model.TaskInstance
	c.waitFor(ttl+10*time.Second, "the retry to start on standby", func() bool {
		for _, in := range c.instances(map[string]any{"task_id": task.ID.String(), "attempt": 2}) {
			if in.StartedAt != nil {
				retry = in
			}
		}
		return retry != nil
	})
	if retry.AgentID != "standby" {
		t.Errorf("retry ran on %s, want standby", retry.AgentID)
	}
	took := retry.StartedAt.Sub(killed)
	t.Logf("retry started on %s %s after the kill (TTL %s)", retry.AgentID, took.Round(time.Millisecond), ttl)
	if took > ttl+time.Second {
		t.Errorf("retry started %s after the kill, want within the TTL (%s) plus one second", took.Round(time.Millisecond), ttl)
	}
	first := c.instances(map[string]any{"task_id": task.ID.String(), "attempt": 1})
	if len(first) != 1 || first[0].Status != model.InstanceLost || first[0].Reason != "lost" && !strings.Contains(first[0].Error, "primary") {
		t.Errorf("first attempt = %+v, want lost on primary", first)
	}
	c.waitFor(20*time.Second, "the task to succeed", func() bool {
		var got model.Task
		c.call("GET", "/tasks/"+task.ID.String(), nil, &got)
		return got.Status == model.TaskSucceeded
	})
	agents["standby"].stop(40 * time.Second)
	srv.stop(20 * time.Second)
}

// TestBinaryBroadcast runs a broadcast job on every matching agent and
// checks each run saw its shard.
func TestBinaryBroadcast(t *testing.T) {
	t.Parallel()
	env := []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true"}
	srv := start(t, "server", env, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	c := &client{t: t, base: "http://" + addr, token: e2eAdminToken}
	var agents []*proc
	for _, a := range []struct{ id, role string }{{"web-1", "web"}, {"web-2", "web"}, {"db-1", "db"}} {
		agents = append(agents, start(t, a.id, nil, "agent", "--server", "ws://"+addr, "--token", e2eAgentToken, "--id", a.id, "--label", "role="+a.role, "--data-dir", t.TempDir()))
	}
	c.waitFor(15*time.Second, "agents online", func() bool {
		var page struct{ Result []*model.Agent }
		c.call("POST", "/agents/query", map[string]any{"filter": map[string]any{"status": "online"}}, &page)
		return len(page.Result) == 3
	})
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "everywhere", "config": map[string]any{
		"script":   `echo "$HETUFLOW_SHARD_INDEX/$HETUFLOW_SHARD_TOTAL"`,
		"selector": []map[string]any{{"key": "role", "op": "in", "values": []string{"web"}}, {"key": "os", "op": "exists"}},
		"routing":  map[string]any{"strategy": "broadcast"},
	}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	var task model.Task
	if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
		t.Fatalf("run = %d", st)
	}
	c.waitFor(20*time.Second, "the broadcast to succeed", func() bool {
		var got model.Task
		c.call("GET", "/tasks/"+task.ID.String(), nil, &got)
		return got.Status == model.TaskSucceeded
	})
	outputs := map[string]string{}
	for _, in := range c.instances(map[string]any{"task_id": task.ID.String()}) {
		if !strings.HasPrefix(in.Placement, "broadcast: every one of 2 matching agents") {
			t.Errorf("placement of %s = %q", in.AgentID, in.Placement)
		}
		outputs[in.AgentID] = strings.TrimSpace(c.readLog(in.ID.String(), model.Stdout))
	}
	if len(outputs) != 2 || outputs["web-1"] != "0/2" || outputs["web-2"] != "1/2" {
		t.Errorf("shard outputs = %v, want web-1 0/2 and web-2 1/2", outputs)
	}
	for _, a := range agents {
		a.stop(40 * time.Second)
	}
	srv.stop(20 * time.Second)
}
