package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// haLeaderTTL is the leader lease in these tests (default 6 s): a takeover
// after a crash takes at most the TTL plus a third of it.
const haLeaderTTL = 3 * time.Second

// ha is a cluster of servers on one PostgreSQL schema, each on a fixed
// address so it comes back where its agents look for it.
type ha struct {
	t       *testing.T
	dbURL   string
	env     []string
	servers []*haServer
}

type haServer struct {
	name, addr, dataDir string
	dbURL               string // the database URL this server uses
	p                   *proc
	up                  bool
}

func newHA(t *testing.T, n int, env ...string) *ha {
	t.Helper()
	h := &ha{t: t, dbURL: teststore.SchemaURL(t), env: append([]string{
		"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
		"HETUFLOW_SCHEDULER_LEADER_TTL=" + haLeaderTTL.String(),
	}, env...)}
	for i := range n {
		s := &haServer{name: fmt.Sprintf("server-%d", i+1), addr: freePort(t), dataDir: filepath.Join(t.TempDir(), "data"), dbURL: h.dbURL}
		h.servers = append(h.servers, s)
		h.start(i)
	}
	return h
}

func (h *ha) start(i int) {
	h.t.Helper()
	s := h.servers[i]
	s.p = start(h.t, s.name, h.env, "server", "--listen", s.addr, "--data-dir", s.dataDir, "--database", s.dbURL)
	s.p.waitLine(serverAddrRe, 30*time.Second)
	s.up = true
}

func (h *ha) kill(i int) {
	h.t.Helper()
	s := h.servers[i]
	if err := s.p.cmd.Process.Kill(); err != nil {
		h.t.Fatalf("SIGKILL %s: %v", s.name, err)
	}
	<-s.p.done
	s.up = false
}

// stop stops server i gracefully (SIGTERM) and checks it exits in time.
func (h *ha) stop(i int) {
	h.t.Helper()
	h.servers[i].p.stop(20 * time.Second)
	h.servers[i].up = false
}

// client returns an API client of a server that is up.
func (h *ha) client() *client {
	h.t.Helper()
	for _, s := range h.servers {
		if s.up {
			return &client{t: h.t, base: "http://" + s.addr, token: e2eAdminToken}
		}
	}
	h.t.Fatal("no server is up")
	return nil
}

// agentURLs lists the servers for an agent, starting at the k-th, so
// agents spread over the servers.
func (h *ha) agentURLs(k int) []string {
	var args []string
	for j := range h.servers {
		args = append(args, "--server", "ws://"+h.servers[(k+j)%len(h.servers)].addr)
	}
	return args
}

// status returns the cluster status as a server that is up sees it.
func (h *ha) status() *api.ClusterStatus {
	var st api.ClusterStatus
	h.client().call("GET", "/cluster", nil, &st)
	return &st
}

// leader returns the index of the server holding the live lease, or -1.
func (h *ha) leader(st *api.ClusterStatus) int {
	if st.Leader == nil || !st.LeaderLive {
		return -1
	}
	for i, s := range h.servers {
		for _, cs := range st.Servers {
			if cs.Leader && cs.ID == st.Leader.Holder && cs.Address == s.addr && s.up {
				return i
			}
		}
	}
	return -1
}

// waitLeader waits for a live leader among the servers that are up, other
// than not, and returns it with its epoch.
func (h *ha) waitLeader(timeout time.Duration, not int) (int, int64) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st := h.status()
		if i := h.leader(st); i >= 0 && i != not {
			return i, st.Leader.Epoch
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("no leader within %s", timeout)
	return -1, 0
}

// ledgerCounts sums the ledgers of schedules up to until.
type ledgerCounts struct {
	fires, ran, skipped, gaps, dups int
	byStatus                        map[string]int
}

