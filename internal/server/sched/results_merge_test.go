package sched

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestWithoutFinished(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	finishedID, otherAgentID, runningID := uuid.New(), uuid.New(), uuid.New()
	starts := []*store.TaskInstanceStart{
		{ID: finishedID, AgentID: "a", StartedAt: t0},
		{ID: otherAgentID, AgentID: "b", StartedAt: t0},
		{ID: runningID, AgentID: "a", StartedAt: t0},
	}
	fin := &store.TaskInstanceFinish{ID: finishedID, AgentID: "a", Status: model.InstanceSucceeded}
	// A finish from another agent than the start's must not swallow it.
	stranger := &store.TaskInstanceFinish{ID: otherAgentID, AgentID: "a", Status: model.InstanceSucceeded}
	kept := withoutFinished(starts, []*store.TaskInstanceFinish{fin, stranger})
	if len(kept) != 2 || kept[0].ID != otherAgentID || kept[1].ID != runningID {
		t.Errorf("kept starts %v, want those of %s and %s", kept, otherAgentID, runningID)
	}
	if fin.StartedAt == nil || !fin.StartedAt.Equal(t0) {
		t.Errorf("finish started at %v, want the dropped start's %v", fin.StartedAt, t0)
	}
	// A finish that knows its start keeps it.
	own := t0.Add(time.Second)
	fin2 := &store.TaskInstanceFinish{ID: finishedID, AgentID: "a", StartedAt: &own}
	withoutFinished([]*store.TaskInstanceStart{{ID: finishedID, AgentID: "a", StartedAt: t0}}, []*store.TaskInstanceFinish{fin2})
	if !fin2.StartedAt.Equal(own) {
		t.Errorf("finish started at %v, want its own %v", fin2.StartedAt, own)
	}
}

func TestWithoutRecorded(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started, finished, lost, heldOnly, strangers := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	acks := map[string][]uuid.UUID{
		"a": {started, finished, lost, heldOnly, strangers},
		"b": {started},
	}
	starts := []*store.TaskInstanceStart{{ID: started, AgentID: "a", StartedAt: t0}}
	finishes := []*store.TaskInstanceFinish{
		{ID: finished, AgentID: "a", Status: model.InstanceSucceeded, Acked: true},
		// A server-side end does not record the ack, and another agent's
		// report does not answer for this one's ack.
		{ID: lost, AgentID: "a", Status: model.InstanceLost},
		{ID: strangers, AgentID: "c", Status: model.InstanceSucceeded, Acked: true},
	}
	got := withoutRecorded(acks, starts, finishes)
	if want := []uuid.UUID{lost, heldOnly, strangers}; !slices.Equal(got["a"], want) {
		t.Errorf("agent a's acks kept = %v, want %v", got["a"], want)
	}
	if want := []uuid.UUID{started}; !slices.Equal(got["b"], want) {
		t.Errorf("agent b's acks kept = %v, want %v (the start is agent a's)", got["b"], want)
	}
	all := withoutRecorded(map[string][]uuid.UUID{"a": {started}}, starts, nil)
	if _, ok := all["a"]; ok || len(all) != 0 {
		t.Errorf("acks kept = %v, want none: an agent left with no ack goes", all)
	}
}

// ackCounting counts the ack statements a store is asked for, in and out
// of transactions.
type ackCounting struct {
	store.Store
	acks *atomic.Int32
}

func (s ackCounting) TaskInstanceAckMany(ctx context.Context, p *store.TaskInstanceAckManyParams) (int, error) {
	s.acks.Add(1)
	return s.Store.TaskInstanceAckMany(ctx, p)
}

func (s ackCounting) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return ackCountingTx{Tx: tx, acks: s.acks}, nil
}

type ackCountingTx struct {
	store.Tx
	acks *atomic.Int32
}

func (tx ackCountingTx) TaskInstanceAckMany(ctx context.Context, p *store.TaskInstanceAckManyParams) (int, error) {
	tx.acks.Add(1)
	return tx.Tx.TaskInstanceAckMany(ctx, p)
}

