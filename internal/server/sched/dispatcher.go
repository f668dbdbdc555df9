package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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
	return &Dispatcher{cfg: cfg, store: st, pool: pool, log: logger, wake: make(chan struct{}, 1), wakeGenerator: wakeGenerator}
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
	d.startedMu.Lock()
	d.startedAt = time.Now()
	d.startedMu.Unlock()
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
	strategy, err := balance.Lookup(balance.DefaultStrategy)
	if err != nil {
		return dispatchResult{}, err
	}
	d.startedMu.Lock()
	startedAt := d.startedAt
	d.startedMu.Unlock()
	p := &pass{d: d, now: time.Now(), startedAt: startedAt, cands: cands, free: free, strategy: strategy,
		byAgent: map[string][]*protocol.DispatchedInstance{}, seen: map[uuid.UUID]bool{}, jobs: map[uuid.UUID]*jobState{},
		schedules: map[uuid.UUID]*model.Schedule{}}
	err = store.InTx(ctx, d.store, func(ex store.Executor) error {
		p.ex = ex
		// Stamp the pass once the transaction holds the write lock
		// (SQLite), so dispatched_at is when the decision was made.
		p.now = time.Now()
		// Tasks overdue by starveAfter go first whatever their priority,
		// so a steady stream of higher-priority work cannot starve them.
		if err := p.scan(ctx, p.now.Add(-starveAfter)); err != nil {
			return err
		}
		if err := p.scan(ctx, p.now.Add(d.cfg.Horizon)); err != nil {
			return err
		}
		return p.write(ctx)
	})
	if err != nil {
		return dispatchResult{}, err
	}
	for _, c := range p.cancels {
		d.pool.Cancel(c.agentID, c.id, c.reason)
	}
	if p.final.Rearmed > 0 {
		d.wakeGenerator()
	}
	res := dispatchResult{}
	for agentID, insts := range p.byAgent {
		if err := d.pool.Dispatch(ctx, agentID, insts); err != nil {
			// The instances stay Dispatched: the agent gets them when it
			// reconnects, or their lease lapses and they go elsewhere.
			d.log.WarnContext(ctx, "push dispatch", "agent_id", agentID, "num_instances", len(insts), "error", err)
			continue
		}
		res.dispatched += len(insts)
	}
	if p.skipped > 0 {
		d.log.InfoContext(ctx, "runs skipped by overlap policy", "num_tasks", p.skipped)
	}
	// A pass that dispatched a whole batch may have left more due: go again
	// at once (a pass with no free slot returns without touching the store).
	res.full = res.dispatched >= d.cfg.Batch || p.final.Triggered > 0
	return res, nil
}

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
	strategy  balance.Strategy
	buf       []*balance.Candidate

	seen      map[uuid.UUID]bool      // tasks decided in this pass
	jobs      map[uuid.UUID]*jobState // constrained jobs met in this pass
	ids       []uuid.UUID             // tasks to move to Doing
	instances []*store.TaskInstanceInsert
	byAgent   map[string][]*protocol.DispatchedInstance
	cancels   []instanceCancel
	skipped   int
	final     FinalEffects
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
		limit := min(p.d.cfg.Batch, max(p.free, minClaim))
		tasks, err := p.ex.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: after, Horizon: horizon, Limit: limit})
		if err != nil {
			return fmt.Errorf("claim tasks: %w", err)
		}
		scanned += len(tasks)
		if err := p.loadJobs(ctx, tasks); err != nil {
			return err
		}
		for _, t := range tasks {
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

// misfire applies the schedule's misfire policy to a fire that was due while
// no dispatcher ran (planned ahead before an outage, due during it). It
// decides the schedule's whole run of missed fires at once: those to skip
// are recorded Skipped with the reason (guarded writes, safe on rows other
// dispatchers may hold), and it reports whether t runs. The survivors stay
// Pending and are dispatched when claimed, where a second look finds only
// them, so the decision is the same whoever makes it. Fires that become late
// while a dispatcher runs are backlog, not misfires: they wait their turn.
func (p *pass) misfire(ctx context.Context, t *model.Task) (bool, error) {
	if t.ScheduleID == nil || t.Status != model.TaskPending || t.Attempt != 0 || !t.RunAt.Before(p.startedAt) {
		return true, nil
	}
	s, ok := p.schedules[*t.ScheduleID]
	if !ok {
		var err error
		s, err = p.ex.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: *t.ScheduleID})
		if errors.Is(err, store.ErrNotFound) {
			s = nil
		} else if err != nil {
			return false, fmt.Errorf("load schedule of missed fire: %w", err)
		}
		p.schedules[*t.ScheduleID] = s
	}
	if s == nil || OneAtATime(s) {
		return true, nil
	}
	lateBefore := p.startedAt.Add(-s.Misfire.EffectiveThreshold())
	if !t.RunAt.Before(lateBefore) {
		return true, nil
	}
	missed, err := p.ex.TaskList(ctx, &store.TaskListParams{
		Filter: store.Filter{
			{Field: "schedule_id", Op: store.OpEq, Value: s.ID},
			{Field: "status", Op: store.OpEq, Value: int64(model.TaskPending)},
			{Field: "attempt", Op: store.OpEq, Value: int64(0)},
			{Field: "run_at", Op: store.OpLt, Value: lateBefore},
		},
		OrderBy: []store.Order{{Field: "scheduled_at"}},
		Limit:   store.MaxPageLimit,
	})
	if err != nil {
		return false, fmt.Errorf("list missed fires: %w", err)
	}
	firstToRun := len(missed)
	switch s.Misfire.EffectivePolicy() {
	case model.MisfireFireOnce:
		firstToRun = len(missed) - 1
	case model.MisfireFireAll:
		firstToRun = max(0, len(missed)-s.Misfire.EffectiveLimit())
	}
	runs := false
	for i, m := range missed {
		if i < firstToRun {
			p.seen[m.ID] = true
			if err := p.skip(ctx, m, "missed while no server was running; misfire policy "+describeMisfire(s.Misfire, len(missed))); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
			continue
		}
		if !strings.HasPrefix(m.Reason, "ran late") {
			reason := fmt.Sprintf("ran late: planned for %s, missed while no server was running (misfire policy %s)", m.ScheduledAt.UTC().Format(time.RFC3339Nano), s.Misfire.EffectivePolicy())
			if _, err := p.ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: m.ID, FromStatuses: []model.TaskStatus{model.TaskPending}, Status: model.TaskPending, Reason: reason}); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, fmt.Errorf("note late fire: %w", err)
			}
		}
		runs = runs || m.ID == t.ID
	}
	return runs, nil
}

// decide places a task, or for a constrained job applies its overlap policy
// or concurrency cap: wait, skip, or cancel the running run and place.
func (p *pass) decide(ctx context.Context, t *model.Task) error {
	js := p.jobs[t.JobID]
	if js == nil || t.Status == model.TaskWaitingRetry {
		// Unconstrained, or a retry of a run already admitted.
		p.place(t)
		return nil
	}
	limit := t.Config.MaxConcurrency
	policy := t.Config.Overlap.EffectivePolicy()
	if policy != model.OverlapAllow {
		limit = 1
	}
	others := 0
	for _, a := range js.active {
		if a.ID != t.ID {
			others++
		}
	}
	if others < limit {
		if p.place(t) {
			js.active = append(js.active, t)
		}
		return nil
	}
	if t.RunAt.After(p.now) {
		// Not due yet: the earlier run may end in time.
		return nil
	}
	running := js.active[0]
	switch policy {
	case model.OverlapForbid:
		return p.skip(ctx, t, fmt.Sprintf("overlap policy forbid: task %s of this job was still running at this run's time", running.ID))
	case model.OverlapQueue:
		if js.waiting >= t.Config.Overlap.EffectiveQueueSize() {
			return p.skip(ctx, t, fmt.Sprintf("overlap policy queue: %d runs already wait for task %s", js.waiting, running.ID))
		}
		js.waiting++
		return nil
	case model.OverlapReplace:
		if err := p.replace(ctx, t, js); err != nil {
			return err
		}
		if p.place(t) {
			js.active = []*model.Task{t}
		}
	}
	// allow with a concurrency cap: wait for a slot of the job.
	return nil
}

