package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// drainScheduler records drains; agents in connected take them, others are
// not connected.
type drainScheduler struct {
	nopScheduler
	connected map[string]bool

	mu      sync.Mutex
	drained []string
}

func (s *drainScheduler) DrainAgent(_ context.Context, agentID, _ string) error {
	if !s.connected[agentID] {
		return api.ErrAgentNotConnected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drained = append(s.drained, agentID)
	return nil
}

func setupAgents(t *testing.T, sched api.Scheduler) *testBundle {
	t.Helper()
	st := teststore.SQLite(t)
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatalf("tasklog.New: %v", err)
	}
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokenAuth{}, Scheduler: sched, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{store: st, srv: srv}
}

// insertAgent records an agent as a connected one reports itself: hello,
// then a heartbeat.
func insertAgent(t *testing.T, st store.Store, id string, offset int64) {
	t.Helper()
	ctx := t.Context()
	if _, err := st.AgentUpsert(ctx, &store.AgentUpsertParams{
		ID: id, Capacity: 4, Name: id, ServerID: "s1", Status: model.AgentOnline, Version: "test",
		Labels: map[string]string{"os": "linux", "zone": "a"},
		Info: model.AgentInfo{
			Limits:   model.LimitSupport{Memory: "cgroup", CPU: "cgroup", Pids: "none"},
			Warnings: []string{"pids limits are not enforced: no pids controller"},
		},
	}); err != nil {
		t.Fatalf("AgentUpsert: %v", err)
	}
	if _, err := st.AgentHeartbeat(ctx, &store.AgentHeartbeatParams{
		ID: id, ClockOffsetMillis: offset, Load: 0.5, Running: 1, ServerID: "s1", Status: model.AgentOnline,
	}); err != nil {
		t.Fatalf("AgentHeartbeat: %v", err)
	}
}

func TestAgentRoutes(t *testing.T) {
	t.Parallel()

	t.Run("GetShowsClockOffsetLimitsAndWarnings", func(t *testing.T) {
		t.Parallel()
		b := setupAgents(t, nopScheduler{})
		insertAgent(t, b.store, "agent-a", -42)
		status, raw := b.do(t, http.MethodGet, "/agents/agent-a", token, nil)
		if status != http.StatusOK {
			t.Fatalf("GET agent = %d %s", status, raw)
		}
		// The wire names, not only the Go fields.
		var got struct {
			ClockOffsetMillis *int64              `json:"clock_offset_ms"`
			Limits            *model.LimitSupport `json:"limits"`
			Warnings          []string            `json:"warnings"`
			Status            model.AgentStatus   `json:"status"`
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		if got.ClockOffsetMillis == nil || *got.ClockOffsetMillis != -42 {
			t.Errorf("clock_offset_ms = %v, want -42 in %s", got.ClockOffsetMillis, raw)
		}
		if want := (model.LimitSupport{Memory: "cgroup", CPU: "cgroup", Pids: "none"}); got.Limits == nil || *got.Limits != want {
			t.Errorf("limits = %+v, want %+v", got.Limits, want)
		}
		if want := []string{"pids limits are not enforced: no pids controller"}; !slices.Equal(got.Warnings, want) {
			t.Errorf("warnings = %q, want %q", got.Warnings, want)
		}
		if got.Status != model.AgentOnline {
			t.Errorf("status = %s, want online", got.Status)
		}
	})

	t.Run("DrainConnectedAgent", func(t *testing.T) {
		t.Parallel()
		sched := &drainScheduler{connected: map[string]bool{"agent-a": true}}
		b := setupAgents(t, sched)
		insertAgent(t, b.store, "agent-a", 0)
		status, raw := b.do(t, http.MethodPost, "/agents/agent-a/drain", token, nil)
		if status != http.StatusAccepted {
			t.Fatalf("drain = %d %s, want 202", status, raw)
		}
		var ag model.Agent
		if err := json.Unmarshal(raw, &ag); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		if ag.ID != "agent-a" || ag.Status != model.AgentDraining {
			t.Errorf("drain answered %s %s, want agent-a draining", ag.ID, ag.Status)
		}
		if !slices.Equal(sched.drained, []string{"agent-a"}) {
			t.Errorf("drained %v, want [agent-a]", sched.drained)
		}
	})

	t.Run("DrainUnknownAgentIs404", func(t *testing.T) {
		t.Parallel()
		sched := &drainScheduler{connected: map[string]bool{"ghost": true}}
		b := setupAgents(t, sched)
		if status, raw := b.do(t, http.MethodPost, "/agents/ghost/drain", token, nil); status != http.StatusNotFound {
			t.Errorf("drain of an unknown agent = %d %s, want 404", status, raw)
		}
		if len(sched.drained) != 0 {
			t.Errorf("drained %v, want nothing", sched.drained)
		}
	})

	t.Run("DrainAgentConnectedElsewhereIs409", func(t *testing.T) {
		t.Parallel()
		b := setupAgents(t, &drainScheduler{})
		insertAgent(t, b.store, "agent-a", 0)
		if status, raw := b.do(t, http.MethodPost, "/agents/agent-a/drain", token, nil); status != http.StatusConflict {
			t.Errorf("drain of an agent not connected here = %d %s, want 409", status, raw)
		}
	})

	t.Run("DrainNeedsToken", func(t *testing.T) {
		t.Parallel()
		b := setupAgents(t, &drainScheduler{connected: map[string]bool{"agent-a": true}})
		insertAgent(t, b.store, "agent-a", 0)
		if status, _ := b.do(t, http.MethodPost, "/agents/agent-a/drain", "", nil); status != http.StatusUnauthorized {
			t.Errorf("drain without a token = %d, want 401", status)
		}
	})
}
