package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseTask(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("InsertManyAndGet", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Namespace: ptr("team-a")})
		in := &store.TaskInsert{
			ID:          newID(),
			Config:      fullJobConfig(),
			JobID:       sched.JobID,
			Namespace:   "team-a",
			Parameters:  map[string]string{"date": "2026-03-14", "empty": ""},
			Priority:    7,
			Reason:      "misfire: fire_once",
			RunAt:       *bundle.at(time.Second),
			ScheduleID:  &sched.ID,
			ScheduledAt: bundle.now,
			Status:      model.TaskPending,
		}
		got, err := bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Now: bundle.at(-time.Minute), Tasks: []*store.TaskInsert{in}})
		if err != nil {
			t.Fatalf("TaskInsertMany: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("TaskInsertMany inserted %d tasks, want 1", len(got))
		}
		want := &model.Task{
			ID:          in.ID,
			JobID:       sched.JobID,
			ScheduleID:  &sched.ID,
			Namespace:   "team-a",
			ScheduledAt: bundle.now,
			RunAt:       *bundle.at(time.Second),
			Priority:    7,
			Parameters:  map[string]string{"date": "2026-03-14", "empty": ""},
			Config:      fullJobConfig(),
			Attempt:     0,
			Status:      model.TaskPending,
			Reason:      "misfire: fire_once",
			CreatedAt:   *bundle.at(-time.Minute),
			UpdatedAt:   *bundle.at(-time.Minute),
		}
		checkTask(t, "TaskInsertMany", got[0], want)
		stored, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: in.ID})
		if err != nil {
			t.Fatalf("TaskGetByID: %v", err)
		}
		checkTask(t, "TaskGetByID", stored, want)
	})

	t.Run("FinishManyKeepsTheReasonWhenGivenNone", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		task := Task(ctx, t, bundle.exec, &TaskOpts{Reason: ptr("ran late: planned for 12:00"), Status: ptr(model.TaskDoing)})
		if n, err := bundle.exec.TaskFinishMany(ctx, &store.TaskFinishManyParams{Items: []*store.TaskFinish{{ID: task.ID, Attempt: 1, Status: model.TaskSucceeded}}}); err != nil || n != 1 {
			t.Fatalf("TaskFinishMany = %d, %v", n, err)
		}
		got, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
		if err != nil || got.Reason != "ran late: planned for 12:00" {
			t.Errorf("reason after a reasonless finish = %q, %v; want it kept", got.Reason, err)
		}
	})

	t.Run("DeleteManyRemovesTasksWithTheirInstances", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		in := TaskInstance(ctx, t, bundle.exec, nil)
		keep := Task(ctx, t, bundle.exec, nil)
		n, err := bundle.exec.TaskDeleteMany(ctx, &store.TaskDeleteManyParams{IDs: []uuid.UUID{in.TaskID, newID()}})
		if err != nil || n != 1 {
			t.Fatalf("TaskDeleteMany = %d, %v; want 1", n, err)
		}
		_, err = bundle.exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: in.ID})
		checkErrIs(t, "TaskInstanceGetByID after delete", err, store.ErrNotFound)
		if _, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: keep.ID}); err != nil {
			t.Errorf("other task: %v", err)
		}
	})

	t.Run("DeletePendingDropsOnlyUndispatchedPlannedTasks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, nil)
		other := Schedule(ctx, t, bundle.exec, &ScheduleOpts{JobID: &sched.JobID})
		planned := func(s *model.Schedule, at time.Duration) *model.Task {
			return Task(ctx, t, bundle.exec, &TaskOpts{JobID: &s.JobID, ScheduleID: &s.ID, ScheduledAt: bundle.at(at)})
		}
		future := planned(sched, time.Minute)
		past := planned(sched, -time.Minute)
		doing := planned(sched, 2*time.Minute)
		if n, err := bundle.exec.TaskStartAttemptMany(ctx, &store.TaskStartAttemptManyParams{IDs: []uuid.UUID{doing.ID}}); err != nil || n != 1 {
			t.Fatalf("TaskStartAttemptMany = %d, %v", n, err)
		}
		otherFuture := planned(other, time.Minute)
		manual := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &sched.JobID, ScheduledAt: bundle.at(time.Minute)})

		n, err := bundle.exec.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduleID: &sched.ID, ScheduledAfter: bundle.now})
		if err != nil || n != 1 {
			t.Fatalf("TaskDeletePending(schedule) = %d, %v, want 1", n, err)
		}
		if _, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: future.ID}); err == nil {
			t.Errorf("future planned task still exists")
		}
		for _, keep := range []*model.Task{past, doing, otherFuture, manual} {
			if _, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: keep.ID}); err != nil {
				t.Errorf("TaskGetByID(%s) = %v, want it kept", keep.ID, err)
			}
		}
		n, err = bundle.exec.TaskDeletePending(ctx, &store.TaskDeletePendingParams{JobID: &sched.JobID, ScheduledAfter: bundle.now})
		if err != nil || n != 1 {
			t.Fatalf("TaskDeletePending(job) = %d, %v, want 1 (the other schedule's)", n, err)
		}
		if _, err := bundle.exec.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduledAfter: bundle.now}); err == nil {
			t.Errorf("TaskDeletePending without job or schedule = nil error, want one")
		}
	})

	t.Run("InsertManySkippedIsFinished", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		task := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskSkipped), Reason: ptr("overlap: forbid")})
		if task.Status != model.TaskSkipped || !sameTimePtr(task.FinishedAt, &bundle.now) {
			t.Errorf("Status, FinishedAt = %v, %s, want skipped, %v", task.Status, fmtTime(task.FinishedAt), bundle.now)
		}
		pending := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now})
		if pending.FinishedAt != nil {
			t.Errorf("FinishedAt of pending task = %s, want <nil>", fmtTime(pending.FinishedAt))
		}
	})

	t.Run("InsertManySkipsDuplicateFires", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, nil)
		first := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &sched.JobID, ScheduleID: &sched.ID, ScheduledAt: &bundle.now})
		again := taskBuild(&TaskOpts{JobID: &sched.JobID, ScheduleID: &sched.ID, ScheduledAt: &bundle.now})
		next := taskBuild(&TaskOpts{JobID: &sched.JobID, ScheduleID: &sched.ID, ScheduledAt: bundle.at(time.Minute)})
		nextAgain := taskBuild(&TaskOpts{JobID: &sched.JobID, ScheduleID: &sched.ID, ScheduledAt: bundle.at(time.Minute)})
		got, err := bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{again, next, nextAgain}})
		if err != nil {
			t.Fatalf("TaskInsertMany: %v", err)
		}
		checkIDs(t, "TaskInsertMany", taskIDs(got), []uuid.UUID{next.ID})
		_, err = bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: again.ID})
		checkErrIs(t, "TaskGetByID(skipped duplicate)", err, store.ErrNotFound)
		n, err := bundle.exec.TaskCount(ctx, &store.TaskCountParams{Filter: store.Filter{{Field: "job_id", Op: store.OpEq, Value: sched.JobID}}})
		if err != nil {
			t.Fatalf("TaskCount: %v", err)
		}
		checkCount(t, "TaskCount", n, 2)
		if _, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: first.ID}); err != nil {
			t.Errorf("TaskGetByID(first) error = %v, want nil", err)
		}
	})

	t.Run("InsertManyManualTasksNeverConflict", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		a := taskBuild(&TaskOpts{JobID: &job.ID, ScheduledAt: &bundle.now})
		b := taskBuild(&TaskOpts{JobID: &job.ID, ScheduledAt: &bundle.now})
		got, err := bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{a, b}})
		if err != nil {
			t.Fatalf("TaskInsertMany: %v", err)
		}
		checkIDSet(t, "TaskInsertMany", taskIDs(got), []uuid.UUID{a.ID, b.ID})
		for _, task := range got {
			if task.ScheduleID != nil {
				t.Errorf("ScheduleID = %v, want nil", task.ScheduleID)
			}
		}
	})

	t.Run("InsertManyDuplicateIDConflicts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		task := Task(ctx, t, bundle.exec, nil)
		dup := taskBuild(&TaskOpts{ID: &task.ID, JobID: &task.JobID})
		_, err := bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{dup}})
		checkErrIs(t, "TaskInsertMany(same id)", err, store.ErrConflict)
	})

	t.Run("InsertManyWithNoTasks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		got, err := bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{})
		if err != nil || len(got) != 0 {
			t.Errorf("TaskInsertMany(no tasks) = %d tasks, %v, want 0, nil", len(got), err)
		}
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: newID()})
		checkErrIs(t, "TaskGetByID(unknown)", err, store.ErrNotFound)
		task := Task(ctx, t, bundle.exec, &TaskOpts{Namespace: ptr("team-a")})
		_, err = bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID, Namespaces: []string{"team-b"}})
		checkErrIs(t, "TaskGetByID(other namespace)", err, store.ErrNotFound)
		if _, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID, Namespaces: []string{"team-a"}}); err != nil {
			t.Errorf("TaskGetByID(own namespace) error = %v, want nil", err)
		}
	})

	t.Run("ListByIDReturnsTheTasksAsStored", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		a := Task(ctx, t, bundle.exec, &TaskOpts{Namespace: ptr("team-a"), Parameters: map[string]string{"k": "v"}})
		b := Task(ctx, t, bundle.exec, &TaskOpts{Status: ptr(model.TaskDoing)})
		Task(ctx, t, bundle.exec, nil) // not asked for
		got, err := bundle.exec.TaskListByID(ctx, &store.TaskListByIDParams{IDs: []uuid.UUID{b.ID, newID(), a.ID, a.ID}})
		if err != nil {
			t.Fatalf("TaskListByID: %v", err)
		}
		checkIDSet(t, "TaskListByID", taskIDs(got), []uuid.UUID{a.ID, b.ID})
		for _, task := range got {
			want, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
			if err != nil {
				t.Fatalf("TaskGetByID: %v", err)
			}
			if !reflect.DeepEqual(task, want) {
				t.Errorf("TaskListByID row = %+v, want %+v", task, want)
			}
		}
		if got, err := bundle.exec.TaskListByID(ctx, &store.TaskListByIDParams{}); err != nil || len(got) != 0 {
			t.Errorf("TaskListByID(no ids) = %d tasks, %v; want none", len(got), err)
		}
	})

	t.Run("ClaimDueOrdersByPriorityThenRunAt", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		task := func(priority int, runAt time.Duration, status model.TaskStatus) *model.Task {
			return Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, Priority: &priority, RunAt: bundle.at(runAt), Status: &status})
		}
		lowEarly := task(0, -time.Hour, model.TaskPending)
		lowLate := task(0, -time.Minute, model.TaskPending)
		highLate := task(5, 0, model.TaskPending)
		retry := task(5, -time.Second, model.TaskWaitingRetry)
		negative := task(-3, -time.Hour, model.TaskPending)
		task(9, time.Microsecond, model.TaskPending) // after the horizon
		task(9, -time.Hour, model.TaskDoing)
		task(9, -time.Hour, model.TaskFailed)
		task(9, -time.Hour, model.TaskSkipped)
		task(2, time.Hour, model.TaskPending) // a priority with nothing due
		task(0, time.Hour, model.TaskPending) // after the horizon, between due ones in claim order

		got, err := bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{Horizon: bundle.now})
		if err != nil {
			t.Fatalf("TaskClaimDue: %v", err)
		}
		checkIDs(t, "TaskClaimDue", taskIDs(got), []uuid.UUID{retry.ID, highLate.ID, lowEarly.ID, lowLate.ID, negative.ID})

		// A page can end inside a priority and go on from there.
		got, err = bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{Horizon: bundle.now, Limit: 3})
		if err != nil {
			t.Fatalf("TaskClaimDue(limit 3): %v", err)
		}
		checkIDs(t, "TaskClaimDue(limit 3)", taskIDs(got), []uuid.UUID{retry.ID, highLate.ID, lowEarly.ID})
		got, err = bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: store.CursorOf(got[2]), Horizon: bundle.now, Limit: 3})
		if err != nil {
			t.Fatalf("TaskClaimDue(limit 3, after): %v", err)
		}
		checkIDs(t, "TaskClaimDue(limit 3, after)", taskIDs(got), []uuid.UUID{lowLate.ID, negative.ID})

		got, err = bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{Horizon: bundle.now, Limit: 2})
		if err != nil {
			t.Fatalf("TaskClaimDue(limit 2): %v", err)
		}
		checkIDs(t, "TaskClaimDue(limit 2)", taskIDs(got), []uuid.UUID{retry.ID, highLate.ID})

		// Paging on from the last row returns the rest, in order.
		got, err = bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: store.CursorOf(got[1]), Horizon: bundle.now, Limit: 2})
		if err != nil {
			t.Fatalf("TaskClaimDue(after): %v", err)
		}
		checkIDs(t, "TaskClaimDue(after)", taskIDs(got), []uuid.UUID{lowEarly.ID, lowLate.ID})
		got, err = bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: store.CursorOf(got[1]), Horizon: bundle.now, Limit: 2})
		if err != nil {
			t.Fatalf("TaskClaimDue(after, 2nd page): %v", err)
		}
		checkIDs(t, "TaskClaimDue(after, 2nd page)", taskIDs(got), []uuid.UUID{negative.ID})
		got, err = bundle.exec.TaskClaimDue(ctx, &store.TaskClaimDueParams{After: store.CursorOf(got[0]), Horizon: bundle.now})
		if err != nil || len(got) != 0 {
			t.Errorf("TaskClaimDue(after the last) = %d tasks, %v; want none", len(got), err)
		}
	})

	t.Run("ClaimIsExclusive", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if bundle.exec.Dialect() != "postgres" {
			// SQLite has one writer: a second claiming transaction cannot
			// even begin while the first holds its claim.
			Task(ctx, t, bundle.exec, &TaskOpts{RunAt: bundle.at(-time.Second)})
			tx1, err := bundle.exec.Begin(ctx)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			defer tx1.Rollback(ctx)
			if got, err := tx1.TaskClaimDue(ctx, &store.TaskClaimDueParams{Horizon: bundle.now}); err != nil || len(got) != 1 {
				t.Fatalf("TaskClaimDue = %d tasks, %v; want 1", len(got), err)
			}
			wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			if tx2, err := bundle.exec.Begin(wait); err == nil {
				tx2.Rollback(ctx)
				t.Fatalf("a second transaction began while the first held its claim")
			}
			return
		}
		job := Job(ctx, t, bundle.exec, nil)
		var want []uuid.UUID
		for i := range 4 {
			want = append(want, Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, RunAt: bundle.at(time.Duration(i) * time.Second)}).ID)
		}
		tx1, err := bundle.exec.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		t.Cleanup(func() { _ = tx1.Rollback(context.Background()) })
		first, err := tx1.TaskClaimDue(ctx, &store.TaskClaimDueParams{Horizon: *bundle.at(time.Hour), Limit: 2})
		if err != nil {
			t.Fatalf("TaskClaimDue(tx1): %v", err)
		}
		checkIDs(t, "TaskClaimDue(tx1)", taskIDs(first), want[:2])

		tx2, err := bundle.exec.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		t.Cleanup(func() { _ = tx2.Rollback(context.Background()) })
		// Without SKIP LOCKED this claim would wait for tx1; fail instead.
		claimCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		second, err := tx2.TaskClaimDue(claimCtx, &store.TaskClaimDueParams{Horizon: *bundle.at(time.Hour), Limit: 10})
		if err != nil {
			t.Fatalf("TaskClaimDue(tx2): %v", err)
		}
		checkIDs(t, "TaskClaimDue(tx2, while tx1 holds its rows)", taskIDs(second), want[2:])
	})

	t.Run("ConcurrentClaimsAreDisjoint", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		const numTasks, numClaimers, batch = 12, 3, 3
		for i := range numTasks {
			Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, RunAt: bundle.at(time.Duration(i) * time.Second)})
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			claimed = map[uuid.UUID]int{}
			errs    []error
		)
		for range numClaimers {
			wg.Go(func() {
				for {
					var got []*model.Task
					err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
						var err error
						if got, err = ex.TaskClaimDue(ctx, &store.TaskClaimDueParams{Horizon: *bundle.at(time.Hour), Limit: batch}); err != nil {
							return err
						}
						ids := taskIDs(got)
						n, err := ex.TaskStartAttemptMany(ctx, &store.TaskStartAttemptManyParams{IDs: ids})
						if err == nil && n != len(ids) {
							t.Errorf("TaskStartAttemptMany(claimed) = %d, want %d", n, len(ids))
						}
						return err
					})
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					for _, task := range got {
						claimed[task.ID]++
					}
					mu.Unlock()
					if err != nil || len(got) == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Errorf("claim: %v", err)
		}
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("task %s claimed %d times, want 1", id, n)
			}
		}
		checkCount(t, "tasks claimed", len(claimed), numTasks)
	})

	t.Run("StartAttemptManyMovesClaimableTasksToDoing", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		pending := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now})
		retry := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskWaitingRetry)})
		doing := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskDoing)})
		failed := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskFailed)})
		n, err := bundle.exec.TaskStartAttemptMany(ctx, &store.TaskStartAttemptManyParams{
			IDs: []uuid.UUID{pending.ID, retry.ID, doing.ID, failed.ID, newID()},
			Now: bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("TaskStartAttemptMany: %v", err)
		}
		checkCount(t, "TaskStartAttemptMany", n, 2)
		for _, tt := range []struct {
			task    *model.Task
			status  model.TaskStatus
			attempt int
			updated time.Time
		}{
			{pending, model.TaskDoing, 1, *bundle.at(time.Second)},
			{retry, model.TaskDoing, 1, *bundle.at(time.Second)},
			{doing, model.TaskDoing, 1, bundle.now},
			{failed, model.TaskFailed, 0, bundle.now},
		} {
			got := getTask(ctx, t, bundle.exec, tt.task.ID)
			if got.Status != tt.status || got.Attempt != tt.attempt || !sameTime(got.UpdatedAt, tt.updated) {
				t.Errorf("task was %v: Status, Attempt, UpdatedAt = %v, %d, %v, want %v, %d, %v",
					tt.task.Status, got.Status, got.Attempt, got.UpdatedAt, tt.status, tt.attempt, tt.updated)
			}
		}
	})

	t.Run("FinishManyMovesDoingTasks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		succeeded := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskDoing), RunAt: &bundle.now})
		retried := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskDoing), RunAt: &bundle.now})
		requeued := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskDoing), RunAt: &bundle.now})
		n, err := bundle.exec.TaskFinishMany(ctx, &store.TaskFinishManyParams{
			Items: []*store.TaskFinish{
				{ID: succeeded.ID, Attempt: 1, Reason: "exit 0", Status: model.TaskSucceeded},
				{ID: retried.ID, Attempt: 1, Reason: "exit 1", RunAt: bundle.at(time.Minute), Status: model.TaskWaitingRetry},
				{ID: requeued.ID, Attempt: 1, Reason: "agent lost before start", Status: model.TaskPending},
			},
			Now: bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("TaskFinishMany: %v", err)
		}
		checkCount(t, "TaskFinishMany", n, 3)
		for _, tt := range []struct {
			task     *model.Task
			status   model.TaskStatus
			attempt  int
			reason   string
			runAt    time.Time
			finished *time.Time
		}{
			{succeeded, model.TaskSucceeded, 1, "exit 0", bundle.now, bundle.at(time.Second)},
			{retried, model.TaskWaitingRetry, 1, "exit 1", *bundle.at(time.Minute), nil},
			{requeued, model.TaskPending, 0, "agent lost before start", bundle.now, nil},
		} {
			got := getTask(ctx, t, bundle.exec, tt.task.ID)
			if got.Status != tt.status || got.Attempt != tt.attempt || got.Reason != tt.reason ||
				!sameTime(got.RunAt, tt.runAt) || !sameTimePtr(got.FinishedAt, tt.finished) || !sameTime(got.UpdatedAt, *bundle.at(time.Second)) {
				t.Errorf("Status, Attempt, Reason, RunAt, FinishedAt, UpdatedAt = %v, %d, %q, %v, %s, %v, want %v, %d, %q, %v, %s, %v",
					got.Status, got.Attempt, got.Reason, got.RunAt, fmtTime(got.FinishedAt), got.UpdatedAt,
					tt.status, tt.attempt, tt.reason, tt.runAt, fmtTime(tt.finished), *bundle.at(time.Second))
			}
		}
	})

	t.Run("FinishManyRefusesStaleAttemptOrStatus", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		doing := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskDoing)})
		pending := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now})
		cancelled := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskCancelled)})
		n, err := bundle.exec.TaskFinishMany(ctx, &store.TaskFinishManyParams{
			Items: []*store.TaskFinish{
				{ID: doing.ID, Attempt: 2, Status: model.TaskSucceeded}, // an older or newer attempt
				{ID: pending.ID, Attempt: 0, Status: model.TaskSucceeded},
				{ID: cancelled.ID, Attempt: 0, Status: model.TaskSucceeded},
				{ID: newID(), Attempt: 1, Status: model.TaskSucceeded},
			},
			Now: bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("TaskFinishMany: %v", err)
		}
		checkCount(t, "TaskFinishMany", n, 0)
		for _, task := range []*model.Task{doing, pending, cancelled} {
			checkTask(t, "task after refused finish", getTask(ctx, t, bundle.exec, task.ID), task)
		}
	})

	t.Run("SetStateIfMovesFromAllowedStatus", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		task := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Namespace: ptr("team-a")})
		got, err := bundle.exec.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{
			ID:           task.ID,
			FromStatuses: []model.TaskStatus{model.TaskPending, model.TaskWaitingRetry},
			Namespaces:   []string{"team-a"},
			Now:          bundle.at(time.Second),
			Reason:       "cancelled by alice",
			Status:       model.TaskCancelled,
		})
		if err != nil {
			t.Fatalf("TaskSetStateIf: %v", err)
		}
		want := *task
		want.Status = model.TaskCancelled
		want.Reason = "cancelled by alice"
		want.UpdatedAt = *bundle.at(time.Second)
		want.FinishedAt = bundle.at(time.Second)
		checkTask(t, "TaskSetStateIf", got, &want)

		// Back to a live status clears FinishedAt (a re-run).
		got, err = bundle.exec.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{
			ID:           task.ID,
			FromStatuses: []model.TaskStatus{model.TaskCancelled},
			Now:          bundle.at(2 * time.Second),
			Status:       model.TaskPending,
		})
		if err != nil {
			t.Fatalf("TaskSetStateIf(back to pending): %v", err)
		}
		if got.Status != model.TaskPending || got.FinishedAt != nil || got.Reason != "" {
			t.Errorf("Status, FinishedAt, Reason = %v, %s, %q, want pending, <nil>, \"\"", got.Status, fmtTime(got.FinishedAt), got.Reason)
		}
	})

	t.Run("SetStateIfRefusesOtherStatusOrNamespace", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		task := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Namespace: ptr("team-a"), Status: ptr(model.TaskDoing)})
		for _, p := range []*store.TaskSetStateIfParams{
			{ID: task.ID, FromStatuses: []model.TaskStatus{model.TaskPending, model.TaskWaitingRetry}, Status: model.TaskCancelled},
			{ID: task.ID, FromStatuses: nil, Status: model.TaskCancelled},
			{ID: task.ID, FromStatuses: []model.TaskStatus{model.TaskDoing}, Namespaces: []string{"team-b"}, Status: model.TaskCancelled},
			{ID: newID(), FromStatuses: []model.TaskStatus{model.TaskDoing}, Status: model.TaskCancelled},
		} {
			p.Now = bundle.at(time.Second)
			_, err := bundle.exec.TaskSetStateIf(ctx, p)
			checkErrIs(t, "TaskSetStateIf(guard fails)", err, store.ErrNotFound)
		}
		checkTask(t, "task after refused TaskSetStateIf", getTask(ctx, t, bundle.exec, task.ID), task)
	})
}

