package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseTx(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("InTxCommits", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		params := JobBuild(nil)
		err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			if _, err := ex.JobInsert(ctx, params); err != nil {
				return err
			}
			// The transaction sees its own writes.
			_, err := ex.JobGetByID(ctx, &store.JobGetByIDParams{ID: params.ID})
			return err
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: params.ID}); err != nil {
			t.Errorf("JobGetByID after commit error = %v, want nil", err)
		}
	})

	t.Run("InTxRollsBackOnError", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		boom := errors.New("boom")
		params := JobBuild(nil)
		err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			if _, err := ex.JobInsert(ctx, params); err != nil {
				return err
			}
			return boom
		})
		checkErrIs(t, "InTx", err, boom)
		_, err = bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: params.ID})
		checkErrIs(t, "JobGetByID after rollback", err, store.ErrNotFound)
	})

	t.Run("RollbackAfterCommitIsNoop", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		tx, err := bundle.exec.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		job := Job(ctx, t, tx, nil)
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Errorf("Rollback after Commit error = %v, want nil", err)
		}
		if _, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: job.ID}); err != nil {
			t.Errorf("JobGetByID after commit error = %v, want nil", err)
		}
	})

	t.Run("RollbackUndoesBatchWrites", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now, NextFireAt: &bundle.now})
		ti := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now})
		// One generator pass and a batch of results, undone together. The
		// callback reports failures as errors: a t.Fatalf inside it would
		// leave the transaction open.
		giveUp := errors.New("give up")
		task := taskBuild(&TaskOpts{JobID: &sched.JobID, ScheduleID: &sched.ID, ScheduledAt: &bundle.now})
		err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			moved, err := ex.ScheduleAdvanceCursorMany(ctx, &store.ScheduleAdvanceCursorManyParams{
				Items: []*store.ScheduleCursorAdvance{{ID: sched.ID, ExpectRevision: sched.Revision, FiredCountDelta: 1, NextFireAt: bundle.at(time.Minute)}},
			})
			if err != nil || len(moved) != 1 {
				return fmt.Errorf("ScheduleAdvanceCursorMany = %d, %w, want 1, nil", len(moved), err)
			}
			if inserted, err := ex.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{task}}); err != nil || len(inserted) != 1 {
				return fmt.Errorf("TaskInsertMany = %d, %w, want 1, nil", len(inserted), err)
			}
			if n, err := ex.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{
				Items: []*store.TaskInstanceStart{{ID: ti.ID, AgentID: "agent-a", StartedAt: bundle.now}},
			}); err != nil || n != 1 {
				return fmt.Errorf("TaskInstanceStartMany = %d, %w, want 1, nil", n, err)
			}
			if n, err := ex.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{Items: []*store.TaskLogUpsert{{InstanceID: ti.ID, StdoutBytes: 1}}}); err != nil || n != 1 {
				return fmt.Errorf("TaskLogUpsertMany = %d, %w, want 1, nil", n, err)
			}
			return giveUp
		})
		if !errors.Is(err, giveUp) {
			t.Fatalf("InTx error = %v, want %v", err, giveUp)
		}
		got, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		checkSchedule(t, "schedule after rollback", got, sched)
		_, err = bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
		checkErrIs(t, "TaskGetByID after rollback", err, store.ErrNotFound)
		checkTaskInstance(t, "instance after rollback", getTaskInstance(ctx, t, bundle.exec, ti.ID), ti)
		_, err = bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: ti.ID})
		checkErrIs(t, "TaskLogGetByInstanceID after rollback", err, store.ErrNotFound)
	})

	t.Run("ConflictDoesNotBreakTx", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			_, err := ex.JobInsert(ctx, JobBuild(&JobOpts{Name: &job.Name}))
			return err
		})
		checkErrIs(t, "InTx(duplicate job)", err, store.ErrConflict)
		// The pool is still usable: the failed transaction gave its
		// connection back.
		if _, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: job.ID}); err != nil {
			t.Errorf("JobGetByID after failed tx error = %v, want nil", err)
		}
	})

	t.Run("BeginRespectsCancelledContext", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if tx, err := bundle.exec.Begin(cancelled); err == nil {
			_ = tx.Rollback(ctx)
			t.Errorf("Begin(cancelled ctx) error = nil, want an error")
		}
	})
}
