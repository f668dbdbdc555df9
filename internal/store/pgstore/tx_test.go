package pgstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

type roundTripper interface{ RoundTrips() uint64 }

// TestTransactionRoundTrips checks that a transaction's BEGIN travels with
// its first statement, whichever kind that statement is (rows, one row, no
// rows), and the writes kept for its commit (store.AtCommit) with COMMIT,
// and that such a transaction commits, rolls back and fails as any other.
func TestTransactionRoundTrips(t *testing.T) {
	t.Parallel()
	st := teststore.Postgres(t)
	ctx := t.Context()
	trips := func() uint64 { return st.(roundTripper).RoundTrips() }
	begin := func() store.Tx {
		t.Helper()
		tx, err := st.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		return tx
	}
	jobExists := func(id uuid.UUID) bool {
		t.Helper()
		_, err := st.JobGetByID(ctx, &store.JobGetByIDParams{ID: id})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("JobGetByID: %v", err)
		}
		return err == nil
	}

	t.Run("EmptySendsNothing", func(t *testing.T) {
		before := trips()
		if err := begin().Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := begin().Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if n := trips() - before; n != 0 {
			t.Errorf("two empty transactions made %d round trips, want 0", n)
		}
	})

	t.Run("OneRowFirst", func(t *testing.T) {
		before := trips()
		tx := begin()
		job, err := tx.JobInsert(ctx, storetest.JobBuild(nil))
		if err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		got, err := tx.JobGetByID(ctx, &store.JobGetByIDParams{ID: job.ID})
		if err != nil || got.Name != job.Name {
			t.Fatalf("JobGetByID in the transaction = %+v, %v", got, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if n := trips() - before; n != 3 {
			t.Errorf("two statements and a commit made %d round trips, want 3", n)
		}
		if !jobExists(job.ID) {
			t.Errorf("committed job is not there")
		}
	})

	t.Run("NoRowFirst", func(t *testing.T) {
		tx := begin()
		if _, err := tx.JobGetByID(ctx, &store.JobGetByIDParams{ID: uuid.New()}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("JobGetByID of nothing = %v, want ErrNotFound", err)
		}
		job, err := tx.JobInsert(ctx, storetest.JobBuild(nil))
		if err != nil {
			t.Fatalf("JobInsert after a miss: %v", err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if !jobExists(job.ID) {
			t.Errorf("committed job is not there")
		}
	})

	t.Run("RowsFirst", func(t *testing.T) {
		a := storetest.Job(ctx, t, st, nil)
		b := storetest.Job(ctx, t, st, nil)
		before := trips()
		tx := begin()
		n, err := tx.JobLockMany(ctx, &store.JobLockManyParams{IDs: []uuid.UUID{a.ID, b.ID, uuid.New()}})
		if err != nil || n != 2 {
			t.Fatalf("JobLockMany = %d, %v; want 2", n, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if n := trips() - before; n != 2 {
			t.Errorf("one statement and a commit made %d round trips, want 2", n)
		}
	})

	t.Run("NoResultFirst", func(t *testing.T) {
		tx := begin()
		now := time.Now()
		if n, err := tx.LeaderRelease(ctx, &store.LeaderReleaseParams{Name: "nobody", Holder: "x", Epoch: 1, Now: &now}); err != nil || n != 0 {
			t.Fatalf("LeaderRelease = %d, %v; want 0", n, err)
		}
		job, err := tx.JobInsert(ctx, storetest.JobBuild(nil))
		if err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if jobExists(job.ID) {
			t.Errorf("rolled back job is there")
		}
	})

	t.Run("FailedFirstStatementFailsTheCommit", func(t *testing.T) {
		params := storetest.JobBuild(nil)
		storetest.Job(ctx, t, st, &storetest.JobOpts{ID: &params.ID})
		tx := begin()
		if _, err := tx.JobInsert(ctx, params); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("JobInsert of a taken id = %v, want ErrConflict", err)
		}
		if err := tx.Commit(ctx); err == nil {
			t.Fatalf("Commit after a failed statement succeeded")
		}
		// The connection went back to the pool usable, or not at all.
		for range 10 {
			if _, err := st.JobCount(ctx, &store.JobCountParams{}); err != nil {
				t.Fatalf("JobCount after the failed transaction: %v", err)
			}
		}
	})

	t.Run("RolledBackFirstStatementLeavesNothing", func(t *testing.T) {
		tx := begin()
		job, err := tx.JobInsert(ctx, storetest.JobBuild(nil))
		if err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("second Rollback: %v", err)
		}
		if jobExists(job.ID) {
			t.Errorf("rolled back job is there")
		}
	})

	t.Run("KeptWritesGoOutWithTheCommit", func(t *testing.T) {
		tx := begin()
		atCommit := store.AtCommit(tx)
		if atCommit == store.Executor(tx) {
			t.Fatalf("the transaction cannot keep writes for its commit")
		}
		before := trips()
		job, err := tx.JobInsert(ctx, storetest.JobBuild(nil))
		if err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		if _, err := atCommit.AuditInsert(ctx, &store.AuditInsertParams{Actor: "alice", ActorKind: "user", Action: "create-job", ObjectType: "job", ObjectID: job.ID.String(), Diff: []byte(`{"name":{"to":"x"}}`)}); err != nil {
			t.Fatalf("AuditInsert kept for the commit: %v", err)
		}
		n, err := atCommit.LeaderRelease(ctx, &store.LeaderReleaseParams{Name: "nobody", Holder: "x", Epoch: 1})
		if err != nil || n != 0 {
			t.Fatalf("LeaderRelease kept for the commit = %d, %v; want 0 (not run yet)", n, err)
		}
		if _, err := atCommit.JobLockMany(ctx, &store.JobLockManyParams{IDs: []uuid.UUID{job.ID}}); err == nil {
			t.Errorf("a query for rows kept for the commit succeeded")
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if n := trips() - before; n != 2 {
			t.Errorf("a write, two writes kept for the commit and the commit made %d round trips, want 2", n)
		}
		if !jobExists(job.ID) || len(auditEntries(t, st, job.ID.String())) != 1 {
			t.Errorf("after commit: job there %v, audit entries %d; want the job and one entry", jobExists(job.ID), len(auditEntries(t, st, job.ID.String())))
		}
	})

	t.Run("FailedKeptWriteFailsTheCommit", func(t *testing.T) {
		tx := begin()
		job, err := tx.JobInsert(ctx, storetest.JobBuild(nil))
		if err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		// Text cannot hold NUL: the insert fails at the commit.
		if _, err := store.AtCommit(tx).AuditInsert(ctx, &store.AuditInsertParams{Action: "create-job\x00", ObjectID: job.ID.String()}); err != nil {
			t.Fatalf("AuditInsert kept for the commit: %v", err)
		}
		err = tx.Commit(ctx)
		if err == nil || !strings.Contains(err.Error(), "AuditInsert at commit") {
			t.Fatalf("Commit with an audit entry that cannot be written = %v, want an error naming AuditInsert", err)
		}
		if jobExists(job.ID) || len(auditEntries(t, st, job.ID.String())) != 0 {
			t.Errorf("after a failed commit the job or its entry is there")
		}
		for range 10 {
			if _, err := st.JobCount(ctx, &store.JobCountParams{}); err != nil {
				t.Fatalf("JobCount after the failed commit: %v", err)
			}
		}
	})

	t.Run("RollbackDropsKeptWrites", func(t *testing.T) {
		tx := begin()
		id := uuid.NewString()
		if _, err := store.AtCommit(tx).AuditInsert(ctx, &store.AuditInsertParams{Action: "create-job", ObjectID: id}); err != nil {
			t.Fatalf("AuditInsert kept for the commit: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if n := len(auditEntries(t, st, id)); n != 0 {
			t.Errorf("%d audit entries after a rollback, want 0", n)
		}
	})

	t.Run("UseAfterEndFails", func(t *testing.T) {
		tx := begin()
		if _, err := tx.JobInsert(ctx, storetest.JobBuild(nil)); err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if _, err := tx.JobInsert(ctx, storetest.JobBuild(nil)); err == nil {
			t.Errorf("JobInsert after Commit succeeded")
		}
		if _, err := tx.JobLockMany(ctx, &store.JobLockManyParams{IDs: []uuid.UUID{uuid.New()}}); err == nil {
			t.Errorf("JobLockMany after Commit succeeded")
		}
		if _, err := store.AtCommit(tx).AuditInsert(ctx, &store.AuditInsertParams{Action: "x"}); err == nil {
			t.Errorf("a write kept for a commit that happened succeeded")
		}
		empty := begin()
		if err := empty.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if _, err := empty.JobGetByID(ctx, &store.JobGetByIDParams{ID: uuid.New()}); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("JobGetByID after Rollback = %v, want a closed-transaction error", err)
		}
	})

}

// auditEntries lists the audit entries about object.
func auditEntries(t *testing.T, st store.Store, object string) []*model.AuditEntry {
	t.Helper()
	all, err := st.AuditList(t.Context(), &store.AuditListParams{Limit: store.MaxAuditPage})
	if err != nil {
		t.Fatalf("AuditList: %v", err)
	}
	var out []*model.AuditEntry
	for _, e := range all {
		if e.ObjectID == object {
			out = append(out, e)
		}
	}
	return out
}
