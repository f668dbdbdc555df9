package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// overloadFallbackRate is the capacity assumed when no throughput result
// of this run gives one.
const overloadFallbackRate = 300

// overloadSample is how often the server's memory and an API query are
// sampled during overload.
const overloadSample = 250 * time.Millisecond

// overloadRun is one run of the overload scenario.
type overloadRun struct {
	offered   float64 // runs/s
	completed float64 // runs/s while offered
	rssStart  float64 // MiB
	rssMax    float64 // MiB
	query     Dist    // ms, API query latency during overload and drain
	drain     float64 // s from the end of the offer until every run is final
	acc       Accounting
}

// runOverload offers twice the capacity the throughput scenario found
// (DESIGN.md §12): work must queue in the database, memory stay bounded,
// nothing be lost and the API keep answering.
func runOverload(ctx context.Context, b *bench) error {
	if b.set.OverloadDuration <= 0 {
		return nil
	}
	for _, storeKind := range b.storesFor(false) {
		capacity := b.foundCapacity(storeKind)
		rate := 2 * capacity
		r := b.newResult(ctx, "overload", fmt.Sprintf("2 × %.0f runs/s for %s, 1 agent × capacity %d", capacity, b.set.OverloadDuration, b.set.TputCapacity), storeKind)
		var runs []overloadRun
		for i := range b.runs {
			b.log.Info("overload run", "rate", rate, "store", storeKind, "run", i+1)
			or, err := overloadOnce(ctx, b, storeKind, rate)
			if err != nil {
				r.Error = err.Error()
				break
			}
			runs = append(runs, or)
		}
		r.Runs = len(runs)
		pick := func(f func(overloadRun) float64) []float64 {
			out := make([]float64, len(runs))
			for i, or := range runs {
				out[i] = f(or)
			}
			return out
		}
		r.fig("offered", "runs/s", pick(func(o overloadRun) float64 { return o.offered }))
		r.fig("completed while offered", "runs/s", pick(func(o overloadRun) float64 { return o.completed }))
		r.fig("server RSS before", "MiB", pick(func(o overloadRun) float64 { return o.rssStart }))
		r.fig("server RSS max", "MiB", pick(func(o overloadRun) float64 { return o.rssMax }))
		r.fig("query p50", "ms", pick(func(o overloadRun) float64 { return o.query.P50 }))
		r.fig("query p99", "ms", pick(func(o overloadRun) float64 { return o.query.P99 }))
		r.fig("drain", "s", pick(func(o overloadRun) float64 { return o.drain }))
		r.fig("missed", "", pick(func(o overloadRun) float64 { return float64(o.acc.Missed) })).target("<=", 0, true)
		r.fig("duplicated", "", pick(func(o overloadRun) float64 { return float64(o.acc.Duplicated + o.acc.Unexpected) })).target("<=", 0, true)
		if capacity == overloadFallbackRate {
			r.note("no throughput result in this run; capacity assumed to be %d runs/s", overloadFallbackRate)
		}
		b.add(r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// foundCapacity returns R of the one-agent /bin/true throughput result on
// storeKind in this run, or overloadFallbackRate.
func (b *bench) foundCapacity(storeKind string) float64 {
	for _, r := range b.report.Results {
		if r.Scenario != "throughput" || r.Store != storeKind || !strings.HasPrefix(r.Params, "1 agent") {
			continue
		}
		for _, f := range r.Figures {
			if f.Name == "R" && f.Summary.Median > 0 {
				return f.Summary.Median
			}
		}
	}
	return overloadFallbackRate
}

// overloadOnce offers rate runs/s of /bin/true for OverloadDuration on a
// fresh cluster, samples memory and API latency until the backlog drained,
// and accounts for every fire.
func overloadOnce(ctx context.Context, b *bench, storeKind string, rate float64) (overloadRun, error) {
	var res overloadRun
	c, err := b.startCluster(ctx, clusterOpts{
		Store: storeKind, Agents: 1, AgentCapacity: b.set.TputCapacity,
		Env: []string{"HETUFLOW_SCHEDULER_GENERATE_WINDOW=" + tputGenerateWindow},
	})
	defer c.close()
	if err != nil {
		return res, err
	}
	spec := tputSpec{kind: "true", store: storeKind, agents: 1, capacity: b.set.TputCapacity, job: cmdConfig("/bin/true")}
	plans, err := driveRates(ctx, c, spec, []float64{rate}, b.set.OverloadDuration)
	if err != nil {
		return res, err
	}
	p := plans[0]
	res.offered = p.rate
	u, err := c.serverUsage()
	if err != nil {
		return res, err
	}
	res.rssStart, res.rssMax = mib(u.RSS), mib(u.RSS)

	// Sample until the backlog has drained.
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var lat []float64
	wg.Go(func() {
		t := time.NewTicker(overloadSample)
		defer t.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
			if u, err := c.serverUsage(); err == nil {
				res.rssMax = max(res.rssMax, mib(u.RSS))
			}
			q := queryPage{}
			q.Page.Limit = 20
			q.Page.OrderBys = []string{"!created_at"}
			var out queryResult[json.RawMessage]
			start := time.Now()
			if err := c.api.do(sampleCtx, http.MethodPost, "/api/v1/task-instances/query", &q, &out); err == nil {
				lat = append(lat, ms(time.Since(start)))
			}
		}
	})
	end := p.start.Add(p.dur)
	err = sleepUntil(ctx, end)
	var settled bool
	if err == nil {
		settled, err = waitSettled(ctx, c.api, p.start, end, 3*time.Minute)
	}
	drained := time.Since(end)
	stopSampling()
	wg.Wait()
	if err != nil {
		return res, err
	}
	if !settled {
		return res, fmt.Errorf("backlog of 2× capacity for %s not drained within 3 minutes", b.set.OverloadDuration)
	}
	if err := c.ensureNotExited(); err != nil {
		return res, err
	}
	res.drain = drained.Seconds()
	res.query = NewDist(lat)
	n, err := c.api.count(ctx, "task-instances", filter{"status": map[string]any{"$eq": int(model.InstanceSucceeded)}, "finished_at": map[string]any{"$gte": p.start, "$lt": end}})
	if err != nil {
		return res, fmt.Errorf("count completed: %w", err)
	}
	res.completed = float64(n) / p.dur.Seconds()
	tasks, insts, err := fetchWindow(ctx, c.api, p.start, end)
	if err != nil {
		return res, err
	}
	res.acc = accountWindow(p.fires, tasks, insts)
	return res, nil
}
