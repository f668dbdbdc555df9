package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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

// LogStore is what the housekeeper does to task instances' stored output.
type LogStore interface {
	// DeleteMany removes instances' output.
	DeleteMany(ctx context.Context, ids []uuid.UUID) error
	// FinishMany marks instances' output complete, once their runs were
	// given up, so followers stop waiting and the logs are compressed.
	FinishMany(ctx context.Context, ids []uuid.UUID) error
}

// HousekeeperConfig configures a [Housekeeper].
type HousekeeperConfig struct {
	Interval     time.Duration
	HeartbeatTTL time.Duration
	// HistoryTTL is how long finished tasks are kept; zero keeps them.
	HistoryTTL time.Duration
	// PurgeInterval is the pause between purges. Zero means a minute.
	PurgeInterval time.Duration
	// AuditTTL is how long audit entries are kept; zero keeps them.
	// SessionIdle ends sessions unused this long (zero: only their
	// absolute expiry). See housekeeper_security.go.
	AuditTTL, SessionIdle time.Duration
	// Fence, if set, runs first in each transaction that decides about
	// runs, and refuses it when this server no longer leads.
	Fence Fence
	// Metrics records finished runs; nil means NopMetrics.
	Metrics Metrics
	// Alerter hears of finished tasks and lost agents; nil means
	// NopAlerter.
	Alerter Alerter
}

// How often the slower sweeps run, and how much one purge batch deletes.
const (
	unplaceableEvery = 5 * time.Second
	purgeBatch       = 500
)

// HousekeeperTestSignals lets tests wait for sweeps.
type HousekeeperTestSignals struct {
	Requeued testsignal.Signal[int]    // instances given up by a sweep that gave some up
	Offline  testsignal.Signal[string] // agent ids marked offline
	Purged   testsignal.Signal[int]    // tasks deleted by a purge that deleted some
}

// Init enables the signals.
func (s *HousekeeperTestSignals) Init() { s.Requeued.Init(); s.Offline.Init(); s.Purged.Init() }

// Housekeeper gives up dispatched instances whose lease lapsed and agents
// that stopped sending heartbeats, so nothing stays stuck.
type Housekeeper struct {
	lifecycle.Base
	cfg    HousekeeperConfig
	store  store.Store
	forget Forgetter
	logs   LogStore
	wake   Wakers
	log    *slog.Logger
	// ttl is the retention set live by SetHistoryTTL; -1 until then.
	ttl atomic.Int64

	// When the slower sweeps last ran; only the loop goroutine uses them.
	lastUnplaceable, lastPurge time.Time

	// started is when the housekeeper last started; zero before.
	started   time.Time
	startedMu sync.Mutex

	TestSignals HousekeeperTestSignals
}

