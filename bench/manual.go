package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// manualWarmup runs are made before the measured ones and not counted.
const manualWarmup = 5

// manualPoll is the pause between polls of a task's status.
const manualPoll = time.Millisecond

// manualRun is one run of the manual-trigger scenario.
type manualRun struct {
	recorded   Dist // finished_at − request sent, ms
	dispatched Dist // dispatched_at − request sent, ms
	started    Dist // started_at − dispatched_at, ms
	client     Dist // final status seen − request sent, ms
	failed     int
}

// runManual measures scenario 5: POST /jobs/{id}/run to recorded finish.
func runManual(ctx context.Context, b *bench) error {
	for _, storeKind := range b.storesFor(true) {
		r := b.newResult(ctx, "manual", fmt.Sprintf("%d runs of /bin/true", b.set.ManualRuns), storeKind)
		var runs []manualRun
		for i := range b.runs {
			b.log.Info("manual run", "store", storeKind, "run", i+1)
			mr, err := manualOnce(ctx, b, storeKind)
			if err != nil {
				r.Error = err.Error()
				break
			}
			runs = append(runs, mr)
		}
		r.Runs = len(runs)
		pick := func(f func(manualRun) float64) []float64 {
			out := make([]float64, len(runs))
			for i, mr := range runs {
				out[i] = f(mr)
			}
			return out
		}
		r.fig("recorded p50", "ms", pick(func(m manualRun) float64 { return m.recorded.P50 })).target("<=", 5, false)
		r.fig("recorded p95", "ms", pick(func(m manualRun) float64 { return m.recorded.P95 }))
		r.fig("to dispatched p50", "ms", pick(func(m manualRun) float64 { return m.dispatched.P50 }))
		r.fig("dispatched to started p50", "ms", pick(func(m manualRun) float64 { return m.started.P50 }))
		r.fig("client p50", "ms", pick(func(m manualRun) float64 { return m.client.P50 }))
		r.fig("client p95", "ms", pick(func(m manualRun) float64 { return m.client.P95 }))
		r.fig("failed", "", pick(func(m manualRun) float64 { return float64(m.failed) })).target("<=", 0, true)
		b.add(r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// manualOnce triggers the job ManualRuns times, one after another, on a
// fresh cluster.
func manualOnce(ctx context.Context, b *bench, storeKind string) (manualRun, error) {
	var res manualRun
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind, Agents: 1, AgentCapacity: 16})
	defer c.close()
	if err != nil {
		return res, err
	}
	jobID, err := c.api.createJob(ctx, "manual", cmdConfig("/bin/true"))
	if err != nil {
		return res, fmt.Errorf("create job: %w", err)
	}
	n := b.set.ManualRuns
	sent := make(map[uuid.UUID]time.Time, n)
	var clientLat []float64
	for i := range manualWarmup + n {
		t0 := time.Now()
		id, err := c.api.runJob(ctx, jobID)
		if err != nil {
			return res, fmt.Errorf("run job: %w", err)
		}
		t, err := waitTaskFinal(ctx, c.api, id)
		if err != nil {
			return res, err
		}
		seen := time.Since(t0)
		if i < manualWarmup {
			continue
		}
		sent[id] = t0
		clientLat = append(clientLat, ms(seen))
		if t.Status != model.TaskSucceeded {
			res.failed++
		}
	}
	insts, err := queryAll(ctx, c.api, "task-instances", filter{"job_id": map[string]any{"$eq": jobID}},
		func(in *model.TaskInstance) uuid.UUID { return in.ID })
	if err != nil {
		return res, fmt.Errorf("fetch instances: %w", err)
	}
	var recorded, dispatched, started []float64
	for _, in := range insts {
		t0, ok := sent[in.TaskID]
		if !ok || in.FinishedAt == nil || in.DispatchedAt == nil || in.StartedAt == nil {
			continue
		}
		recorded = append(recorded, ms(in.FinishedAt.Sub(t0)))
		dispatched = append(dispatched, ms(in.DispatchedAt.Sub(t0)))
		started = append(started, ms(in.StartedAt.Sub(*in.DispatchedAt)))
	}
	res.recorded, res.dispatched, res.started = NewDist(recorded), NewDist(dispatched), NewDist(started)
	res.client = NewDist(clientLat)
	return res, nil
}

// waitTaskFinal polls a task until its status is final, for at most 30 s.
func waitTaskFinal(ctx context.Context, api *client, id uuid.UUID) (*model.Task, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		t, err := api.getTask(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("get task: %w", err)
		}
		if t.Status.Final() {
			return t, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("task %s not final after 30 s (status %d)", id, t.Status)
		}
		if err := sleepUntil(ctx, time.Now().Add(manualPoll)); err != nil {
			return nil, err
		}
	}
}
