package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// scaleSettle is how long a server runs before its usage is measured.
const scaleSettle = time.Second

// usageSample is a server's memory and CPU over a window.
type usageSample struct {
	rss float64 // MiB at the end of the window
	cpu float64 // % of one core over the window
}

// measureUsage waits settle, then reads the server's usage over window.
func measureUsage(ctx context.Context, c *cluster, settle, window time.Duration) (usageSample, error) {
	if err := sleepUntil(ctx, time.Now().Add(settle)); err != nil {
		return usageSample{}, err
	}
	a, err := c.serverUsage()
	if err != nil {
		return usageSample{}, err
	}
	if err := sleepUntil(ctx, time.Now().Add(window)); err != nil {
		return usageSample{}, err
	}
	z, err := c.serverUsage()
	if err != nil {
		return usageSample{}, err
	}
	return usageSample{rss: mib(z.RSS), cpu: cpuPercent(a, z)}, nil
}

// runScale measures scenario 7: server memory and CPU idle, with many
// schedules, and with many simulated agents.
func runScale(ctx context.Context, b *bench) error {
	window := b.set.ScaleWindow
	for _, storeKind := range b.storesFor(false) {
		// Idle, then the same server with simulated agents.
		idle := b.newResult(ctx, "scale", "idle", storeKind)
		agents := b.newResult(ctx, "scale", fmt.Sprintf("%d simulated agents", b.set.ScaleAgents), storeKind)
		var idleS, agentS []usageSample
		var heartbeats []float64
		for i := range b.runs {
			b.log.Info("scale run: idle and agents", "store", storeKind, "agents", b.set.ScaleAgents, "run", i+1)
			is, as, hb, err := scaleAgentsOnce(ctx, b, storeKind, b.set.ScaleAgents, window)
			if err != nil {
				idle.Error, agents.Error = err.Error(), err.Error()
				break
			}
			idleS, agentS = append(idleS, is), append(agentS, as)
			heartbeats = append(heartbeats, hb)
		}
		usageFigures(idle, idleS)
		idle.Figures[0].target("<=", 30, false)
		b.add(idle)
		usageFigures(agents, agentS)
		agents.fig("heartbeats", "/s", heartbeats)
		if b.set.ScaleAgents >= 10_000 {
			agents.Figures[0].target("<=", 1024, false)
		}
		agents.note("agent count is limited by the open-file limit, %d here; the server inherits it", fileLimit())
		b.add(agents)

		for _, n := range b.set.ScaleSchedules {
			r := b.newResult(ctx, "scale", fmt.Sprintf("%d schedules", n), storeKind)
			var samples []usageSample
			for i := range b.runs {
				b.log.Info("scale run: schedules", "store", storeKind, "schedules", n, "run", i+1)
				s, err := scaleSchedulesOnce(ctx, b, storeKind, n, window)
				if err != nil {
					r.Error = err.Error()
					break
				}
				samples = append(samples, s)
			}
			usageFigures(r, samples)
			if n >= 100_000 {
				r.Figures[0].target("<=", 512, false)
			}
			b.add(r)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// usageFigures adds the RSS and CPU figures; RSS comes first.
func usageFigures(r *Result, samples []usageSample) {
	r.Runs = len(samples)
	rss := make([]float64, len(samples))
	cpu := make([]float64, len(samples))
	for i, s := range samples {
		rss[i], cpu[i] = s.rss, s.cpu
	}
	r.fig("server RSS", "MiB", rss)
	r.fig("server CPU", "% of a core", cpu)
}

// scaleAgentsOnce measures a fresh idle server, then connects n simulated
// agents and measures it again. It returns the heartbeats per second the
// agents sent during the second window.
func scaleAgentsOnce(ctx context.Context, b *bench, storeKind string, n int, window time.Duration) (idle, agents usageSample, hbRate float64, err error) {
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind})
	defer c.close()
	if err != nil {
		return idle, agents, 0, err
	}
	if idle, err = measureUsage(ctx, c, scaleSettle, window); err != nil {
		return idle, agents, 0, err
	}
	sw, err := startSwarm(ctx, c.addr, n)
	defer func() {
		if sw != nil {
			sw.stop()
		}
	}()
	if err != nil {
		return idle, agents, 0, err
	}
	// The window must cover a heartbeat interval (5 s by default).
	window = max(window, 5500*time.Millisecond)
	before := sw.heartbeats.Load()
	start := time.Now()
	if agents, err = measureUsage(ctx, c, scaleSettle, window); err != nil {
		return idle, agents, 0, err
	}
	hbRate = float64(sw.heartbeats.Load()-before) / time.Since(start).Seconds()
	if f := sw.failures.Load(); f > 0 {
		return idle, agents, hbRate, fmt.Errorf("%d simulated agent connections failed", f)
	}
	online, err := c.api.count(ctx, "agents", filter{"status": map[string]any{"$eq": 100}})
	if err != nil {
		return idle, agents, hbRate, fmt.Errorf("count agents: %w", err)
	}
	if online < n {
		return idle, agents, hbRate, fmt.Errorf("only %d of %d simulated agents are online", online, n)
	}
	return idle, agents, hbRate, nil
}

// scaleSchedulesOnce seeds n jobs with hourly cron schedules that do not
// fire during the run, starts the server on them and measures it.
func scaleSchedulesOnce(ctx context.Context, b *bench, storeKind string, n int, window time.Duration) (usageSample, error) {
	seed := func(ctx context.Context, db *seedDB) error { return seedSchedules(ctx, db, n, time.Now()) }
	c, err := b.startCluster(ctx, clusterOpts{Store: storeKind, Seed: seed})
	defer c.close()
	if err != nil {
		return usageSample{}, err
	}
	total, err := c.api.count(ctx, "schedules", filter{"status": map[string]any{"$eq": 100}})
	if err != nil {
		return usageSample{}, fmt.Errorf("count schedules: %w", err)
	}
	if total != n {
		return usageSample{}, fmt.Errorf("server sees %d enabled schedules, seeded %d", total, n)
	}
	return measureUsage(ctx, c, scaleSettle, window)
}

// seedBatch is how many rows one seed insert writes.
const seedBatch = 50_000

// seedSchedules writes n jobs running /bin/true, each with an hourly cron
// schedule at a minute 5 to 55 minutes after now, so they are enabled and
// have cursors but do not fire during a run.
func seedSchedules(ctx context.Context, db *seedDB, n int, now time.Time) error {
	now = now.UTC()
	hour := now.Truncate(time.Hour)
	firstMinute := now.Minute() + 5
	for lo := 0; lo < n; lo += seedBatch {
		hi := min(lo+seedBatch, n)
		jobs := make([]seedJob, 0, hi-lo)
		scheds := make([]seedCronSchedule, 0, hi-lo)
		for i := lo; i < hi; i++ {
			j := seedJob{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("scale-%d", i), Config: model.JobConfig{Command: "/bin/true"}}
			sec, minute := i%60, (firstMinute+i%50)%60
			next := hour.Add(time.Duration(minute)*time.Minute + time.Duration(sec)*time.Second)
			if !next.After(now) {
				next = next.Add(time.Hour)
			}
			jobs = append(jobs, j)
			scheds = append(scheds, seedCronSchedule{ID: uuid.Must(uuid.NewV7()), JobID: j.ID, Cron: fmt.Sprintf("%d %d * * * *", sec, minute), NextFireAt: next})
		}
		if err := db.insertJobs(ctx, jobs, now); err != nil {
			return err
		}
		if err := db.insertCronSchedules(ctx, scheds, now); err != nil {
			return err
		}
	}
	return db.analyze(ctx)
}
