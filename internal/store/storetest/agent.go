package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseAgent(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("UpsertInsertsOnlineAgent", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		params := &store.AgentUpsertParams{
			ID:                "agent-a",
			Capacity:          8,
			Labels:            map[string]string{"region": "eu", "os": "linux"},
			Name:              "build box",
			Now:               &bundle.now,
			ServerID:          "server-a",
			Version:           "1.2.3",
			ClockOffsetMillis: -42,
			Info: model.AgentInfo{
				Limits:   model.LimitSupport{Memory: "cgroup", CPU: "cgroup", Pids: "none"},
				Warnings: []string{"pids limits are not enforced"},
			},
		}
		got, err := bundle.exec.AgentUpsert(ctx, params)
		if err != nil {
			t.Fatalf("AgentUpsert: %v", err)
		}
		want := &model.Agent{
			ID:                "agent-a",
			Name:              "build box",
			Labels:            map[string]string{"region": "eu", "os": "linux"},
			Capacity:          8,
			Status:            model.AgentOnline,
			ServerID:          "server-a",
			Version:           "1.2.3",
			ClockOffsetMillis: -42,
			Limits:            model.LimitSupport{Memory: "cgroup", CPU: "cgroup", Pids: "none"},
			Warnings:          []string{"pids limits are not enforced"},
			LastHeartbeatAt:   bundle.now,
			ConnectedAt:       bundle.now,
			CreatedAt:         bundle.now,
			UpdatedAt:         bundle.now,
		}
		checkAgent(t, "AgentUpsert", got, want)
		stored, err := bundle.exec.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: "agent-a"})
		if err != nil {
			t.Fatalf("AgentGetByID: %v", err)
		}
		checkAgent(t, "AgentGetByID", stored, want)
	})

	t.Run("UpsertDrainingAgent", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		got, err := bundle.exec.AgentUpsert(ctx, &store.AgentUpsertParams{ID: "agent-d", Now: &bundle.now, ServerID: "server-a", Status: model.AgentDraining})
		if err != nil {
			t.Fatalf("AgentUpsert: %v", err)
		}
		if got.Status != model.AgentDraining {
			t.Errorf("status = %v, want draining", got.Status)
		}
	})

	t.Run("UpsertUpdatesReconnectingAgent", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		agent := Agent(ctx, t, bundle.exec, &AgentOpts{Labels: map[string]string{"a": "1"}, Now: &bundle.now, Status: ptr(model.AgentOffline)})
		if n, err := bundle.exec.AgentHeartbeat(ctx, &store.AgentHeartbeatParams{
			ID: agent.ID, Load: 0.5, Now: &bundle.now, Running: 2, ServerID: agent.ServerID,
		}); err != nil || n != 1 {
			t.Fatalf("AgentHeartbeat = %d, %v, want 1, nil", n, err)
		}
		got, err := bundle.exec.AgentUpsert(ctx, &store.AgentUpsertParams{
			ID: agent.ID, Capacity: 2, Labels: map[string]string{"b": "2"}, Name: "renamed", Now: bundle.at(time.Minute), ServerID: "server-b", Version: "2.0.0",
		})
		if err != nil {
			t.Fatalf("AgentUpsert(again): %v", err)
		}
		want := &model.Agent{
			ID:              agent.ID,
			Name:            "renamed",
			Labels:          map[string]string{"b": "2"},
			Capacity:        2,
			Status:          model.AgentOnline,
			ServerID:        "server-b",
			Version:         "2.0.0",
			Load:            0.5,
			Running:         2,
			LastHeartbeatAt: *bundle.at(time.Minute),
			ConnectedAt:     *bundle.at(time.Minute),
			CreatedAt:       bundle.now,
			UpdatedAt:       *bundle.at(time.Minute),
		}
		checkAgent(t, "AgentUpsert(again)", got, want)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: "nobody"})
		checkErrIs(t, "AgentGetByID(unknown)", err, store.ErrNotFound)
	})

	t.Run("HeartbeatFromHoldingServer", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		agent := Agent(ctx, t, bundle.exec, &AgentOpts{Now: &bundle.now, ServerID: ptr("server-a")})
		n, err := bundle.exec.AgentHeartbeat(ctx, &store.AgentHeartbeatParams{
			ID: agent.ID, Load: 1.25, Now: bundle.at(time.Second), Running: 3, ServerID: "server-a",
			ClockOffsetMillis: 17, Status: model.AgentDraining,
		})
		if err != nil {
			t.Fatalf("AgentHeartbeat: %v", err)
		}
		checkCount(t, "AgentHeartbeat", n, 1)
		want := *agent
		want.Load, want.Running, want.ClockOffsetMillis, want.Status = 1.25, 3, 17, model.AgentDraining
		want.LastHeartbeatAt, want.UpdatedAt = *bundle.at(time.Second), *bundle.at(time.Second)
		checkAgent(t, "agent after heartbeat", getAgent(t, bundle, agent.ID), &want)
	})

	t.Run("HeartbeatRefusedFromOtherServer", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		agent := Agent(ctx, t, bundle.exec, &AgentOpts{Now: &bundle.now, ServerID: ptr("server-a")})
		n, err := bundle.exec.AgentHeartbeat(ctx, &store.AgentHeartbeatParams{
			ID: agent.ID, Load: 1, Now: bundle.at(time.Second), Running: 1, ServerID: "server-b",
		})
		if err != nil || n != 0 {
			t.Fatalf("AgentHeartbeat(other server) = %d, %v, want 0, nil", n, err)
		}
		checkAgent(t, "agent after refused heartbeat", getAgent(t, bundle, agent.ID), agent)
	})

	t.Run("SetStatusIfHonoursServerAndHeartbeatGuards", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		agent := Agent(ctx, t, bundle.exec, &AgentOpts{Now: &bundle.now, ServerID: ptr("server-a")})
		for _, tt := range []struct {
			name   string
			params store.AgentSetStatusIfParams
			want   int
		}{
			{"OtherServer", store.AgentSetStatusIfParams{ServerID: "server-b"}, 0},
			{"FreshHeartbeat", store.AgentSetStatusIfParams{HeartbeatBefore: &bundle.now}, 0},
			{"HoldingServerAndStaleHeartbeat", store.AgentSetStatusIfParams{ServerID: "server-a", HeartbeatBefore: bundle.at(time.Microsecond)}, 1},
			{"AnyServer", store.AgentSetStatusIfParams{}, 1},
		} {
			p := tt.params
			p.ID, p.Now, p.Status = agent.ID, bundle.at(time.Second), model.AgentDraining
			n, err := bundle.exec.AgentSetStatusIf(ctx, &p)
			if err != nil || n != tt.want {
				t.Errorf("AgentSetStatusIf(%s) = %d, %v, want %d, nil", tt.name, n, err, tt.want)
			}
		}
		got := getAgent(t, bundle, agent.ID)
		if got.Status != model.AgentDraining || !sameTime(got.UpdatedAt, *bundle.at(time.Second)) || !sameTime(got.LastHeartbeatAt, bundle.now) {
			t.Errorf("Status, UpdatedAt, LastHeartbeatAt = %v, %v, %v, want draining, %v, %v",
				got.Status, got.UpdatedAt, got.LastHeartbeatAt, *bundle.at(time.Second), bundle.now)
		}
		n, err := bundle.exec.AgentSetStatusIf(ctx, &store.AgentSetStatusIfParams{ID: "nobody", Status: model.AgentOffline})
		if err != nil || n != 0 {
			t.Errorf("AgentSetStatusIf(unknown) = %d, %v, want 0, nil", n, err)
		}
	})

	t.Run("ListStale", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		oldest := Agent(ctx, t, bundle.exec, &AgentOpts{Now: bundle.at(-time.Hour)})
		draining := Agent(ctx, t, bundle.exec, &AgentOpts{Now: bundle.at(-time.Minute), Status: ptr(model.AgentDraining)})
		Agent(ctx, t, bundle.exec, &AgentOpts{Now: bundle.at(-time.Hour), Status: ptr(model.AgentOffline)})
		Agent(ctx, t, bundle.exec, &AgentOpts{Now: &bundle.now})
		got, err := bundle.exec.AgentListStale(ctx, &store.AgentListStaleParams{HeartbeatBefore: bundle.now})
		if err != nil {
			t.Fatalf("AgentListStale: %v", err)
		}
		checkStrings(t, "AgentListStale", agentIDs(got), []string{oldest.ID, draining.ID})
		got, err = bundle.exec.AgentListStale(ctx, &store.AgentListStaleParams{HeartbeatBefore: bundle.now, Limit: 1})
		if err != nil {
			t.Fatalf("AgentListStale(limit 1): %v", err)
		}
		checkStrings(t, "AgentListStale(limit 1)", agentIDs(got), []string{oldest.ID})
	})
}

