package sched

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/balance"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// recordingPool is an AgentPool over a static candidate list that records
// what it was asked to dispatch and counts slots like the gateway.
type recordingPool struct {
	mu        sync.Mutex
	cands     map[string]*balance.Candidate
	reserved  map[string]int
	sent      map[string][]*protocol.DispatchedInstance
	cancelled []uuid.UUID
	// overbooked counts dispatches that left an agent with more runs than
	// slots.
	overbooked int
}

func newRecordingPool(cands ...*balance.Candidate) *recordingPool {
	p := &recordingPool{cands: map[string]*balance.Candidate{}, reserved: map[string]int{}, sent: map[string][]*protocol.DispatchedInstance{}}
	for _, c := range cands {
		p.cands[c.ID] = c
	}
	return p
}

func (p *recordingPool) Candidates() []*balance.Candidate {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*balance.Candidate
	for _, c := range p.cands {
		cp := *c
		cp.Free -= p.reserved[c.ID]
		out = append(out, &cp)
	}
	return out
}

func (p *recordingPool) Dispatch(_ context.Context, agentID string, insts []*protocol.DispatchedInstance) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cands[agentID].Free -= len(insts)
	if p.cands[agentID].Free < 0 {
		p.overbooked++
	}
	p.reserved[agentID] = max(0, p.reserved[agentID]-len(insts))
	p.sent[agentID] = append(p.sent[agentID], insts...)
	return nil
}

func (p *recordingPool) Reserve(agentID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cands[agentID]
	if c == nil || c.Free-p.reserved[agentID] <= 0 {
		return false
	}
	p.reserved[agentID]++
	return true
}

func (p *recordingPool) Release(agentID string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reserved[agentID] = max(0, p.reserved[agentID]-n)
}

func (p *recordingPool) Cancel(agentID string, id uuid.UUID, _ string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancelled = append(p.cancelled, id)
}

func (p *recordingPool) sentTo(agentID string) []*protocol.DispatchedInstance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[agentID]
}

func newTestDispatcher(t *testing.T, st store.Store, pool AgentPool) *Dispatcher {
	return NewDispatcher(DispatcherConfig{ServerID: "server-1", Horizon: 5 * time.Second, Interval: time.Second, Batch: 100, AckTimeout: 10 * time.Second}, st, pool, nil, lifecycletest.WarnLogger(t))
}

func TestDispatcher(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testDispatcher(t, o.Open)
		})
	}
}

