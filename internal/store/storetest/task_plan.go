package storetest

import (
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseTaskPlan(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("SetConfigPendingChangesOnlyUndispatchedFires", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		other := Job(ctx, t, bundle.exec, nil)
		s := Schedule(ctx, t, bundle.exec, &ScheduleOpts{JobID: &job.ID})
		planned := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, ScheduleID: &s.ID})
		manual := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID})
		doing := model.TaskDoing
		running := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &job.ID, ScheduleID: &s.ID, ScheduledAt: bundle.at(time.Second), Status: &doing})
		elsewhere := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &other.ID})

		cfg := model.JobConfig{Script: "echo v2", Params: []model.ParamSpec{{Name: "who", Default: "world"}}}
		n, err := bundle.exec.TaskSetConfigPending(ctx, &store.TaskSetConfigPendingParams{JobID: job.ID, Config: cfg, Parameters: map[string]string{"who": "world"}, Now: bundle.at(time.Minute)})
		if err != nil || n != 1 {
			t.Fatalf("TaskSetConfigPending = %d, %v; want 1 (the planned fire only)", n, err)
		}
		got, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: planned.ID})
		if err != nil || got.Config.Script != "echo v2" || got.Parameters["who"] != "world" || !sameTime(got.UpdatedAt, *bundle.at(time.Minute)) {
			t.Errorf("planned task = %+v, %v; want the new script and parameters", got, err)
		}
		for _, keep := range []*model.Task{manual, running, elsewhere} {
			got, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: keep.ID})
			if err != nil || got.Config.Script != keep.Config.Script {
				t.Errorf("task %s script = %q, want it unchanged (%q)", keep.ID, got.Config.Script, keep.Config.Script)
			}
		}
	})
}
