package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestLiveChangesReachEveryServer edits a schedule and a job through the
// server that does not lead and sees the leader plan by the new version at
// once, although its generator would otherwise wait a minute: changes
// take effect on every server without a restart or a poll.
func TestLiveChangesReachEveryServer(t *testing.T) {
	t.Parallel()
	st := teststore.Postgres(t)
	slow := func(id string, lead bool) func(*config.Config) {
		return func(c *config.Config) {
			c.Server.ID = id
			c.Scheduler.GenerateInterval = model.Duration(time.Minute)
			c.Server.AllowLeaderElection = &lead
		}
	}
	lead := startApp(t, st, slow("lead", true))
	other := startApp(t, st, slow("other", false))
	lead.waitFor(10*time.Second, "lead to lead", func() bool {
		var cs api.ClusterStatus
		other.mustCall(http.MethodGet, "/cluster", nil, &cs, http.StatusOK)
		return cs.LeaderLive && cs.Leader.Holder == "lead"
	})
	other.startAgent("a1", nil)

	job := other.createJob("live", model.JobConfig{Script: "echo v1"})
	later := time.Now().Add(time.Hour).UTC()
	s := other.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "1h", "start_time": later})
	// The edit: every second from now, through the server that does not
	// lead.
	other.mustCall(http.MethodPut, "/schedules/"+s.ID.String(), map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "1s"}, nil, http.StatusOK)
	var first *model.TaskInstance
	other.waitFor(15*time.Second, "a run of the edited schedule", func() bool {
		ins := other.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})
		if len(ins) > 0 {
			first = ins[0]
		}
		return first != nil
	})
	if out := other.log(first.ID, model.Stdout); !strings.Contains(out, "v1") {
		t.Errorf("first run printed %q, want v1", out)
	}

	// The job's edit replaces the runs already planned with the old
	// script: later runs print v2.
	other.mustCall(http.MethodPut, "/jobs/"+job.ID.String(), map[string]any{"name": "live", "config": model.JobConfig{Script: "echo v2"}}, nil, http.StatusOK)
	edited := time.Now()
	other.waitFor(15*time.Second, "a run with the new script", func() bool {
		for _, in := range other.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"}) {
			if in.PlannedAt.After(edited) && strings.Contains(other.log(in.ID, model.Stdout), "v2") {
				return true
			}
		}
		return false
	})
}