// checkAgent compares two agents, times to the microsecond, and checks that
// the times are UTC.
func checkAgent(t *testing.T, what string, got, want *model.Agent) {
	t.Helper()
	checkUTC(t, what, &got.LastHeartbeatAt, &got.ConnectedAt, &got.CreatedAt, &got.UpdatedAt)
	g, w := *got, *want
	if !sameTime(g.LastHeartbeatAt, w.LastHeartbeatAt) || !sameTime(g.ConnectedAt, w.ConnectedAt) ||
		!sameTime(g.CreatedAt, w.CreatedAt) || !sameTime(g.UpdatedAt, w.UpdatedAt) {
		t.Errorf("%s: LastHeartbeatAt, ConnectedAt, CreatedAt, UpdatedAt = %v, %v, %v, %v, want %v, %v, %v, %v", what,
			g.LastHeartbeatAt, g.ConnectedAt, g.CreatedAt, g.UpdatedAt, w.LastHeartbeatAt, w.ConnectedAt, w.CreatedAt, w.UpdatedAt)
	}
	g.LastHeartbeatAt, g.ConnectedAt, g.CreatedAt, g.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	w.LastHeartbeatAt, w.ConnectedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", what, g, w)
	}
}

func getAgent(t *testing.T, bundle *testBundle, id string) *model.Agent {
	t.Helper()
	agent, err := bundle.exec.AgentGetByID(t.Context(), &store.AgentGetByIDParams{ID: id})
	if err != nil {
		t.Fatalf("AgentGetByID(%s): %v", id, err)
	}
	return agent
}

func agentIDs(agents []*model.Agent) []string {
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	return ids
}

// checkStrings compares two lists of strings, in order.
func checkStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