// NewHousekeeper returns a Housekeeper; wake is told about work it creates
// and logs finishes the output of runs given up and deletes that of purged
// runs.
func NewHousekeeper(cfg HousekeeperConfig, st store.Store, forget Forgetter, logs LogStore, wake Wakers, logger *slog.Logger) *Housekeeper {
	if st == nil || forget == nil || logs == nil || logger == nil {
		panic("sched: NewHousekeeper needs a store, a forgetter, a log store and a logger")
	}
	if cfg.Interval <= 0 || cfg.HeartbeatTTL <= 0 {
		panic(fmt.Sprintf("sched: bad housekeeper config %+v", cfg))
	}
	if cfg.PurgeInterval <= 0 {
		cfg.PurgeInterval = time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Alerter == nil {
		cfg.Alerter = NopAlerter{}
	}
	h := &Housekeeper{cfg: cfg, store: st, forget: forget, logs: logs, wake: wake, log: logger}
	h.ttl.Store(-1)
	return h
}

// Start runs sweeps until ctx ends or Stop is called.
func (h *Housekeeper) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := h.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	h.startedMu.Lock()
	h.started = time.Now()
	h.startedMu.Unlock()
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

func (h *Housekeeper) startedAt() time.Time {
	h.startedMu.Lock()
	defer h.startedMu.Unlock()
	return h.started
}

// RunOnce performs one sweep at now.
func (h *Housekeeper) RunOnce(ctx context.Context, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.sweepLeases(ctx, now); err != nil {
		return err
	}
	if err := h.sweepAgents(ctx, now); err != nil {
		return err
	}
	if now.Sub(h.lastUnplaceable) >= unplaceableEvery {
		h.lastUnplaceable = now
		if err := h.sweepUnplaceable(ctx, now); err != nil {
			return err
		}
		// Servers silent for a TTL are gone; their agents reconnect
		// elsewhere or are judged by their own heartbeats.
		before := now.Add(-h.cfg.HeartbeatTTL)
		if _, err := h.store.ServerSetInactive(ctx, &store.ServerSetInactiveParams{HeartbeatBefore: &before}); err != nil {
			return fmt.Errorf("mark silent servers inactive: %w", err)
		}
	}
	if now.Sub(h.lastPurge) >= h.cfg.PurgeInterval {
		h.lastPurge = now
		if h.historyTTL() > 0 {
			if _, err := h.Purge(ctx, now); err != nil {
				return err
			}
		}
		if err := h.purgeSecurity(ctx, now); err != nil {
			return err
		}
	}
	return nil
}

// sweepUnplaceable fails runs that no online agent can take (their labels
// match none) once they waited their job's no_agent_timeout. Runs that
// matching agents are merely too busy for keep waiting.
func (h *Housekeeper) sweepUnplaceable(ctx context.Context, now time.Time) error {
	old, err := h.store.TaskList(ctx, &store.TaskListParams{
		Filter: store.Filter{
			{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskPending), int64(model.TaskWaitingRetry)}},
			{Field: "run_at", Op: store.OpLt, Value: now.Add(-minNoAgentTimeout)},
		},
		OrderBy: []store.Order{{Field: "run_at"}},
		Limit:   500,
	})
	if err != nil {
		return fmt.Errorf("list waiting tasks: %w", err)
	}
	var due []*model.Task
	for _, t := range old {
		if now.Sub(t.RunAt) >= t.Config.EffectiveNoAgentTimeout() {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return nil
	}
	agents, err := h.store.AgentList(ctx, &store.AgentListParams{Filter: store.Filter{{Field: "status", Op: store.OpEq, Value: int64(model.AgentOnline)}}, Limit: store.MaxPageLimit})
	if err != nil {
		return fmt.Errorf("list agents: %w", err)
	}
	for _, t := range due {
		matched := false
		for _, a := range agents {
			if t.Config.MatchesAgent(a.Labels) {
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		reason := fmt.Sprintf("no agent can run it: none online matches %s; waited %s", t.Config.DescribeSelector(), now.Sub(t.RunAt).Round(time.Second))
		var fin FinalEffects
		err := fencedTx(ctx, h.store, h.cfg.Fence, func(ex store.Executor) error {
			if _, err := ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: t.ID, FromStatuses: []model.TaskStatus{model.TaskPending, model.TaskWaitingRetry}, Status: model.TaskFailed, Reason: reason}); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil // dispatched meanwhile
				}
				return err
			}
			fin, err = AfterFinal(ctx, ex, []Finished{{Task: t, Status: model.TaskFailed}}, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("fail unplaceable task %s: %w", t.ID, err)
		}
		h.log.WarnContext(ctx, "task failed: no agent can run it", "task_id", t.ID, "job_id", t.JobID, "selector", t.Config.DescribeSelector())
		h.wakeFor(FinishResult{FinalEffects: fin})
	}
	return nil
}

// minNoAgentTimeout is the shortest wait the unplaceable sweep looks at.
const minNoAgentTimeout = time.Second

// Purge deletes finished tasks older than the history TTL, with their
// instances and output, in batches with a pause between them so it never
// holds the database for long. It returns how many tasks it deleted.
func (h *Housekeeper) Purge(ctx context.Context, now time.Time) (int, error) {
	before := now.Add(-h.historyTTL())
	total := 0
	for {
		old, err := h.store.TaskList(ctx, &store.TaskListParams{
			Filter:  store.Filter{{Field: "finished_at", Op: store.OpLt, Value: before}},
			OrderBy: []store.Order{{Field: "finished_at"}},
			Limit:   purgeBatch,
		})
		if err != nil {
			return total, fmt.Errorf("list old tasks: %w", err)
		}
		if len(old) == 0 {
			break
		}
		ids := make([]uuid.UUID, len(old))
		vals := make([]any, len(old))
		for i, t := range old {
			ids[i], vals[i] = t.ID, t.ID
		}
		// Output first: a crash between the two leaves rows without
		// output, which the next purge deletes, never orphaned files.
		instances, err := h.store.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{{Field: "task_id", Op: store.OpIn, Value: vals}}, Limit: store.MaxPageLimit})
		if err != nil {
			return total, fmt.Errorf("list old instances: %w", err)
		}
		// Files, or rows in one statement (the tasks' delete would cascade
		// to those anyway).
		instIDs := make([]uuid.UUID, len(instances))
		for i, in := range instances {
			instIDs[i] = in.ID
		}
		if err := h.logs.DeleteMany(ctx, instIDs); err != nil {
			h.log.WarnContext(ctx, "delete task output", "num_instances", len(instIDs), "error", err)
		}
		n, err := h.store.TaskDeleteMany(ctx, &store.TaskDeleteManyParams{IDs: ids})
		if err != nil {
			return total, fmt.Errorf("delete old tasks: %w", err)
		}
		total += n
		if len(old) < purgeBatch {
			break
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(50*time.Millisecond + rand.N(50*time.Millisecond)):
		}
	}
	if total > 0 {
		h.log.InfoContext(ctx, "history purged", "num_tasks", total)
		h.TestSignals.Purged.Signal(total)
	}
	return total, nil
}

