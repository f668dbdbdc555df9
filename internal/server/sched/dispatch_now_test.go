package sched

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/balance"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestDispatchNow(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testDispatchNow(t, o.Open)
		})
	}
}

func testDispatchNow(t *testing.T, open func(testing.TB) store.Store) {
	// setup returns a running dispatcher with nothing waiting, over one
	// agent with two slots, and a job.
	setup := func(t *testing.T, cfg model.JobConfig) (context.Context, store.Store, *recordingPool, *Dispatcher, *model.Job) {
		ctx, st := t.Context(), open(t)
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &cfg})
		pool := newRecordingPool(&balance.Candidate{ID: "a", Free: 2})
		d := newTestDispatcher(t, st, pool)
		d.running.Store(true)
		d.backlog.Store(false)
		return ctx, st, pool, d, job
	}
	// runNow creates a task of job due now in a transaction, dispatches it
	// there, and commits unless fail is set.
	runNow := func(ctx context.Context, t *testing.T, st store.Store, d *Dispatcher, job *model.Job, runAt time.Time, fail bool) (*model.Task, int, error) {
		t.Helper()
		var (
			task   *model.Task
			placed int
			done   = func(bool) {}
		)
		errRolledBack := errors.New("rolled back")
		err := store.InTx(ctx, st, func(ex store.Executor) error {
			task = storetest.Task(ctx, t, ex, &storetest.TaskOpts{JobID: &job.ID, ScheduledAt: &runAt, Config: &job.Config})
			var err error
			done, placed, err = d.DispatchNow(ctx, ex, []*model.Task{task})
			if err != nil {
				return err
			}
			if fail {
				return errRolledBack
			}
			return nil
		})
		done(err == nil)
		if errors.Is(err, errRolledBack) {
			err = nil
		}
		return task, placed, err
	}
	taskIs := func(t *testing.T, st store.Store, task *model.Task, status model.TaskStatus, attempt int) {
		t.Helper()
		got, err := st.TaskGetByID(t.Context(), &store.TaskGetByIDParams{ID: task.ID})
		if err != nil || got.Status != status || got.Attempt != attempt {
			t.Errorf("task = %+v, %v; want %s attempt %d", got, err, status, attempt)
		}
	}

	t.Run("PlacesInTheCallersTransaction", func(t *testing.T) {
		t.Parallel()
		ctx, st, pool, d, job := setup(t, model.JobConfig{Command: "true"})
		task, placed, err := runNow(ctx, t, st, d, job, time.Now(), false)
		if err != nil || placed != 1 {
			t.Fatalf("DispatchNow placed %d, %v; want 1", placed, err)
		}
		sent := pool.sentTo("a")
		if len(sent) != 1 || sent[0].TaskID != task.ID {
			t.Fatalf("sent %+v to the agent, want the task's instance", sent)
		}
		taskIs(t, st, task, model.TaskDoing, 1)
		in, err := st.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: sent[0].InstanceID})
		if err != nil || in.Status != model.InstanceDispatched || in.AgentID != "a" || in.LeaseExpiresAt == nil {
			t.Errorf("instance = %+v, %v; want dispatched to a with a lease", in, err)
		}
		// A pass finds nothing left to claim.
		if res, err := d.runOnce(ctx); err != nil || res.dispatched != 0 {
			t.Errorf("a pass after it dispatched %d, %v; want 0", res.dispatched, err)
		}
	})

	t.Run("RollbackSendsNothingAndFreesTheSlot", func(t *testing.T) {
		t.Parallel()
		ctx, st, pool, d, job := setup(t, model.JobConfig{Command: "true"})
		if _, placed, err := runNow(ctx, t, st, d, job, time.Now(), true); err != nil || placed != 1 {
			t.Fatalf("DispatchNow placed %d, %v; want 1", placed, err)
		}
		if sent := pool.sentTo("a"); len(sent) != 0 {
			t.Errorf("sent %d instances of a rolled back run", len(sent))
		}
		free := 0
		for _, c := range pool.Candidates() {
			free += c.Free
		}
		if free != 2 {
			t.Errorf("free slots after the rollback = %d, want 2", free)
		}
		if n, _ := st.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{}); n != 0 {
			t.Errorf("%d instances after the rollback, want 0", n)
		}
	})

	t.Run("LeavesToAPassWhatAPassDecides", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name   string
			config model.JobConfig
			runAt  time.Duration // from now
			prep   func(d *Dispatcher, pool *recordingPool)
		}{
			{"BacklogWaiting", model.JobConfig{Command: "true"}, 0, func(d *Dispatcher, _ *recordingPool) { d.backlog.Store(true) }},
			{"DispatcherNotRunning", model.JobConfig{Command: "true"}, 0, func(d *Dispatcher, _ *recordingPool) { d.running.Store(false) }},
			{"NoFreeSlot", model.JobConfig{Command: "true"}, 0, func(_ *Dispatcher, pool *recordingPool) { pool.cands["a"].Free = 0 }},
			{"NotDueYet", model.JobConfig{Command: "true"}, time.Minute, nil},
			{"OverlapPolicy", model.JobConfig{Command: "true", Overlap: model.OverlapPolicy{Policy: model.OverlapForbid}}, 0, nil},
			{"ConcurrencyCap", model.JobConfig{Command: "true", MaxConcurrency: 1}, 0, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				ctx, st, pool, d, job := setup(t, c.config)
				if c.prep != nil {
					c.prep(d, pool)
				}
				task, placed, err := runNow(ctx, t, st, d, job, time.Now().Add(c.runAt), false)
				if err != nil || placed != 0 {
					t.Fatalf("DispatchNow placed %d, %v; want 0", placed, err)
				}
				if sent := pool.sentTo("a"); len(sent) != 0 {
					t.Errorf("sent %d instances", len(sent))
				}
				taskIs(t, st, task, model.TaskPending, 0)
			})
		}
	})
	t.Run("RacesWithPassesWithoutDoubleDispatch", func(t *testing.T) {
		t.Parallel()
		ctx, st, pool, d, job := setup(t, model.JobConfig{Command: "true"})
		pool.cands["a"].Free = 40
		// Tasks a pass will claim, while run nows place theirs.
		for range 20 {
			storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, Config: &job.Config})
		}
		const runNows = 30
		var wg sync.WaitGroup
		errs := make(chan error, runNows+1)
		wg.Go(func() {
			for range 10 {
				if _, err := d.runOnce(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
		for range runNows {
			wg.Go(func() {
				if _, _, err := runNow(ctx, t, st, d, job, time.Now(), false); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("dispatching: %v", err)
		}
		pool.mu.Lock()
		overbooked := pool.overbooked
		perTask := map[uuid.UUID]int{}
		sent := 0
		for _, insts := range pool.sent {
			for _, in := range insts {
				perTask[in.TaskID]++
				sent++
			}
		}
		pool.mu.Unlock()
		if overbooked != 0 {
			t.Errorf("%d dispatches overbooked the agent", overbooked)
		}
		for id, n := range perTask {
			if n != 1 {
				t.Errorf("task %s dispatched %d times", id, n)
			}
		}
		if sent > 40 {
			t.Errorf("%d instances sent to an agent with 40 slots", sent)
		}
		n, err := st.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{})
		if err != nil || n != sent {
			t.Errorf("%d instances stored, %v; want the %d sent", n, err, sent)
		}
	})
}