// checkTask compares two tasks, times to the microsecond, and checks that
// the times are UTC.
func checkTask(t *testing.T, what string, got, want *model.Task) {
	t.Helper()
	checkUTC(t, what, &got.ScheduledAt, &got.RunAt, &got.CreatedAt, &got.UpdatedAt, got.FinishedAt)
	g, w := *got, *want
	if !sameTime(g.ScheduledAt, w.ScheduledAt) || !sameTime(g.RunAt, w.RunAt) || !sameTime(g.CreatedAt, w.CreatedAt) ||
		!sameTime(g.UpdatedAt, w.UpdatedAt) || !sameTimePtr(g.FinishedAt, w.FinishedAt) {
		t.Errorf("%s: ScheduledAt, RunAt, CreatedAt, UpdatedAt, FinishedAt = %v, %v, %v, %v, %s, want %v, %v, %v, %v, %s", what,
			g.ScheduledAt, g.RunAt, g.CreatedAt, g.UpdatedAt, fmtTime(g.FinishedAt),
			w.ScheduledAt, w.RunAt, w.CreatedAt, w.UpdatedAt, fmtTime(w.FinishedAt))
	}
	g.ScheduledAt, g.RunAt, g.CreatedAt, g.UpdatedAt, g.FinishedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	w.ScheduledAt, w.RunAt, w.CreatedAt, w.UpdatedAt, w.FinishedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", what, g, w)
	}
}

func getTask(ctx context.Context, t *testing.T, exec store.Executor, id uuid.UUID) *model.Task {
	t.Helper()
	task, err := exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: id})
	if err != nil {
		t.Fatalf("TaskGetByID(%s): %v", id, err)
	}
	return task
}

func taskIDs(tasks []*model.Task) []uuid.UUID {
	ids := make([]uuid.UUID, len(tasks))
	for i, task := range tasks {
		ids[i] = task.ID
	}
	return ids
}
