package sched

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// Reserve takes one free slot of the agent for a placement being
	// written, so concurrent dispatchers never count the same slot. It
	// reports false when the agent has none left.
	Reserve(agentID string) bool
	// Release gives back n reserved slots of a placement that was not
	// written.
	Release(agentID string, n int)
	// Dispatch hands instances to an agent, turning as many of its
	// reservations into held slots. It fails when the agent is no longer
	// connected; the instances then wait for the agent to come back or for
	// their lease to lapse.
	Dispatch(ctx context.Context, agentID string, instances []*protocol.DispatchedInstance) error
	// Cancel tells the agent holding an instance to stop it.
	Cancel(agentID string, id uuid.UUID, reason string)
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
	// RunningSince, if set, returns since when some server has been running
	// without a break (the cluster's, not just this process's): fires due
	// before then were missed and get their misfire policy. Unset, or on
	// error, it is this dispatcher's start.
	RunningSince func(ctx context.Context) (time.Time, error)
	// Unplaced, if set, is called after a pass that left due tasks no agent
	// here could take, so servers with other agents can look.
	Unplaced func()
	// Metrics records dispatch latency; nil means NopMetrics.
	Metrics Metrics
	// Alerter hears of tasks a decision ended; nil means NopAlerter.
	Alerter Alerter
}

// DispatcherTestSignals lets tests wait for passes.
type DispatcherTestSignals struct {
	Dispatched testsignal.Signal[int] // instances pushed by a pass or a run now that pushed some
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
	// freed is signalled by SlotFreed; its passes are paced (pace.go).
	freed chan struct{}
	// backlog is set when the last pass left due work behind.
	backlog atomic.Bool
	// running is set while the dispatch loop runs.
	running atomic.Bool
	// router keeps the routing state (round-robin positions, hash keys)
	// across passes.
	router *balance.Router
	// wakeGenerator is called when a decision re-armed a schedule.
	wakeGenerator func()
	// startedAt is when the dispatcher last started: fires due before it
	// (by more than their misfire threshold) were missed while no
	// dispatcher ran, and get their schedule's misfire policy.
	startedMu sync.Mutex
	startedAt time.Time

	TestSignals DispatcherTestSignals
}

// NewDispatcher returns a Dispatcher. wakeGenerator, if set, is called when
// a decision (an overlap skip) re-armed a schedule. It panics on a nil
// dependency.
func NewDispatcher(cfg DispatcherConfig, st store.Store, pool AgentPool, wakeGenerator func(), logger *slog.Logger) *Dispatcher {
	if st == nil || pool == nil || logger == nil {
		panic("sched: NewDispatcher needs a store, an agent pool and a logger")
	}
	if cfg.Batch <= 0 || cfg.Interval <= 0 || cfg.Horizon < 0 || cfg.AckTimeout <= 0 {
		panic(fmt.Sprintf("sched: bad dispatcher config %+v", cfg))
	}
	if wakeGenerator == nil {
		wakeGenerator = func() {}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Alerter == nil {
		cfg.Alerter = NopAlerter{}
	}
	d := &Dispatcher{cfg: cfg, store: st, pool: pool, log: logger, wake: make(chan struct{}, 1), freed: make(chan struct{}, 1), router: balance.NewRouter(), wakeGenerator: wakeGenerator}
	d.backlog.Store(true)
	return d
}

// Wake asks for a pass now: new or retried tasks, a cancel, a new agent,
// the committed end of a constrained job's run (a run that ended calls
// SlotFreed). It never blocks.
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
	since := time.Now()
	if d.cfg.RunningSince != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if t, err := d.cfg.RunningSince(sctx); err == nil && t.Before(since) {
			since = t
		} else if err != nil {
			d.log.WarnContext(ctx, "cluster start unknown; misfires count from this server's start", "error", err)
		}
		cancel()
	}
	d.startedMu.Lock()
	d.startedAt = since
	d.startedMu.Unlock()
	// Whatever waited while no dispatcher ran may be overdue.
	d.backlog.Store(true)
	go func() {
		started()
		defer stopped() // deferred first, so it runs last
		d.running.Store(true)
		defer d.running.Store(false)
		t := time.NewTicker(d.cfg.Interval)
		defer t.Stop()
		for {
			// This pass sees every slot freed so far.
			select {
			case <-d.freed:
			default:
			}
			began := time.Now()
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
			case <-d.freed:
				if !d.waitPaced(ctx, began.Add(pace(res, d.backlog.Load()))) {
					return
				}
			}
		}
	}()
	return nil
}

// waitPaced waits until until, or less if a Wake comes; it reports false
// if ctx ended.
func (d *Dispatcher) waitPaced(ctx context.Context, until time.Time) bool {
	wait := time.Until(until)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-d.wake:
	case <-t.C:
	}
	return true
}

type dispatchResult struct {
	dispatched int
	full       bool // a whole batch went out; more may be due
	// starved is set when no agent had a free slot, or the pass failed.
	starved bool
	// minLead is the shortest time from the pass to the planned instant of
	// a task it placed or left for want of slots (negative for one already
	// due); leads says there was one.
	minLead time.Duration
	leads   bool
}

// runOnce claims due tasks, assigns agents and writes instances in one
// transaction, then pushes each agent's share after the commit.
func (d *Dispatcher) runOnce(ctx context.Context) (dispatchResult, error) {
	p := d.newPass()
	if p == nil {
		return dispatchResult{starved: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	d.startedMu.Lock()
	p.startedAt = d.startedAt
	d.startedMu.Unlock()
	err := store.InTx(ctx, d.store, func(ex store.Executor) error {
		p.ex = ex
		// Stamp the pass once the transaction holds the write lock
		// (SQLite), so dispatched_at is when the decision was made.
		p.now = time.Now()
		// Tasks overdue by starveAfter go first whatever their priority,
		// so a steady stream of higher-priority work cannot starve them.
		// Only a backlog can starve: when the last pass placed all it saw,
		// the scan is skipped.
		if d.backlog.Load() {
			if err := p.scan(ctx, p.now.Add(-starveAfter)); err != nil {
				return err
			}
		}
		if err := p.scan(ctx, p.now.Add(d.cfg.Horizon)); err != nil {
			return err
		}
		return p.write(ctx)
	})
	if err != nil {
		p.release()
		return dispatchResult{starved: true}, err
	}
	for _, c := range p.cancels {
		d.pool.Cancel(c.agentID, c.id, c.reason)
	}
	observeFinish(d.cfg.Metrics, d.cfg.Alerter, FinishResult{Done: p.done})
	if p.final.Rearmed > 0 {
		d.wakeGenerator()
	}
	res := dispatchResult{dispatched: p.push(ctx), minLead: p.minLead, leads: p.leads}
	if p.skipped > 0 {
		d.log.InfoContext(ctx, "runs skipped by overlap policy", "num_tasks", p.skipped)
	}
	if p.unplaced > 0 && d.cfg.Unplaced != nil {
		d.cfg.Unplaced()
	}
	d.backlog.Store(p.unplaced > 0 || p.waited > 0)
	// A pass that dispatched a whole batch may have left more due: go again
	// at once (a pass with no free slot returns without touching the store).
	res.full = res.dispatched >= d.cfg.Batch || p.final.Triggered > 0
	return res, nil
}

// newPass starts a pass over a fresh snapshot of the agents, or returns nil
// when none has a free slot.
func (d *Dispatcher) newPass() *pass {
	cands := d.pool.Candidates()
	free := 0
	for _, c := range cands {
		free += c.Free
	}
	if free == 0 {
		return nil
	}
	return &pass{d: d, now: time.Now(), cands: cands, free: free, reserved: map[string]int{},
		byAgent: map[string][]*protocol.DispatchedInstance{}, seen: map[uuid.UUID]bool{}, jobs: map[uuid.UUID]*jobState{},
		schedules: map[uuid.UUID]*model.Schedule{}}
}

// passTimeout bounds a dispatch pass, and the push of a run now.
const passTimeout = 30 * time.Second

// starveAfter is how long past its start a task waits before it is served
// ahead of higher priorities.
const starveAfter = time.Minute

// Claim sizes: a pass claims at least minClaim rows, so a few free slots do
// not mean many tiny claims, and scans at most maxScanFactor batches.
const (
	minClaim      = 64
	maxScanFactor = 5
)

// pass is one dispatch pass: what it claimed, placed and decided.
type pass struct {
	d         *Dispatcher
	ex        store.Executor
	now       time.Time
	startedAt time.Time
	// schedules caches the schedules of missed fires met in this pass.
	schedules map[uuid.UUID]*model.Schedule
	cands     []*balance.Candidate
	free      int
	reserved  map[string]int // slots reserved per agent, released if the pass fails

	seen      map[uuid.UUID]bool      // tasks decided in this pass
	jobs      map[uuid.UUID]*jobState // constrained jobs met in this pass
	instances []*store.TaskInstanceInsert
	byAgent   map[string][]*protocol.DispatchedInstance
	cancels   []instanceCancel
	skipped   int
	done      []Finished // tasks a decision in this pass ended (replaced runs)
	unplaced  int        // due tasks no agent here could take
	waited    int        // due tasks held back by their job's overlap or concurrency
	final     FinalEffects
	// minLead is the shortest lead (planned instant − now) of a task the
	// pass placed or left for want of slots; leads says there was one.
	minLead time.Duration
	leads   bool
}

type instanceCancel struct {
	agentID string
	id      uuid.UUID
	reason  string
}

// jobState is what a pass knows of a job with an overlap policy or a
// concurrency cap: its unfinished tasks, and the runs it left waiting.
type jobState struct {
	active  []*model.Task // Doing or WaitingRetry, plus those placed in this pass
	waiting int           // due tasks left waiting in this pass (queue)
}

// constrained reports whether a task's job limits how many of its runs go
// at once.
func constrained(t *model.Task) bool {
	return t.Config.Overlap.EffectivePolicy() != model.OverlapAllow || t.Config.MaxConcurrency > 0
}

// scan pages through tasks due by horizon and places them until the free
// slots are used or the scan bound is reached.
func (p *pass) scan(ctx context.Context, horizon time.Time) error {
	var after *store.TaskClaimCursor
	for scanned := 0; p.free > 0 && scanned < maxScanFactor*p.d.cfg.Batch; {
		// One row past the slots, so a page that fills them shows what
		// is left (pace).
		limit := min(p.d.cfg.Batch, max(p.free+1, minClaim))
		tasks, err := p.ex.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: after, Horizon: horizon, Limit: limit})
		if err != nil {
			return fmt.Errorf("claim tasks: %w", err)
		}
		scanned += len(tasks)
		if err := p.loadJobs(ctx, tasks); err != nil {
			return err
		}
		for i, t := range tasks {
			if p.seen[t.ID] {
				continue
			}
			p.seen[t.ID] = true
			runs, err := p.misfire(ctx, t)
			if err != nil {
				return err
			}
			if !runs {
				continue
			}
			if err := p.decide(ctx, t); err != nil {
				return err
			}
			if p.free == 0 {
				// Due work left behind for want of slots is a backlog.
				// The soonest left (of any priority in the page) bounds
				// how long a freed slot may wait (pace).
				for _, rest := range tasks[i+1:] {
					p.noteLead(rest)
					if !rest.RunAt.After(p.now) {
						p.unplaced++
						break
					}
				}
				break
			}
		}
		if len(tasks) < limit {
			return nil
		}
		after = store.CursorOf(tasks[len(tasks)-1])
	}
	return nil
}

