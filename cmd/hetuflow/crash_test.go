package main

import (
	"math/rand/v2"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

// freePort returns a loopback port that is free now; a restarted server
// must come back on the same address its agent dials.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCrashLoopKeepsTheLedger SIGKILLs the server again and again while 50
// schedules fire every second, then checks every schedule's ledger: each
// fire is a task that ran or a Skipped record, none twice, none missing.
func TestCrashLoopKeepsTheLedger(t *testing.T) {
	t.Parallel()
	addr := freePort(t)
	dataDir := filepath.Join(t.TempDir(), "server")
	// The agent's reconnect backoff (up to 10 s) must fit in the heartbeat
	// TTL, or a restarted server would judge it gone before it can return.
	env := []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken, "HETUFLOW_SERVER_ALLOW_SHARED_AGENT_TOKEN=true",
		"HETUFLOW_SCHEDULER_HEARTBEAT_TTL=15s"}
	startServer := func() *proc {
		p := start(t, "server", env, "server", "--listen", addr, "--data-dir", dataDir)
		p.waitLine(serverAddrRe, 20*time.Second)
		return p
	}
	srv := startServer()
	c := &client{t: t, base: "http://" + addr, token: e2eAdminToken}
	agent := start(t, "agent", nil, "agent", "--server", "ws://"+addr, "--token", e2eAgentToken, "--id", "crash-agent", "--capacity", "64", "--data-dir", t.TempDir())
	var job model.Job
	if st := c.call("POST", "/jobs", map[string]any{"name": "tick", "config": map[string]any{"command": "true"}}, &job); st != 201 {
		t.Fatalf("create job = %d", st)
	}
	const schedules = 50
	var ids []string
	for i := range schedules {
		var s model.Schedule
		// Anchored at different milliseconds, so fires spread over the second.
		anchor := time.Now().Truncate(time.Second).Add(time.Duration(i*20) * time.Millisecond).UTC().Format(time.RFC3339Nano)
		// A 1 s misfire threshold: every outage leaves missed fires, which
		// the default policy (fire_once) records Skipped but the latest.
		if st := c.call("POST", "/schedules", map[string]any{"job_id": job.ID, "kind": 2, "interval": "1s", "start_time": anchor,
			"misfire": map[string]any{"threshold": "1s"}}, &s); st != 201 {
			t.Fatalf("create schedule = %d", st)
		}
		ids = append(ids, s.ID.String())
	}
	const kills = 6
	for i := range kills {
		time.Sleep(time.Duration(1500+rand.IntN(1500)) * time.Millisecond)
		if err := srv.cmd.Process.Kill(); err != nil {
			t.Fatalf("SIGKILL server: %v", err)
		}
		<-srv.done
		down := time.Duration(500+rand.IntN(1500)) * time.Millisecond
		if i == kills-1 {
			// One long outage: several missed fires per schedule.
			down = 7 * time.Second
		}
		time.Sleep(down)
		srv = startServer()
	}
	// Let the last restart settle: the agent reconnects (its backoff may
	// have grown to 10 s during the long outage) and resends what it holds,
	// and every fire before the cut-off is decided.
	until := time.Now().UTC().Format(time.RFC3339Nano)
	c.waitFor(60*time.Second, "every fire before the cut-off decided", func() bool {
		var page struct {
			Page struct{ Total int }
		}
		c.call("POST", "/tasks/query", map[string]any{"filter": map[string]any{
			"job_id": job.ID, "scheduled_at": map[string]any{"$lte": until},
			"status": map[string]any{"$in": []string{"pending", "doing", "waiting_retry"}},
		}, "page": map[string]any{"limit": 1}}, &page)
		return page.Page.Total == 0
	})
	var fires, ran, skipped, gaps, dups int
	byStatus := map[string]int{}
	reasons := map[string]int{}
	for _, id := range ids {
		var l api.Ledger
		if st := c.call("GET", "/schedules/"+id+"/ledger?limit=10000&to="+until, nil, &l); st != 200 {
			t.Fatalf("ledger of %s = %d", id, st)
		}
		fires += len(l.Entries)
		gaps += len(l.Gaps)
		dups += len(l.Duplicates)
		for _, e := range l.Entries {
			byStatus[e.Status.String()]++
			if e.Status != model.TaskSucceeded && e.Status != model.TaskSkipped && len(reasons) < 20 {
				reasons[e.Status.String()+": "+e.Reason]++
			}
			switch e.Status {
			case model.TaskSkipped:
				skipped++
			case model.TaskSucceeded:
				ran++
			}
		}
		if len(l.Gaps) > 0 {
			t.Errorf("schedule %s: gaps at %v", id, l.Gaps)
		}
		if len(l.Duplicates) > 0 {
			t.Errorf("schedule %s: duplicates at %v", id, l.Duplicates)
		}
	}
	t.Logf("%d kills, %d schedules: %d fires accounted for, %d ran, %d skipped as missed, %d gaps, %d duplicates; by status %v", kills, schedules, fires, ran, skipped, gaps, dups, byStatus)
	for r, n := range reasons {
		t.Logf("  %d × %s", n, r)
	}
	if fires < schedules*10 {
		t.Errorf("only %d fires in the ledgers, want at least %d", fires, schedules*10)
	}
	if skipped < 3*schedules {
		t.Errorf("%d fires skipped as missed, want at least three per schedule from the 7 s outage", skipped)
	}
	if ran+skipped != fires {
		t.Errorf("%d ran + %d skipped != %d fires: some fire is neither", ran, skipped, fires)
	}
	// Nothing ran twice: each fire has one task, and each task at most one
	// succeeded instance.
	var page struct{ Result []*model.TaskInstance }
	var succeeded int
	for p := 1; ; p++ {
		c.call("POST", "/task-instances/query", map[string]any{"filter": map[string]any{"job_id": job.ID, "status": "succeeded"}, "page": map[string]any{"page": p, "limit": 1000}}, &page)
		succeeded += len(page.Result)
		seen := map[string]bool{}
		for _, in := range page.Result {
			if seen[in.TaskID.String()] {
				t.Errorf("task %s succeeded twice", in.TaskID)
			}
			seen[in.TaskID.String()] = true
		}
		if len(page.Result) < 1000 {
			break
		}
	}
	if succeeded < ran {
		t.Errorf("%d succeeded instances for %d succeeded fires", succeeded, ran)
	}
	agent.stop(40 * time.Second)
	srv.stop(20 * time.Second)
}
