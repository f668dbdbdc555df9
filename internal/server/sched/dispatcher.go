package sched

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/balance"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// AgentPool is the dispatcher's view of the agents connected to this server.
type AgentPool interface {
	// Candidates returns a fresh snapshot of the agents that take work, with
	// their free slots. The dispatcher may change the snapshot.
	Candidates() []*balance.Candidate
	// Dispatch hands instances to an agent and counts them against its
	// slots. It fails when the agent is no longer connected; the instances
	// then wait for the agent to come back or for their lease to lapse.
	Dispatch(ctx context.Context, agentID string, instances []*protocol.DispatchedInstance) error
}

// DispatcherConfig configures a [Dispatcher].
type DispatcherConfig struct {
	ServerID string
	// Horizon is how far ahead of its start a task is dispatched.
	Horizon time.Duration
	// Interval is the longest pause between passes.
	Interval time.Duration
	// Batch caps the tasks claimed in one pass.
	Batch int
	// AckTimeout is the lease of a dispatched instance beyond its fire time.
	AckTimeout time.Duration
}

// DispatcherTestSignals lets tests wait for passes.
type DispatcherTestSignals struct {
	Dispatched testsignal.Signal[int] // instances dispatched in a pass that dispatched some
}

// Init enables the signals.
func (s *DispatcherTestSignals) Init() { s.Dispatched.Init() }

// Dispatcher claims due tasks and hands them to agents.
type Dispatcher struct {
	lifecycle.Base
	cfg   DispatcherConfig
	store store.Store
	pool  AgentPool
	log   *slog.Logger
	wake  chan struct{}

	TestSignals DispatcherTestSignals
}

// NewDispatcher returns a Dispatcher. It panics on a nil dependency.
func NewDispatcher(cfg DispatcherConfig, st store.Store, pool AgentPool, logger *slog.Logger) *Dispatcher {
	if st == nil || pool == nil || logger == nil {
		panic("sched: NewDispatcher needs a store, an agent pool and a logger")
	}
	if cfg.Batch <= 0 || cfg.Interval <= 0 || cfg.Horizon < 0 || cfg.AckTimeout <= 0 {
		panic(fmt.Sprintf("sched: bad dispatcher config %+v", cfg))
	}
	return &Dispatcher{cfg: cfg, store: st, pool: pool, log: logger, wake: make(chan struct{}, 1)}
}

// Wake asks for a pass now: new tasks, a freed slot or a new agent. It never
// blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs dispatch passes until ctx ends or Stop is called.
func (d *Dispatcher) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := d.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped() // deferred first, so it runs last
		t := time.NewTicker(d.cfg.Interval)
		defer t.Stop()
		for {
			res, err := d.runOnce(ctx)
			switch {
			case err != nil && !lifecycle.IsStop(ctx, err):
				d.log.ErrorContext(ctx, "dispatch pass failed", "error", err)
			case err == nil && res.dispatched > 0:
				d.log.DebugContext(ctx, "tasks dispatched", "num_tasks", res.dispatched)
				d.TestSignals.Dispatched.Signal(res.dispatched)
			}
			if res.full {
				// A full batch means more is due: go again at once.
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-d.wake:
			case <-t.C:
			}
		}
	}()
	return nil
}

type dispatchResult struct {
	dispatched int
	full       bool // a whole batch went out; more may be due
}

