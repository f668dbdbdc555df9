package storetest

import (
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseStats(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("TaskFinishedHistogramBucketsAndNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		finish := func(ns string, at time.Duration, status model.TaskStatus) {
			t.Helper()
			job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: &ns})
			task := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, Namespace: &ns})
			if _, err := bundle.exec.TaskSetStateIf(ctx, &store.TaskSetStateIfParams{ID: task.ID, FromStatuses: []model.TaskStatus{model.TaskPending}, Status: status, Now: bundle.at(at)}); err != nil {
				t.Fatalf("TaskSetStateIf: %v", err)
			}
		}
		finish("a", 1*time.Minute, model.TaskSucceeded)
		finish("a", 2*time.Minute, model.TaskFailed)
		finish("b", 3*time.Minute, model.TaskSucceeded)
		finish("a", 25*time.Minute, model.TaskSucceeded)
		finish("a", 70*time.Minute, model.TaskSucceeded) // after To
		finish("a", -time.Minute, model.TaskSucceeded)   // before From
		// A task that has not finished is not counted.
		Task(ctx, t, bundle.exec, &TaskOpts{})

		got, err := bundle.exec.TaskFinishedHistogram(ctx, &store.TaskFinishedHistogramParams{From: bundle.now, To: bundle.now.Add(time.Hour), Step: 10 * time.Minute})
		if err != nil {
			t.Fatalf("TaskFinishedHistogram: %v", err)
		}
		want := []store.TaskFinishedBucket{{Bucket: 0, Total: 3, Succeeded: 2}, {Bucket: 2, Total: 1, Succeeded: 1}}
		if len(got) != len(want) {
			t.Fatalf("TaskFinishedHistogram: %d buckets, want %d", len(got), len(want))
		}
		for i := range want {
			if *got[i] != want[i] {
				t.Errorf("bucket %d = %+v, want %+v", i, *got[i], want[i])
			}
		}
		got, err = bundle.exec.TaskFinishedHistogram(ctx, &store.TaskFinishedHistogramParams{From: bundle.now, To: bundle.now.Add(time.Hour), Step: time.Hour, Namespaces: []string{"b"}})
		if err != nil {
			t.Fatalf("TaskFinishedHistogram(b): %v", err)
		}
		if len(got) != 1 || *got[0] != (store.TaskFinishedBucket{Bucket: 0, Total: 1, Succeeded: 1}) {
			t.Fatalf("TaskFinishedHistogram(b) = %v, want one bucket of 1", got)
		}
		if _, err := bundle.exec.TaskFinishedHistogram(ctx, &store.TaskFinishedHistogramParams{From: bundle.now, To: bundle.now.Add(time.Hour)}); err == nil {
			t.Fatal("TaskFinishedHistogram with no step: no error")
		}
	})
}
