package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// DefaultSampleInterval is how often the sampled gauges are refreshed.
const DefaultSampleInterval = 5 * time.Second

// Sampler refreshes the gauges that need a query (queue depth, oldest
// pending age, agents by status) on a timer, so a scrape costs no query and
// many scrapers cost no more than one.
type Sampler struct {
	lifecycle.Base
	m        *Metrics
	store    store.Executor
	interval time.Duration
	log      *slog.Logger
}

// NewSampler returns a Sampler reading st every interval (zero means
// DefaultSampleInterval).
func NewSampler(m *Metrics, st store.Executor, interval time.Duration, logger *slog.Logger) *Sampler {
	if m == nil || st == nil || logger == nil {
		panic("metrics: NewSampler needs metrics, a store and a logger")
	}
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	return &Sampler{m: m, store: st, interval: interval, log: logger}
}

// Start samples once at once, then every interval until Stop.
func (s *Sampler) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			if err := s.RunOnce(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "sample metrics", "error", err)
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

// RunOnce reads the sampled values as of now and sets the gauges.
func (s *Sampler) RunOnce(ctx context.Context, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, s.interval)
	defer cancel()
	waiting := store.Filter{
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.TaskPending), int64(model.TaskWaitingRetry)}},
		{Field: "run_at", Op: store.OpLte, Value: now},
	}
	var smp Sample
	var err error
	if smp.QueueDepth, err = s.store.TaskCount(ctx, &store.TaskCountParams{Filter: waiting}); err != nil {
		return fmt.Errorf("count queued tasks: %w", err)
	}
	oldest, err := s.store.TaskList(ctx, &store.TaskListParams{Filter: waiting, OrderBy: []store.Order{{Field: "run_at"}}, Limit: 1})
	if err != nil {
		return fmt.Errorf("oldest queued task: %w", err)
	}
	if len(oldest) == 1 {
		smp.OldestPendingAge = max(now.Sub(oldest[0].RunAt), 0)
	}
	smp.AgentsByStatus = map[model.AgentStatus]int{}
	for _, st := range []model.AgentStatus{model.AgentOnline, model.AgentDraining, model.AgentOffline} {
		n, err := s.store.AgentCount(ctx, &store.AgentCountParams{Filter: store.Filter{{Field: "status", Op: store.OpEq, Value: int64(st)}}})
		if err != nil {
			return fmt.Errorf("count agents: %w", err)
		}
		smp.AgentsByStatus[st] = n
	}
	s.m.Sample(smp)
	return nil
}
