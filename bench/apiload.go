package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// apiJobs is how many jobs the seeded instances belong to.
const apiJobs = 100

// apiMaxInFlight bounds the open-loop requests in flight; past it the load
// generator waits, and the wait counts in the latency.
const apiMaxInFlight = 512

// apiRun is one run of one API operation.
type apiRun struct {
	lat      Dist // ms from the scheduled send instant
	achieved float64
	errors   int
}

// runAPI measures scenario 8: query and create latency at a fixed request
// rate with many task instances in the store.
func runAPI(ctx context.Context, b *bench) error {
	n := b.set.APIInstances
	for _, storeKind := range b.storesFor(false) {
		b.log.Info("api: seeding", "instances", n, "store", storeKind)
		var jobs []uuid.UUID
		seed := func(ctx context.Context, db *seedDB) error {
			var err error
			jobs, err = seedRuns(ctx, db, n, time.Now())
			return err
		}
		c, err := b.startCluster(ctx, clusterOpts{Store: storeKind, Seed: seed})
		if err != nil {
			c.close()
			return err
		}
		err = apiOps(ctx, b, c, storeKind, jobs)
		c.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// apiOps runs each operation b.runs times against c and records a result
// per operation.
func apiOps(ctx context.Context, b *bench, c *cluster, storeKind string, jobs []uuid.UUID) error {
	total, err := c.api.count(ctx, "task-instances", nil)
	if err != nil {
		return fmt.Errorf("count instances: %w", err)
	}
	if total < b.set.APIInstances {
		return fmt.Errorf("server sees %d instances, seeded %d", total, b.set.APIInstances)
	}
	runSeq := 0
	ops := []struct {
		name string
		do   func(ctx context.Context, i int) error
	}{
		{"query", func(ctx context.Context, _ int) error {
			q := queryPage{Filter: filter{"job_id": map[string]any{"$eq": jobs[rand.N(len(jobs))]}}}
			q.Page.Limit = 20
			q.Page.OrderBys = []string{"!created_at"}
			var res queryResult[json.RawMessage]
			if err := c.api.do(ctx, http.MethodPost, "/api/v1/task-instances/query", &q, &res); err != nil {
				return err
			}
			if len(res.Result) != 20 {
				return fmt.Errorf("query returned %d rows, want 20", len(res.Result))
			}
			return nil
		}},
		{"create", func(ctx context.Context, i int) error {
			_, err := c.api.createJob(ctx, fmt.Sprintf("api-%d-%d", runSeq, i), cmdConfig("/bin/true"))
			return err
		}},
	}
	for _, op := range ops {
		r := b.newResult(ctx, "api", fmt.Sprintf("%s at %.0f/s, %d instances", op.name, b.set.APIRate, b.set.APIInstances), storeKind)
		var runs []apiRun
		for i := range b.runs {
			runSeq++
			b.log.Info("api run", "op", op.name, "store", storeKind, "run", i+1)
			ar, err := openLoop(ctx, b.set.APIRate, b.set.APIDuration, op.do)
			if err != nil {
				r.Error = err.Error()
				break
			}
			runs = append(runs, ar)
		}
		r.Runs = len(runs)
		pick := func(f func(apiRun) float64) []float64 {
			out := make([]float64, len(runs))
			for i, ar := range runs {
				out[i] = f(ar)
			}
			return out
		}
		r.fig("p50", "ms", pick(func(a apiRun) float64 { return a.lat.P50 }))
		r.fig("p99", "ms", pick(func(a apiRun) float64 { return a.lat.P99 }))
		r.fig("max", "ms", pick(func(a apiRun) float64 { return a.lat.Max }))
		r.fig("achieved", "req/s", pick(func(a apiRun) float64 { return a.achieved }))
		r.fig("errors", "", pick(func(a apiRun) float64 { return float64(a.errors) })).target("<=", 0, true)
		b.add(r)
	}
	return ctx.Err()
}

// openLoop sends rate requests per second for dur, each at its scheduled
// instant whatever the answers before it, and measures each from that
// instant to its answer.
func openLoop(ctx context.Context, rate float64, dur time.Duration, do func(ctx context.Context, i int) error) (apiRun, error) {
	n := int(rate * dur.Seconds())
	lat := make([]float64, n)
	var errs atomic.Int64
	var firstErr error
	var errOnce sync.Once
	sem := make(chan struct{}, apiMaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if err := sleepUntil(ctx, at); err != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := do(ctx, i); err != nil {
				errs.Add(1)
				errOnce.Do(func() { firstErr = err })
			}
			lat[i] = ms(time.Since(at))
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return apiRun{}, err
	}
	res := apiRun{lat: NewDist(lat), achieved: float64(n) / time.Since(start).Seconds(), errors: int(errs.Load())}
	if res.errors == n {
		return res, fmt.Errorf("every request failed: %w", firstErr)
	}
	return res, nil
}

// seedRuns writes apiJobs jobs and n finished runs (a task and a succeeded
// instance each) spread over them and over the last 29 days. It returns the
// job ids.
func seedRuns(ctx context.Context, db *seedDB, n int, now time.Time) ([]uuid.UUID, error) {
	now = now.UTC()
	cfg := model.JobConfig{Command: "/bin/true"}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode job config: %w", err)
	}
	jobs := make([]seedJob, apiJobs)
	ids := make([]uuid.UUID, apiJobs)
	for i := range jobs {
		jobs[i] = seedJob{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("api-seed-%d", i), Config: cfg}
		ids[i] = jobs[i].ID
	}
	if err := db.insertJobs(ctx, jobs, now.Add(-31*24*time.Hour)); err != nil {
		return nil, err
	}
	// Inside the default 30-day history TTL, so the purge leaves them.
	span := 29 * 24 * time.Hour
	step := span / time.Duration(n) // i·span would overflow
	for lo := 0; lo < n; lo += seedBatch {
		hi := min(lo+seedBatch, n)
		runs := make([]seedRun, 0, hi-lo)
		for i := lo; i < hi; i++ {
			at := now.Add(-span + time.Duration(i)*step).Truncate(time.Microsecond)
			runs = append(runs, seedRun{
				TaskID: uuid.Must(uuid.NewV7()), InstanceID: uuid.Must(uuid.NewV7()), JobID: ids[i%apiJobs], At: at, Config: string(cfgJSON),
			})
		}
		if err := db.insertRuns(ctx, runs); err != nil {
			return nil, err
		}
	}
	return ids, db.analyze(ctx)
}
