package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// AgentOutput is an agent response.
type AgentOutput struct {
	Body *model.Agent
}

// StringIDInput is the path parameter of agents and servers, whose ids are
// free-form.
type StringIDInput struct {
	ID string `path:"id" maxLength:"128"`
}

func (a *API) getAgent(ctx context.Context, in *StringIDInput) (*AgentOutput, error) {
	ag, err := a.deps.Store.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: in.ID})
	if err != nil {
		return nil, storeError(err, "agent "+in.ID)
	}
	return &AgentOutput{Body: ag}, nil
}

// drainAgent asks a connected agent to drain and exit. The answer shows the
// agent Draining: the session stopped offering it work, and the agent's
// next heartbeat, which it sends at once, stores that status.
func (a *API) drainAgent(ctx context.Context, in *StringIDInput) (*AgentOutput, error) {
	ag, err := a.deps.Store.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: in.ID})
	if err != nil {
		return nil, storeError(err, "agent "+in.ID)
	}
	if err := a.deps.Scheduler.DrainAgent(ctx, in.ID, "drain requested through the API"); err != nil {
		if errors.Is(err, ErrAgentNotConnected) {
			return nil, huma.Error409Conflict(fmt.Sprintf("agent %s is not connected to this server (%s)", in.ID, a.deps.ServerID))
		}
		return nil, huma.Error500InternalServerError("internal error: " + err.Error())
	}
	a.deps.Logger.InfoContext(ctx, "agent drain requested", "agent_id", in.ID)
	ag.Status = model.AgentDraining
	return &AgentOutput{Body: ag}, nil
}

func (a *API) queryAgents(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Agent], error) {
	return runQuery(store.AgentResource(), in.Body, func(q *query) ([]*model.Agent, error) {
		return a.deps.Store.AgentList(ctx, &store.AgentListParams{Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.AgentCount(ctx, &store.AgentCountParams{Filter: f})
	})
}

// ServerOutput is a server response.
type ServerOutput struct {
	Body *model.Server
}

func (a *API) getServer(ctx context.Context, in *StringIDInput) (*ServerOutput, error) {
	s, err := a.deps.Store.ServerGetByID(ctx, &store.ServerGetByIDParams{ID: in.ID})
	if err != nil {
		return nil, storeError(err, "server "+in.ID)
	}
	return &ServerOutput{Body: s}, nil
}

func (a *API) queryServers(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Server], error) {
	return runQuery(store.ServerResource(), in.Body, func(q *query) ([]*model.Server, error) {
		return a.deps.Store.ServerList(ctx, &store.ServerListParams{Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.ServerCount(ctx, &store.ServerCountParams{Filter: f})
	})
}

// Health is the health response.
type Health struct {
	Status   string `json:"status" enum:"ok,degraded" doc:"ok when the database answers."`
	Version  string `json:"version"`
	ServerID string `json:"server_id"`
	Database string `json:"database" doc:"ok, or why the database check failed."`
}

// HealthOutput wraps Health.
type HealthOutput struct {
	Body Health
}

func (a *API) health(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
	h := Health{Status: "ok", Version: a.deps.Version, ServerID: a.deps.ServerID, Database: "ok"}
	if err := a.deps.Store.Ping(ctx); err != nil {
		h.Status, h.Database = "degraded", err.Error()
	}
	return &HealthOutput{Body: h}, nil
}
