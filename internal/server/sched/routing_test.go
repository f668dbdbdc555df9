package sched

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/balance"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestRouting(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testRouting(t, o.Open)
		})
	}
}

// finish ends instances with the given statuses, as agent reports would.
func finish(ctx context.Context, t *testing.T, st store.Store, status map[uuid.UUID]model.InstanceStatus) {
	t.Helper()
	var items []*store.TaskInstanceFinish
	for id, s := range status {
		code := 0
		if s != model.InstanceSucceeded {
			code = 1
		}
		items = append(items, &store.TaskInstanceFinish{ID: id, Status: s, ExitCode: &code, StartedAt: ptr(time.Now())})
	}
	if err := store.InTx(ctx, st, func(ex store.Executor) error {
		_, err := FinishInstances(ctx, ex, items, time.Now())
		return err
	}); err != nil {
		t.Fatalf("FinishInstances: %v", err)
	}
}

func testRouting(t *testing.T, open func(testing.TB) store.Store) {
	t.Run("InstanceRecordsStrategyAndReason", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		cfg := &model.JobConfig{Command: "true", Routing: model.Routing{Strategy: model.RouteFailover, Prefer: []string{"standby-name", "primary"}}}
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: cfg})
		task := storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Config: &job.Config})
		pool := newRecordingPool(&balance.Candidate{ID: "primary", Free: 4}, &balance.Candidate{ID: "standby", Name: "standby-name", Free: 4})
		if _, err := newTestDispatcher(t, st, pool).runOnce(ctx); err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		sent := pool.sentTo("standby")
		if len(sent) != 1 || sent[0].TaskID != task.ID {
			t.Fatalf("sent to standby = %d instances, want the task (failover prefers it by name)", len(sent))
		}
		in, err := st.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: sent[0].InstanceID})
		if err != nil {
			t.Fatalf("TaskInstanceGetByID: %v", err)
		}
		if !strings.HasPrefix(in.Placement, "failover: agent standby is choice 1 of 2") || in.ShardTotal != 0 {
			t.Errorf("placement = %q, shard total %d; want the failover reason and no shard", in.Placement, in.ShardTotal)
		}
	})

	t.Run("BroadcastRunsOnEveryMatchingAgent", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			rule    model.BroadcastSuccess
			outcome []model.InstanceStatus // per shard, in agent id order
			want    model.TaskStatus
			reason  string
		}{
			{"", []model.InstanceStatus{model.InstanceSucceeded, model.InstanceSucceeded, model.InstanceSucceeded}, model.TaskSucceeded, "3 of 3 runs succeeded (rule all)"},
			{"", []model.InstanceStatus{model.InstanceSucceeded, model.InstanceFailed, model.InstanceSucceeded}, model.TaskFailed, "2 of 3 runs succeeded (rule all); shard 1 of 3 exited with code 1"},
			{model.BroadcastQuorum, []model.InstanceStatus{model.InstanceSucceeded, model.InstanceFailed, model.InstanceSucceeded}, model.TaskSucceeded, "2 of 3 runs succeeded (rule quorum)"},
			{model.BroadcastQuorum, []model.InstanceStatus{model.InstanceFailed, model.InstanceTimeout, model.InstanceSucceeded}, model.TaskFailed, "1 of 3"},
			{model.BroadcastAny, []model.InstanceStatus{model.InstanceFailed, model.InstanceFailed, model.InstanceSucceeded}, model.TaskSucceeded, "1 of 3 runs succeeded (rule any)"},
			{model.BroadcastAny, []model.InstanceStatus{model.InstanceCancelled, model.InstanceCancelled, model.InstanceCancelled}, model.TaskCancelled, "3 cancelled"},
		} {
			t.Run(fmt.Sprintf("%s_%v", tc.rule, tc.want), func(t *testing.T) {
				t.Parallel()
				ctx, st := t.Context(), open(t)
				cfg := &model.JobConfig{Command: "true", Labels: map[string]string{"role": "web"}, Routing: model.Routing{Strategy: model.RouteBroadcast, Success: tc.rule}}
				job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: cfg})
				task := storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Config: &job.Config})
				web := map[string]string{"role": "web"}
				pool := newRecordingPool(
					&balance.Candidate{ID: "web-1", Labels: web, Free: 1},
					&balance.Candidate{ID: "web-2", Labels: web, Free: 1},
					&balance.Candidate{ID: "web-3", Labels: web, Free: 1},
					&balance.Candidate{ID: "db-1", Labels: map[string]string{"role": "db"}, Free: 5},
				)
				if _, err := newTestDispatcher(t, st, pool).runOnce(ctx); err != nil {
					t.Fatalf("runOnce: %v", err)
				}
				if n := len(pool.sentTo("db-1")); n != 0 {
					t.Fatalf("db-1 got %d runs of a web broadcast", n)
				}
				var ids []uuid.UUID
				for i, agent := range []string{"web-1", "web-2", "web-3"} {
					sent := pool.sentTo(agent)
					if len(sent) != 1 || sent[0].ShardIndex != i || sent[0].ShardTotal != 3 {
						t.Fatalf("%s got %+v, want one run as shard %d of 3", agent, sent, i)
					}
					ids = append(ids, sent[0].InstanceID)
				}
				// The task waits for every shard.
				finish(ctx, t, st, map[uuid.UUID]model.InstanceStatus{ids[0]: tc.outcome[0], ids[1]: tc.outcome[1]})
				if got := getTask(ctx, t, st, task.ID); got.Status != model.TaskDoing {
					t.Fatalf("task after two of three runs = %s, want doing", got.Status)
				}
				finish(ctx, t, st, map[uuid.UUID]model.InstanceStatus{ids[2]: tc.outcome[2]})
				got := getTask(ctx, t, st, task.ID)
				if got.Status != tc.want || !strings.Contains(got.Reason, tc.reason) {
					t.Errorf("task = %s %q, want %s containing %q", got.Status, got.Reason, tc.want, tc.reason)
				}
			})
		}
	})

	t.Run("BroadcastShardsFinishingTogether", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		cfg := &model.JobConfig{Command: "true", Routing: model.Routing{Strategy: model.RouteBroadcast}, Retry: model.RetryPolicy{MaxAttempts: 2}}
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: cfg})
		task := storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Config: &job.Config})
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 1}, &balance.Candidate{ID: "b", Free: 1})
		if _, err := newTestDispatcher(t, st, pool).runOnce(ctx); err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		a, b := pool.sentTo("a"), pool.sentTo("b")
		if len(a) != 1 || len(b) != 1 {
			t.Fatalf("sent %d and %d runs, want one each", len(a), len(b))
		}
		finish(ctx, t, st, map[uuid.UUID]model.InstanceStatus{a[0].InstanceID: model.InstanceFailed, b[0].InstanceID: model.InstanceSucceeded})
		got := getTask(ctx, t, st, task.ID)
		if got.Status != model.TaskWaitingRetry || got.Attempt != 1 {
			t.Errorf("task = %s attempt %d (%s), want one retry of the whole broadcast", got.Status, got.Attempt, got.Reason)
		}
	})

	t.Run("BroadcastWaitsForEveryMatchingAgent", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		cfg := &model.JobConfig{Command: "true", Routing: model.Routing{Strategy: model.RouteBroadcast}}
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: cfg})
		storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Config: &job.Config})
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 1}, &balance.Candidate{ID: "busy", Free: 0})
		if _, err := newTestDispatcher(t, st, pool).runOnce(ctx); err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		if n := len(pool.sentTo("a")); n != 0 {
			t.Errorf("broadcast sent %d runs while a matching agent was full; want it to wait", n)
		}
	})

	t.Run("ConcurrentDispatchersNeverOverbook", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		const tasks = 80
		jobs := []*model.Job{
			storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}}),
			storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true", Routing: model.Routing{Strategy: model.RouteRoundRobin}}}),
			storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true", Routing: model.Routing{Strategy: model.RouteBroadcast}}}),
			storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true", MaxConcurrency: 2}}),
		}
		for i := range tasks {
			j := jobs[i%len(jobs)]
			storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &j.ID, Config: &j.Config})
		}
		// One pool (one gateway) with three slots in all, shared by four
		// dispatchers; an agent "finishes" runs at random moments.
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 2}, &balance.Candidate{ID: "b", Free: 1})
		capacity := map[string]int{"a": 2, "b": 1}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		for range 4 {
			d := NewDispatcher(DispatcherConfig{ServerID: "s", Horizon: 5 * time.Second, Interval: time.Second, Batch: 3, AckTimeout: time.Minute}, st, pool, nil, lifecycletest.WarnLogger(t))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := d.runOnce(ctx); err != nil && ctx.Err() == nil {
						t.Errorf("runOnce: %v", err)
						return
					}
				}
			}()
		}
		// A broadcast task runs on both agents: a quarter of the tasks
		// make two runs.
		runs := tasks + tasks/len(jobs)
		finished := map[uuid.UUID]bool{}
		deadline := time.Now().Add(time.Minute)
		for len(finished) < runs && time.Now().Before(deadline) {
			pool.mu.Lock()
			for agent, c := range pool.cands {
				if c.Free < 0 {
					t.Errorf("agent %s holds %d runs, more than its %d slots", agent, capacity[agent]-c.Free, capacity[agent])
				}
			}
			var live []uuid.UUID
			var liveAgent []string
			for agent, insts := range pool.sent {
				for _, in := range insts {
					if !finished[in.InstanceID] {
						live = append(live, in.InstanceID)
						liveAgent = append(liveAgent, agent)
					}
				}
			}
			pool.mu.Unlock()
			if len(live) == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			i := rand.IntN(len(live))
			finish(ctx, t, st, map[uuid.UUID]model.InstanceStatus{live[i]: model.InstanceSucceeded})
			finished[live[i]] = true
			pool.mu.Lock()
			pool.cands[liveAgent[i]].Free++
			pool.mu.Unlock()
			if t.Failed() {
				break
			}
		}
		cancel()
		wg.Wait()
		if pool.overbooked > 0 {
			t.Errorf("%d dispatches overbooked an agent", pool.overbooked)
		}
		done, err := st.TaskCount(context.Background(), &store.TaskCountParams{Filter: store.Filter{{Field: "status", Op: store.OpEq, Value: int64(model.TaskSucceeded)}}})
		if err != nil || done != tasks {
			t.Errorf("succeeded tasks = %d, %v; want all %d", done, err, tasks)
		}
	})
}
