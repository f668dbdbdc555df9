package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// TestAgentDrain drains a connected agent through the API: the drain reaches
// the agent, the store and the API show it Draining, the run in flight
// finishes, and new work goes to another agent.
func TestAgentDrain(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
		h := newHarness(t, open, nil)
		a := h.startAgent("drained", nil)
		job := h.createJob("slow", model.JobConfig{Script: "sleep 0.5; echo done"})
		task := h.runJob(job, nil)
		h.waitFor(10*time.Second, "the run to start", func() bool {
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			return len(ins) == 1 && ins[0].Status == model.InstanceRunning
		})

		var ag model.Agent
		h.mustCall(http.MethodPost, "/agents/drained/drain", nil, &ag, http.StatusAccepted)
		if ag.Status != model.AgentDraining {
			t.Errorf("drain answered status %s, want draining", ag.Status)
		}
		select {
		case <-a.ExitRequested():
		case <-time.After(10 * time.Second):
			t.Fatalf("the drain did not reach the agent")
		}
		h.waitFor(10*time.Second, "the stored status to turn draining", func() bool {
			var got model.Agent
			h.mustCall(http.MethodGet, "/agents/drained", nil, &got, http.StatusOK)
			return got.Status == model.AgentDraining
		})

		// Work that comes now waits for an agent that takes it.
		next := h.runJob(job, nil)
		h.startAgent("other", nil)
		if got := h.waitTask(next.ID, 20*time.Second); got.Status != model.TaskSucceeded {
			t.Errorf("task after the drain ended %s (%s)", got.Status, got.Reason)
		}
		for _, in := range h.instances(map[string]any{"task_id": next.ID.String()}) {
			if in.AgentID != "other" {
				t.Errorf("task after the drain ran on %s, want other", in.AgentID)
			}
		}

		// The agent's owner drains it and exits, as hetuflow agent does.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if got := h.waitTask(task.ID, 10*time.Second); got.Status != model.TaskSucceeded {
			t.Errorf("run in flight at the drain ended %s (%s)", got.Status, got.Reason)
		}
		h.waitFor(10*time.Second, "the drained agent to leave", func() bool {
			status, _ := h.call(http.MethodPost, "/agents/drained/drain", nil, nil)
			return status == http.StatusConflict
		})
		if status, raw := h.call(http.MethodPost, "/agents/nobody/drain", nil, nil); status != http.StatusNotFound {
			t.Errorf("drain of an unknown agent = %d %s, want 404", status, raw)
		}
	})
}
