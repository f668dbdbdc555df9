package sched

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// GeneratorConfig configures a [Generator].
type GeneratorConfig struct {
	// Window is how far ahead tasks are planned.
	Window time.Duration
	// Interval is the pause between passes.
	Interval time.Duration
	// MisfireThreshold is how late a fire may be planned and still run as
	// normal. Fires later than that were missed while no server ran.
	// Default 5s.
	MisfireThreshold time.Duration
	// Horizon is the dispatch horizon; planning a task due within it wakes
	// the dispatcher.
	Horizon time.Duration
	// BatchSize caps the schedules planned in one transaction. Default 500.
	BatchSize int
	// MaxFiresPerSchedule caps the fires one schedule adds in one pass, so a
	// fast schedule far behind cannot make a pass unbounded. Default 10000.
	MaxFiresPerSchedule int
	// Fence, if set, runs first in each planning transaction and refuses
	// it when this server no longer leads.
	Fence Fence
	// Metrics records the generator's lag; nil means NopMetrics.
	Metrics Metrics
	// Alerter hears of fires a misfire policy skipped; nil means
	// NopAlerter.
	Alerter Alerter
}

// GeneratorTestSignals lets tests wait for passes.
type GeneratorTestSignals struct {
	Planned testsignal.Signal[int] // tasks inserted by a pass that inserted some
}

// Init enables the signals.
func (s *GeneratorTestSignals) Init() { s.Planned.Init() }

// Generator plans tasks for due schedules, advancing each schedule's cursor
// in the same transaction as its task inserts.
type Generator struct {
	lifecycle.Base
	cfg    GeneratorConfig
	store  store.Store
	log    *slog.Logger
	onWork func()
	wake   chan struct{}

	TestSignals GeneratorTestSignals
}

// NewGenerator returns a Generator. onWork is called after a pass that
// planned a task due within the dispatch horizon.
func NewGenerator(cfg GeneratorConfig, st store.Store, onWork func(), logger *slog.Logger) *Generator {
	if st == nil || logger == nil {
		panic("sched: NewGenerator needs a store and a logger")
	}
	if cfg.Window <= 0 || cfg.Interval <= 0 {
		panic(fmt.Sprintf("sched: bad generator config %+v", cfg))
	}
	if cfg.MisfireThreshold <= 0 {
		cfg.MisfireThreshold = 5 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxFiresPerSchedule <= 0 {
		cfg.MaxFiresPerSchedule = 10_000
	}
	if onWork == nil {
		onWork = func() {}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Alerter == nil {
		cfg.Alerter = NopAlerter{}
	}
	return &Generator{cfg: cfg, store: st, log: logger, onWork: onWork, wake: make(chan struct{}, 1)}
}

// Wake asks for a pass now, after a schedule was created or changed. It never
// blocks.
func (g *Generator) Wake() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Plans reports whether a pass at now plans a fire at next: whether next
// is within the window.
func (g *Generator) Plans(next, now time.Time) bool {
	return !next.After(now.Add(g.cfg.Window))
}

// Start runs generator passes until ctx ends or Stop is called.
func (g *Generator) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := g.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped() // deferred first, so it runs last
		t := time.NewTicker(g.cfg.Interval)
		defer t.Stop()
		for {
			res, err := g.RunOnce(ctx, time.Now())
			switch {
			case err != nil && !lifecycle.IsStop(ctx, err):
				g.log.ErrorContext(ctx, "generation pass failed", "error", err)
			case err == nil && res.Planned > 0:
				g.log.DebugContext(ctx, "tasks generated", "num_tasks", res.Planned, "num_schedules", res.Schedules)
				g.TestSignals.Planned.Signal(res.Planned)
			}
			select {
			case <-ctx.Done():
				return
			case <-g.wake:
			case <-t.C:
			}
		}
	}()
	return nil
}

// GenerateResult summarises one pass.
type GenerateResult struct {
	Schedules int // schedules whose cursor moved
	Planned   int // tasks inserted, skipped fires included
	Failed    int // schedules that could not be planned
}

// RunOnce plans every schedule due up to now+Window, in batches until a batch
// comes back short. It is exported for tests and for a second generator in
// race tests; production runs it from Start.
func (g *Generator) RunOnce(ctx context.Context, now time.Time) (GenerateResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var total GenerateResult
	horizon := now.Add(g.cfg.Window)
	first := true
	for {
		due, err := g.store.ScheduleListDue(ctx, &store.ScheduleListDueParams{Horizon: horizon, Limit: g.cfg.BatchSize})
		if err != nil {
			return total, fmt.Errorf("list due schedules: %w", err)
		}
		if first {
			// Due schedules come earliest first: the first batch holds
			// the cursor furthest behind.
			first = false
			g.cfg.Metrics.GeneratorLag(behind(due, now))
		}
		res, soon, err := g.planBatch(ctx, due, now, horizon)
		total.Schedules += res.Schedules
		total.Planned += res.Planned
		total.Failed += res.Failed
		if err != nil {
			return total, err
		}
		if soon {
			g.onWork()
		}
		// A batch that moved nothing (all lost a race or failed) would come
		// back the same; stop rather than spin.
		if len(due) < g.cfg.BatchSize || res.Schedules == 0 {
			return total, nil
		}
	}
}

