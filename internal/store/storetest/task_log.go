package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseTaskLog(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("UpsertManyInsertsThenReplacesSizes", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		a := TaskInstance(ctx, t, bundle.exec, nil)
		b := TaskInstance(ctx, t, bundle.exec, nil)
		n, err := bundle.exec.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{
			Items: []*store.TaskLogUpsert{{InstanceID: a.ID, StdoutBytes: 10, StderrBytes: 1}, {InstanceID: b.ID, StdoutBytes: 20}},
			Now:   &bundle.now,
		})
		if err != nil {
			t.Fatalf("TaskLogUpsertMany: %v", err)
		}
		checkCount(t, "TaskLogUpsertMany", n, 2)
		n, err = bundle.exec.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{
			Items: []*store.TaskLogUpsert{{InstanceID: a.ID, StdoutBytes: 15, StderrBytes: 2}},
			Now:   bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("TaskLogUpsertMany(again): %v", err)
		}
		checkCount(t, "TaskLogUpsertMany(again)", n, 1)
		for _, tt := range []struct {
			id             uuid.UUID
			stdout, stderr int64
			updated        time.Time
		}{
			{a.ID, 15, 2, *bundle.at(time.Second)},
			{b.ID, 20, 0, bundle.now},
		} {
			id := tt.id
			got, err := bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: id})
			if err != nil {
				t.Fatalf("TaskLogGetByInstanceID: %v", err)
			}
			checkUTC(t, "TaskLogGetByInstanceID", &got.UpdatedAt)
			if got.InstanceID != id || got.StdoutBytes != tt.stdout || got.StderrBytes != tt.stderr || !sameTime(got.UpdatedAt, tt.updated) {
				t.Errorf("TaskLogGetByInstanceID = %+v, want %s, %d, %d, %v", got, id, tt.stdout, tt.stderr, tt.updated)
			}
		}
	})

	t.Run("UpsertManyLastItemWins", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		if _, err := bundle.exec.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{
			Items: []*store.TaskLogUpsert{{InstanceID: ti.ID, StdoutBytes: 1}, {InstanceID: ti.ID, StdoutBytes: 2}},
		}); err != nil {
			t.Fatalf("TaskLogUpsertMany: %v", err)
		}
		got, err := bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: ti.ID})
		if err != nil {
			t.Fatalf("TaskLogGetByInstanceID: %v", err)
		}
		if got.StdoutBytes != 2 {
			t.Errorf("StdoutBytes = %d, want 2", got.StdoutBytes)
		}
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		_, err := bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: ti.ID})
		checkErrIs(t, "TaskLogGetByInstanceID(no output yet)", err, store.ErrNotFound)
	})
}
