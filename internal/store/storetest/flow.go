package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func testFlowSpec(jobID uuid.UUID) model.FlowSpec {
	return model.FlowSpec{
		Nodes: []model.FlowNode{{Name: "a", JobID: jobID, Parameters: map[string]string{"x": "1"}}, {Name: "b", JobID: jobID}},
		Edges: []model.FlowEdge{{From: "a", To: "b", On: model.TriggerOnEnd}},
	}
}

func exerciseFlow(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("InsertGetUpdateDelete", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		spec := testFlowSpec(job.ID)
		f, err := bundle.exec.FlowInsert(ctx, &store.FlowInsertParams{ID: newID(), Description: "d", Name: "etl", Namespace: "team-a", Now: &bundle.now, Spec: spec, Status: model.JobEnabled})
		if err != nil {
			t.Fatalf("FlowInsert: %v", err)
		}
		if f.Name != "etl" || f.Namespace != "team-a" || len(f.Spec.Nodes) != 2 || f.Spec.Nodes[0].Parameters["x"] != "1" || f.Spec.Edges[0].On != model.TriggerOnEnd || !sameTime(f.CreatedAt, bundle.now) {
			t.Errorf("FlowInsert = %+v", f)
		}
		_, err = bundle.exec.FlowInsert(ctx, &store.FlowInsertParams{ID: newID(), Name: "etl", Namespace: "team-a", Spec: spec, Status: model.JobEnabled})
		checkErrIs(t, "FlowInsert(duplicate name)", err, store.ErrConflict)

		got, err := bundle.exec.FlowGetByID(ctx, &store.FlowGetByIDParams{ID: f.ID})
		if err != nil || got.Spec.Nodes[1].Name != "b" {
			t.Errorf("FlowGetByID = %+v, %v", got, err)
		}
		_, err = bundle.exec.FlowGetByID(ctx, &store.FlowGetByIDParams{ID: f.ID, Namespaces: []string{"other"}})
		checkErrIs(t, "FlowGetByID(other namespace)", err, store.ErrNotFound)

		spec.Nodes = spec.Nodes[:1]
		spec.Edges = nil
		up, err := bundle.exec.FlowUpdate(ctx, &store.FlowUpdateParams{ID: f.ID, Spec: spec, SpecDoUpdate: true, Status: model.JobDisabled, StatusDoUpdate: true})
		if err != nil || len(up.Spec.Nodes) != 1 || up.Status != model.JobDisabled || up.Name != "etl" {
			t.Errorf("FlowUpdate = %+v, %v", up, err)
		}
		list, err := bundle.exec.FlowList(ctx, &store.FlowListParams{Filter: store.Filter{{Field: "name", Op: store.OpEq, Value: "etl"}}})
		if n, _ := bundle.exec.FlowCount(ctx, &store.FlowCountParams{}); err != nil || len(list) != 1 || n != 1 {
			t.Errorf("FlowList = %d flows (count %d), %v; want 1", len(list), n, err)
		}
		if _, err := bundle.exec.FlowDelete(ctx, &store.FlowDeleteParams{ID: f.ID}); err != nil {
			t.Fatalf("FlowDelete: %v", err)
		}
		_, err = bundle.exec.FlowGetByID(ctx, &store.FlowGetByIDParams{ID: f.ID})
		checkErrIs(t, "FlowGetByID after delete", err, store.ErrNotFound)
	})

	t.Run("RunsAndTheirTasks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, nil)
		f, err := bundle.exec.FlowInsert(ctx, &store.FlowInsertParams{ID: newID(), Name: "etl", Namespace: "default", Spec: testFlowSpec(job.ID), Status: model.JobEnabled})
		if err != nil {
			t.Fatalf("FlowInsert: %v", err)
		}
		run, err := bundle.exec.FlowRunInsert(ctx, &store.FlowRunInsertParams{ID: newID(), FlowID: f.ID, Namespace: "default", Now: &bundle.now, Parameters: map[string]string{"p": "v"}, Spec: f.Spec, Status: model.TaskDoing})
		if err != nil || run.Status != model.TaskDoing || run.Parameters["p"] != "v" || len(run.Spec.Nodes) != 2 || run.FinishedAt != nil {
			t.Fatalf("FlowRunInsert = %+v, %v", run, err)
		}
		node := func(name string) *store.TaskInsert {
			return &store.TaskInsert{ID: newID(), Config: model.JobConfig{Command: "true"}, Event: []byte(`{"k":1}`), FlowNode: name, FlowRunID: &run.ID,
				JobID: job.ID, Namespace: "default", RunAt: bundle.now, ScheduledAt: bundle.now, Status: model.TaskPending}
		}
		tasks, err := bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{node("a")}})
		if err != nil || len(tasks) != 1 || tasks[0].FlowNode != "a" || tasks[0].FlowRunID == nil || *tasks[0].FlowRunID != run.ID || string(tasks[0].Event) != `{"k":1}` {
			t.Fatalf("TaskInsertMany(flow node) = %+v, %v", tasks, err)
		}
		_, err = bundle.exec.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{node("a")}})
		checkErrIs(t, "TaskInsertMany(the same node twice)", err, store.ErrConflict)
		byRun, err := bundle.exec.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{{Field: "flow_run_id", Op: store.OpEq, Value: run.ID}}})
		if err != nil || len(byRun) != 1 {
			t.Errorf("TaskList(flow_run_id) = %d tasks, %v; want 1", len(byRun), err)
		}
		err = store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			locked, err := ex.FlowRunLock(ctx, &store.FlowRunLockParams{ID: run.ID})
			if err != nil || locked.ID != run.ID {
				return errors.Join(err, errors.New("FlowRunLock returned another run"))
			}
			n, err := ex.FlowRunFinishIf(ctx, &store.FlowRunFinishIfParams{ID: run.ID, Now: bundle.at(time.Minute), Reason: "done", Status: model.TaskSucceeded})
			if err != nil || n != 1 {
				return errors.Join(err, errors.New("FlowRunFinishIf changed nothing"))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("lock and finish: %v", err)
		}
		if n, err := bundle.exec.FlowRunFinishIf(ctx, &store.FlowRunFinishIfParams{ID: run.ID, Status: model.TaskFailed}); err != nil || n != 0 {
			t.Errorf("FlowRunFinishIf(finished run) = %d, %v; want 0", n, err)
		}
		got, err := bundle.exec.FlowRunGetByID(ctx, &store.FlowRunGetByIDParams{ID: run.ID})
		if err != nil || got.Status != model.TaskSucceeded || got.Reason != "done" || !sameTimePtr(got.FinishedAt, bundle.at(time.Minute)) {
			t.Errorf("FlowRunGetByID = %+v, %v", got, err)
		}
		runs, err := bundle.exec.FlowRunList(ctx, &store.FlowRunListParams{Filter: store.Filter{{Field: "flow_id", Op: store.OpEq, Value: f.ID}}})
		if n, _ := bundle.exec.FlowRunCount(ctx, &store.FlowRunCountParams{}); err != nil || len(runs) != 1 || n != 1 {
			t.Errorf("FlowRunList = %d, count %d, %v", len(runs), n, err)
		}
		_, err = bundle.exec.FlowRunLock(ctx, &store.FlowRunLockParams{ID: newID()})
		if err == nil {
			t.Errorf("FlowRunLock(unknown) = nil error")
		}
	})
}