func checkLedgers(t *testing.T, c *client, ids []string, until string) ledgerCounts {
	t.Helper()
	lc := ledgerCounts{byStatus: map[string]int{}}
	reasons := map[string]int{}
	for _, id := range ids {
		var l api.Ledger
		if st := c.call("GET", "/schedules/"+id+"/ledger?limit=10000&to="+until, nil, &l); st != 200 {
			t.Fatalf("ledger of %s = %d", id, st)
		}
		lc.fires += len(l.Entries)
		lc.gaps += len(l.Gaps)
		lc.dups += len(l.Duplicates)
		for _, e := range l.Entries {
			lc.byStatus[e.Status.String()]++
			switch e.Status {
			case model.TaskSkipped:
				lc.skipped++
			case model.TaskSucceeded:
				lc.ran++
			default:
				if len(reasons) < 20 {
					reasons[e.Status.String()+": "+e.Reason]++
				}
			}
		}
		if len(l.Gaps) > 0 {
			t.Errorf("schedule %s: gaps at %v", id, l.Gaps)
		}
		if len(l.Duplicates) > 0 {
			t.Errorf("schedule %s: duplicates at %v", id, l.Duplicates)
		}
	}
	for r, n := range reasons {
		t.Logf("  %d × %s", n, r)
	}
	if lc.ran+lc.skipped != lc.fires {
		t.Errorf("%d ran + %d skipped != %d fires: some fire is neither", lc.ran, lc.skipped, lc.fires)
	}
	return lc
}

// waitDecided waits until every fire of job up to until is final.
func waitDecided(c *client, jobID, until string, timeout time.Duration) {
	c.waitFor(timeout, "every fire before the cut-off decided", func() bool {
		var page struct{ Page struct{ Total int } }
		c.call("POST", "/tasks/query", map[string]any{"filter": map[string]any{
			"job_id": jobID, "scheduled_at": map[string]any{"$lte": until},
			"status": map[string]any{"$in": []string{"pending", "doing", "waiting_retry"}},
		}, "page": map[string]any{"limit": 1}}, &page)
		return page.Page.Total == 0
	})
}

// checkRunsOnce checks that no task of job succeeded twice and that no
// instance of it planned up to until is still live.
func checkRunsOnce(t *testing.T, c *client, jobID, until string) (succeeded int) {
	t.Helper()
	seen := map[string]bool{}
	for p := 1; ; p++ {
		var page struct{ Result []*model.TaskInstance }
		c.call("POST", "/task-instances/query", map[string]any{"filter": map[string]any{"job_id": jobID, "planned_at": map[string]any{"$lte": until}},
			"page": map[string]any{"page": p, "limit": 1000}}, &page)
		for _, in := range page.Result {
			switch {
			case in.Status == model.InstanceSucceeded && seen[in.TaskID.String()]:
				t.Errorf("task %s succeeded twice", in.TaskID)
			case in.Status == model.InstanceSucceeded:
				seen[in.TaskID.String()] = true
				succeeded++
			case !in.Status.Final():
				t.Errorf("instance %s of task %s is still %s", in.ID, in.TaskID, in.Status)
			}
		}
		if len(page.Result) < 1000 {
			return succeeded
		}
	}
}

