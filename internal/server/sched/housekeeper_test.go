package sched

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// recordingForgetter records what the housekeeper asked the gateway to drop.
type recordingForgetter struct {
	mu     sync.Mutex
	forgot map[string][]uuid.UUID
}

func (f *recordingForgetter) Forget(agentID string, ids []uuid.UUID, _ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forgot == nil {
		f.forgot = map[string][]uuid.UUID{}
	}
	f.forgot[agentID] = append(f.forgot[agentID], ids...)
}

// doingTask inserts a task of a job with the given retry policy, moved to
// Doing at attempt 1, and its instance on agentID in status.
func doingTask(ctx context.Context, t *testing.T, st store.Store, retry model.RetryPolicy, agentID string, status model.InstanceStatus, lease *time.Time) (*model.Task, *model.TaskInstance) {
	t.Helper()
	cfg := model.JobConfig{Command: "true", Retry: retry}
	task := storetest.Task(ctx, t, st, &storetest.TaskOpts{Config: &cfg, Status: ptr(model.TaskDoing)})
	insert := status
	if status == model.InstanceRunning {
		insert = model.InstanceDispatched // started below, which sets started_at
	}
	in := storetest.TaskInstance(ctx, t, st, &storetest.TaskInstanceOpts{TaskID: &task.ID, AgentID: &agentID, Status: &insert, LeaseExpiresAt: lease})
	if status == model.InstanceRunning {
		now := time.Now()
		if _, err := st.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{Items: []*store.TaskInstanceStart{{ID: in.ID, AgentID: agentID, StartedAt: now}}}); err != nil {
			t.Fatalf("start instance: %v", err)
		}
	}
	return task, in
}

// nopLogs deletes nothing.
type nopLogs struct{}

func (nopLogs) DeleteMany(context.Context, []uuid.UUID) error { return nil }
func (nopLogs) FinishMany(context.Context, []uuid.UUID) error { return nil }

func getTask(ctx context.Context, t *testing.T, st store.Store, id uuid.UUID) *model.Task {
	t.Helper()
	task, err := st.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: id})
	if err != nil {
		t.Fatalf("TaskGetByID: %v", err)
	}
	return task
}

func getInstance(ctx context.Context, t *testing.T, st store.Store, id uuid.UUID) *model.TaskInstance {
	t.Helper()
	in, err := st.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: id})
	if err != nil {
		t.Fatalf("TaskInstanceGetByID: %v", err)
	}
	return in
}

func TestHousekeeper(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testHousekeeper(t, o.Open)
		})
	}
}