func testDispatcher(t *testing.T, open func(testing.TB) store.Store) {
	t.Run("RespectsLabelsCapacityAndHorizon", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		now := time.Now().UTC()
		gpuJob := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true", Labels: map[string]string{"gpu": "yes"}}})
		anyJob := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
		for i := range 3 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &gpuJob.ID, ScheduledAt: &at, Config: &gpuJob.Config})
		}
		for i := range 5 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &anyJob.ID, ScheduledAt: &at, Config: &anyJob.Config})
		}
		later := now.Add(time.Minute)
		future := storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &anyJob.ID, ScheduledAt: &later, Config: &anyJob.Config})
		pool := newRecordingPool(
			&balance.Candidate{ID: "gpu-agent", Labels: map[string]string{"gpu": "yes"}, Free: 2},
			&balance.Candidate{ID: "plain-agent", Free: 4},
		)
		d := newTestDispatcher(t, st, pool)
		for range 3 {
			if _, err := d.runOnce(ctx); err != nil {
				t.Fatalf("runOnce: %v", err)
			}
		}
		gpuSent, plainSent := pool.sentTo("gpu-agent"), pool.sentTo("plain-agent")
		if len(gpuSent)+len(plainSent) != 6 || len(plainSent) > 4 || len(gpuSent) > 2 {
			t.Fatalf("dispatched %d to gpu-agent and %d to plain-agent; want 6 within 2 and 4 slots", len(gpuSent), len(plainSent))
		}
		for _, in := range plainSent {
			if in.Config.Labels["gpu"] == "yes" {
				t.Errorf("gpu task %s went to an agent without the label", in.TaskID)
			}
		}
		for _, in := range append(gpuSent, plainSent...) {
			if in.TaskID == future.ID {
				t.Errorf("a task a minute ahead was dispatched within a 5s horizon")
			}
			ti, err := st.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: in.InstanceID})
			if err != nil || ti.Status != model.InstanceDispatched || ti.Attempt != 1 || ti.LeaseExpiresAt == nil {
				t.Errorf("instance %s = %+v, %v; want dispatched attempt 1 with a lease", in.InstanceID, ti, err)
			}
			task, _ := st.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: in.TaskID})
			if task.Status != model.TaskDoing || task.Attempt != 1 {
				t.Errorf("task %s = %s attempt %d, want doing attempt 1", task.ID, task.Status, task.Attempt)
			}
		}
		pending, _ := st.TaskCount(ctx, &store.TaskCountParams{Filter: store.Filter{{Field: "status", Op: store.OpEq, Value: int64(model.TaskPending)}}})
		if pending != 3 { // 1 gpu task beyond its agent's slots, 1 plain beyond, the future one
			t.Errorf("pending tasks = %d, want 3", pending)
		}
	})

	t.Run("FiresDueWhileNoDispatcherRanGetTheMisfirePolicy", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		started := time.Now().UTC()
		plan := func(policy string) (*model.Schedule, []*model.Task) {
			job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
			s := storetest.Schedule(ctx, t, st, &storetest.ScheduleOpts{JobID: &job.ID})
			if _, err := st.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: s.ID, Options: model.ScheduleOptions{Misfire: model.MisfirePolicy{Policy: policy}}, OptionsDoUpdate: true}); err != nil {
				t.Fatalf("ScheduleUpdate: %v", err)
			}
			var tasks []*model.Task
			// Planned ahead before the outage: four fires 40 s … 10 s
			// before the dispatcher started, and one 1 s before (within the
			// 5 s threshold: merely late).
			for _, ago := range []time.Duration{40, 30, 20, 10, 1} {
				at := started.Add(-ago * time.Second)
				tasks = append(tasks, storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, ScheduleID: &s.ID, ScheduledAt: &at, Config: &job.Config}))
			}
			return s, tasks
		}
		skipS, skipTasks := plan(model.MisfireSkip)
		onceS, onceTasks := plan(model.MisfireFireOnce)
		allS, allTasks := plan(model.MisfireFireAll)
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 100})
		d := newTestDispatcher(t, st, pool)
		d.startedAt = started
		for range 3 {
			if _, err := d.runOnce(ctx); err != nil {
				t.Fatalf("runOnce: %v", err)
			}
		}
		statuses := func(tasks []*model.Task) string {
			var out []string
			for _, task := range tasks {
				got, _ := st.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
				out = append(out, got.Status.String())
			}
			return strings.Join(out, " ")
		}
		for _, tc := range []struct {
			s     *model.Schedule
			tasks []*model.Task
			want  string
		}{
			{skipS, skipTasks, "skipped skipped skipped skipped doing"},
			{onceS, onceTasks, "skipped skipped skipped doing doing"},
			{allS, allTasks, "doing doing doing doing doing"},
		} {
			if got := statuses(tc.tasks); got != tc.want {
				t.Errorf("policy %s: %s, want %s", tc.s.Misfire.EffectivePolicy(), got, tc.want)
			}
		}
		// Backlog: a dispatcher running all along does not skip late fires.
		d2 := newTestDispatcher(t, st, pool)
		d2.startedAt = started.Add(-time.Hour)
		_, late := plan(model.MisfireSkip)
		if _, err := d2.runOnce(ctx); err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		if got := statuses(late); got != "doing doing doing doing doing" {
			t.Errorf("backlog under a running dispatcher: %s, want all dispatched", got)
		}
	})

	t.Run("PriorityFirstButOverdueTasksAreNotStarved", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		now := time.Now().UTC()
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
		task := func(priority int, ago time.Duration) *model.Task {
			at := now.Add(-ago)
			return storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Priority: &priority, ScheduledAt: &at, Config: &job.Config})
		}
		starving := task(0, 2*time.Minute) // low priority, waiting past a minute
		high1, high2 := task(10, time.Second), task(10, 2*time.Second)
		low := task(0, 10*time.Second)
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 2})
		if _, err := newTestDispatcher(t, st, pool).runOnce(ctx); err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		got := map[uuid.UUID]bool{}
		for _, in := range pool.sentTo("a") {
			got[in.TaskID] = true
		}
		// Two slots: the starving task first, then the highest priority
		// (earliest of the two); the fresh low-priority task waits.
		if len(got) != 2 || !got[starving.ID] || !got[high2.ID] || got[high1.ID] || got[low.ID] {
			t.Errorf("dispatched %v; want the overdue task and the earlier high-priority one", got)
		}
	})

	t.Run("PaceSeesTheLeadsOfWhatWasPlacedAndLeft", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		now := time.Now().UTC()
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
		task := func(priority int, in time.Duration) {
			at := now.Add(in)
			storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Priority: &priority, ScheduledAt: &at, Config: &job.Config})
		}
		// One slot: the high-priority task 4.5 s ahead takes it; a
		// low-priority one 1.5 s ahead is left, and its lead is the
		// shortest the pass saw. (Leads only shrink as the test runs, so
		// the bound holds however slow the machine.)
		task(10, 4500*time.Millisecond)
		task(0, 1500*time.Millisecond)
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 1})
		d := newTestDispatcher(t, st, pool)
		res, err := d.runOnce(ctx)
		if err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		if res.dispatched != 1 || !res.leads || res.minLead > 1500*time.Millisecond {
			t.Errorf("result %+v, want one dispatched and at most the left task's lead (1.5s) as the shortest", res)
		}
		// No free slot now: the next freed slot is wanted at once.
		res, err = d.runOnce(ctx)
		if err != nil {
			t.Fatalf("runOnce: %v", err)
		}
		if !res.starved || pace(res, d.backlog.Load()) != 0 {
			t.Errorf("result %+v with no free slot, want starved and no pace", res)
		}
	})

	t.Run("NoAgentsNoClaim", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		storetest.Task(ctx, t, st, &storetest.TaskOpts{Config: &model.JobConfig{Command: "true"}})
		res, err := newTestDispatcher(t, st, newRecordingPool()).runOnce(ctx)
		if err != nil || res.dispatched != 0 {
			t.Errorf("runOnce = %+v, %v; want nothing dispatched", res, err)
		}
	})

	t.Run("ConcurrentDispatchersNeverShareATask", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
		for range 60 {
			storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Config: &job.Config})
		}
		pools := []*recordingPool{
			newRecordingPool(&balance.Candidate{ID: "a", Free: 40}),
			newRecordingPool(&balance.Candidate{ID: "b", Free: 40}),
			newRecordingPool(&balance.Candidate{ID: "c", Free: 40}),
		}
		var wg sync.WaitGroup
		for _, p := range pools {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := NewDispatcher(DispatcherConfig{ServerID: "s", Horizon: 5 * time.Second, Interval: time.Second, Batch: 7, AckTimeout: time.Second}, st, p, nil, lifecycletest.WarnLogger(t))
				for range 20 {
					if _, err := d.runOnce(ctx); err != nil {
						t.Errorf("runOnce: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		seen := map[uuid.UUID]string{}
		total := 0
		for _, p := range pools {
			for agent, insts := range p.sent {
				for _, in := range insts {
					if other, dup := seen[in.TaskID]; dup {
						t.Errorf("task %s dispatched to %s and %s", in.TaskID, other, agent)
					}
					seen[in.TaskID] = agent
					total++
				}
			}
		}
		if total != 60 {
			t.Errorf("dispatched %d tasks, want all 60 exactly once", total)
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		pool := newRecordingPool()
		lifecycletest.Stress(t.Context(), t, newTestDispatcher(t, st, pool))
		lifecycletest.StopsImmediately(t.Context(), t, newTestDispatcher(t, st, pool))
		lifecycletest.RespectsContextCancellation(t.Context(), t, newTestDispatcher(t, st, pool))
		lifecycletest.CanRestart(t.Context(), t, newTestDispatcher(t, st, pool))
	})
}