// pingTarget is a local endpoint for http jobs: runs cost no fork, so the
// cluster, not the machine's exec rate, is what the load exercises.
func pingTarget(t *testing.T) (string, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

// createTicks creates an http job and n one-second schedules anchored at
// different milliseconds, and returns the job and schedule ids.
func createTicks(t *testing.T, c *client, url string, n int) (string, []string) {
	t.Helper()
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "tick", "config": map[string]any{"type": "http", "http": map[string]any{"url": url}}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	var ids []string
	base := time.Now().Truncate(time.Second).Add(2 * time.Second)
	for i := range n {
		var s model.Schedule
		anchor := base.Add(time.Duration(i*1000/n) * time.Millisecond).UTC().Format(time.RFC3339Nano)
		if st := c.call("POST", "/schedules", map[string]any{"job_id": job.ID, "kind": 2, "interval": "1s", "start_time": anchor}, &s); st != 201 {
			t.Fatalf("create schedule = %d", st)
		}
		ids = append(ids, s.ID.String())
	}
	return job.ID.String(), ids
}

func startAgents(t *testing.T, h *ha, n int) []*proc {
	var agents []*proc
	for k := range n {
		args := append([]string{"agent", "--token", e2eAgentToken, "--id", fmt.Sprintf("agent-%d", k+1), "--capacity", "64", "--data-dir", t.TempDir()}, h.agentURLs(k)...)
		agents = append(agents, start(t, fmt.Sprintf("agent-%d", k+1), nil, args...))
	}
	c := h.client()
	c.waitFor(30*time.Second, "agents online", func() bool {
		var page struct{ Result []*model.Agent }
		c.call("POST", "/agents/query", map[string]any{"filter": map[string]any{"status": "online"}}, &page)
		return len(page.Result) == n
	})
	return agents
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestClusterLeaderKilledEveryTenSeconds: three servers, four agents, 100
// schedules firing every second, and the leader SIGKILLed every 10 s and
// restarted. Every fire must run exactly once, and each takeover is timed.
func TestClusterLeaderKilledEveryTenSeconds(t *testing.T) {
	t.Parallel()
	const kills, schedules = 11, 100
	url, _ := pingTarget(t)
	h := newHA(t, 3)
	agents := startAgents(t, h, 4)
	jobID, ids := createTicks(t, h.client(), url, schedules)
	var takeovers []time.Duration
	for range kills {
		time.Sleep(10 * time.Second)
		old, epoch := h.waitLeader(10*time.Second, -1)
		killed := time.Now()
		h.kill(old)
		next, newEpoch := h.waitLeader(3*haLeaderTTL, old)
		took := time.Since(killed)
		takeovers = append(takeovers, took)
		if newEpoch <= epoch {
			t.Errorf("epoch went from %d to %d", epoch, newEpoch)
		}
		t.Logf("killed leader %s (epoch %d); %s took over (epoch %d) after %s", h.servers[old].name, epoch, h.servers[next].name, newEpoch, took.Round(time.Millisecond))
		h.start(old)
	}
	until := time.Now().UTC().Format(time.RFC3339Nano)
	c := h.client()
	waitDecided(c, jobID, until, 60*time.Second)
	lc := checkLedgers(t, c, ids, until)
	succeeded := checkRunsOnce(t, c, jobID, until)
	t.Logf("cluster: %d kills, %d schedules: %d fires accounted for, %d ran, %d skipped, %d gaps, %d duplicates, %d succeeded runs; by status %v",
		kills, schedules, lc.fires, lc.ran, lc.skipped, lc.gaps, lc.dups, succeeded, lc.byStatus)
	t.Logf("leader takeover after SIGKILL (lease %s): p50 %s, max %s over %d kills", haLeaderTTL,
		percentile(takeovers, 0.5).Round(time.Millisecond), percentile(takeovers, 1).Round(time.Millisecond), len(takeovers))
	if lc.fires < schedules*kills*9 {
		t.Errorf("only %d fires in the ledgers, want at least %d", lc.fires, schedules*kills*9)
	}
	if lc.skipped > 0 {
		t.Errorf("%d fires skipped: with other servers running, a leader's death must not make misfires", lc.skipped)
	}
	if slowest := percentile(takeovers, 1); slowest > haLeaderTTL+haLeaderTTL/3+2*time.Second {
		t.Errorf("slowest takeover %s, want within the lease plus a third and 2 s of polling", slowest)
	}
	for _, a := range agents {
		a.stop(40 * time.Second)
	}
	for i, s := range h.servers {
		if s.up {
			h.stop(i)
		}
	}
}

// TestClusterAgentServerKilledMidRun: the server an agent is connected to
// dies while the agent runs a task; the agent moves to another server and
// the task's result is recorded once.
func TestClusterAgentServerKilledMidRun(t *testing.T) {
	t.Parallel()
	h := newHA(t, 2)
	agent := start(t, "agent", nil, append([]string{"agent", "--token", e2eAgentToken, "--id", "mover", "--data-dir", t.TempDir()}, h.agentURLs(0)...)...)
	c := h.client()
	c.waitFor(20*time.Second, "agent online on server-1", func() bool {
		var a model.Agent
		return c.call("GET", "/agents/mover", nil, &a) == 200 && a.Status == model.AgentOnline
	})
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "slow", "config": map[string]any{"script": "echo start; sleep 3; echo end"}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	var task model.Task
	if st := c.call("POST", "/jobs/"+job.ID.String()+"/run", map[string]any{}, &task); st != 201 {
		t.Fatalf("run = %d", st)
	}
	c.waitFor(20*time.Second, "the run to start", func() bool {
		return len(c.instances(map[string]any{"task_id": task.ID.String(), "status": "running"})) == 1
	})
	h.kill(0)
	c = h.client()
	c.waitFor(30*time.Second, "the task to succeed", func() bool {
		var got model.Task
		c.call("GET", "/tasks/"+task.ID.String(), nil, &got)
		return got.Status == model.TaskSucceeded
	})
	all := c.instances(map[string]any{"task_id": task.ID.String()})
	if len(all) != 1 || all[0].Status != model.InstanceSucceeded || all[0].Attempt != 1 {
		t.Errorf("instances = %+v, want one succeeded attempt", all)
	}
	if got := strings.TrimSpace(c.readLog(all[0].ID.String(), model.Stdout)); got != "start\nend" {
		t.Errorf("output = %q, want start and end", got)
	}
	agent.stop(40 * time.Second)
	h.stop(1)
}

// TestClusterRollingRestart restarts every server in turn (SIGTERM, then
// start) under load: nothing is lost or run twice, and each graceful stop
// hands the lead over at once.
func TestClusterRollingRestart(t *testing.T) {
	t.Parallel()
	const schedules = 50
	url, _ := pingTarget(t)
	h := newHA(t, 3)
	agents := startAgents(t, h, 3)
	jobID, ids := createTicks(t, h.client(), url, schedules)
	time.Sleep(3 * time.Second)
	for round := range 2 {
		for i := range h.servers {
			lead, _ := h.waitLeader(10*time.Second, -1)
			stopped := time.Now()
			h.stop(i)
			if lead == i {
				next, _ := h.waitLeader(10*time.Second, i)
				t.Logf("round %d: graceful stop of leader %s handed over to %s in %s", round, h.servers[i].name, h.servers[next].name, time.Since(stopped).Round(time.Millisecond))
				if took := time.Since(stopped); took > haLeaderTTL {
					t.Errorf("handover after a graceful stop took %s, want well within the lease (%s)", took, haLeaderTTL)
				}
			}
			time.Sleep(time.Second)
			h.start(i)
			time.Sleep(2 * time.Second)
		}
	}
	until := time.Now().UTC().Format(time.RFC3339Nano)
	c := h.client()
	waitDecided(c, jobID, until, 60*time.Second)
	lc := checkLedgers(t, c, ids, until)
	succeeded := checkRunsOnce(t, c, jobID, until)
	t.Logf("rolling restart: %d fires, %d ran, %d skipped, %d gaps, %d duplicates, %d succeeded runs", lc.fires, lc.ran, lc.skipped, lc.gaps, lc.dups, succeeded)
	if lc.skipped > 0 {
		t.Errorf("%d fires skipped during a rolling restart", lc.skipped)
	}
	// hetuflow cluster status shows the three servers, the leader and the
	// agents.
	out, err := exec.Command(binary, "cluster", "status", "--server", h.servers[0].addr, "--token", e2eAdminToken).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	text := string(out)
	lead, epoch := h.waitLeader(5*time.Second, -1)
	for _, want := range []string{fmt.Sprintf("(epoch %d,", epoch), "leader", "Agents: 3 online", "Queue: "} {
		if !strings.Contains(text, want) {
			t.Errorf("cluster status lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "active"); n != 3 {
		t.Errorf("cluster status shows %d active servers, want 3 (leader %s):\n%s", n, h.servers[lead].name, text)
	}
	for _, a := range agents {
		a.stop(40 * time.Second)
	}
	for i := range h.servers {
		h.stop(i)
	}
}

// proxiedURL returns dbURL with its host replaced by a proxy in front of it.
func proxiedURL(t *testing.T, dbURL string) (string, *linkProxy) {
	t.Helper()
	u, err := neturl.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", dbURL, err)
	}
	p := newLinkProxy(t, u.Host)
	u.Host = p.addr()
	return u.String(), p
}

// TestClusterDatabasePartition cuts the leader off from PostgreSQL: it must
// give up the lead and its agents within its lease, and the other server
// takes over without losing or repeating a fire.
func TestClusterDatabasePartition(t *testing.T) {
	t.Parallel()
	const schedules = 20
	url, _ := pingTarget(t)
	h := &ha{t: t, dbURL: teststore.SchemaURL(t), env: []string{
		"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
		"HETUFLOW_SCHEDULER_LEADER_TTL=" + haLeaderTTL.String(),
	}}
	viaProxy, proxy := proxiedURL(t, h.dbURL)
	for i, db := range []string{viaProxy, h.dbURL} {
		h.servers = append(h.servers, &haServer{name: fmt.Sprintf("server-%d", i+1), addr: freePort(t), dataDir: filepath.Join(t.TempDir(), "data"), dbURL: db})
	}
	// server-1 starts first, so it leads.
	h.start(0)
	h.waitLeader(10*time.Second, -1)
	h.start(1)
	agents := startAgents(t, h, 2)
	c := &client{t: t, base: "http://" + h.servers[1].addr, token: e2eAdminToken}
	jobID, ids := createTicks(t, c, url, schedules)
	time.Sleep(4 * time.Second)
	if lead, _ := h.waitLeader(5*time.Second, -1); lead != 0 {
		t.Fatalf("leader is %s, want server-1", h.servers[lead].name)
	}
	proxy.cut()
	cut := time.Now()
	h.servers[0].up = false // for the API: server-1 cannot answer from the database
	next, _ := h.waitLeader(3*haLeaderTTL, 0)
	took := time.Since(cut)
	t.Logf("partitioned leader server-1; %s led after %s", h.servers[next].name, took.Round(time.Millisecond))
	if took > haLeaderTTL+haLeaderTTL/3+2*time.Second {
		t.Errorf("takeover after the partition took %s, want within the lease plus a third", took)
	}
	h.servers[0].p.waitLine(regexpMust(`"msg":"lost the lead"`), haLeaderTTL)
	time.Sleep(5 * time.Second)
	proxy.heal()
	h.servers[0].up = true
	time.Sleep(5 * time.Second)
	until := time.Now().UTC().Format(time.RFC3339Nano)
	waitDecided(c, jobID, until, 60*time.Second)
	lc := checkLedgers(t, c, ids, until)
	succeeded := checkRunsOnce(t, c, jobID, until)
	t.Logf("partition: %d fires, %d ran, %d skipped, %d gaps, %d duplicates, %d succeeded runs", lc.fires, lc.ran, lc.skipped, lc.gaps, lc.dups, succeeded)
	for _, a := range agents {
		a.stop(40 * time.Second)
	}
	for i := range h.servers {
		h.stop(i)
	}
}

// TestClusterDatabaseRestart drops and refuses every database connection
// for five seconds, as a PostgreSQL restart does: the servers ride it out
// and work resumes within 10 s of the database coming back.
func TestClusterDatabaseRestart(t *testing.T) {
	t.Parallel()
	const schedules = 20
	url, hits := pingTarget(t)
	h := &ha{t: t, dbURL: teststore.SchemaURL(t), env: []string{
		"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
		"HETUFLOW_SCHEDULER_LEADER_TTL=" + haLeaderTTL.String(),
	}}
	viaProxy, proxy := proxiedURL(t, h.dbURL)
	for i := range 2 {
		h.servers = append(h.servers, &haServer{name: fmt.Sprintf("server-%d", i+1), addr: freePort(t), dataDir: filepath.Join(t.TempDir(), "data"), dbURL: viaProxy})
		h.start(i)
	}
	agents := startAgents(t, h, 2)
	c := h.client()
	jobID, ids := createTicks(t, c, url, schedules)
	time.Sleep(4 * time.Second)
	proxy.cut()
	time.Sleep(5 * time.Second)
	before := hits.Load()
	proxy.heal()
	healed := time.Now()
	// Work resumes: the endpoint sees new runs.
	for hits.Load() < before+int64(2*schedules) {
		if time.Since(healed) > 10*time.Second {
			t.Fatalf("only %d runs in the 10 s after the database came back", hits.Load()-before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("database back: %d runs within %s", hits.Load()-before, time.Since(healed).Round(time.Millisecond))
	for _, s := range h.servers {
		select {
		case <-s.p.done:
			t.Fatalf("%s exited during the database outage", s.name)
		default:
		}
	}
	time.Sleep(3 * time.Second)
	until := time.Now().UTC().Format(time.RFC3339Nano)
	waitDecided(c, jobID, until, 60*time.Second)
	lc := checkLedgers(t, c, ids, until)
	succeeded := checkRunsOnce(t, c, jobID, until)
	t.Logf("database restart: %d fires, %d ran, %d skipped, %d gaps, %d duplicates, %d succeeded runs", lc.fires, lc.ran, lc.skipped, lc.gaps, lc.dups, succeeded)
	for _, a := range agents {
		a.stop(40 * time.Second)
	}
	for i := range h.servers {
		h.stop(i)
	}
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }
