package sched

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// Report is one thing an agent (or the server on its behalf) reports. Exactly
// one of the pointer fields is set, or none for a barrier that only waits for
// earlier reports.
type Report struct {
	AgentID string

	Acked     []uuid.UUID
	Running   *protocol.TaskRunning
	Log       *protocol.TaskLog
	Done      *protocol.TaskDone
	Heartbeat *HeartbeatReport
	// Lost marks live instances of the agent as lost: held ones go back to
	// their tasks, running ones count as a failed attempt.
	Lost []uuid.UUID
	// Owned tells the writer that the agent holds these instances, just
	// dispatched: it then knows whose chunks and reports they take without
	// asking the store. Nothing is written.
	Owned []uuid.UUID

	// Applied, if set, is called from the writer goroutine once the report is
	// durable (err nil) or could not be applied because the writer stopped.
	// It must not block.
	Applied func(err error)
}

// HeartbeatReport is the part of a heartbeat that is stored.
type HeartbeatReport struct {
	Load              float64
	Running           int
	ClockOffsetMillis int64
	Draining          bool
}

// ResultsConfig configures [Results].
type ResultsConfig struct {
	ServerID string
	// AckTimeout bounds how long a held instance may wait past its fire time
	// before its lease lapses.
	AckTimeout time.Duration
	// MaxBatch caps the reports applied in one transaction. Default 1000.
	MaxBatch int
	// QueueSize bounds the reports waiting; Submit blocks when it is full.
	// Default 10000.
	QueueSize int
	// Metrics records finished runs; nil means NopMetrics.
	Metrics Metrics
	// Alerter hears of finished tasks; nil means NopAlerter.
	Alerter Alerter
}

// ResultsTestSignals lets tests wait for batches.
type ResultsTestSignals struct {
	Applied testsignal.Signal[int] // number of reports in a committed batch
}

// Init enables the signals.
func (s *ResultsTestSignals) Init() { s.Applied.Init() }

// Results applies agent reports to the store in batches, one transaction
// per batch, in the order they were submitted.
type Results struct {
	lifecycle.Base
	cfg   ResultsConfig
	store store.Store
	logs  *tasklog.Store
	log   *slog.Logger
	queue chan *Report
	wake  Wakers
	// owners caches instance → agent for log chunks, so an agent can write
	// only its own instances' output. Only the writer goroutine touches it.
	owners map[uuid.UUID]string

	// beats holds the latest heartbeat of each agent and acks the acked
	// instances of each, waiting for the next batch. Both skip the queue:
	// behind a backlog of results a busy agent would be judged dead, and its
	// leases would lapse, which turns overload into lost runs. Neither can
	// overtake a report it must follow: a heartbeat is a snapshot, and an
	// ack comes before anything else about its instance. kick wakes an idle
	// writer for them.
	fastMu sync.Mutex
	beats  map[string]*Report
	acks   map[string][]uuid.UUID
	kick   chan struct{}

	TestSignals ResultsTestSignals
}

// Wakers are called after work was created, to cut a loop's wait short.
// Nil fields do nothing.
type Wakers struct {
	// Dispatcher is called when tasks became runnable.
	Dispatcher func()
	// Generator is called when a schedule was given its next fire.
	Generator func()
}

func (w Wakers) dispatcher() {
	if w.Dispatcher != nil {
		w.Dispatcher()
	}
}

func (w Wakers) generator() {
	if w.Generator != nil {
		w.Generator()
	}
}

