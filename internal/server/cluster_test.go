package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestTwoServersShareWork runs two servers on one PostgreSQL database: one
// may lead, the other may not. Work created through the leader reaches an
// agent connected to the other, and so do cancels and drains, through the
// bus.
func TestTwoServersShareWork(t *testing.T) {
	t.Parallel()
	st := teststore.Postgres(t)
	lead := startApp(t, st, func(c *config.Config) { c.Server.ID = "lead"; c.Scheduler.LeaderTTL = model.Duration(time.Second) })
	follower := startApp(t, st, func(c *config.Config) {
		c.Server.ID = "follower"
		no := false
		c.Server.AllowLeaderElection = &no
	})
	lead.waitFor(10*time.Second, "lead to lead", func() bool {
		var cs api.ClusterStatus
		follower.mustCall(http.MethodGet, "/cluster", nil, &cs, http.StatusOK)
		return cs.LeaderLive && cs.Leader.Holder == "lead"
	})
	a := follower.startAgent("far", nil)

	// A run asked of the leader, which has no agent, runs on the
	// follower's agent.
	job := lead.createJob("far-job", model.JobConfig{Script: "sleep 30"})
	task := lead.runJob(job, nil)
	lead.waitFor(10*time.Second, "the run to start on the follower's agent", func() bool {
		ins := lead.instances(map[string]any{"task_id": task.ID.String(), "status": "running"})
		return len(ins) == 1 && ins[0].AgentID == "far" && ins[0].ServerID == "follower"
	})
	var cs api.ClusterStatus
	lead.mustCall(http.MethodGet, "/cluster", nil, &cs, http.StatusOK)
	agents := map[string]int{}
	for _, s := range cs.Servers {
		agents[s.ID] = s.Agents
		if s.Leader != (s.ID == "lead") {
			t.Errorf("server %s leader = %v", s.ID, s.Leader)
		}
	}
	if len(cs.Servers) != 2 || agents["follower"] != 1 || agents["lead"] != 0 || cs.AgentsByStatus["online"] != 1 {
		t.Errorf("cluster status = %+v, want two servers and the agent on follower", cs)
	}

	// A cancel asked of the leader stops the run on the follower's agent.
	lead.mustCall(http.MethodPost, "/tasks/"+task.ID.String()+"/cancel", map[string]any{}, nil, http.StatusOK)
	lead.waitFor(10*time.Second, "the agent to stop the cancelled run", func() bool {
		return a.Status().Running == 0
	})
	if got := lead.task(task.ID); got.Status != model.TaskCancelled {
		t.Errorf("task = %s, want cancelled", got.Status)
	}

	// A drain asked of the leader reaches the agent.
	lead.mustCall(http.MethodPost, "/agents/far/drain", nil, nil, http.StatusAccepted)
	select {
	case <-a.ExitRequested():
	case <-time.After(10 * time.Second):
		t.Fatalf("the drain did not reach the agent through the follower")
	}
}