// place assigns t to an agent, if one with a free slot matches.
func (p *pass) place(t *model.Task) bool {
	p.buf = balance.Feasible(p.buf, p.cands, t.Config.Labels)
	if len(p.buf) == 0 {
		return false
	}
	agent, _ := p.strategy.Pick(p.buf)
	agent.Free--
	p.free--
	in := newInstance(t, agent.ID, p.d.cfg.ServerID, p.now, p.d.cfg.AckTimeout)
	p.ids = append(p.ids, t.ID)
	p.instances = append(p.instances, in)
	p.byAgent[agent.ID] = append(p.byAgent[agent.ID], dispatched(t, in))
	return true
}

// skip records a due run its overlap policy does not run.
func (p *pass) skip(ctx context.Context, t *model.Task, reason string) error {
	if _, err := p.ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: t.ID, FromStatuses: []model.TaskStatus{model.TaskPending}, Status: model.TaskSkipped, Reason: reason}); err != nil {
		return fmt.Errorf("skip task %s: %w", t.ID, err)
	}
	p.skipped++
	eff, err := AfterFinal(ctx, p.ex, []Finished{{Task: t, Status: model.TaskSkipped}}, p.now)
	p.final.Rearmed += eff.Rearmed
	p.final.Triggered += eff.Triggered
	return err
}

// replace cancels the job's unfinished runs for t.
func (p *pass) replace(ctx context.Context, t *model.Task, js *jobState) error {
	reason := fmt.Sprintf("replaced by a newer run (task %s), overlap policy replace", t.ID)
	var ids []any
	for _, a := range js.active {
		if a.Status == model.TaskWaitingRetry {
			if _, err := p.ex.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: a.ID, FromStatuses: []model.TaskStatus{model.TaskWaitingRetry}, Status: model.TaskCancelled, Reason: reason}); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("cancel task %s: %w", a.ID, err)
			}
			continue
		}
		ids = append(ids, a.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	live, err := p.ex.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{
		{Field: "task_id", Op: store.OpIn, Value: ids},
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceDispatched), int64(model.InstanceAcked), int64(model.InstanceRunning)}},
	}, Limit: store.MaxPageLimit})
	if err != nil {
		return fmt.Errorf("load runs to replace: %w", err)
	}
	items := make([]*store.TaskInstanceFinish, len(live))
	for i, in := range live {
		items[i] = &store.TaskInstanceFinish{ID: in.ID, Status: model.InstanceCancelled, Reason: "cancelled", Error: reason}
		p.cancels = append(p.cancels, instanceCancel{agentID: in.AgentID, id: in.ID, reason: reason})
	}
	fin, err := FinishInstances(ctx, p.ex, items, p.now)
	p.final.Rearmed += fin.Rearmed
	p.final.Triggered += fin.Triggered
	return err
}

// write moves the placed tasks to Doing and inserts their instances.
func (p *pass) write(ctx context.Context) error {
	if len(p.ids) == 0 {
		return nil
	}
	if _, err := p.ex.TaskStartAttemptMany(ctx, &store.TaskStartAttemptManyParams{IDs: p.ids}); err != nil {
		return fmt.Errorf("start attempts: %w", err)
	}
	if _, err := p.ex.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{Instances: p.instances}); err != nil {
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
	}
}