// loadJobs locks the rows of constrained jobs new to this pass, so no other
// dispatcher decides about them until this transaction ends, and loads
// their unfinished tasks.
func (p *pass) loadJobs(ctx context.Context, tasks []*model.Task) error {
	var ids []uuid.UUID
	for _, t := range tasks {
		if constrained(t) && p.jobs[t.JobID] == nil {
			p.jobs[t.JobID] = &jobState{}
			ids = append(ids, t.JobID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := p.ex.JobLockMany(ctx, &store.JobLockManyParams{IDs: ids}); err != nil {
		return fmt.Errorf("lock jobs: %w", err)
	}
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = id
	}
	active, err := p.ex.TaskList(ctx, &store.TaskListParams{
		Filter: store.Filter{
			{Field: "job_id", Op: store.OpIn, Value: vals},
			{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskDoing), int64(model.TaskWaitingRetry)}},
		},
		Limit: store.MaxPageLimit,
	})
	if err != nil {
		return fmt.Errorf("load running tasks: %w", err)
	}
	for _, t := range active {
		js := p.jobs[t.JobID]
		js.active = append(js.active, t)
	}
	return nil
}

// place assigns t to the agents its routing chooses, reserving a slot on
// each; it reports false when the run must wait. A slot another dispatcher
// took since the snapshot is seen at reservation: the agent counts as full
// and the routing is asked again.
func (p *pass) place(t *model.Task) bool {
	p.noteLead(t) // placed or left, it bounds the pace
	for range len(p.cands) + 1 {
		pl, ok := p.d.router.Route(p.cands, balance.Target{JobID: t.JobID, Config: &t.Config, Params: t.Parameters})
		if !ok {
			if !t.RunAt.After(p.now) {
				p.unplaced++
			}
			return false
		}
		if full := p.reserve(pl.Agents); full != nil {
			p.free -= full.Free
			full.Free = 0
			continue
		}
		shards := 0
		if t.Config.Routing.EffectiveStrategy() == model.RouteBroadcast {
			shards = len(pl.Agents)
		}
		for i, agent := range pl.Agents {
			agent.Free--
			p.free--
			in := newInstance(t, agent.ID, p.d.cfg.ServerID, p.now, p.d.cfg.AckTimeout)
			in.Placement = pl.Reason
			if shards > 0 {
				in.ShardIndex, in.ShardTotal = i, shards
			}
			p.instances = append(p.instances, in)
			p.byAgent[agent.ID] = append(p.byAgent[agent.ID], dispatched(t, in))
		}
		return true
	}
	return false
}

