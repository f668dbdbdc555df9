package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Throughput pass criteria (DESIGN.md §12's "no backlog").
const (
	// completedRatio is the share of the offered rate that must complete.
	completedRatio = 0.98
	// maxTrend bounds how much the start lag and the planned→recorded
	// latency may rise from the first to the last trendSlice of a step.
	maxTrend = 50.0 // ms
	// trendSlice is how much of each end of a step the trend compares.
	trendSlice = 2 * time.Second
	// stepWarmup is left out at the start of each step, while the rate
	// changes.
	stepWarmup = time.Second
	// stepGrace is how long after a step ends its runs may take to finish
	// and be recorded before the step is judged.
	stepGrace = 1500 * time.Millisecond
	// tputGenerateWindow is the generator's window in throughput clusters:
	// short, so that planning happens during the steps as it does in a
	// steady state with long-lived schedules, rather than in one burst
	// when the schedules are created.
	tputGenerateWindow = "10s"
	// maxSchedules caps the schedules of one step; faster rates use
	// shorter intervals.
	maxSchedules = 1000
)

// tputSpec is one throughput configuration.
type tputSpec struct {
	kind     string // "true" or "http"
	store    string
	agents   int
	capacity int
	// job is what each run does.
	job model.JobConfig
}

// stepResult is one judged step of a ramp.
type stepResult struct {
	rate      float64   // offered runs/s
	completed []float64 // completed runs/s in three equal windows
	lag       Dist      // started_at − planned, ms, in the first and last trendSlice
	e2e       Dist      // recorded (updated_at) − planned, ms
	lagTrend  float64   // ms
	e2eTrend  float64   // ms
	doneFrac  float64   // share of the last trendSlice's runs final and succeeded at judging
	failed    int
	pass      bool
}

// rampResult is one ramp: the ceiling and the steps.
type rampResult struct {
	ceilings []float64 // execs/s, several measurements (process runs only)
	steps    []stepResult
	best     *stepResult // highest passing step, or nil
}

// rampPlan is one rate over one span of time.
type rampPlan struct {
	rate  float64
	start time.Time
	dur   time.Duration
	fires []Fire // every planned fire, once the schedules exist
}

// rateSchedules returns interval schedules on jobs that together fire rate
// times a second from p.start for p.dur, evenly spaced. Intervals are whole
// milliseconds (the stores keep milliseconds): 1 s, or 1 s/m for the
// smallest m dividing 1000 that keeps the schedules to len(jobs). It
// returns the schedules and the rate they really make.
func rateSchedules(jobs []uuid.UUID, p rampPlan) ([]*scheduleBody, float64) {
	m := 1
	for _, d := range []int{1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 125, 200, 250, 500, 1000} {
		m = d
		if p.rate/float64(d) <= float64(len(jobs)) {
			break
		}
	}
	n := max(1, int(math.Round(p.rate/float64(m))))
	n = min(n, len(jobs))
	interval := time.Second / time.Duration(m)
	end := p.start.Add(p.dur - time.Microsecond)
	out := make([]*scheduleBody, n)
	for i := range n {
		// Microseconds: what the stores keep.
		st := p.start.Add(time.Duration(i) * interval / time.Duration(n)).Truncate(time.Microsecond)
		out[i] = &scheduleBody{JobID: jobs[i], Kind: kindInterval, Interval: interval.String(), StartTime: &st, EndTime: &end}
	}
	return out, float64(n * m)
}

// schedulesFor returns how many schedules rateSchedules needs for rate.
func schedulesFor(rate float64) int {
	return min(int(math.Ceil(rate)), maxSchedules)
}

// runThroughput measures scenario 3 with /bin/true.
func runThroughput(ctx context.Context, b *bench) error {
	for _, storeKind := range b.storesFor(true) {
		for _, agents := range b.set.TputAgents {
			spec := tputSpec{kind: "true", store: storeKind, agents: agents, capacity: b.set.TputCapacity, job: cmdConfig("/bin/true")}
			if err := runTputConfig(ctx, b, spec); err != nil {
				return err
			}
		}
	}
	return nil
}

// runTputConfig runs the ramps of one configuration and records its result.
func runTputConfig(ctx context.Context, b *bench, spec tputSpec) error {
	key := "throughput"
	if spec.kind == "http" {
		key = "http"
	}
	r := b.newResult(ctx, key, fmt.Sprintf("%d agent(s) × capacity %d", spec.agents, spec.capacity), spec.store)
	var ramps []*rampResult
	for i := range max(b.set.TputRamps, 1) {
		b.log.Info("throughput ramp", "kind", spec.kind, "store", spec.store, "agents", spec.agents, "ramp", i+1)
		rr, err := tputRamp(ctx, b, spec)
		if rr != nil {
			ramps = append(ramps, rr)
		}
		if err != nil {
			r.Error = err.Error()
			break
		}
	}
	recordRamps(r, spec, ramps)
	b.add(r)
	return ctx.Err()
}

// recordRamps turns ramps into figures. With one ramp, the three "runs" of
// R are the three windows of its best step; with several, each ramp's R is
// a run.
func recordRamps(r *Result, spec tputSpec, ramps []*rampResult) {
	var rs, ratio, ceil, lagP99, e2eP99 []float64
	for _, rr := range ramps {
		ceil = append(ceil, rr.ceilings...)
		vals := []float64{0} // this ramp's R, or its windows' rates at R
		if rr.best != nil {
			lagP99 = append(lagP99, rr.best.lag.P99)
			e2eP99 = append(e2eP99, rr.best.e2e.P99)
			vals = []float64{rr.best.rate}
			if len(ramps) == 1 {
				vals = rr.best.completed
			}
		}
		rs = append(rs, vals...)
		if spec.kind == "true" {
			c := Median(rr.ceilings)
			for _, v := range vals {
				ratio = append(ratio, 100*v/c)
			}
		}
	}
	r.Runs = len(rs)
	if spec.kind == "true" {
		r.fig("ceiling", "execs/s", ceil)
	}
	rf := r.fig("R", "runs/s", rs)
	if spec.kind == "true" {
		r.fig("R / ceiling", "%", ratio).target(">=", 85, false)
	} else {
		rf.target(">=", 3000, false)
	}
	r.fig("start lag p99 at R", "ms", lagP99)
	r.fig("recorded p99 at R", "ms", e2eP99)
	if len(ramps) == 1 {
		r.note("one ramp: R's min and max are the completed rate in three equal windows of the step at R")
	}
	for i, rr := range ramps {
		t := &Table{Title: fmt.Sprintf("Ramp %d steps", i+1), Header: []string{"offered runs/s", "completed runs/s", "start lag p50/p99 ms", "lag trend ms", "recorded p99 ms", "recorded trend ms", "done at +1.5 s", "failed", "verdict"}}
		for _, s := range rr.steps {
			v := "pass"
			if !s.pass {
				v = "**fail**"
			}
			sum := Summarize(s.completed)
			t.Rows = append(t.Rows, []string{
				num(s.rate), fmt.Sprintf("%s (%s–%s)", num(sum.Median), num(sum.Min), num(sum.Max)),
				num(s.lag.P50) + " / " + num(s.lag.P99), num(s.lagTrend), num(s.e2e.P99), num(s.e2eTrend),
				fmt.Sprintf("%.0f%%", 100*s.doneFrac), fmt.Sprint(s.failed), v,
			})
		}
		r.Tables = append(r.Tables, t)
	}
}

// tputRamp measures the fork/exec ceiling (process runs only), then steps
// through rising rates on a fresh cluster until one fails.
func tputRamp(ctx context.Context, b *bench, spec tputSpec) (*rampResult, error) {
	rr := &rampResult{}
	rates := b.rates
	if spec.kind == "true" {
		parallel := spec.agents * spec.capacity
		for range 3 {
			c, err := forkCeiling(ctx, parallel, time.Second, "/bin/true")
			if err != nil {
				return nil, err
			}
			rr.ceilings = append(rr.ceilings, c)
		}
		if len(rates) == 0 {
			for _, f := range b.set.TputFractions {
				rates = append(rates, math.Round(f*Median(rr.ceilings)))
			}
		}
	} else if len(rates) == 0 {
		rates = b.set.HTTPRates
	}
	var err error
	rr.steps, err = tputSteps(ctx, b, spec, rates)
	rr.pickBest()
	return rr, err
}

// pickBest sets best to the highest passing step.
func (rr *rampResult) pickBest() {
	for i := range rr.steps {
		if rr.steps[i].pass && (rr.best == nil || rr.steps[i].rate > rr.best.rate) {
			rr.best = &rr.steps[i]
		}
	}
}

// driveRates creates jobs and back-to-back interval schedules for the
// rates, each lasting dur, starting a little ahead. It returns each step's
// plan with its real rate.
func driveRates(ctx context.Context, c *cluster, spec tputSpec, rates []float64, dur time.Duration) ([]rampPlan, error) {
	nJobs, nScheds := 0, 0
	for _, r := range rates {
		nJobs = max(nJobs, schedulesFor(r))
		nScheds += schedulesFor(r)
	}
	start := time.Now()
	jobs, err := createJobs(ctx, c.api, nJobs, "tput", spec.job)
	if err != nil {
		return nil, err
	}
	perReq := time.Since(start) / time.Duration(nJobs)
	// A schedule costs more than a job: the generator plans each one's
	// window while the others are being created, and on SQLite that
	// competes for the one writer. Leave four times what a job took, and a
	// second for the generator and the dispatcher to hand out the first
	// runs.
	lead := time.Second + 4*perReq*time.Duration(nScheds)
	t := time.Now().Add(lead).Truncate(time.Millisecond)
	plans := make([]rampPlan, len(rates))
	var bodies []*scheduleBody
	planOf := []int{} // plan index of each body
	for i, r := range rates {
		plans[i] = rampPlan{rate: r, start: t.Add(time.Duration(i) * dur), dur: dur}
		s, real := rateSchedules(jobs, plans[i])
		plans[i].rate = real
		bodies = append(bodies, s...)
		for range s {
			planOf = append(planOf, i)
		}
	}
	ids, err := createSchedules(ctx, c.api, bodies)
	if err != nil {
		return nil, err
	}
	for k, body := range bodies {
		every, err := time.ParseDuration(body.Interval)
		if err != nil {
			return nil, fmt.Errorf("schedule interval %q: %w", body.Interval, err)
		}
		p := &plans[planOf[k]]
		for at := *body.StartTime; !at.After(*body.EndTime); at = at.Add(every) {
			p.fires = append(p.fires, Fire{ScheduleID: ids[k].String(), At: at})
		}
	}
	if late := time.Since(t); late > 0 {
		return nil, fmt.Errorf("creating %d schedules ended %s after the first step began", nScheds, late.Round(time.Millisecond))
	}
	return plans, nil
}

// tputSteps runs the rates back to back on a fresh cluster, judging each
// step as it ends, and stops after the first step that fails.
func tputSteps(ctx context.Context, b *bench, spec tputSpec, rates []float64) ([]stepResult, error) {
	c, err := b.startCluster(ctx, clusterOpts{
		Store: spec.store, Agents: spec.agents, AgentCapacity: spec.capacity,
		Env: []string{"HETUFLOW_SCHEDULER_GENERATE_WINDOW=" + tputGenerateWindow},
	})
	defer c.close()
	if err != nil {
		return nil, err
	}
	plans, err := driveRates(ctx, c, spec, rates, b.set.TputStep)
	if err != nil {
		return nil, err
	}
	var steps []stepResult
	for _, p := range plans {
		if err := sleepUntil(ctx, p.start.Add(p.dur+stepGrace)); err != nil {
			return steps, err
		}
		if err := c.ensureNotExited(); err != nil {
			return steps, err
		}
		s, err := judgeStep(ctx, c.api, p)
		if err != nil {
			return steps, err
		}
		b.log.Info("throughput step", "rate", p.rate, "completed", Median(s.completed), "lag_trend_ms", s.lagTrend, "recorded_trend_ms", s.e2eTrend, "done", s.doneFrac, "pass", s.pass)
		steps = append(steps, s)
		if !s.pass {
			break
		}
	}
	return steps, nil
}

// judgeStep measures a step that ended stepGrace ago.
func judgeStep(ctx context.Context, api *client, p rampPlan) (stepResult, error) {
	s := stepResult{rate: p.rate}
	now := time.Now()
	from, to := p.start.Add(stepWarmup), p.start.Add(p.dur)
	win := (to.Sub(from)) / 3
	for i := range 3 {
		a, z := from.Add(time.Duration(i)*win), from.Add(time.Duration(i+1)*win)
		n, err := api.count(ctx, "task-instances", filter{"status": map[string]any{"$eq": 100}, "finished_at": map[string]any{"$gte": a, "$lt": z}})
		if err != nil {
			return s, fmt.Errorf("count completed: %w", err)
		}
		s.completed = append(s.completed, float64(n)/win.Seconds())
	}
	failed, err := api.count(ctx, "task-instances", filter{
		"status":     map[string]any{"$in": []int{int(model.InstanceTimeout), int(model.InstanceFailed), int(model.InstanceLost)}},
		"planned_at": map[string]any{"$gte": p.start, "$lt": to},
	})
	if err != nil {
		return s, fmt.Errorf("count failed: %w", err)
	}
	s.failed = failed
	lf, ef, _, err := sliceLatencies(ctx, api, from, from.Add(trendSlice), now)
	if err != nil {
		return s, err
	}
	ll, el, done, err := sliceLatencies(ctx, api, to.Add(-trendSlice), to, now)
	if err != nil {
		return s, err
	}
	s.lagTrend = Median(ll) - Median(lf)
	s.e2eTrend = Median(el) - Median(ef)
	s.lag = NewDist(append(lf, ll...))
	s.e2e = NewDist(append(ef, el...))
	s.doneFrac = float64(done) / (p.rate * trendSlice.Seconds())
	s.pass = Median(s.completed) >= completedRatio*p.rate && s.lagTrend <= maxTrend && s.e2eTrend <= maxTrend &&
		s.doneFrac >= completedRatio && s.failed == 0
	return s, nil
}

// sliceLatencies returns, in planned order, the start lag and the
// planned→recorded latency (ms) of each task scheduled in [from, to), as of
// now: a task not yet started (or not yet dispatched, so without an
// instance) counts as starting now, one not yet recorded as recorded now.
// done counts tasks with a succeeded instance.
func sliceLatencies(ctx context.Context, api *client, from, to, now time.Time) (lag, e2e []float64, done int, err error) {
	tasks, err := api.tasksScheduled(ctx, from, to)
	if err != nil {
		return nil, nil, 0, err
	}
	insts, err := api.instancesOf(ctx, tasks)
	if err != nil {
		return nil, nil, 0, err
	}
	byTask := make(map[uuid.UUID]*model.TaskInstance, len(insts))
	for _, in := range insts {
		if old := byTask[in.TaskID]; old == nil || in.Attempt > old.Attempt {
			byTask[in.TaskID] = in
		}
	}
	slices.SortFunc(tasks, func(a, b *model.Task) int { return a.ScheduledAt.Compare(b.ScheduledAt) })
	for _, t := range tasks {
		started, recorded := now, now
		if in := byTask[t.ID]; in != nil {
			if at, ok := reportedStart(in); ok {
				started = at
			}
			if in.Status.Final() {
				recorded = in.UpdatedAt
			}
			if in.Status == model.InstanceSucceeded {
				done++
			}
		}
		lag = append(lag, ms(started.Sub(t.ScheduledAt)))
		e2e = append(e2e, ms(recorded.Sub(t.ScheduledAt)))
	}
	return lag, e2e, done, nil
}

// runHTTPThroughput measures scenario 4: http tasks against an endpoint the
// benchmark serves.
func runHTTPThroughput(ctx context.Context, b *bench) error {
	sink, err := startHTTPSink()
	if err != nil {
		return err
	}
	defer sink.stop()
	for _, storeKind := range b.storesFor(true) {
		spec := tputSpec{
			kind: "http", store: storeKind, agents: 1, capacity: b.set.HTTPCapacity,
			job: model.JobConfig{Type: model.TaskHTTP, HTTP: &model.HTTPTask{Method: http.MethodGet, URL: sink.url}},
		}
		before := sink.requests.Load()
		if err := runTputConfig(ctx, b, spec); err != nil {
			return err
		}
		if last := b.report.Results[len(b.report.Results)-1]; sink.requests.Load() == before {
			last.note("the endpoint received no request: the agent did not run http tasks")
		}
	}
	return nil
}

// httpSink is the endpoint http tasks call: it answers 200 "ok" and counts.
type httpSink struct {
	url      string
	srv      *http.Server
	requests atomic.Int64
	wg       sync.WaitGroup
}

// startHTTPSink serves on a loopback port until stop.
func startHTTPSink() (*httpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the http sink: %w", err)
	}
	s := &httpSink{url: "http://" + ln.Addr().String() + "/ok"}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			s.requests.Add(1)
			_, _ = w.Write([]byte("ok"))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Serve returns http.ErrServerClosed after stop; an accept error
	// before that would show as http tasks failing.
	s.wg.Go(func() { _ = s.srv.Serve(ln) })
	return s, nil
}

// stop shuts the endpoint down and waits for its goroutine.
func (s *httpSink) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.wg.Wait()
}