// planBatch plans one batch of schedules in one transaction. soon reports
// whether a planned task is due within the dispatch horizon.
func (g *Generator) planBatch(ctx context.Context, due []*model.Schedule, now, horizon time.Time) (res GenerateResult, soon bool, err error) {
	jobs, err := g.loadJobs(ctx, due)
	if err != nil {
		return res, false, err
	}
	advances := make([]*store.ScheduleCursorAdvance, 0, len(due))
	plans := make(map[uuid.UUID][]*store.TaskInsert, len(due))
	for _, s := range due {
		job := jobs[s.JobID]
		if job == nil {
			// Deleted between the list and now; its schedules went with it.
			continue
		}
		plan, adv, err := g.planSchedule(s, job, now, horizon)
		if err != nil {
			res.Failed++
			g.log.WarnContext(ctx, "schedule cannot be planned", "schedule_id", s.ID, "job_id", s.JobID, "error", err)
			if _, serr := g.store.ScheduleSetErrorIf(ctx, &store.ScheduleSetErrorIfParams{ID: s.ID, ExpectRevision: s.Revision, LastError: err.Error()}); serr != nil {
				return res, false, fmt.Errorf("record schedule error: %w", serr)
			}
			continue
		}
		advances = append(advances, adv)
		plans[s.ID] = plan
	}
	if len(advances) == 0 {
		return res, false, nil
	}
	// missed are the fires a misfire policy skipped, told to the alerter
	// once the transaction committed.
	var missed []*model.Task
	err = fencedTx(ctx, g.store, g.cfg.Fence, func(ex store.Executor) error {
		moved, err := ex.ScheduleAdvanceCursorMany(ctx, &store.ScheduleAdvanceCursorManyParams{Items: advances})
		if err != nil {
			return fmt.Errorf("advance cursors: %w", err)
		}
		var tasks []*store.TaskInsert
		for _, s := range moved {
			tasks = append(tasks, plans[s.ID]...)
		}
		res.Schedules = len(moved)
		if len(tasks) == 0 {
			return nil
		}
		inserted, err := ex.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: tasks})
		if err != nil {
			return fmt.Errorf("insert tasks: %w", err)
		}
		res.Planned = len(inserted)
		missed = missed[:0]
		for _, t := range inserted {
			if t.Status == model.TaskSkipped {
				missed = append(missed, t)
			}
		}
		dueBy := now.Add(g.cfg.Horizon)
		for _, t := range inserted {
			if t.Status == model.TaskPending && !t.RunAt.After(dueBy) {
				soon = true
				break
			}
		}
		return nil
	})
	if err != nil {
		return GenerateResult{Failed: res.Failed}, false, err
	}
	if len(missed) > 0 {
		g.cfg.Alerter.FiresMissed(missed)
		for _, t := range missed {
			g.cfg.Metrics.TaskFinished(t.Namespace, model.TaskSkipped)
		}
	}
	return res, soon, nil
}

// loadJobs returns the jobs of the schedules, by id, in one query.
func (g *Generator) loadJobs(ctx context.Context, due []*model.Schedule) (map[uuid.UUID]*model.Job, error) {
	seen := make(map[uuid.UUID]bool, len(due))
	ids := make([]any, 0, len(due))
	for _, s := range due {
		if !seen[s.JobID] {
			seen[s.JobID] = true
			ids = append(ids, s.JobID)
		}
	}
	jobs := make(map[uuid.UUID]*model.Job, len(ids))
	if len(ids) == 0 {
		return jobs, nil
	}
	list, err := g.store.JobList(ctx, &store.JobListParams{Filter: store.Filter{{Field: "id", Op: store.OpIn, Value: ids}}, Limit: len(ids)})
	if err != nil {
		return nil, fmt.Errorf("load jobs: %w", err)
	}
	for _, j := range list {
		// Scheduled runs take the parameters' defaults; render the
		// snapshot once per job. Templates were checked when the job was
		// saved, so an error here means a job written by an older version.
		cfg, err := model.RenderConfig(j.Config, model.DefaultParams(j.Config.Params))
		if err != nil {
			g.log.WarnContext(ctx, "job config does not render; planning it unrendered", "job_id", j.ID, "error", err)
		} else {
			j.Config = cfg
		}
		jobs[j.ID] = j
	}
	return jobs, nil
}