// noteLead notes the lead of t, placed or left for want of a slot: the
// shortest bounds how long a freed slot may wait for the next pass (pace).
func (p *pass) noteLead(t *model.Task) {
	if l := t.RunAt.Sub(p.now); !p.leads || l < p.minLead {
		p.minLead, p.leads = l, true
	}
}

// reserve takes a slot on every agent, or none: it returns the first agent
// without one after giving back what it took.
func (p *pass) reserve(agents []*balance.Candidate) *balance.Candidate {
	for i, a := range agents {
		if !p.d.pool.Reserve(a.ID) {
			for _, b := range agents[:i] {
				p.d.pool.Release(b.ID, 1)
			}
			return a
		}
	}
	for _, a := range agents {
		p.reserved[a.ID]++
	}
	return nil
}

// release gives back the slots of a pass that was not written.
func (p *pass) release() {
	for agentID, n := range p.reserved {
		p.d.pool.Release(agentID, n)
	}
}

// push hands the committed instances to their agents and returns how many
// went out.
func (p *pass) push(ctx context.Context) int {
	n := 0
	for agentID, insts := range p.byAgent {
		if err := p.d.pool.Dispatch(ctx, agentID, insts); err != nil {
			// The instances stay Dispatched: the agent gets them when it
			// reconnects, or their lease lapses and they go elsewhere.
			p.d.log.WarnContext(ctx, "push dispatch", "agent_id", agentID, "num_instances", len(insts), "error", err)
			continue
		}
		n += len(insts)
		lat := time.Since(p.now)
		for range insts {
			p.d.cfg.Metrics.DispatchLatency(lat)
		}
	}
	return n
}

// write moves the placed tasks to Doing and inserts their instances.
func (p *pass) write(ctx context.Context) error {
	if len(p.instances) == 0 {
		return nil
	}
	// One statement, sent with the COMMIT on PostgreSQL: the tasks'
	// attempts start with their instances, and the pass needs no answer.
	if _, err := store.AtCommit(p.ex).TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{Instances: p.instances, StartAttempts: true}); err != nil {
		return fmt.Errorf("insert instances: %w", err)
	}
	return nil
}

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
		Event:       t.Event,
		ShardIndex:  in.ShardIndex,
		ShardTotal:  in.ShardTotal,
	}
}