// NewResults returns a Results writer; wake is told about work it creates.
func NewResults(cfg ResultsConfig, st store.Store, logs *tasklog.Store, wake Wakers, logger *slog.Logger) *Results {
	if st == nil || logs == nil || logger == nil {
		panic("sched: NewResults needs a store, a log store and a logger")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 10_000
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Alerter == nil {
		cfg.Alerter = NopAlerter{}
	}
	return &Results{cfg: cfg, store: st, logs: logs, log: logger, queue: make(chan *Report, cfg.QueueSize), wake: wake, owners: map[uuid.UUID]string{},
		beats: map[string]*Report{}, acks: map[string][]uuid.UUID{}, kick: make(chan struct{}, 1)}
}

// Submit queues a report. It blocks while the queue is full, which slows the
// agents' read loops: backpressure instead of unbounded memory. It returns
// ctx's error if ctx ends first. A heartbeat or an ack without Applied never
// waits: it goes into the next batch (a heartbeat replacing the agent's
// previous one).
func (r *Results) Submit(ctx context.Context, rep *Report) error {
	if (rep.Heartbeat != nil || len(rep.Acked) > 0) && rep.Applied == nil {
		r.fastMu.Lock()
		if rep.Heartbeat != nil {
			r.beats[rep.AgentID] = rep
		} else {
			r.acks[rep.AgentID] = append(r.acks[rep.AgentID], rep.Acked...)
		}
		r.fastMu.Unlock()
		select {
		case r.kick <- struct{}{}:
		default:
		}
		return nil
	}
	select {
	case r.queue <- rep:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush waits until every report submitted before it is applied.
func (r *Results) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	if err := r.Submit(ctx, &Report{Applied: func(err error) { done <- err }}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start runs the writer until ctx ends or Stop is called. On stop it applies
// what is already queued, with its own timeout, so reports that agents sent
// before a graceful stop still land.
func (r *Results) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := r.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		batch := make([]*Report, 0, r.cfg.MaxBatch)
		for {
			batch = batch[:0]
			select {
			case <-ctx.Done():
				r.drain(batch)
				return
			case rep := <-r.queue:
				batch = append(batch, rep)
			case <-r.kick:
			}
			// Acks are taken after the queue, so the ack of every run whose
			// end is in the batch is too (the gateway submits an agent's
			// reports in order): the batch's finishes record them.
			batch = r.takeFast(r.fill(batch))
			if len(batch) > 0 {
				r.applyWithRetry(ctx, batch)
			}
		}
	}()
	return nil
}

// fill adds what is queued now to batch, without waiting.
func (r *Results) fill(batch []*Report) []*Report {
	for len(batch) < r.cfg.MaxBatch {
		select {
		case rep := <-r.queue:
			batch = append(batch, rep)
		default:
			return batch
		}
	}
	return batch
}

// takeFast adds the waiting heartbeats and acks to batch.
func (r *Results) takeFast(batch []*Report) []*Report {
	r.fastMu.Lock()
	defer r.fastMu.Unlock()
	for id, ids := range r.acks {
		batch = append(batch, &Report{AgentID: id, Acked: ids})
		delete(r.acks, id)
	}
	for id, rep := range r.beats {
		batch = append(batch, rep)
		delete(r.beats, id)
	}
	return batch
}

// drain applies what is queued at stop time, bounded by a timeout, and fails
// the rest so their senders stop waiting.
func (r *Results) drain(batch []*Report) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		batch = r.takeFast(r.fill(batch[:0]))
		if len(batch) == 0 {
			return
		}
		if err := r.apply(ctx, batch); err != nil {
			r.log.WarnContext(ctx, "results not applied at stop", "num_reports", len(batch), "error", err)
			notify(batch, err)
			continue
		}
		notify(batch, nil)
	}
}