// TestResultsFoldAShortRun: the ack, start and end of a run in one batch
// leave the same record as three batches would, and no ack statement: the
// finish records the ack.
func TestResultsFoldAShortRun(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := o.Open(t)
			task, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceDispatched, nil)
			_, held := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceDispatched, nil)
			var acks atomic.Int32
			counted := ackCounting{Store: st, acks: &acks}
			r := NewResults(ResultsConfig{ServerID: "server-1", AckTimeout: 10 * time.Second}, counted, newLogs(t, st), Wakers{}, lifecycletest.WarnLogger(t))
			r.TestSignals.Init()
			start := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
			exit := 0
			// Queued before the writer starts, so they make one batch. The
			// done report carries no start time: the running report's is kept.
			for _, rep := range []*Report{
				{AgentID: "agent-1", Acked: []uuid.UUID{in.ID}},
				{AgentID: "agent-1", Running: &protocol.TaskRunning{InstanceID: in.ID, StartedAt: start}},
				{AgentID: "agent-1", Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, FinishedAt: start.Add(time.Millisecond)}},
			} {
				if err := r.Submit(ctx, rep); err != nil {
					t.Fatalf("Submit: %v", err)
				}
			}
			if err := r.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(r.Stop)
			if n := r.TestSignals.Applied.Wait(t); n != 3 {
				t.Fatalf("first batch applied %d reports, want all 3", n)
			}
			got := getInstance(ctx, t, st, in.ID)
			if got.Status != model.InstanceSucceeded || got.StartedAt == nil || !got.StartedAt.Equal(start) || got.AckedAt == nil || got.FinishedAt == nil {
				t.Errorf("instance = %s started %v acked %v finished %v; want succeeded, started at %v, acked, finished",
					got.Status, got.StartedAt, got.AckedAt, got.FinishedAt, start)
			}
			if tk := getTask(ctx, t, st, task.ID); tk.Status != model.TaskSucceeded {
				t.Errorf("task = %s, want succeeded", tk.Status)
			}
			if n := acks.Load(); n != 0 {
				t.Errorf("%d ack statements for a run the batch finished, want 0", n)
			}
			// An ack the batch does not settle is written.
			if err := r.Submit(ctx, &Report{AgentID: "agent-1", Acked: []uuid.UUID{held.ID}}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			r.TestSignals.Applied.Wait(t)
			if got := getInstance(ctx, t, st, held.ID); got.Status != model.InstanceAcked || acks.Load() != 1 {
				t.Errorf("held instance = %s after %d ack statements, want acked after 1", got.Status, acks.Load())
			}
		})
	}
}

// TestResultsWakeForTheEndOfAConstrainedRun: once the end of a run of a job
// with a concurrency cap commits, every dispatcher is woken (its next run
// may go now); a plain job's end wakes none (its freed slot is the
// gateway's business).
func TestResultsWakeForTheEndOfAConstrainedRun(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		cfg      model.JobConfig
		wantWake bool
	}{
		{"Capped", model.JobConfig{Command: "true", MaxConcurrency: 1}, true},
		{"Plain", model.JobConfig{Command: "true"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := teststore.SQLite(t)
			task := storetest.Task(ctx, t, st, &storetest.TaskOpts{Config: &c.cfg, Status: ptr(model.TaskDoing)})
			in := storetest.TaskInstance(ctx, t, st, &storetest.TaskInstanceOpts{TaskID: &task.ID, AgentID: ptr("agent-1")})
			var wakes atomic.Int32
			r := NewResults(ResultsConfig{ServerID: "server-1", AckTimeout: 10 * time.Second}, st, newLogs(t, st),
				Wakers{Dispatcher: func() { wakes.Add(1) }}, lifecycletest.WarnLogger(t))
			r.TestSignals.Init()
			if err := r.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(r.Stop)
			exit := 0
			if err := r.Submit(ctx, &Report{AgentID: "agent-1", Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, FinishedAt: time.Now().UTC()}}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			r.TestSignals.Applied.Wait(t)
			if tk := getTask(ctx, t, st, task.ID); tk.Status != model.TaskSucceeded {
				t.Fatalf("task = %s, want succeeded", tk.Status)
			}
			if got := wakes.Load() > 0; got != c.wantWake {
				t.Errorf("dispatcher woken: %v, want %v", got, c.wantWake)
			}
		})
	}
}
