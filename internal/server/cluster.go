package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/bus"
	"github.com/hetuflow/hetuflow/internal/server/gateway"
	"github.com/hetuflow/hetuflow/internal/store"
)

// This file makes the App one member of a cluster: what one server asks of
// an agent, a planner or a dispatcher elsewhere goes over the bus, and each
// server acts on what concerns it.

// busTimeout bounds one publish; a lost message is caught up (see bus).
const busTimeout = 2 * time.Second

// handleBus sets what this server does with each message of the others.
func (a *App) handleBus() {
	a.bus.Handle(bus.Work, func(context.Context, bus.Message) { a.dispatcher.Wake() })
	a.bus.Handle(bus.Plan, func(context.Context, bus.Message) { a.generator.Wake() })
	a.bus.Handle(bus.LeaderReleased, func(context.Context, bus.Message) { a.elector.Wake() })
	a.bus.Handle(bus.Cancel, func(_ context.Context, m bus.Message) {
		if a.gateway.Holds(m.AgentID) {
			a.gateway.Cancel(m.AgentID, m.InstanceID, m.Reason)
		}
	})
	a.bus.Handle(bus.Drain, func(ctx context.Context, m bus.Message) {
		if a.gateway.Holds(m.AgentID) {
			if err := a.gateway.Drain(ctx, m.AgentID, m.Reason); err != nil {
				a.log.WarnContext(ctx, "drain agent for another server", "agent_id", m.AgentID, "error", err)
			}
		}
	})
	// After a reconnect of the listener, look again at everything a lost
	// message could have asked for.
	a.bus.OnConnect(func(ctx context.Context) {
		a.dispatcher.Wake()
		a.generator.Wake()
		a.elector.Wake()
		if err := a.gateway.CancelFinished(ctx); err != nil {
			a.log.WarnContext(ctx, "catch up on cancels", "error", err)
		}
	})
}

// publish sends m to the other servers, if there are any.
func (a *App) publish(m bus.Message) {
	if !a.peers.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	if err := a.bus.Publish(ctx, m); err != nil {
		a.log.WarnContext(ctx, "bus publish", "kind", m.Kind, "error", err)
	}
}

// WakeGenerator asks the leader, wherever it runs, for a planning pass.
func (a *App) WakeGenerator() {
	a.generator.Wake()
	a.publish(bus.Message{Kind: bus.Plan})
}

// WakeGeneratorFor is WakeGenerator after a schedule changed whose next
// fire is next (nil: none). A pass plans only up to the generator's window
// ahead, so a fire beyond it is planned by a regular pass just as it would
// be after a wake, and nobody is woken for it: creating schedules in bulk
// otherwise cost a pass (and, in a cluster, a notification) per schedule.
func (a *App) WakeGeneratorFor(next *time.Time) {
	if next == nil || !a.generator.Plans(*next, time.Now()) {
		return
	}
	a.WakeGenerator()
}

// WakeDispatcher asks every server for a dispatch pass: new work may suit
// agents connected anywhere.
func (a *App) WakeDispatcher() {
	a.dispatcher.Wake()
	a.announceWork()
}

// slotFreed tells the dispatcher that a run on one of this server's agents
// ended. Other servers are not told: only this one dispatches to that agent
// (the end of a constrained job's run, which may let its next run go
// anywhere, wakes every server once committed: Results).
func (a *App) slotFreed() { a.dispatcher.SlotFreed() }

// DispatchNow places new tasks on this server's agents in the caller's
// transaction (see sched.Dispatcher.DispatchNow).
func (a *App) DispatchNow(ctx context.Context, ex store.Executor, tasks []*model.Task) (func(bool), int, error) {
	return a.dispatcher.DispatchNow(ctx, ex, tasks)
}

// announceWork wakes the other servers' dispatchers.
func (a *App) announceWork() { a.publish(bus.Message{Kind: bus.Work}) }

// CancelInstance tells the agent holding an instance to stop it, through
// the server it is connected to.
func (a *App) CancelInstance(agentID string, id uuid.UUID, reason string) {
	if a.gateway.Holds(agentID) {
		a.gateway.Cancel(agentID, id, reason)
		return
	}
	a.publish(bus.Message{Kind: bus.Cancel, AgentID: agentID, InstanceID: id, Reason: reason})
}

// DrainAgent asks an agent to drain and exit, through the server it is
// connected to. It fails with api.ErrAgentNotConnected when no live server
// holds it.
func (a *App) DrainAgent(ctx context.Context, agentID, reason string) error {
	err := a.gateway.Drain(ctx, agentID, reason)
	if !errors.Is(err, gateway.ErrNotConnected) {
		return err
	}
	ag, gerr := a.opts.Store.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: agentID})
	if gerr != nil || ag.Status == model.AgentOffline || ag.ServerID == a.serverID {
		return fmt.Errorf("drain agent %s: %w", agentID, api.ErrAgentNotConnected)
	}
	srv, serr := a.opts.Store.ServerGetByID(ctx, &store.ServerGetByIDParams{ID: ag.ServerID})
	if serr != nil || srv.Status != model.ServerActive {
		return fmt.Errorf("drain agent %s: %w", agentID, api.ErrAgentNotConnected)
	}
	if err := a.bus.Publish(ctx, bus.Message{Kind: bus.Drain, AgentID: agentID, Reason: reason}); err != nil {
		return fmt.Errorf("drain agent %s: %w", agentID, err)
	}
	return nil
}

// leadChanged tells the others when this server gave the lead up, so one
// of them takes it at once rather than when the lease would have expired.
func (a *App) leadChanged(leading bool) {
	a.ops.metrics.LeaderChanged(leading)
	if !leading {
		a.publish(bus.Message{Kind: bus.LeaderReleased})
	}
}

// runningSince is when the servers alive now started, the earliest of them:
// since then some server has run, so a fire due later was not missed.
func (a *App) runningSince(ctx context.Context) (time.Time, error) {
	alive := time.Now().Add(-a.opts.Config.Scheduler.HeartbeatTTL.D())
	servers, err := a.opts.Store.ServerList(ctx, &store.ServerListParams{Filter: store.Filter{
		{Field: "status", Op: store.OpEq, Value: int64(model.ServerActive)},
		{Field: "last_heartbeat_at", Op: store.OpGte, Value: alive},
	}, Limit: store.MaxPageLimit})
	if err != nil {
		return time.Time{}, fmt.Errorf("list live servers: %w", err)
	}
	since := time.Now()
	for _, s := range servers {
		if s.StartedAt.Before(since) {
			since = s.StartedAt
		}
	}
	return since, nil
}

// clusterPool is the dispatcher's agent pool: this server's agents, with
// cancels reaching agents connected elsewhere.
type clusterPool struct {
	*gateway.Gateway
	app *App
}

// Cancel implements sched.AgentPool.
func (p clusterPool) Cancel(agentID string, id uuid.UUID, reason string) {
	p.app.CancelInstance(agentID, id, reason)
}

// clusterForgetter tells the agent holding given-up runs, wherever it is
// connected, to drop them.
type clusterForgetter struct{ app *App }

// Forget implements sched.Forgetter.
func (f clusterForgetter) Forget(agentID string, ids []uuid.UUID, reason string) {
	for _, id := range ids {
		f.app.CancelInstance(agentID, id, reason)
	}
}
