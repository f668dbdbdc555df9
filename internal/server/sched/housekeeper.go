package sched

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// Forgetter drops instances from an agent: the gateway cancels them on the
// agent, if connected, and frees their slots.
type Forgetter interface {
	Forget(agentID string, ids []uuid.UUID, reason string)
}

// HousekeeperConfig configures a [Housekeeper].
type HousekeeperConfig struct {
	Interval     time.Duration
	HeartbeatTTL time.Duration
}

// HousekeeperTestSignals lets tests wait for sweeps.
type HousekeeperTestSignals struct {
	Requeued testsignal.Signal[int]    // instances given up by a sweep that gave some up
	Offline  testsignal.Signal[string] // agent ids marked offline
}

// Init enables the signals.
func (s *HousekeeperTestSignals) Init() { s.Requeued.Init(); s.Offline.Init() }

// Housekeeper gives up dispatched instances whose lease lapsed and agents
// that stopped sending heartbeats, so nothing stays stuck.
type Housekeeper struct {
	lifecycle.Base
	cfg    HousekeeperConfig
	store  store.Store
	forget Forgetter
	wake   Wakers
	log    *slog.Logger

	TestSignals HousekeeperTestSignals
}

// NewHousekeeper returns a Housekeeper; wake is told about work it creates.
func NewHousekeeper(cfg HousekeeperConfig, st store.Store, forget Forgetter, wake Wakers, logger *slog.Logger) *Housekeeper {
	if st == nil || forget == nil || logger == nil {
		panic("sched: NewHousekeeper needs a store, a forgetter and a logger")
	}
	if cfg.Interval <= 0 || cfg.HeartbeatTTL <= 0 {
		panic(fmt.Sprintf("sched: bad housekeeper config %+v", cfg))
	}
	return &Housekeeper{cfg: cfg, store: st, forget: forget, wake: wake, log: logger}
}

// Start runs sweeps until ctx ends or Stop is called.
func (h *Housekeeper) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := h.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped() // deferred first, so it runs last
		t := time.NewTicker(h.cfg.Interval)
		defer t.Stop()
		for {
			if err := h.RunOnce(ctx, time.Now()); err != nil && !lifecycle.IsStop(ctx, err) {
				h.log.ErrorContext(ctx, "housekeeping pass failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// RunOnce performs one sweep at now.
func (h *Housekeeper) RunOnce(ctx context.Context, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.sweepLeases(ctx, now); err != nil {
		return err
	}
	return h.sweepAgents(ctx, now)
}

func (h *Housekeeper) sweepLeases(ctx context.Context, now time.Time) error {
	for {
		expired, err := h.store.TaskInstanceListLeaseExpired(ctx, &store.TaskInstanceListLeaseExpiredParams{Now: &now, Limit: 500})
		if err != nil {
			return fmt.Errorf("list expired leases: %w", err)
		}
		if len(expired) == 0 {
			return nil
		}
		items := make([]*store.TaskInstanceFinish, len(expired))
		byAgent := map[string][]uuid.UUID{}
		for i, in := range expired {
			what := "acknowledge"
			if in.Status == model.InstanceAcked {
				what = "start"
			}
			items[i] = &store.TaskInstanceFinish{
				ID:      in.ID,
				AgentID: in.AgentID,
				Status:  model.InstanceLost,
				Error:   fmt.Sprintf("agent %s did not %s it in time (lease ended %s)", in.AgentID, what, in.LeaseExpiresAt.UTC().Format(time.RFC3339)),
			}
			byAgent[in.AgentID] = append(byAgent[in.AgentID], in.ID)
		}
		var fin FinishResult
		err = store.InTx(ctx, h.store, func(ex store.Executor) error {
			fin, err = FinishInstances(ctx, ex, items, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("give up expired leases: %w", err)
		}
		for agentID, ids := range byAgent {
			h.forget.Forget(agentID, ids, "lease expired; dispatched again")
		}
		h.log.WarnContext(ctx, "dispatched instances not started in time", "num_instances", len(expired))
		h.TestSignals.Requeued.Signal(len(expired))
		h.wakeFor(fin)
		if len(expired) < 500 {
			return nil
		}
	}
}

func (h *Housekeeper) sweepAgents(ctx context.Context, now time.Time) error {
	before := now.Add(-h.cfg.HeartbeatTTL)
	stale, err := h.store.AgentListStale(ctx, &store.AgentListStaleParams{HeartbeatBefore: before, Limit: 500})
	if err != nil {
		return fmt.Errorf("list stale agents: %w", err)
	}
	for _, a := range stale {
		var (
			changed int
			fin     FinishResult
			live    []*model.TaskInstance
		)
		err := store.InTx(ctx, h.store, func(ex store.Executor) error {
			changed, err = ex.AgentSetStatusIf(ctx, &store.AgentSetStatusIfParams{ID: a.ID, Status: model.AgentOffline, HeartbeatBefore: &before})
			if err != nil || changed == 0 {
				return err
			}
			live, err = ex.TaskInstanceListLiveByAgent(ctx, &store.TaskInstanceListLiveByAgentParams{AgentID: a.ID})
			if err != nil || len(live) == 0 {
				return err
			}
			items := make([]*store.TaskInstanceFinish, len(live))
			for i, in := range live {
				items[i] = &store.TaskInstanceFinish{
					ID: in.ID, AgentID: a.ID, Status: model.InstanceLost,
					Error: fmt.Sprintf("agent %s sent no heartbeat for %s", a.ID, h.cfg.HeartbeatTTL),
				}
			}
			fin, err = FinishInstances(ctx, ex, items, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("mark agent %s offline: %w", a.ID, err)
		}
		if changed == 0 {
			continue
		}
		h.log.WarnContext(ctx, "agent offline", "agent_id", a.ID, "num_instances", len(live))
		h.TestSignals.Offline.Signal(a.ID)
		if len(live) > 0 {
			ids := make([]uuid.UUID, len(live))
			for i, in := range live {
				ids[i] = in.ID
			}
			h.forget.Forget(a.ID, ids, "agent was offline; its work was given to others")
		}
		h.wakeFor(fin)
	}
	return nil
}

// wakeFor wakes the loops that have new work after fin.
func (h *Housekeeper) wakeFor(fin FinishResult) {
	if fin.Runnable > 0 || fin.Triggered > 0 {
		h.wake.dispatcher()
	}
	if fin.Rearmed > 0 {
		h.wake.generator()
	}
}
