package ui

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
)

// dashData is what the dashboard shows.
type dashData struct {
	Cluster  *api.ClusterStatus
	Online   int
	Offline  int
	Draining int
	Running  int
	Hour     chart
	Day      chart
	Lag      chart
	Next     []*model.Schedule
	Failures []*model.Task
	Jobs     map[uuid.UUID]string
}

// chart is a bar chart the template draws as inline SVG.
type chart struct {
	Bars      []bar
	Total     int
	Succeeded int
	// PerMinute is runs finished per minute over the chart's period.
	PerMinute string
	Max       int
}

// bar is one bar: its height in the SVG's units, the part that succeeded,
// and its tooltip label.
type bar struct {
	X, H, OK float64
	Label    string
	N, Good  int
}

const chartHeight = 80.0

// buildChart counts finished tasks (and the succeeded part) per bucket, in
// one grouped query over the finished_at index.
func (u *UI) buildChart(ctx context.Context, p *page, now time.Time, span time.Duration, buckets int) (chart, error) {
	c := chart{Bars: make([]bar, buckets)}
	step := span / time.Duration(buckets)
	start := now.Add(-span)
	hist, start, err := u.histogram(ctx, p.namespaces(), start, now, step, span > time.Hour)
	if err != nil {
		return c, err
	}
	for i := range c.Bars {
		c.Bars[i] = bar{X: float64(i) * 10, Label: p.Short(start.Add(time.Duration(i+1) * step))}
	}
	for _, b := range hist {
		if b.Bucket < 0 || b.Bucket >= buckets {
			continue
		}
		c.Bars[b.Bucket].N, c.Bars[b.Bucket].Good = b.Total, b.Succeeded
		c.Total += b.Total
		c.Succeeded += b.Succeeded
		c.Max = max(c.Max, b.Total)
	}
	scale(&c)
	c.PerMinute = fmt.Sprintf("%.2f", float64(c.Total)/span.Minutes())
	return c, nil
}

func scale(c *chart) {
	for i := range c.Bars {
		if c.Max > 0 {
			c.Bars[i].H = chartHeight * float64(c.Bars[i].N) / float64(c.Max)
			c.Bars[i].OK = chartHeight * float64(c.Bars[i].Good) / float64(c.Max)
		}
	}
}

// lagChart buckets the trigger lag (start minus planned fire) of scheduled
// runs finished in the last hour, from a sample of the latest 500.
func (u *UI) lagChart(ctx context.Context, p *page, now time.Time) (chart, error) {
	tasks, err := u.deps.Store.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{
		{Field: "finished_at", Op: store.OpGte, Value: now.Add(-time.Hour)}, {Field: "schedule_id", Op: store.OpNull, Value: false},
	}, Namespaces: p.namespaces(), Limit: 500, OrderBy: []store.Order{{Field: "finished_at", Desc: true}}})
	if err != nil {
		return chart{}, err
	}
	latest := map[uuid.UUID]*model.TaskInstance{}
	if err := u.latestInstancesCtx(ctx, tasks, latest); err != nil {
		return chart{}, err
	}
	limits := []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second, 30 * time.Second}
	labels := []string{"<10ms", "<50ms", "<100ms", "<500ms", "<1s", "<5s", "<30s", "≥30s"}
	c := chart{Bars: make([]bar, len(labels))}
	var lags []time.Duration
	for _, t := range tasks {
		in := latest[t.ID]
		if in == nil || in.StartedAt == nil {
			continue
		}
		lags = append(lags, in.StartedAt.Sub(t.ScheduledAt))
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	for _, l := range lags {
		i := sort.Search(len(limits), func(i int) bool { return l < limits[i] })
		c.Bars[i].N++
	}
	for i := range c.Bars {
		c.Bars[i].X, c.Bars[i].Label = float64(i)*15, labels[i]
		c.Bars[i].Good = c.Bars[i].N
		c.Max = max(c.Max, c.Bars[i].N)
		c.Total += c.Bars[i].N
	}
	scale(&c)
	if len(lags) > 0 {
		c.PerMinute = p.Dur(lags[len(lags)*95/100])
	}
	return c, nil
}

