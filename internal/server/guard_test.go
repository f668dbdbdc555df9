package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/agent"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// startAgentWith is startAgent with a hook to change the agent's config.
func (h *harness) startAgentWith(id string, edit func(*agent.Config)) *agent.Agent {
	h.t.Helper()
	cfg := agent.Config{
		ID: id, Servers: []string{"ws://" + h.app.Addr()}, Token: agentToken,
		Capacity: 8, DataDir: filepath.Join(h.t.TempDir(), id), Version: "test",
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := agent.New(cfg, lifecycletest.WarnLogger(h.t))
	if err != nil {
		h.t.Fatalf("agent.New: %v", err)
	}
	if err := a.Start(context.WithoutCancel(h.t.Context())); err != nil {
		h.t.Fatalf("agent Start: %v", err)
	}
	h.t.Cleanup(a.Stop)
	h.waitFor(10*time.Second, "agent "+id+" online", func() bool {
		ag, err := h.store.AgentGetByID(context.Background(), &store.AgentGetByIDParams{ID: id})
		return err == nil && ag.Status == model.AgentOnline && a.Status().Connected
	})
	return a
}

// TestGuardRefusalReachesTask runs jobs on an agent whose guard refuses
// them: each ends Failed with reason "refused" and a message naming the
// rule, on the instance and the task, and the allowed job still runs.
func TestGuardRefusalReachesTask(t *testing.T) {
	t.Parallel()
	h := newHarness(t, teststore.SQLite, nil)
	h.startAgentWith("guarded", func(c *agent.Config) {
		c.Guard = agent.Guard{AllowedCommands: []string{"/bin/echo", "echo"}}
	})
	for _, tc := range []struct {
		name, rule string
		cfg        model.JobConfig
	}{
		{"script", "agent.guard.allowed_commands", model.JobConfig{Script: "echo hi"}},
		{"rm", "agent.guard.allowed_commands", model.JobConfig{Command: "/bin/rm", Args: []string{"-rf", "/nonexistent"}}},
	} {
		job := h.createJob("refused-"+tc.name, tc.cfg)
		task := h.waitTask(h.runJob(job, nil).ID, 15*time.Second)
		if task.Status != model.TaskFailed {
			t.Errorf("%s: task status = %s, want failed", tc.name, task.Status)
		}
		ins := h.instances(map[string]any{"task_id": task.ID.String()})
		if len(ins) == 0 {
			t.Fatalf("%s: no instance", tc.name)
		}
		in := ins[0]
		if in.Status != model.InstanceFailed || in.Reason != "refused" || !strings.Contains(in.Error, tc.rule) || in.StartedAt != nil {
			t.Errorf("%s: instance = %s reason %q error %q started %v; want failed, refused, naming %s, never started", tc.name, in.Status, in.Reason, in.Error, in.StartedAt, tc.rule)
		}
	}
	job := h.createJob("allowed", model.JobConfig{Command: "echo", Args: []string{"ok"}})
	if task := h.waitTask(h.runJob(job, nil).ID, 15*time.Second); task.Status != model.TaskSucceeded {
		t.Errorf("allowed job: task status = %s, want succeeded", task.Status)
	}
}
