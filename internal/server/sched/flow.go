package sched

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// StartFlowRun records a run of flow with the given parameters and creates
// the tasks of its root nodes, in the caller's transaction.
func StartFlowRun(ctx context.Context, ex store.Executor, flow *model.Flow, params map[string]string, reason string, now time.Time) (*model.FlowRun, error) {
	run, err := ex.FlowRunInsert(ctx, &store.FlowRunInsertParams{
		ID: uuid.Must(uuid.NewV7()), FlowID: flow.ID, Namespace: flow.Namespace, Now: &now,
		Parameters: params, Reason: reason, Spec: flow.Spec, Status: model.TaskDoing,
	})
	if err != nil {
		return nil, fmt.Errorf("record flow run: %w", err)
	}
	var inserts []*store.TaskInsert
	for _, n := range run.Spec.Roots() {
		ti, err := nodeTask(ctx, ex, run, n, now)
		if err != nil {
			return nil, err
		}
		inserts = append(inserts, ti)
	}
	if _, err := ex.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: inserts}); err != nil {
		return nil, fmt.Errorf("start flow run: %w", err)
	}
	return run, nil
}

// nodeTask builds the task of one node of a run. Its parameters are the
// job's defaults, then the node's, then the run's, each kept only when the
// job declares it (a job that declares none takes them all). A node whose
// job is gone becomes a Failed task that says so.
func nodeTask(ctx context.Context, ex store.Executor, run *model.FlowRun, n model.FlowNode, now time.Time) (*store.TaskInsert, error) {
	runID := run.ID
	ti := &store.TaskInsert{
		ID: uuid.Must(uuid.NewV7()), FlowNode: n.Name, FlowRunID: &runID, JobID: n.JobID, Namespace: run.Namespace,
		RunAt: now, ScheduledAt: now, Status: model.TaskPending, Reason: fmt.Sprintf("flow run %s, node %s", run.ID, n.Name),
	}
	job, err := ex.JobGetByID(ctx, &store.JobGetByIDParams{ID: n.JobID})
	if errors.Is(err, store.ErrNotFound) {
		// The task must still belong to an existing job; without one the
		// node cannot be recorded, so the run fails here.
		return nil, fmt.Errorf("flow node %s: job %s no longer exists", n.Name, n.JobID)
	}
	if err != nil {
		return nil, fmt.Errorf("load job of node %s: %w", n.Name, err)
	}
	params := model.DefaultParams(job.Config.Params)
	if params == nil {
		params = map[string]string{}
	}
	declared := func(k string) bool {
		if len(job.Config.Params) == 0 {
			return true
		}
		for _, p := range job.Config.Params {
			if p.Name == k {
				return true
			}
		}
		return false
	}
	for _, layer := range []map[string]string{n.Parameters, run.Parameters} {
		for k, v := range layer {
			if declared(k) {
				params[k] = v
			}
		}
	}
	cfg, err := model.RenderConfig(job.Config, params)
	if err != nil {
		cfg = job.Config
	}
	ti.Config, ti.Parameters, ti.Namespace = cfg, params, job.Namespace
	return ti, nil
}

