package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// fullJobConfig uses every field of model.JobConfig, to check that it
// survives the database.
func fullJobConfig() model.JobConfig {
	return model.JobConfig{
		Command:     "/usr/bin/env",
		Args:        []string{"-i", "echo", "héllo wörld"},
		WorkDir:     "/tmp/work",
		Env:         map[string]string{"A": "1", "B_2": "two"},
		Timeout:     model.Duration(90 * time.Second),
		KillGrace:   model.Duration(5 * time.Second),
		Retry:       model.RetryPolicy{MaxAttempts: 3, Delay: model.Duration(1500 * time.Millisecond)},
		Labels:      map[string]string{"region": "eu", "gpu": "true"},
		OutputLimit: 1 << 20,
	}
}

func exerciseJob(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("LockManyCountsJobs", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		a := Job(ctx, t, bundle.exec, nil)
		b := Job(ctx, t, bundle.exec, nil)
		err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			n, err := ex.JobLockMany(ctx, &store.JobLockManyParams{IDs: []uuid.UUID{b.ID, a.ID, newID()}})
			if err != nil || n != 2 {
				t.Errorf("JobLockMany = %d, %v; want 2", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
	})

	t.Run("InsertAndGet", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		params := JobBuild(&JobOpts{
			Config:      ptr(fullJobConfig()),
			CreatedBy:   ptr("alice"),
			Description: ptr("nightly report"),
			Namespace:   ptr("team-a"),
			Now:         &bundle.now,
			Status:      ptr(model.JobDisabled),
		})
		inserted, err := bundle.exec.JobInsert(ctx, params)
		if err != nil {
			t.Fatalf("JobInsert: %v", err)
		}
		want := &model.Job{
			ID:          params.ID,
			Namespace:   "team-a",
			Name:        params.Name,
			Description: "nightly report",
			Status:      model.JobDisabled,
			Config:      fullJobConfig(),
			CreatedAt:   bundle.now,
			CreatedBy:   "alice",
			UpdatedAt:   bundle.now,
			UpdatedBy:   "alice",
		}
		checkJob(t, "JobInsert", inserted, want)
		got, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: params.ID})
		if err != nil {
			t.Fatalf("JobGetByID: %v", err)
		}
		checkJob(t, "JobGetByID", got, want)
	})

	t.Run("InsertUsesDatabaseClockWhenNowIsNil", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		before := time.Now()
		job := Job(ctx, t, bundle.exec, nil)
		lo, hi := clockWindow(before, time.Now())
		if !within(job.CreatedAt, lo, hi) || !job.UpdatedAt.Equal(job.CreatedAt) {
			t.Errorf("CreatedAt, UpdatedAt = %v, %v, want equal and within [%v, %v]", job.CreatedAt, job.UpdatedAt, lo, hi)
		}
		checkUTC(t, "JobInsert", &job.CreatedAt, &job.UpdatedAt)
	})

	t.Run("ReturnsTimesInUTC", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		local := bundle.now.In(time.FixedZone("UTC+8", 8*3600))
		job := Job(ctx, t, bundle.exec, &JobOpts{Now: &local})
		checkUTC(t, "JobInsert", &job.CreatedAt, &job.UpdatedAt)
		if !sameTime(job.CreatedAt, bundle.now) {
			t.Errorf("CreatedAt = %v, want %v", job.CreatedAt, bundle.now)
		}
	})

	t.Run("InsertDuplicateNameConflicts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a")})
		_, err := bundle.exec.JobInsert(ctx, JobBuild(&JobOpts{Name: &job.Name, Namespace: ptr("team-a")}))
		checkErrIs(t, "JobInsert(same namespace and name)", err, store.ErrConflict)
		if _, err := bundle.exec.JobInsert(ctx, JobBuild(&JobOpts{Name: &job.Name, Namespace: ptr("team-b")})); err != nil {
			t.Errorf("JobInsert(same name, other namespace) error = %v, want nil", err)
		}
	})

	t.Run("InsertDuplicateIDConflicts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		_, err := bundle.exec.JobInsert(ctx, JobBuild(&JobOpts{ID: &job.ID}))
		checkErrIs(t, "JobInsert(same id)", err, store.ErrConflict)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: newID()})
		checkErrIs(t, "JobGetByID(unknown)", err, store.ErrNotFound)
	})

	t.Run("GetRestrictedByNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a")})
		for _, tt := range []struct {
			namespaces []string
			found      bool
		}{
			{nil, true},
			{[]string{"team-a"}, true},
			{[]string{"team-b", "team-a"}, true},
			{[]string{"team-b"}, false},
			{[]string{}, false},
		} {
			_, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: job.ID, Namespaces: tt.namespaces})
			if tt.found && err != nil {
				t.Errorf("JobGetByID(namespaces %q) error = %v, want nil", tt.namespaces, err)
			}
			if !tt.found {
				checkErrIs(t, fmt.Sprintf("JobGetByID(namespaces %q)", tt.namespaces), err, store.ErrNotFound)
			}
		}
	})

	t.Run("UpdateChangesOnlyMarkedFields", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Description: ptr("old"), Now: &bundle.now})
		got, err := bundle.exec.JobUpdate(ctx, &store.JobUpdateParams{
			ID:                  job.ID,
			Config:              fullJobConfig(), // not marked: ignored
			Description:         "new",
			DescriptionDoUpdate: true,
			Name:                "ignored",
			Now:                 bundle.at(time.Minute),
			Status:              model.JobDisabled, // not marked: ignored
			UpdatedBy:           "bob",
		})
		if err != nil {
			t.Fatalf("JobUpdate: %v", err)
		}
		want := *job
		want.Description = "new"
		want.UpdatedAt = *bundle.at(time.Minute)
		want.UpdatedBy = "bob"
		checkJob(t, "JobUpdate", got, &want)
	})

	t.Run("UpdateChangesEveryMarkedField", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Now: &bundle.now})
		got, err := bundle.exec.JobUpdate(ctx, &store.JobUpdateParams{
			ID:                  job.ID,
			Config:              fullJobConfig(),
			ConfigDoUpdate:      true,
			Description:         "described",
			DescriptionDoUpdate: true,
			Name:                "renamed",
			NameDoUpdate:        true,
			Now:                 bundle.at(time.Minute),
			Status:              model.JobDisabled,
			StatusDoUpdate:      true,
			UpdatedBy:           "bob",
		})
		if err != nil {
			t.Fatalf("JobUpdate: %v", err)
		}
		want := *job
		want.Config = fullJobConfig()
		want.Description = "described"
		want.Name = "renamed"
		want.Status = model.JobDisabled
		want.UpdatedAt = *bundle.at(time.Minute)
		want.UpdatedBy = "bob"
		checkJob(t, "JobUpdate", got, &want)
	})

	t.Run("UpdateNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.JobUpdate(ctx, &store.JobUpdateParams{ID: newID(), Name: "x", NameDoUpdate: true})
		checkErrIs(t, "JobUpdate(unknown)", err, store.ErrNotFound)
	})

	t.Run("UpdateDuplicateNameConflicts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		first := Job(ctx, t, bundle.exec, nil)
		second := Job(ctx, t, bundle.exec, nil)
		_, err := bundle.exec.JobUpdate(ctx, &store.JobUpdateParams{ID: second.ID, Name: first.Name, NameDoUpdate: true})
		checkErrIs(t, "JobUpdate(taken name)", err, store.ErrConflict)
		got, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: second.ID})
		if err != nil {
			t.Fatalf("JobGetByID: %v", err)
		}
		if got.Name != second.Name {
			t.Errorf("Name after refused update = %q, want %q", got.Name, second.Name)
		}
	})

	t.Run("UpdateRestrictedByNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a")})
		_, err := bundle.exec.JobUpdate(ctx, &store.JobUpdateParams{
			ID: job.ID, Description: "x", DescriptionDoUpdate: true, Namespaces: []string{"team-b"},
		})
		checkErrIs(t, "JobUpdate(other namespace)", err, store.ErrNotFound)
		got, err := bundle.exec.JobUpdate(ctx, &store.JobUpdateParams{
			ID: job.ID, Description: "x", DescriptionDoUpdate: true, Namespaces: []string{"team-a"},
		})
		if err != nil {
			t.Fatalf("JobUpdate(own namespace): %v", err)
		}
		if got.Description != "x" {
			t.Errorf("Description = %q, want %q", got.Description, "x")
		}
	})

	t.Run("DeleteReturnsJob", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Config: ptr(fullJobConfig()), Now: &bundle.now})
		got, err := bundle.exec.JobDelete(ctx, &store.JobDeleteParams{ID: job.ID})
		if err != nil {
			t.Fatalf("JobDelete: %v", err)
		}
		checkJob(t, "JobDelete", got, job)
		_, err = bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: job.ID})
		checkErrIs(t, "JobGetByID(deleted)", err, store.ErrNotFound)
		_, err = bundle.exec.JobDelete(ctx, &store.JobDeleteParams{ID: job.ID})
		checkErrIs(t, "JobDelete(deleted)", err, store.ErrNotFound)
	})

	t.Run("DeleteRestrictedByNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a")})
		_, err := bundle.exec.JobDelete(ctx, &store.JobDeleteParams{ID: job.ID, Namespaces: []string{"team-b"}})
		checkErrIs(t, "JobDelete(other namespace)", err, store.ErrNotFound)
		if _, err := bundle.exec.JobGetByID(ctx, &store.JobGetByIDParams{ID: job.ID}); err != nil {
			t.Errorf("JobGetByID after refused delete error = %v, want nil", err)
		}
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		other := Job(ctx, t, bundle.exec, nil)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{JobID: &job.ID})
		task := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, ScheduleID: &sched.ID})
		ti := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{TaskID: &task.ID})
		if _, err := bundle.exec.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{
			Items: []*store.TaskLogUpsert{{InstanceID: ti.ID, StdoutBytes: 1}},
		}); err != nil {
			t.Fatalf("TaskLogUpsertMany: %v", err)
		}
		otherTask := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &other.ID})

		if _, err := bundle.exec.JobDelete(ctx, &store.JobDeleteParams{ID: job.ID}); err != nil {
			t.Fatalf("JobDelete: %v", err)
		}
		_, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		checkErrIs(t, "ScheduleGetByID after job delete", err, store.ErrNotFound)
		_, err = bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
		checkErrIs(t, "TaskGetByID after job delete", err, store.ErrNotFound)
		_, err = bundle.exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: ti.ID})
		checkErrIs(t, "TaskInstanceGetByID after job delete", err, store.ErrNotFound)
		_, err = bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: ti.ID})
		checkErrIs(t, "TaskLogGetByInstanceID after job delete", err, store.ErrNotFound)
		if _, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: otherTask.ID}); err != nil {
			t.Errorf("TaskGetByID(other job's task) error = %v, want nil", err)
		}
	})
}

// checkJob compares two jobs, times to the microsecond, and checks that the
// times are UTC.
func checkJob(t *testing.T, what string, got, want *model.Job) {
	t.Helper()
	checkUTC(t, what, &got.CreatedAt, &got.UpdatedAt)
	g, w := *got, *want
	if !sameTime(g.CreatedAt, w.CreatedAt) || !sameTime(g.UpdatedAt, w.UpdatedAt) {
		t.Errorf("%s: CreatedAt, UpdatedAt = %v, %v, want %v, %v", what, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
	}
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", what, g, w)
	}
}

// jobIDs returns the ids of jobs, in order.
func jobIDs(jobs []*model.Job) []uuid.UUID {
	ids := make([]uuid.UUID, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}