func testHousekeeper(t *testing.T, open func(testing.TB) store.Store) {
	newHK := func(t *testing.T, st store.Store, f Forgetter) *Housekeeper {
		return NewHousekeeper(HousekeeperConfig{Interval: time.Second, HeartbeatTTL: 10 * time.Second}, st, f, nopLogs{}, Wakers{}, lifecycletest.WarnLogger(t))
	}

	t.Run("ExpiredLeaseRequeuesUnderTheSameAttempt", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("agent-1")})
		past := time.Now().Add(-time.Second)
		task, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceDispatched, &past)
		future := time.Now().Add(time.Hour)
		_, fresh := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceDispatched, &future)
		// A silent agent's expired lease is left to the offline sweep,
		// which knows whether it may have started.
		old := time.Now().Add(-30 * time.Second) // beyond the 10 s TTL
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("silent"), Now: &old})
		_, silent := doingTask(ctx, t, st, model.RetryPolicy{}, "silent", model.InstanceAcked, &past)
		f := &recordingForgetter{}
		if err := newHK(t, st, f).sweepLeases(ctx, time.Now()); err != nil {
			t.Fatalf("sweepLeases: %v", err)
		}
		got := getInstance(ctx, t, st, in.ID)
		if got.Status != model.InstanceLost || !strings.Contains(got.Error, "did not acknowledge") {
			t.Errorf("expired instance = %s %q, want lost naming the missed ack", got.Status, got.Error)
		}
		if tk := getTask(ctx, t, st, task.ID); tk.Status != model.TaskPending || tk.Attempt != 0 || !strings.Contains(tk.Reason, "dispatched again") {
			t.Errorf("task = %s attempt %d %q, want pending, attempt given back", tk.Status, tk.Attempt, tk.Reason)
		}
		if got := getInstance(ctx, t, st, fresh.ID); got.Status != model.InstanceDispatched {
			t.Errorf("instance with a live lease = %s, want untouched", got.Status)
		}
		if got := getInstance(ctx, t, st, silent.ID); got.Status != model.InstanceAcked {
			t.Errorf("expired lease of a silent agent = %s, want untouched", got.Status)
		}
		if ids := f.forgot["agent-1"]; len(ids) != 1 || ids[0] != in.ID {
			t.Errorf("forgot %v, want the expired instance", f.forgot)
		}
	})

	t.Run("AfterALeaderChangeAgentsSilentSinceBeforeGetTwoTTLs", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		start := time.Now()
		before, after := start.Add(-2*time.Second), start.Add(time.Second)
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("silent-through-takeover"), Now: &before})
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("silent-since"), Now: &after})
		h := newHK(t, st, &recordingForgetter{})
		h.started = start
		status := func(id string) model.AgentStatus {
			a, err := st.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: id})
			if err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			return a.Status
		}
		// 12 s in (TTL 10 s): the agent heard from after the start is judged
		// as usual; the one silent since before the takeover waits.
		if err := h.RunOnce(ctx, start.Add(12*time.Second)); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if got := status("silent-since"); got != model.AgentOffline {
			t.Errorf("agent silent for 11 s since the start = %s, want offline", got)
		}
		if got := status("silent-through-takeover"); got != model.AgentOnline {
			t.Errorf("agent silent through the takeover, 12 s in = %s, want online (grace)", got)
		}
		if err := h.RunOnce(ctx, start.Add(21*time.Second)); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if got := status("silent-through-takeover"); got != model.AgentOffline {
			t.Errorf("agent silent through the takeover, 21 s in = %s, want offline", got)
		}
	})

	t.Run("AGivenUpRunOfACappedJobWakesTheDispatchers", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		old := time.Now().Add(-time.Minute)
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("silent"), Now: &old})
		cfg := model.JobConfig{Command: "true", MaxConcurrency: 1}
		task := storetest.Task(ctx, t, st, &storetest.TaskOpts{Config: &cfg, Status: ptr(model.TaskDoing)})
		in := storetest.TaskInstance(ctx, t, st, &storetest.TaskInstanceOpts{TaskID: &task.ID, AgentID: ptr("silent")})
		if _, err := st.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{Items: []*store.TaskInstanceStart{{ID: in.ID, AgentID: "silent", StartedAt: old}}}); err != nil {
			t.Fatalf("start instance: %v", err)
		}
		var wakes atomic.Int32
		h := NewHousekeeper(HousekeeperConfig{Interval: time.Second, HeartbeatTTL: 10 * time.Second}, st, &recordingForgetter{}, nopLogs{},
			Wakers{Dispatcher: func() { wakes.Add(1) }}, lifecycletest.WarnLogger(t))
		if err := h.RunOnce(ctx, time.Now()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if tk := getTask(ctx, t, st, task.ID); tk.Status != model.TaskFailed {
			t.Fatalf("task = %s, want failed (lost while running, no retries)", tk.Status)
		}
		// The job's next run may go now, on any server.
		if wakes.Load() == 0 {
			t.Errorf("no dispatcher woken for the end of a capped job's run")
		}
	})

	t.Run("SilentAgentGoesOfflineAndItsWorkMoves", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		old := time.Now().Add(-time.Minute)
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("silent"), Now: &old})
		// Just started: no agent is judged for one TTL.
		started := newHK(t, st, &recordingForgetter{})
		started.started = time.Now()
		if err := started.RunOnce(ctx, time.Now()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if a, _ := st.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: "silent"}); a.Status != model.AgentOnline {
			t.Errorf("silent agent right after start = %s, want still online (grace)", a.Status)
		}
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("alive")})
		lease := time.Now().Add(time.Hour)
		heldTask, _ := doingTask(ctx, t, st, model.RetryPolicy{}, "silent", model.InstanceAcked, &lease)
		runTask, runIn := doingTask(ctx, t, st, model.RetryPolicy{MaxAttempts: 2}, "silent", model.InstanceRunning, nil)
		lastTask, _ := doingTask(ctx, t, st, model.RetryPolicy{}, "silent", model.InstanceRunning, nil)
		aliveTask, _ := doingTask(ctx, t, st, model.RetryPolicy{}, "alive", model.InstanceRunning, nil)
		// Held, and due before the agent fell silent: it may have started.
		earlyTask := storetest.Task(ctx, t, st, &storetest.TaskOpts{Config: &model.JobConfig{Command: "true"}, Status: ptr(model.TaskDoing), ScheduledAt: ptr(old.Add(-time.Minute))})
		storetest.TaskInstance(ctx, t, st, &storetest.TaskInstanceOpts{TaskID: &earlyTask.ID, AgentID: ptr("silent"), Status: ptr(model.InstanceAcked), LeaseExpiresAt: &lease})
		f := &recordingForgetter{}
		if err := newHK(t, st, f).RunOnce(ctx, time.Now()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if a, _ := st.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: "silent"}); a.Status != model.AgentOffline {
			t.Errorf("silent agent = %s, want offline", a.Status)
		}
		if a, _ := st.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: "alive"}); a.Status != model.AgentOnline {
			t.Errorf("alive agent = %s, want online", a.Status)
		}
		if tk := getTask(ctx, t, st, heldTask.ID); tk.Status != model.TaskPending || tk.Attempt != 0 {
			t.Errorf("held task = %s attempt %d, want pending again (it never ran)", tk.Status, tk.Attempt)
		}
		if tk := getTask(ctx, t, st, runTask.ID); tk.Status != model.TaskWaitingRetry || !strings.Contains(tk.Reason, "was lost") {
			t.Errorf("running task with retries = %s %q, want waiting for retry after a lost attempt", tk.Status, tk.Reason)
		}
		if in := getInstance(ctx, t, st, runIn.ID); in.Status != model.InstanceLost || !strings.Contains(in.Error, "no heartbeat") {
			t.Errorf("running instance = %s %q, want lost for missing heartbeats", in.Status, in.Error)
		}
		if tk := getTask(ctx, t, st, lastTask.ID); tk.Status != model.TaskFailed {
			t.Errorf("running task without retries = %s, want failed", tk.Status)
		}
		if tk := getTask(ctx, t, st, aliveTask.ID); tk.Status != model.TaskDoing {
			t.Errorf("task on a live agent = %s, want untouched", tk.Status)
		}
		if tk := getTask(ctx, t, st, earlyTask.ID); tk.Status != model.TaskFailed || !strings.Contains(tk.Reason, "may have started") {
			t.Errorf("held task due before the silence = %s %q, want failed as a lost attempt that may have run", tk.Status, tk.Reason)
		}
		if len(f.forgot["silent"]) != 4 {
			t.Errorf("forgot %d instances of the silent agent, want 4", len(f.forgot["silent"]))
		}
		// A second sweep finds nothing more to do.
		if err := newHK(t, st, f).RunOnce(ctx, time.Now()); err != nil || len(f.forgot["silent"]) != 4 {
			t.Errorf("second sweep: %v, forgot %d", err, len(f.forgot["silent"]))
		}
	})

	// Runs given up are over whatever their agent still sends: their logs
	// are finished, so followers stop and late output cannot reopen them.
	t.Run("GivenUpRunsFinishTheirLogs", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		logs := newLogs(t, st)
		old := time.Now().Add(-time.Minute)
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("silent"), Now: &old})
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("alive")})
		_, running := doingTask(ctx, t, st, model.RetryPolicy{}, "silent", model.InstanceRunning, nil)
		past := time.Now().Add(-time.Second)
		_, expired := doingTask(ctx, t, st, model.RetryPolicy{}, "alive", model.InstanceDispatched, &past)
		_, untouched := doingTask(ctx, t, st, model.RetryPolicy{}, "alive", model.InstanceRunning, nil)
		if _, err := logs.Write(ctx, running.ID, model.Stdout, 0, []byte("partial\n")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		h := NewHousekeeper(HousekeeperConfig{Interval: time.Second, HeartbeatTTL: 10 * time.Second}, st, &recordingForgetter{}, logs, Wakers{}, lifecycletest.WarnLogger(t))
		if err := h.RunOnce(ctx, time.Now()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		for _, c := range []struct {
			name string
			id   uuid.UUID
			want bool
		}{{"lost run", running.ID, true}, {"expired lease", expired.ID, true}, {"live run", untouched.ID, false}} {
			if got, err := logs.Finished(ctx, c.id); err != nil || got != c.want {
				t.Errorf("log of the %s finished = %v, %v; want %v", c.name, got, err, c.want)
			}
		}
		if _, err := logs.Write(ctx, running.ID, model.Stdout, 8, []byte("late\n")); !errors.Is(err, tasklog.ErrFinished) {
			t.Errorf("late chunk of a lost run = %v, want ErrFinished", err)
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		f := &recordingForgetter{}
		lifecycletest.Stress(t.Context(), t, newHK(t, st, f))
		lifecycletest.StopsImmediately(t.Context(), t, newHK(t, st, f))
		lifecycletest.RespectsContextCancellation(t.Context(), t, newHK(t, st, f))
		lifecycletest.CanRestart(t.Context(), t, newHK(t, st, f))
	})
}
