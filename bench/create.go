package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// createBlock is the block size job creation rates are reported per.
const createBlock = 10_000

// createClients is the number of concurrent clients creating jobs.
const createClients = 8

// createRun is one run of the job-creation scenario.
type createRun struct {
	overall   float64   // jobs/s over the whole run
	blocks    []float64 // jobs/s per block of createBlock jobs, in order
	pair      Dist      // POST /jobs (a job with its schedule) latency, ms
	serverRSS int64
}

// runCreate measures scenario 6: 8 clients creating jobs with cron
// schedules.
func runCreate(ctx context.Context, b *bench) error {
	n := b.set.CreateJobs
	for _, storeKind := range b.storesFor(false) {
		r := b.newResult(ctx, "create", fmt.Sprintf("%d jobs, %d clients", n, createClients), storeKind)
		var runs []createRun
		for i := range b.runs {
			b.log.Info("create run", "jobs", n, "store", storeKind, "run", i+1)
			cr, err := createOnce(ctx, b, storeKind, n)
			if err != nil {
				r.Error = err.Error()
				break
			}
			runs = append(runs, cr)
		}
		r.Runs = len(runs)
		pick := func(f func(createRun) float64) []float64 {
			out := make([]float64, len(runs))
			for i, cr := range runs {
				out[i] = f(cr)
			}
			return out
		}
		r.fig("jobs/s", "jobs/s", pick(func(c createRun) float64 { return c.overall }))
		for k := range n / createBlock {
			r.fig(fmt.Sprintf("jobs/s %dk–%dk", k*createBlock/1000, (k+1)*createBlock/1000), "jobs/s",
				pick(func(c createRun) float64 { return c.blocks[k] }))
		}
		r.fig("slowest block", "jobs/s", pick(func(c createRun) float64 { return slices.Min(c.blocks) })).target(">=", 2000, false)
		r.fig("last/first block", "%", pick(func(c createRun) float64 { return 100 * c.blocks[len(c.blocks)-1] / c.blocks[0] }))
		r.fig("job+schedule p50", "ms", pick(func(c createRun) float64 { return c.pair.P50 }))
		r.fig("job+schedule p99", "ms", pick(func(c createRun) float64 { return c.pair.P99 }))
		r.fig("server RSS after", "MiB", pick(func(c createRun) float64 { return mib(c.serverRSS) }))
		b.add(r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// createOnce creates n jobs, each with an hourly cron schedule that does
// not fire during the run, on a fresh server without agents. Each job is
// created with its schedule in one request, as a user creating jobs with
// schedules would.
func createOnce(ctx context.Context, b *bench, storeKind string, n int) (createRun, error) {
	var res createRun
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind})
	defer c.close()
	if err != nil {
		return res, err
	}
	done := make([]time.Duration, n)
	pair := make([]float64, n)
	firstMinute := time.Now().UTC().Minute() + 5
	cfg := cmdConfig("/bin/true")
	start := time.Now()
	err = forEach(ctx, n, createClients, func(ctx context.Context, i int) error {
		t0 := time.Now()
		// Hourly at a minute 5 to 55 minutes from now: it exists, it is
		// planned in time, but it does not fire during the run.
		spec := fmt.Sprintf("%d %d * * * *", i%60, (firstMinute+i%50)%60)
		if _, err := c.api.createJob(ctx, fmt.Sprintf("create-%d", i), cfg, &scheduleBody{Kind: kindCron, Cron: spec, TimeZone: "UTC"}); err != nil {
			return fmt.Errorf("create job %d: %w", i, err)
		}
		t1 := time.Now()
		done[i] = t1.Sub(start)
		pair[i] = ms(t1.Sub(t0))
		return nil
	})
	if err != nil {
		return res, err
	}
	total := time.Since(start)
	res.overall = float64(n) / total.Seconds()
	res.blocks = blockRates(done, createBlock)
	res.pair = NewDist(pair)
	if u, err := c.serverUsage(); err == nil {
		res.serverRSS = u.RSS
	}
	return res, nil
}