// sweepLeases gives up dispatched or held instances whose lease ended while
// their agent is alive (it heartbeats but did not ack, or did not start the
// run by its fire time plus the grace): they are cancelled on the agent and
// their tasks dispatched again. An instance whose agent is silent is left to
// sweepAgents, which knows whether the agent may have started it.
func (h *Housekeeper) sweepLeases(ctx context.Context, now time.Time) error {
	for {
		expired, err := h.store.TaskInstanceListLeaseExpired(ctx, &store.TaskInstanceListLeaseExpiredParams{Now: &now, Limit: 500})
		if err != nil {
			return fmt.Errorf("list expired leases: %w", err)
		}
		if len(expired) == 0 {
			return nil
		}
		alive, err := h.aliveAgents(ctx, expired, now)
		if err != nil {
			return err
		}
		var items []*store.TaskInstanceFinish
		byAgent := map[string][]uuid.UUID{}
		for _, in := range expired {
			if !alive[in.AgentID] {
				continue
			}
			what := "acknowledge"
			if in.Status == model.InstanceAcked {
				what = "start"
			}
			items = append(items, &store.TaskInstanceFinish{
				ID:      in.ID,
				AgentID: in.AgentID,
				Status:  model.InstanceLost,
				Reason:  "lost",
				Error:   fmt.Sprintf("agent %s did not %s it in time (lease ended %s)", in.AgentID, what, in.LeaseExpiresAt.UTC().Format(time.RFC3339)),
			})
			byAgent[in.AgentID] = append(byAgent[in.AgentID], in.ID)
		}
		if len(items) == 0 {
			return nil
		}
		var fin FinishResult
		err = fencedTx(ctx, h.store, h.cfg.Fence, func(ex store.Executor) error {
			fin, err = FinishInstances(ctx, ex, items, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("give up expired leases: %w", err)
		}
		for agentID, ids := range byAgent {
			h.forget.Forget(agentID, ids, "lease expired; dispatched again")
			h.finishLogs(ctx, ids)
		}
		h.log.WarnContext(ctx, "dispatched instances not started in time", "num_instances", len(items))
		h.TestSignals.Requeued.Signal(len(items))
		h.wakeFor(fin)
		if len(expired) < 500 || len(items) < len(expired) {
			return nil
		}
	}
}

// aliveAgents reports which of the instances' agents sent a heartbeat within
// the TTL.
func (h *Housekeeper) aliveAgents(ctx context.Context, ins []*model.TaskInstance, now time.Time) (map[string]bool, error) {
	ids := map[string]bool{}
	var vals []any
	for _, in := range ins {
		if !ids[in.AgentID] {
			ids[in.AgentID] = true
			vals = append(vals, in.AgentID)
		}
	}
	agents, err := h.store.AgentList(ctx, &store.AgentListParams{Filter: store.Filter{
		{Field: "id", Op: store.OpIn, Value: vals},
		{Field: "last_heartbeat_at", Op: store.OpGte, Value: now.Add(-h.cfg.HeartbeatTTL)},
	}, Limit: len(vals)})
	if err != nil {
		return nil, fmt.Errorf("load agents of expired leases: %w", err)
	}
	alive := make(map[string]bool, len(agents))
	for _, a := range agents {
		alive[a.ID] = true
	}
	return alive, nil
}

// sweepAgents marks agents silent for the heartbeat TTL offline and moves
// their work on. A run that was going is Lost (an attempt; its retry policy
// decides). A held instance whose fire time came before the agent fell
// silent may have started too, and is treated the same; one due later can
// not have started (an agent out of touch for half the TTL starts nothing),
// so its task is simply dispatched again.
//
// An agent last heard from before the housekeeper started (on a new leader)
// gets two TTLs from that start: while no leader ran, or the database was out
// of reach, no heartbeat could be recorded, and agents need time to notice,
// reconnect and be welcomed. Nomad gives nodes a longer TTL after a leader
// change for the same reason. Agents heard from since are judged as usual.
func (h *Housekeeper) sweepAgents(ctx context.Context, now time.Time) error {
	start := h.startedAt()
	if now.Before(start.Add(h.cfg.HeartbeatTTL)) {
		return nil
	}
	inGrace := now.Before(start.Add(2 * h.cfg.HeartbeatTTL))
	before := now.Add(-h.cfg.HeartbeatTTL)
	stale, err := h.store.AgentListStale(ctx, &store.AgentListStaleParams{HeartbeatBefore: before, Limit: 500})
	if err != nil {
		return fmt.Errorf("list stale agents: %w", err)
	}
	for _, a := range stale {
		if inGrace && a.LastHeartbeatAt.Before(start) {
			continue
		}
		var (
			changed int
			fin     FinishResult
			live    []*model.TaskInstance
		)
		err := fencedTx(ctx, h.store, h.cfg.Fence, func(ex store.Executor) error {
			changed, err = ex.AgentSetStatusIf(ctx, &store.AgentSetStatusIfParams{ID: a.ID, Status: model.AgentOffline, HeartbeatBefore: &before})
			if err != nil || changed == 0 {
				return err
			}
			live, err = ex.TaskInstanceListLiveByAgent(ctx, &store.TaskInstanceListLiveByAgentParams{AgentID: a.ID})
			if err != nil || len(live) == 0 {
				return err
			}
			items := make([]*store.TaskInstanceFinish, len(live))
			safeAfter := a.LastHeartbeatAt.Add(h.cfg.HeartbeatTTL / 2)
			for i, in := range live {
				items[i] = &store.TaskInstanceFinish{
					ID: in.ID, AgentID: a.ID, Status: model.InstanceLost, Reason: "lost",
					Error: fmt.Sprintf("agent %s sent no heartbeat for %s", a.ID, h.cfg.HeartbeatTTL),
				}
				if in.Status != model.InstanceRunning && !in.PlannedAt.After(safeAfter) {
					// Due while the agent may still have been firing: it may
					// have started, so it counts as an attempt.
					planned := in.PlannedAt
					items[i].StartedAt = &planned
					items[i].Error += "; it was due before then and may have started"
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
		h.cfg.Alerter.AgentLost(a.ID, live)
		h.TestSignals.Offline.Signal(a.ID)
		if len(live) > 0 {
			ids := make([]uuid.UUID, len(live))
			for i, in := range live {
				ids[i] = in.ID
			}
			h.forget.Forget(a.ID, ids, "agent was offline; its work was given to others")
			h.finishLogs(ctx, ids)
		}
		h.wakeFor(fin)
	}
	return nil
}

// finishLogs finishes the output of runs given up: whatever their agent
// still sends is refused, since the run is Lost whatever it printed.
func (h *Housekeeper) finishLogs(ctx context.Context, ids []uuid.UUID) {
	if err := h.logs.FinishMany(ctx, ids); err != nil {
		// Followers stop anyway once the run has been over a while.
		h.log.WarnContext(ctx, "finish task output", "num_instances", len(ids), "error", err)
	}
}

// wakeFor wakes the loops that have new work after fin.
func (h *Housekeeper) wakeFor(fin FinishResult) {
	observeFinish(h.cfg.Metrics, h.cfg.Alerter, fin)
	if fin.wakesDispatcher() {
		h.wake.dispatcher()
	}
	if fin.Rearmed > 0 {
		h.wake.generator()
	}
}

// SetHistoryTTL changes how long finished tasks are kept, from the next
// purge on (a live configuration reload). Zero keeps them. Safe for
// concurrent use.
func (h *Housekeeper) SetHistoryTTL(d time.Duration) { h.ttl.Store(int64(d)) }

// historyTTL returns the retention: the last SetHistoryTTL, else the config.
func (h *Housekeeper) historyTTL() time.Duration {
	if d := h.ttl.Load(); d >= 0 {
		return time.Duration(d)
	}
	return h.cfg.HistoryTTL
}
