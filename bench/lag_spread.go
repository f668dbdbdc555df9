package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// printedSample is how many instances per run have their output read for
// the printed-time lag, when the output tail is not in the instance row.
const printedSample = 200

// dispatchHorizon is the server's default dispatch horizon: an agent holds
// a task up to this long before its fire instant, so its capacity must
// cover rate × horizon for the timer heap to do its work.
const dispatchHorizon = 5 * time.Second

// spreadRun is what one run of the spread scenario measured.
type spreadRun struct {
	lag     Dist // started_at − planned instant, ms
	printed Dist // printed time − planned instant, ms
	fromLog int  // printed times read from the log (the rest from the output tail)
	lost    int  // instances the server gave up (lease or heartbeat ended)
	acc     Accounting
	late    bool // schedules were still being created after T0+warmup
}

// runSpread measures scenario 1: trigger lag with fires spread evenly over
// each second.
func runSpread(ctx context.Context, b *bench) error {
	for _, storeKind := range b.storesFor(false) {
		for _, n := range b.set.SpreadN {
			r := b.newResult(ctx, "spread", fmt.Sprintf("N=%d/s, %s", n, b.set.SpreadDuration), storeKind)
			var runs []spreadRun
			for i := range b.runs {
				b.log.Info("spread run", "n", n, "store", storeKind, "run", i+1)
				sr, err := spreadOnce(ctx, b, storeKind, n)
				if err != nil {
					r.Error = err.Error()
					break
				}
				runs = append(runs, sr)
			}
			r.Runs = len(runs)
			pick := func(f func(spreadRun) float64) []float64 {
				out := make([]float64, len(runs))
				for i, sr := range runs {
					out[i] = f(sr)
				}
				return out
			}
			r.fig("lag p50", "ms", pick(func(s spreadRun) float64 { return s.lag.P50 }))
			r.fig("lag p95", "ms", pick(func(s spreadRun) float64 { return s.lag.P95 }))
			p99 := r.fig("lag p99", "ms", pick(func(s spreadRun) float64 { return s.lag.P99 }))
			mx := r.fig("lag max", "ms", pick(func(s spreadRun) float64 { return s.lag.Max }))
			r.fig("printed p50", "ms", pick(func(s spreadRun) float64 { return s.printed.P50 }))
			r.fig("printed p99", "ms", pick(func(s spreadRun) float64 { return s.printed.P99 }))
			r.fig("printed max", "ms", pick(func(s spreadRun) float64 { return s.printed.Max }))
			r.fig("runs", "", pick(func(s spreadRun) float64 { return float64(s.acc.Expected) }))
			missed := r.fig("missed", "", pick(func(s spreadRun) float64 { return float64(s.acc.Missed) }))
			r.fig("lost instances", "", pick(func(s spreadRun) float64 { return float64(s.lost) }))
			dup := r.fig("duplicated", "", pick(func(s spreadRun) float64 { return float64(s.acc.Duplicated + s.acc.Unexpected) }))
			if n == 200 {
				p99.target("<=", 10, false)
				mx.target("<=", 50, true)
				missed.target("<=", 0, true)
				dup.target("<=", 0, true)
			}
			for i, sr := range runs {
				if sr.late {
					r.note("run %d: creating the schedules took past T0+warmup; early fires may count as missed", i+1)
				}
				if sr.printed.N < sr.lag.N {
					r.note("run %d: printed lag of %d of %d runs (%d from the output tail, %d from a sample of logs)",
						i+1, sr.printed.N, sr.lag.N, sr.printed.N-sr.fromLog, sr.fromLog)
				}
			}
			b.add(r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// spreadOnce runs one 30-second window of n spread fires per second on a
// fresh cluster.
func spreadOnce(ctx context.Context, b *bench, storeKind string, n int) (spreadRun, error) {
	var res spreadRun
	capacity := n*int((dispatchHorizon+3*time.Second)/time.Second) + 64
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind, Agents: 1, AgentCapacity: capacity})
	defer c.close()
	if err != nil {
		return res, err
	}
	jobStart := time.Now()
	jobs, err := createJobs(ctx, c.api, n, "spread", cmdConfig("/bin/date", "+%s%N"))
	if err != nil {
		return res, err
	}
	// Schedules cost about what jobs did; leave half as much again, and
	// 1.5 s for the generator and the dispatcher to hand the first fires
	// to the agent.
	lead := 3*time.Since(jobStart)/2 + 1500*time.Millisecond
	t0 := time.Now().Add(lead).Truncate(time.Millisecond)
	dur, warm := b.set.SpreadDuration, b.set.SpreadWarmup
	end := t0.Add(dur - time.Microsecond)
	bodies := make([]*scheduleBody, n)
	starts := make([]time.Time, n)
	for k := range n {
		starts[k] = t0.Add(time.Duration(k) * time.Second / time.Duration(n)).Truncate(time.Microsecond)
		bodies[k] = &scheduleBody{JobID: jobs[k], Kind: kindInterval, Interval: "1s", StartTime: &starts[k], EndTime: &end}
	}
	scheds, err := createSchedules(ctx, c.api, bodies)
	if err != nil {
		return res, err
	}
	res.late = time.Now().After(t0.Add(warm))
	from, to := t0.Add(warm), t0.Add(dur)
	var expected []Fire
	for k := range n {
		for at := starts[k]; at.Before(to); at = at.Add(time.Second) {
			if !at.Before(from) {
				expected = append(expected, Fire{ScheduleID: scheds[k].String(), At: at})
			}
		}
	}
	if err := sleepUntil(ctx, to.Add(300*time.Millisecond)); err != nil {
		return res, err
	}
	if err := c.ensureNotExited(); err != nil {
		return res, err
	}
	if _, err := waitSettled(ctx, c.api, from, to, 15*time.Second); err != nil {
		return res, err
	}
	tasks, insts, err := fetchWindow(ctx, c.api, from, to)
	if err != nil {
		return res, err
	}
	res.acc = accountWindow(expected, tasks, insts)
	planned := make(map[uuid.UUID]time.Time, len(tasks))
	for _, t := range tasks {
		planned[t.ID] = t.ScheduledAt
	}
	var lags []float64
	var started []*model.TaskInstance
	for _, in := range insts {
		if in.Status == model.InstanceLost {
			res.lost++
		}
		at, ok := planned[in.TaskID]
		start, reported := reportedStart(in)
		if !ok || !reported {
			continue
		}
		lags = append(lags, ms(start.Sub(at)))
		started = append(started, in)
	}
	res.lag = NewDist(lags)
	res.printed, res.fromLog, err = printedLags(ctx, c.api, started, planned)
	return res, err
}

// fetchWindow returns the tasks scheduled in [from, to) and their
// instances. Instances are looked up from from to 30 s past to, so that
// redispatched attempts planned later are found too.
func fetchWindow(ctx context.Context, api *client, from, to time.Time) ([]*model.Task, []*model.TaskInstance, error) {
	tasks, err := api.tasksScheduled(ctx, from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch tasks: %w", err)
	}
	insts, err := api.instancesPlanned(ctx, from, to.Add(30*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch instances: %w", err)
	}
	ids := make(map[uuid.UUID]bool, len(tasks))
	for _, t := range tasks {
		ids[t.ID] = true
	}
	var mine []*model.TaskInstance
	for _, in := range insts {
		if ids[in.TaskID] {
			mine = append(mine, in)
		}
	}
	return tasks, mine, nil
}

// accountWindow converts API rows for Account.
func accountWindow(expected []Fire, tasks []*model.Task, insts []*model.TaskInstance) Accounting {
	ft := make([]FireTask, 0, len(tasks))
	for _, t := range tasks {
		sid := ""
		if t.ScheduleID != nil {
			sid = t.ScheduleID.String()
		}
		ft = append(ft, FireTask{ID: t.ID.String(), Fire: Fire{ScheduleID: sid, At: t.ScheduledAt}})
	}
	fi := make([]FireInstance, 0, len(insts))
	for _, in := range insts {
		fi = append(fi, FireInstance{TaskID: in.TaskID.String(), Succeeded: in.Status == model.InstanceSucceeded})
	}
	return Account(expected, ft, fi)
}

// printedLags returns the distribution of (time the process printed −
// planned instant). The time comes from the instance's output tail when the
// server records one, else from its stdout log for an even sample of
// printedSample instances.
func printedLags(ctx context.Context, api *client, insts []*model.TaskInstance, planned map[uuid.UUID]time.Time) (d Dist, fromLog int, err error) {
	var lags []float64
	var needLog []*model.TaskInstance
	for _, in := range insts {
		if ns, ok := parsePrinted(in.OutputTail); ok {
			lags = append(lags, ms(time.Unix(0, ns).Sub(planned[in.TaskID])))
		} else {
			needLog = append(needLog, in)
		}
	}
	if len(needLog) > printedSample {
		step := float64(len(needLog)) / printedSample
		sample := make([]*model.TaskInstance, 0, printedSample)
		for i := range printedSample {
			sample = append(sample, needLog[int(math.Floor(float64(i)*step))])
		}
		needLog = sample
	}
	out := make([]float64, len(needLog))
	err = forEach(ctx, len(needLog), createWorkers, func(ctx context.Context, i int) error {
		out[i] = math.NaN()
		text, err := api.instanceLog(ctx, needLog[i].ID)
		if err != nil {
			return err
		}
		if ns, ok := parsePrinted(text); ok {
			out[i] = ms(time.Unix(0, ns).Sub(planned[needLog[i].TaskID]))
		}
		return nil
	})
	if err != nil {
		return Dist{}, 0, fmt.Errorf("read printed times: %w", err)
	}
	for _, v := range out {
		if !math.IsNaN(v) {
			lags = append(lags, v)
			fromLog++
		}
	}
	return NewDist(lags), fromLog, nil
}

// parsePrinted reads the nanoseconds `date +%s%N` printed: the last
// non-empty line of out.
func parsePrinted(out string) (int64, bool) {
	out = strings.TrimSpace(out)
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	return ns, err == nil && ns > 0
}
