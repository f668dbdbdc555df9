package main

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// forkCeiling runs argv (a short command) as fast as it can from parallel
// goroutines for d and returns the completed runs per second: the
// machine's raw ceiling for that command at that parallelism.
func forkCeiling(ctx context.Context, parallel int, d time.Duration, argv ...string) (float64, error) {
	start := time.Now()
	deadline := start.Add(d)
	var n atomic.Int64
	var errOnce sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("run %s: %w", argv[0], firstErr)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// burstCommand is what the burst's jobs run, and what its ceiling is
// measured with: the k-th start must wait for k runs of the same program,
// which still use the CPU while later ones are forked (/bin/date loads its
// locale; /bin/true, measured before 2026-11-27-3, costs less and gave a
// floor below the physical one).
var burstCommand = []string{"/bin/date", "+%s%N"}

// burstRun is what one run of the burst scenario measured.
type burstRun struct {
	ceiling float64 // execs/s with N-way parallelism
	lag     Dist    // ms
	excess  Dist    // ms over the floor
	acc     Accounting
}

// runBurst measures scenario 2: N jobs firing on the same cron second.
func runBurst(ctx context.Context, b *bench) error {
	for _, storeKind := range b.storesFor(false) {
		for _, n := range b.set.BurstN {
			r := b.newResult(ctx, "burst", fmt.Sprintf("N=%d", n), storeKind)
			var runs []burstRun
			for i := range b.runs {
				b.log.Info("burst run", "n", n, "store", storeKind, "run", i+1)
				br, err := burstOnce(ctx, b, storeKind, n)
				if err != nil {
					r.Error = err.Error()
					break
				}
				runs = append(runs, br)
			}
			r.Runs = len(runs)
			pick := func(f func(burstRun) float64) []float64 {
				out := make([]float64, len(runs))
				for i, br := range runs {
					out[i] = f(br)
				}
				return out
			}
			r.fig("ceiling", "execs/s", pick(func(x burstRun) float64 { return x.ceiling }))
			r.fig("floor of last", "ms", pick(func(x burstRun) float64 { return float64(n-1) / x.ceiling * 1000 }))
			r.fig("lag p50", "ms", pick(func(x burstRun) float64 { return x.lag.P50 }))
			r.fig("lag p99", "ms", pick(func(x burstRun) float64 { return x.lag.P99 }))
			r.fig("lag max", "ms", pick(func(x burstRun) float64 { return x.lag.Max }))
			r.fig("excess p50", "ms", pick(func(x burstRun) float64 { return x.excess.P50 }))
			r.fig("excess p99", "ms", pick(func(x burstRun) float64 { return x.excess.P99 })).target("<=", 10, false)
			r.fig("excess max", "ms", pick(func(x burstRun) float64 { return x.excess.Max }))
			r.fig("missed", "", pick(func(x burstRun) float64 { return float64(x.acc.Missed) })).target("<=", 0, true)
			r.fig("duplicated", "", pick(func(x burstRun) float64 { return float64(x.acc.Duplicated + x.acc.Unexpected) })).target("<=", 0, true)
			b.add(r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// burstOnce creates n jobs with a cron schedule at one second a few seconds
// ahead, on a fresh cluster, and measures each start.
func burstOnce(ctx context.Context, b *bench, storeKind string, n int) (burstRun, error) {
	var res burstRun
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind, Agents: 1, AgentCapacity: n + 64})
	defer c.close()
	if err != nil {
		return res, err
	}
	jobStart := time.Now()
	jobs, err := createJobs(ctx, c.api, n, "burst", cmdConfig(burstCommand[0], burstCommand[1:]...))
	if err != nil {
		return res, err
	}
	lead := 3*time.Since(jobStart)/2 + 2*time.Second
	// The ceiling with the agent's parallelism: it starts every due
	// instance at once, each from its own goroutine.
	if res.ceiling, err = forkCeiling(ctx, n, time.Second, burstCommand...); err != nil {
		return res, err
	}
	fire := time.Now().Add(lead).Truncate(time.Second).Add(time.Second).UTC()
	spec := fmt.Sprintf("%d %d %d * * *", fire.Second(), fire.Minute(), fire.Hour())
	bodies := make([]*scheduleBody, n)
	for k := range n {
		bodies[k] = &scheduleBody{JobID: jobs[k], Kind: kindCron, Cron: spec, TimeZone: "UTC"}
	}
	scheds, err := createSchedules(ctx, c.api, bodies)
	if err != nil {
		return res, err
	}
	if time.Now().After(fire) {
		return res, fmt.Errorf("creating %d schedules took past the fire second", n)
	}
	expected := make([]Fire, n)
	for k, id := range scheds {
		expected[k] = Fire{ScheduleID: id.String(), At: fire}
	}
	drain := time.Duration(float64(n)/res.ceiling*float64(time.Second)) + 2*time.Second
	if err := sleepUntil(ctx, fire.Add(drain)); err != nil {
		return res, err
	}
	if err := c.ensureNotExited(); err != nil {
		return res, err
	}
	from, to := fire, fire.Add(time.Second)
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
	for _, in := range insts {
		at, ok := planned[in.TaskID]
		if start, reported := reportedStart(in); ok && reported {
			lags = append(lags, ms(start.Sub(at)))
		}
	}
	res.lag = NewDist(lags)
	res.excess = NewDist(BurstExcess(lags, res.ceiling))
	return res, nil
}