// advanceFlows moves the flow runs of finished tasks on: nodes whose
// upstream all ended are started when every incoming edge's condition holds,
// or recorded Skipped when one cannot; a run whose nodes all ended is
// finished. Each run is locked while it is decided, so two nodes ending at
// once cannot both start (or both miss) the node they lead to. It returns how
// many node tasks it started.
func advanceFlows(ctx context.Context, ex store.Executor, done []Finished, now time.Time) (int, error) {
	runs := map[uuid.UUID]bool{}
	var ids []uuid.UUID
	for _, d := range done {
		if id := d.Task.FlowRunID; id != nil && !runs[*id] {
			runs[*id] = true
			ids = append(ids, *id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	started := 0
	for _, id := range ids {
		n, err := advanceFlow(ctx, ex, id, now)
		if err != nil {
			return started, err
		}
		started += n
	}
	return started, nil
}

func advanceFlow(ctx context.Context, ex store.Executor, runID uuid.UUID, now time.Time) (int, error) {
	run, err := ex.FlowRunLock(ctx, &store.FlowRunLockParams{ID: runID})
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // the flow was deleted with its runs
	}
	if err != nil {
		return 0, fmt.Errorf("lock flow run %s: %w", runID, err)
	}
	if run.Status != model.TaskDoing {
		return 0, nil
	}
	tasks, err := ex.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{{Field: "flow_run_id", Op: store.OpEq, Value: runID}}, Limit: store.MaxPageLimit})
	if err != nil {
		return 0, fmt.Errorf("load flow run tasks: %w", err)
	}
	status := map[string]model.TaskStatus{}
	for _, t := range tasks {
		status[t.FlowNode] = t.Status
	}
	incoming := map[string][]model.FlowEdge{}
	for _, e := range run.Spec.Edges {
		incoming[e.To] = append(incoming[e.To], e)
	}
	var inserts []*store.TaskInsert
	started := 0
	// Decide nodes until nothing changes: a skipped node may decide the
	// nodes after it at once.
	for changed := true; changed; {
		changed = false
		for _, n := range run.Spec.Nodes {
			if _, has := status[n.Name]; has {
				continue
			}
			ready, run2, why := nodeReady(incoming[n.Name], status)
			if !ready {
				continue
			}
			changed = true
			if !run2 {
				status[n.Name] = model.TaskSkipped
				inserts = append(inserts, &store.TaskInsert{
					ID: uuid.Must(uuid.NewV7()), Config: model.JobConfig{Command: "true"}, FlowNode: n.Name, FlowRunID: &run.ID,
					JobID: n.JobID, Namespace: run.Namespace, RunAt: now, ScheduledAt: now, Status: model.TaskSkipped,
					Reason: "flow: " + why,
				})
				continue
			}
			ti, err := nodeTask(ctx, ex, run, n, now)
			if err != nil {
				return started, err
			}
			status[n.Name] = model.TaskPending
			inserts = append(inserts, ti)
			started++
		}
	}
	if len(inserts) > 0 {
		if _, err := ex.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: inserts}); err != nil {
			return 0, fmt.Errorf("advance flow run %s: %w", run.ID, err)
		}
	}
	if final, reason := flowOutcome(run.Spec, status); final != 0 {
		if _, err := ex.FlowRunFinishIf(ctx, &store.FlowRunFinishIfParams{ID: run.ID, Now: &now, Reason: reason, Status: final}); err != nil {
			return started, fmt.Errorf("finish flow run %s: %w", run.ID, err)
		}
	}
	return started, nil
}

// nodeReady says whether a node can be decided (every upstream node ended)
// and, if so, whether it runs (every incoming edge's condition holds) or is
// skipped, and why.
func nodeReady(in []model.FlowEdge, status map[string]model.TaskStatus) (ready, runs bool, why string) {
	runs = true
	for _, e := range in {
		st, has := status[e.From]
		if !has || !st.Final() {
			return false, false, ""
		}
		if st == model.TaskSkipped || !triggerMatches(e.EffectiveOn(), st) {
			runs = false
			why = fmt.Sprintf("%s ended %s and the edge to here needs %s", e.From, st, e.EffectiveOn())
		}
	}
	return true, runs, why
}

// flowOutcome returns the run's final status once every node ended, and 0
// while some have not. A node that failed or was cancelled fails (or
// cancels) the run unless the flow handles it: it has an outgoing edge on
// failure or end.
func flowOutcome(spec model.FlowSpec, status map[string]model.TaskStatus) (model.TaskStatus, string) {
	handled := map[string]bool{}
	for _, e := range spec.Edges {
		if on := e.EffectiveOn(); on == model.TriggerOnFailure || on == model.TriggerOnEnd {
			handled[e.From] = true
		}
	}
	var failed, cancelled []string
	for _, n := range spec.Nodes {
		st, has := status[n.Name]
		if !has || !st.Final() {
			return 0, ""
		}
		switch {
		case handled[n.Name]:
		case st == model.TaskFailed:
			failed = append(failed, n.Name)
		case st == model.TaskCancelled:
			cancelled = append(cancelled, n.Name)
		}
	}
	switch {
	case len(failed) > 0:
		return model.TaskFailed, "node failed: " + strings.Join(failed, ", ")
	case len(cancelled) > 0:
		return model.TaskCancelled, "node cancelled: " + strings.Join(cancelled, ", ")
	}
	return model.TaskSucceeded, ""
}