func (r *Results) applyWithRetry(ctx context.Context, batch []*Report) {
	for attempt := 0; ; attempt++ {
		err := r.apply(ctx, batch)
		if err == nil {
			notify(batch, nil)
			r.TestSignals.Applied.Signal(len(batch))
			return
		}
		if ctx.Err() != nil {
			// Stopping: try once more without the cancelled context.
			r.drainBatch(batch)
			return
		}
		r.log.ErrorContext(ctx, "apply results", "num_reports", len(batch), "attempt", attempt+1, "error", err)
		backoff := applyBackoff(attempt)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

// maxApplyBackoff bounds the pause between attempts to apply results. It is
// short because agents wait on these writes (a reconnecting agent is welcomed
// only once its reports are stored): after a database outage they must be
// back well within the heartbeat TTL, and a retry costs one connection
// attempt.
const maxApplyBackoff = 500 * time.Millisecond

// applyBackoff is the jittered pause after failed attempt n (from 0).
func applyBackoff(n int) time.Duration {
	d := min(time.Duration(1<<min(n, 6))*50*time.Millisecond, maxApplyBackoff)
	return d + rand.N(d/2)
}

func (r *Results) drainBatch(batch []*Report) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.apply(ctx, batch)
	notify(batch, err)
}

func notify(batch []*Report, err error) {
	for _, rep := range batch {
		if rep.Applied != nil {
			rep.Applied(err)
		}
	}
}

// apply applies a batch in one transaction, its log chunks included (see
// results_logs.go).
func (r *Results) apply(ctx context.Context, batch []*Report) error {
	var (
		acks     = map[string][]uuid.UUID{}
		starts   []*store.TaskInstanceStart
		finishes []*store.TaskInstanceFinish
		beats    = map[string]*store.AgentHeartbeatParams{}
		lost     []*store.TaskInstanceFinish
	)
	now := time.Now()
	if err := r.loadOwners(ctx, batch); err != nil {
		return err
	}
	logs := r.logs.NewBatch()
	for _, rep := range batch {
		switch {
		case len(rep.Acked) > 0:
			acks[rep.AgentID] = append(acks[rep.AgentID], rep.Acked...)
		case rep.Running != nil:
			starts = append(starts, &store.TaskInstanceStart{ID: rep.Running.InstanceID, AgentID: rep.AgentID, StartedAt: rep.Running.StartedAt.UTC()})
		case rep.Log != nil:
			r.addLog(ctx, logs, rep)
		case rep.Done != nil:
			finishes = append(finishes, finishFromDone(rep.AgentID, rep.Done))
		case rep.Heartbeat != nil:
			status := model.AgentOnline
			if rep.Heartbeat.Draining {
				status = model.AgentDraining
			}
			beats[rep.AgentID] = &store.AgentHeartbeatParams{ID: rep.AgentID, Load: rep.Heartbeat.Load, Running: rep.Heartbeat.Running,
				ClockOffsetMillis: rep.Heartbeat.ClockOffsetMillis, Status: status, ServerID: r.cfg.ServerID}
		case len(rep.Lost) > 0:
			for _, id := range rep.Lost {
				lost = append(lost, &store.TaskInstanceFinish{ID: id, AgentID: rep.AgentID, Status: model.InstanceLost, Error: "agent " + rep.AgentID + " no longer has this run"})
			}
		}
	}
	r.finishLogs(logs, batch)
	starts = withoutFinished(starts, finishes)
	acks = withoutRecorded(acks, starts, finishes)
	// Each write is one statement, except finishing runs; a batch of one
	// statement (a burst of acks, or of starts) needs no transaction, which
	// saves its BEGIN and COMMIT round trips.
	var (
		fin    FinishResult
		writes []func(ex store.Executor) error
		multi  bool
	)
	for agentID, ids := range acks {
		writes = append(writes, func(ex store.Executor) error {
			if _, err := ex.TaskInstanceAckMany(ctx, &store.TaskInstanceAckManyParams{AgentID: agentID, IDs: ids, LeaseGrace: r.cfg.AckTimeout}); err != nil {
				return fmt.Errorf("ack instances: %w", err)
			}
			return nil
		})
	}
	if len(starts) > 0 {
		writes = append(writes, func(ex store.Executor) error {
			if _, err := ex.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{Items: starts}); err != nil {
				return fmt.Errorf("start instances: %w", err)
			}
			return nil
		})
	}
	if all := append(finishes, lost...); len(all) > 0 {
		multi = true
		writes = append(writes, func(ex store.Executor) (err error) {
			fin, err = FinishInstances(ctx, ex, all, now)
			return err
		})
	}
	for _, hb := range beats {
		writes = append(writes, func(ex store.Executor) error {
			if _, err := ex.AgentHeartbeat(ctx, hb); err != nil {
				return fmt.Errorf("agent heartbeat: %w", err)
			}
			return nil
		})
	}
	if logs.Pending() {
		writes = append(writes, func(ex store.Executor) error { return logs.Flush(ctx, ex) })
	} else {
		// Nothing to store, but Flush marks the batch done, which silent
		// runs' finishes need.
		if err := logs.Flush(ctx, r.store); err != nil {
			return err
		}
	}
	var err error
	switch {
	case len(writes) == 0:
	case len(writes) == 1 && !multi:
		err = writes[0](r.store)
	default:
		err = store.InTx(ctx, r.store, func(ex store.Executor) error {
			for _, w := range writes {
				if err := w(ex); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	r.logsCommitted(ctx, logs)
	observeFinish(r.cfg.Metrics, r.cfg.Alerter, fin)
	if fin.wakesDispatcher() {
		r.wake.dispatcher()
	}
	if fin.Rearmed > 0 {
		r.wake.generator()
	}
	return nil
}

// maxOwners bounds the owner cache; it is emptied when full, which only
// costs a lookup per running instance.
const maxOwners = 100_000

// loadOwners fills the owner cache for the log chunks, done reports and
// lost runs in batch.
func (r *Results) loadOwners(ctx context.Context, batch []*Report) error {
	var need, missing []any
	seen := map[uuid.UUID]bool{}
	want := func(id uuid.UUID) {
		if seen[id] {
			return
		}
		seen[id] = true
		need = append(need, id)
		if _, ok := r.owners[id]; !ok {
			missing = append(missing, id)
		}
	}
	for _, rep := range batch {
		if len(rep.Owned) > 0 && len(r.owners)+len(rep.Owned) <= maxOwners {
			for _, id := range rep.Owned {
				r.owners[id] = rep.AgentID
			}
		}
	}
	for _, rep := range batch {
		switch {
		case rep.Log != nil:
			want(rep.Log.InstanceID)
		case rep.Done != nil:
			// Needed to finish the run's log (finishLogs).
			want(rep.Done.InstanceID)
		case len(rep.Lost) > 0:
			for _, id := range rep.Lost {
				want(id)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if len(r.owners)+len(missing) > maxOwners {
		// Emptied, the cache no longer holds this batch's other ids.
		clear(r.owners)
		missing = need
	}
	found, err := r.store.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{{Field: "id", Op: store.OpIn, Value: missing}}, Limit: len(missing)})
	if err != nil {
		return fmt.Errorf("load instance owners: %w", err)
	}
	for _, in := range found {
		r.owners[in.ID] = in.AgentID
	}
	return nil
}

func finishFromDone(agentID string, d *protocol.TaskDone) *store.TaskInstanceFinish {
	f := &store.TaskInstanceFinish{
		ID:         d.InstanceID,
		AgentID:    agentID,
		Error:      d.Error,
		ExitCode:   d.ExitCode,
		OutputTail: d.OutputTail,
		Reason:     d.Reason,
		Status:     d.Status,
		// The agent reports only what it was given.
		Acked: true,
	}
	usage := d.Usage
	f.Usage = &usage
	if !d.FinishedAt.IsZero() {
		t := d.FinishedAt.UTC()
		f.FinishedAt = &t
	}
	if !d.StartedAt.IsZero() {
		t := d.StartedAt.UTC()
		f.StartedAt = &t
	}
	return f
}