func (u *UI) latestInstancesCtx(ctx context.Context, tasks []*model.Task, m map[uuid.UUID]*model.TaskInstance) error {
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	return u.latestInstances(r, tasks, m)
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title = "title.dashboard"
	ctx := r.Context()
	now := time.Now().UTC()
	d := &dashData{Jobs: map[uuid.UUID]string{}}
	var err error
	if d.Cluster, err = u.deps.API.Cluster(ctx); err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Online, d.Offline, d.Draining = d.Cluster.AgentsByStatus["online"], d.Cluster.AgentsByStatus["offline"], d.Cluster.AgentsByStatus["draining"]
	steps := []func() error{
		func() (err error) {
			d.Running, err = u.deps.Store.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{Filter: store.Filter{
				{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceDispatched), int64(model.InstanceAcked), int64(model.InstanceRunning)}},
			}, Namespaces: p.namespaces()})
			return err
		},
		func() (err error) { d.Hour, err = u.buildChart(ctx, p, now, time.Hour, 12); return err },
		func() (err error) { d.Day, err = u.buildChart(ctx, p, now, 24*time.Hour, 12); return err },
		func() (err error) { d.Lag, err = u.lagChart(ctx, p, now); return err },
		func() (err error) {
			d.Next, err = u.deps.Store.ScheduleList(ctx, &store.ScheduleListParams{Filter: store.Filter{
				{Field: "status", Op: store.OpEq, Value: int64(model.ScheduleEnabled)}, {Field: "next_fire_at", Op: store.OpNull, Value: false},
			}, Namespaces: p.namespaces(), Limit: 10, OrderBy: []store.Order{{Field: "next_fire_at"}}})
			return err
		},
		func() (err error) {
			d.Failures, err = u.deps.Store.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{
				{Field: "finished_at", Op: store.OpGte, Value: now.Add(-7 * 24 * time.Hour)}, {Field: "status", Op: store.OpEq, Value: int64(model.TaskFailed)},
			}, Namespaces: p.namespaces(), Limit: 10, OrderBy: []store.Order{{Field: "finished_at", Desc: true}}})
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			u.fail(w, r, p, err)
			return
		}
	}
	var ids []uuid.UUID
	for _, s := range d.Next {
		ids = append(ids, s.JobID)
	}
	for _, t := range d.Failures {
		ids = append(ids, t.JobID)
	}
	if err := u.jobNames(r, ids, d.Jobs); err != nil {
		u.fail(w, r, p, err)
		return
	}
	p.Data = d
	u.render(w, r, http.StatusOK, "dashboard", p)
}

// histCacheTTL is how long the day chart's counts are reused: a day's
// picture hardly changes in half a minute, and counting a busy day's
// finished tasks is the dashboard's largest cost.
const histCacheTTL = 30 * time.Second

// histCache keeps recent day charts per set of namespaces.
type histCache struct {
	mu sync.Mutex
	m  map[string]histEntry
}

type histEntry struct {
	at, from time.Time
	buckets  []*store.TaskFinishedBucket
}

// histogram returns the finished-task histogram from start to now, reused
// for histCacheTTL when cache is set; it returns the start the counts
// belong to.
func (u *UI) histogram(ctx context.Context, namespaces []string, start, now time.Time, step time.Duration, cache bool) ([]*store.TaskFinishedBucket, time.Time, error) {
	key := fmt.Sprint(step, namespaces)
	if cache {
		u.hist.mu.Lock()
		e, ok := u.hist.m[key]
		u.hist.mu.Unlock()
		if ok && now.Sub(e.at) < histCacheTTL {
			return e.buckets, e.from, nil
		}
	}
	b, err := u.deps.Store.TaskFinishedHistogram(ctx, &store.TaskFinishedHistogramParams{From: start, To: now, Step: step, Namespaces: namespaces})
	if err != nil {
		return nil, start, err
	}
	if cache {
		u.hist.mu.Lock()
		if len(u.hist.m) > 1000 {
			clear(u.hist.m)
		}
		u.hist.m[key] = histEntry{at: now, from: start, buckets: b}
		u.hist.mu.Unlock()
	}
	return b, start, nil
}
