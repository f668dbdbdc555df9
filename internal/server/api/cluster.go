package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// LeaseName is the scheduler's leader lease (leader.LeaseName; the API does
// not import the server's packages).
const LeaseName = "scheduler"

// ClusterServer is a server with its place in the cluster.
type ClusterServer struct {
	model.Server
	// Leader is set on the server holding the live lease.
	Leader bool `json:"leader"`
	// Agents counts the agents connected to it (online or draining).
	Agents int `json:"agents"`
}

// ClusterStatus is the state of the servers sharing the database.
type ClusterStatus struct {
	// Leader is the scheduler lease; Live says whether it has not expired.
	Leader     *model.Leader    `json:"leader"`
	LeaderLive bool             `json:"leader_live"`
	Servers    []*ClusterServer `json:"servers"`
	// AgentsByStatus counts agents by status name.
	AgentsByStatus map[string]int `json:"agents_by_status"`
	// QueueDepth counts tasks due now that wait for an agent (pending or
	// waiting for a retry that is due).
	QueueDepth int `json:"queue_depth"`
	// OldestPendingAt is the run time of the task that has waited longest,
	// and OldestPendingAgeSeconds how long it has waited.
	OldestPendingAt         *time.Time `json:"oldest_pending_at"`
	OldestPendingAgeSeconds float64    `json:"oldest_pending_age_seconds"`
	// Time is when the status was read.
	Time time.Time `json:"time"`
}

// ClusterOutput is the cluster status response.
type ClusterOutput struct {
	Body *ClusterStatus
}

func (a *API) getCluster(ctx context.Context, _ *struct{}) (*ClusterOutput, error) {
	now := time.Now().UTC()
	st := &ClusterStatus{AgentsByStatus: map[string]int{}, Time: now}
	l, err := a.deps.Store.LeaderGet(ctx, &store.LeaderGetParams{Name: LeaseName})
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, huma.Error500InternalServerError("read leader: " + err.Error())
	default:
		st.Leader, st.LeaderLive = l, l.ExpiresAt.After(now)
	}
	servers, err := a.deps.Store.ServerList(ctx, &store.ServerListParams{OrderBy: []store.Order{{Field: "id"}}, Limit: store.MaxPageLimit})
	if err != nil {
		return nil, huma.Error500InternalServerError("list servers: " + err.Error())
	}
	byID := map[string]*ClusterServer{}
	for _, s := range servers {
		cs := &ClusterServer{Server: *s, Leader: st.LeaderLive && st.Leader.Holder == s.ID}
		byID[s.ID] = cs
		st.Servers = append(st.Servers, cs)
	}
	agents, err := a.deps.Store.AgentList(ctx, &store.AgentListParams{Limit: store.MaxPageLimit})
	if err != nil {
		return nil, huma.Error500InternalServerError("list agents: " + err.Error())
	}
	for _, ag := range agents {
		st.AgentsByStatus[ag.Status.String()]++
		if cs := byID[ag.ServerID]; cs != nil && ag.Status != model.AgentOffline {
			cs.Agents++
		}
	}
	waiting := store.Filter{
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskPending), int64(model.TaskWaitingRetry)}},
		{Field: "run_at", Op: store.OpLte, Value: now},
	}
	if st.QueueDepth, err = a.deps.Store.TaskCount(ctx, &store.TaskCountParams{Filter: waiting, Namespaces: visible(ctx)}); err != nil {
		return nil, huma.Error500InternalServerError("count queued tasks: " + err.Error())
	}
	oldest, err := a.deps.Store.TaskList(ctx, &store.TaskListParams{Namespaces: visible(ctx), Filter: waiting, OrderBy: []store.Order{{Field: "run_at"}}, Limit: 1})
	if err != nil {
		return nil, huma.Error500InternalServerError(fmt.Sprintf("oldest queued task: %v", err))
	}
	if len(oldest) == 1 {
		at := oldest[0].RunAt
		st.OldestPendingAt, st.OldestPendingAgeSeconds = &at, now.Sub(at).Seconds()
	}
	return &ClusterOutput{Body: st}, nil
}