// runOnce claims due tasks, assigns agents and writes instances in one
// transaction, then pushes each agent's share after the commit.
func (d *Dispatcher) runOnce(ctx context.Context) (dispatchResult, error) {
	cands := d.pool.Candidates()
	free := 0
	for _, c := range cands {
		free += c.Free
	}
	if free == 0 {
		return dispatchResult{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := time.Now()
	var (
		byAgent = map[string][]*protocol.DispatchedInstance{}
		buf     []*balance.Candidate
	)
	strategy, err := balance.Lookup(balance.DefaultStrategy)
	if err != nil {
		return dispatchResult{}, err
	}
	err = store.InTx(ctx, d.store, func(ex store.Executor) error {
		var (
			ids       []uuid.UUID
			instances []*store.TaskInstanceInsert
			after     *store.TaskClaimCursor
			scanned   int
		)
		// Page through due tasks until the slots are used. Tasks no agent
		// here can take are passed over, so they never block those behind
		// them; the scan is bounded so a pass stays short.
		for free > 0 && scanned < maxScanFactor*d.cfg.Batch {
			limit := min(d.cfg.Batch, max(free, minClaim))
			tasks, err := ex.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: after, Horizon: now.Add(d.cfg.Horizon), Limit: limit})
			if err != nil {
				return fmt.Errorf("claim tasks: %w", err)
			}
			scanned += len(tasks)
			for _, t := range tasks {
				buf = balance.Feasible(buf, cands, t.Config.Labels)
				if len(buf) == 0 {
					continue
				}
				agent, _ := strategy.Pick(buf)
				agent.Free--
				free--
				in := newInstance(t, agent.ID, d.cfg.ServerID, now, d.cfg.AckTimeout)
				ids = append(ids, t.ID)
				instances = append(instances, in)
				byAgent[agent.ID] = append(byAgent[agent.ID], dispatched(t, in))
				if free == 0 {
					break
				}
			}
			if len(tasks) < limit {
				break
			}
			after = store.CursorOf(tasks[len(tasks)-1])
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := ex.TaskStartAttemptMany(ctx, &store.TaskStartAttemptManyParams{IDs: ids}); err != nil {
			return fmt.Errorf("start attempts: %w", err)
		}
		if _, err := ex.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{Instances: instances}); err != nil {
			return fmt.Errorf("insert instances: %w", err)
		}
		return nil
	})
	if err != nil {
		return dispatchResult{}, err
	}
	res := dispatchResult{}
	for agentID, insts := range byAgent {
		if err := d.pool.Dispatch(ctx, agentID, insts); err != nil {
			// The instances stay Dispatched: the agent gets them when it
			// reconnects, or their lease lapses and they go elsewhere.
			d.log.WarnContext(ctx, "push dispatch", "agent_id", agentID, "num_instances", len(insts), "error", err)
			continue
		}
		res.dispatched += len(insts)
	}
	// A pass that dispatched a whole batch may have left more due: go again
	// at once (a pass with no free slot returns without touching the store).
	res.full = res.dispatched >= d.cfg.Batch
	return res, nil
}

// Claim sizes: a pass claims at least minClaim rows, so a few free slots do
// not mean many tiny claims, and scans at most maxScanFactor batches.
const (
	minClaim      = 64
	maxScanFactor = 5
)

// newInstance builds the instance for a task's next attempt on an agent. The
// agent must ack it within ackTimeout; the ack then extends the lease to the
// fire time plus the same grace.
func newInstance(t *model.Task, agentID, serverID string, now time.Time, ackTimeout time.Duration) *store.TaskInstanceInsert {
	lease := now.Add(ackTimeout)
	return &store.TaskInstanceInsert{
		ID:             uuid.Must(uuid.NewV7()),
		AgentID:        agentID,
		Attempt:        t.Attempt + 1,
		DispatchedAt:   &now,
		JobID:          t.JobID,
		LeaseExpiresAt: &lease,
		Namespace:      t.Namespace,
		PlannedAt:      t.RunAt,
		ServerID:       serverID,
		Status:         model.InstanceDispatched,
		TaskID:         t.ID,
	}
}

// dispatched is what the agent is sent for an instance.
func dispatched(t *model.Task, in *store.TaskInstanceInsert) *protocol.DispatchedInstance {
	return &protocol.DispatchedInstance{
		InstanceID:  in.ID,
		TaskID:      t.ID,
		JobID:       t.JobID,
		Namespace:   t.Namespace,
		Attempt:     in.Attempt,
		ScheduledAt: t.ScheduledAt,
		FireAt:      in.PlannedAt,
		Config:      t.Config,
		Parameters:  t.Parameters,
	}
}