// planSchedule computes one schedule's fires from its cursor up to horizon
// and the cursor move that goes with them.
func (g *Generator) planSchedule(s *model.Schedule, job *model.Job, now, horizon time.Time) ([]*store.TaskInsert, *store.ScheduleCursorAdvance, error) {
	if s.NextFireAt == nil {
		return nil, nil, fmt.Errorf("schedule has no cursor")
	}
	if OneAtATime(s) {
		return g.planOne(s, job, now)
	}
	spec, err := cron.ForSchedule(s)
	if err != nil {
		return nil, nil, err
	}
	cursor := s.NextFireAt.UTC()
	adv := &store.ScheduleCursorAdvance{ID: s.ID, ExpectRevision: s.Revision}
	lateBefore := now.Add(-s.Misfire.EffectiveThreshold())
	// A run of missed fires is resolved by the schedule's misfire policy;
	// firstToRun is the index of the first missed fire that runs.
	missed, firstToRun := 0, 0
	if cursor.Before(lateBefore) {
		missed = countBefore(spec, cursor, lateBefore)
		switch s.Misfire.EffectivePolicy() {
		case model.MisfireSkip:
			firstToRun = missed
		case model.MisfireFireOnce:
			firstToRun = missed - 1
		case model.MisfireFireAll:
			firstToRun = max(0, missed-s.Misfire.EffectiveLimit())
		}
	}
	var tasks []*store.TaskInsert
	for i := 0; !cursor.After(horizon) && len(tasks) < g.cfg.MaxFiresPerSchedule; i++ {
		if s.MaxCount > 0 && s.FiredCount+int64(len(tasks)) >= s.MaxCount {
			adv.Status = model.ScheduleExpired
			break
		}
		t := newPlannedTask(s, job, cursor)
		if i < missed {
			if i < firstToRun {
				t.Status = model.TaskSkipped
				t.Reason = fmt.Sprintf("missed while no server was running; misfire policy %s", describeMisfire(s.Misfire, missed))
			} else {
				t.RunAt = now
				t.Reason = fmt.Sprintf("ran late: planned for %s, missed while no server was running (misfire policy %s)", cursor.Format(time.RFC3339Nano), s.Misfire.EffectivePolicy())
			}
		}
		tasks = append(tasks, t)
		next, ok := spec.Next(cursor)
		if !ok {
			adv.Status = model.ScheduleExpired
			break
		}
		cursor = next.UTC()
	}
	adv.FiredCountDelta = int64(len(tasks))
	if adv.Status != model.ScheduleExpired {
		c := cursor
		adv.NextFireAt = &c
	}
	return tasks, adv, nil
}

// OneAtATime reports whether a schedule plans its next run only after the
// previous one ends: fixed-delay intervals and daemons. Their cursor is nil
// while a run is under way, and is set again when it ends.
func OneAtATime(s *model.Schedule) bool {
	return s.Kind == model.ScheduleDaemon || (s.Kind == model.ScheduleInterval && s.IntervalMode == model.FixedDelay)
}

// planOne plans the single next run of a one-at-a-time schedule and parks
// its cursor until that run ends.
func (g *Generator) planOne(s *model.Schedule, job *model.Job, now time.Time) ([]*store.TaskInsert, *store.ScheduleCursorAdvance, error) {
	adv := &store.ScheduleCursorAdvance{ID: s.ID, ExpectRevision: s.Revision}
	at := s.NextFireAt.UTC()
	if (s.EndTime != nil && at.After(*s.EndTime)) || (s.MaxCount > 0 && s.FiredCount >= s.MaxCount) {
		adv.Status = model.ScheduleExpired
		return nil, adv, nil
	}
	t := newPlannedTask(s, job, at)
	if at.Before(now.Add(-s.Misfire.EffectiveThreshold())) {
		t.RunAt = now
		t.Reason = fmt.Sprintf("ran late: planned for %s, missed while no server was running", at.Format(time.RFC3339Nano))
	}
	adv.FiredCountDelta = 1
	return []*store.TaskInsert{t}, adv, nil
}

func newPlannedTask(s *model.Schedule, job *model.Job, at time.Time) *store.TaskInsert {
	scheduleID := s.ID
	return &store.TaskInsert{
		ID:          uuid.Must(uuid.NewV7()),
		Config:      job.Config,
		JobID:       s.JobID,
		Namespace:   s.Namespace,
		Parameters:  model.DefaultParams(job.Config.Params),
		ScheduleID:  &scheduleID,
		ScheduledAt: at,
		RunAt:       at,
		Status:      model.TaskPending,
	}
}

// maxMissedCount bounds the count of missed fires; beyond it the oldest are
// treated as one long gap and resolved over several passes.
const maxMissedCount = 10_000_000

// countBefore counts the fires of spec from cursor (itself a fire) up to,
// not including, before.
func countBefore(spec cron.Spec, cursor, before time.Time) int {
	n := 0
	for cursor.Before(before) && n < maxMissedCount {
		n++
		next, ok := spec.Next(cursor)
		if !ok {
			break
		}
		cursor = next
	}
	return n
}

func describeMisfire(m model.MisfirePolicy, missed int) string {
	switch m.EffectivePolicy() {
	case model.MisfireSkip:
		return "skip records every missed fire without running it"
	case model.MisfireFireAll:
		return fmt.Sprintf("fire_all runs at most the latest %d of %d missed fires", m.EffectiveLimit(), missed)
	}
	return "fire_once runs only the latest missed fire"
}

// behind returns how far the earliest cursor of due is before now, or zero.
func behind(due []*model.Schedule, now time.Time) time.Duration {
	var lag time.Duration
	for _, s := range due {
		if s.NextFireAt != nil && now.Sub(*s.NextFireAt) > lag {
			lag = now.Sub(*s.NextFireAt)
		}
	}
	return lag
}
