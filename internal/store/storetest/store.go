package storetest

import (
	"testing"

	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseStore(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("PingAndDialect", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if err := bundle.exec.Ping(ctx); err != nil {
			t.Errorf("Ping error = %v, want nil", err)
		}
		if d := bundle.exec.Dialect(); d != "postgres" && d != "sqlite" {
			t.Errorf("Dialect = %q, want postgres or sqlite", d)
		}
	})

	t.Run("MigrationsAreAppliedOnce", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if err := bundle.exec.MigrateUp(ctx); err != nil {
			t.Fatalf("MigrateUp(again): %v", err)
		}
		statuses, err := bundle.exec.MigrateStatus(ctx)
		if err != nil {
			t.Fatalf("MigrateStatus: %v", err)
		}
		if len(statuses) == 0 {
			t.Fatalf("MigrateStatus returned no migrations")
		}
		// Every embedded migration is applied, numbered 1, 2, 3 … without
		// a gap.
		for i, st := range statuses {
			if !st.Applied || st.Version != int64(i+1) || st.Name == "" {
				t.Errorf("MigrateStatus[%d] = %+v, want version %d applied, with a name", i, st, i+1)
			}
		}
	})

	t.Run("ClosedStoreReturnsErrClosed", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		bundle.exec.Close()
		_, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: newID()})
		checkErrIs(t, "JobGetByID after Close", err, store.ErrClosed)
		_, err = bundle.exec.JobList(ctx, &store.JobListParams{})
		checkErrIs(t, "JobList after Close", err, store.ErrClosed)
		_, err = bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{taskBuild(&TaskOpts{JobID: ptr(newID())})}})
		checkErrIs(t, "TaskInsertMany after Close", err, store.ErrClosed)
		_, err = bundle.exec.Begin(ctx)
		checkErrIs(t, "Begin after Close", err, store.ErrClosed)
		bundle.exec.Close() // a second Close is harmless
	})
}
