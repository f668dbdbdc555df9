package sched

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestNextTaskState(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started := now.Add(-time.Second)
	code := func(c int) *int { return &c }
	task := func(attempt, max int) *model.Task {
		return &model.Task{ID: uuid.New(), Status: model.TaskDoing, Attempt: attempt,
			Config: model.JobConfig{Retry: model.RetryPolicy{MaxAttempts: max, Delay: model.Duration(30 * time.Second)}}}
	}
	for _, tc := range []struct {
		name       string
		task       *model.Task
		in         model.TaskInstance
		wantStatus model.TaskStatus
		wantReason string
		wantRunAt  *time.Time
		wantNil    bool
	}{
		{"Succeeded", task(1, 3), model.TaskInstance{Attempt: 1, Status: model.InstanceSucceeded}, model.TaskSucceeded, "", nil, false},
		{"FailedWithAttemptsLeft", task(1, 3), model.TaskInstance{Attempt: 1, Status: model.InstanceFailed, ExitCode: code(2), StartedAt: &started}, model.TaskWaitingRetry, "attempt 1 of 3 exited with code 2; retry at", ptr(now.Add(30 * time.Second)), false},
		{"FailedLastAttempt", task(3, 3), model.TaskInstance{Attempt: 3, Status: model.InstanceFailed, ExitCode: code(2), StartedAt: &started}, model.TaskFailed, "attempt 3 of 3 exited with code 2", nil, false},
		{"TimeoutNoRetry", task(1, 0), model.TaskInstance{Attempt: 1, Status: model.InstanceTimeout, StartedAt: &started}, model.TaskFailed, "attempt 1 of 1 timed out", nil, false},
		{"FailedToStart", task(1, 1), model.TaskInstance{Attempt: 1, Status: model.InstanceFailed, Error: "exec: not found", StartedAt: &started}, model.TaskFailed, "attempt 1 of 1 failed: exec: not found", nil, false},
		{"RetryCountsFromAReportedEndAhead", task(1, 3), model.TaskInstance{Attempt: 1, Status: model.InstanceFailed, ExitCode: code(2), StartedAt: &started, FinishedAt: ptr(now.Add(5 * time.Millisecond))}, model.TaskWaitingRetry, "attempt 1 of 3 exited with code 2; retry at", ptr(now.Add(5*time.Millisecond + 30*time.Second)), false},
		{"RetryIgnoresAnEndFarAhead", task(1, 3), model.TaskInstance{Attempt: 1, Status: model.InstanceFailed, ExitCode: code(2), StartedAt: &started, FinishedAt: ptr(now.Add(time.Hour))}, model.TaskWaitingRetry, "attempt 1 of 3 exited with code 2; retry at", ptr(now.Add(time.Second + 30*time.Second)), false},
		{"LostBeforeStartIsRequeued", task(1, 1), model.TaskInstance{Attempt: 1, Status: model.InstanceLost, Error: "lease ended"}, model.TaskPending, "dispatched again: lease ended", nil, false},
		{"LostWhileRunningRetries", task(1, 2), model.TaskInstance{Attempt: 1, Status: model.InstanceLost, Error: "agent gone", StartedAt: &started}, model.TaskWaitingRetry, "attempt 1 of 2 was lost: agent gone", ptr(now.Add(30 * time.Second)), false},
		{"Cancelled", task(1, 3), model.TaskInstance{Attempt: 1, Status: model.InstanceCancelled, Error: "by admin"}, model.TaskCancelled, "by admin", nil, false},
		{"StaleAttemptIgnored", task(2, 3), model.TaskInstance{Attempt: 1, Status: model.InstanceFailed}, 0, "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mv := nextTaskState(tc.task, &tc.in, now)
			if tc.wantNil {
				if mv != nil {
					t.Fatalf("nextTaskState = %+v, want nil", mv)
				}
				return
			}
			if mv == nil || mv.Status != tc.wantStatus || !strings.HasPrefix(mv.Reason, tc.wantReason) || mv.Attempt != tc.task.Attempt {
				t.Fatalf("nextTaskState = %+v, want %s with reason %q", mv, tc.wantStatus, tc.wantReason)
			}
			if (mv.RunAt == nil) != (tc.wantRunAt == nil) || (mv.RunAt != nil && !mv.RunAt.Equal(*tc.wantRunAt)) {
				t.Errorf("RunAt = %v, want %v", mv.RunAt, tc.wantRunAt)
			}
		})
	}
}

func TestResults(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testResults(t, o.Open)
		})
	}
}

// newLogs returns the log store a server on st uses: rows on PostgreSQL,
// files on SQLite.
func newLogs(t *testing.T, st store.Store) *tasklog.Store {
	t.Helper()
	if st.Dialect() == "postgres" {
		return tasklog.NewDB(st)
	}
	logs, err := tasklog.New(filepath.Join(t.TempDir(), "logs"))
	if err != nil {
		t.Fatalf("tasklog.New: %v", err)
	}
	return logs
}

func testResults(t *testing.T, open func(testing.TB) store.Store) {
	setup := func(t *testing.T) (store.Store, *tasklog.Store, *Results) {
		st := open(t)
		logs := newLogs(t, st)
		r := NewResults(ResultsConfig{ServerID: "server-1", AckTimeout: 10 * time.Second}, st, logs, Wakers{}, lifecycletest.WarnLogger(t))
		if err := r.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(r.Stop)
		return st, logs, r
	}

	t.Run("HeartbeatAndAckOvertakeABacklog", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		st := open(t)
		storetest.Agent(ctx, t, st, &storetest.AgentOpts{ID: ptr("busy")})
		lease := time.Now().Add(time.Hour)
		_, in := doingTask(ctx, t, st, model.RetryPolicy{}, "busy", model.InstanceDispatched, &lease)
		r := NewResults(ResultsConfig{ServerID: "server-1", AckTimeout: 10 * time.Second, MaxBatch: 2}, st, newLogs(t, st), Wakers{}, lifecycletest.WarnLogger(t))
		r.TestSignals.Init()
		// A backlog of 20 barriers (10 batches of 2), then a heartbeat,
		// all queued before the writer starts.
		for range 20 {
			if err := r.Submit(ctx, &Report{Applied: func(error) {}}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		if err := r.Submit(ctx, &Report{AgentID: "busy", Heartbeat: &HeartbeatReport{Load: 0.75, Running: 3}}); err != nil {
			t.Fatalf("Submit heartbeat: %v", err)
		}
		if err := r.Submit(ctx, &Report{AgentID: "busy", Acked: []uuid.UUID{in.ID}}); err != nil {
			t.Fatalf("Submit ack: %v", err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(r.Stop)
		r.TestSignals.Applied.Wait(t)
		// The first batch has committed; the backlog has not.
		a, err := st.AgentGetByID(ctx, &store.AgentGetByIDParams{ID: "busy"})
		if err != nil {
			t.Fatalf("get agent: %v", err)
		}
		if a.Load != 0.75 || a.Running != 3 {
			t.Errorf("after the first batch agent load=%v running=%d, want the heartbeat's 0.75 and 3 (it must not wait behind the backlog)", a.Load, a.Running)
		}
		if got := getInstance(ctx, t, st, in.ID); got.Status != model.InstanceAcked || got.AckedAt == nil {
			t.Errorf("after the first batch instance = %s, want acked (the ack must not wait behind the backlog)", got.Status)
		}
	})

	t.Run("AppliesReportsInOrderAndAcksAfterCommit", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		st, logs, r := setup(t)
		task, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceDispatched, nil)
		var (
			mu      sync.Mutex
			applied []int
		)
		ack := func(i int) func(error) {
			return func(err error) {
				if err != nil {
					t.Errorf("report %d: %v", i, err)
				}
				mu.Lock()
				applied = append(applied, i)
				mu.Unlock()
			}
		}
		start := time.Now().Add(-time.Second).UTC()
		exit := 0
		reports := []*Report{
			{AgentID: "agent-1", Acked: []uuid.UUID{in.ID}, Applied: ack(0)},
			{AgentID: "agent-1", Running: &protocol.TaskRunning{InstanceID: in.ID, StartedAt: start}, Applied: ack(1)},
			{AgentID: "agent-1", Log: &protocol.TaskLog{InstanceID: in.ID, Stream: model.Stdout, Offset: 0, Data: []byte("hello ")}, Applied: ack(2)},
			{AgentID: "agent-2", Log: &protocol.TaskLog{InstanceID: in.ID, Stream: model.Stdout, Offset: 0, Data: []byte("HIJACK")}, Applied: ack(3)},
			{AgentID: "agent-1", Log: &protocol.TaskLog{InstanceID: in.ID, Stream: model.Stdout, Offset: 6, Data: []byte("world\n")}, Applied: ack(4)},
			{AgentID: "agent-1", Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, StartedAt: start, FinishedAt: start.Add(time.Second)}, Applied: ack(5)},
		}
		for _, rep := range reports {
			if err := r.Submit(ctx, rep); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		mu.Lock()
		if len(applied) != len(reports) {
			t.Errorf("applied %v, want all %d in order", applied, len(reports))
		}
		for i, n := range applied {
			if n != i {
				t.Errorf("applied out of order: %v", applied)
				break
			}
		}
		mu.Unlock()
		got := getInstance(ctx, t, st, in.ID)
		if got.Status != model.InstanceSucceeded || got.ExitCode == nil || *got.ExitCode != 0 || got.StartedAt == nil || !got.StartedAt.Equal(start.Truncate(time.Microsecond)) || got.AckedAt == nil {
			t.Errorf("instance = %+v, want succeeded, acked, started at %v", got, start)
		}
		if tk := getTask(ctx, t, st, task.ID); tk.Status != model.TaskSucceeded || tk.FinishedAt == nil {
			t.Errorf("task = %s, want succeeded with a finish time", tk.Status)
		}
		r2, _, err := logs.Open(ctx, in.ID, model.Stdout)
		if err != nil {
			t.Fatalf("open log: %v", err)
		}
		defer r2.Close()
		buf, _ := io.ReadAll(r2)
		if string(buf) != "hello world\n" {
			t.Errorf("stored stdout = %q, want %q (another agent's chunk must be refused)", buf, "hello world\n")
		}
		meta, err := st.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: in.ID})
		if err != nil || meta.StdoutBytes != 12 {
			t.Errorf("log metadata = %+v, %v; want 12 stdout bytes", meta, err)
		}
	})

	t.Run("ReportFromAnotherAgentIsRefused", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		st, logs, r := setup(t)
		task, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceRunning, nil)
		exit := 0
		if err := r.Submit(ctx, &Report{AgentID: "intruder", Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit}}); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if got := getInstance(ctx, t, st, in.ID); got.Status != model.InstanceRunning {
			t.Errorf("instance = %s after a report from another agent, want still running", got.Status)
		}
		if tk := getTask(ctx, t, st, task.ID); tk.Status != model.TaskDoing {
			t.Errorf("task = %s, want still doing", tk.Status)
		}
		if finished, _ := logs.Finished(ctx, in.ID); finished {
			t.Errorf("log finished by another agent's done report")
		}
	})

	t.Run("FinishesLogAfterDoneSoLateChunksCannotReopenIt", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		st, logs, r := setup(t)
		c := tasklog.NewCompressor(logs, lifecycletest.WarnLogger(t))
		c.TestSignals.Init()
		if err := c.Start(ctx); err != nil {
			t.Fatalf("Start compressor: %v", err)
		}
		t.Cleanup(c.Stop)
		_, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceRunning, nil)
		exit := 0
		chunk := func(off int64, data string) *Report {
			return &Report{AgentID: "agent-1", Log: &protocol.TaskLog{InstanceID: in.ID, Stream: model.Stdout, Offset: off, Data: []byte(data)}}
		}
		// One batch: output, the done report, and a resent chunk after it.
		for _, rep := range []*Report{
			chunk(0, "hello "),
			chunk(6, "world\n"),
			{AgentID: "agent-1", Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, Usage: model.ResourceUsage{StdoutBytes: 12}}},
			chunk(6, "world\n"),
		} {
			if err := r.Submit(ctx, rep); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if finished, err := logs.Finished(ctx, in.ID); err != nil || !finished {
			t.Fatalf("log not finished after the done report: %v", err)
		}
		// Files are compressed; rows skip packing a log this small.
		if st.Dialect() != "postgres" {
			if got := c.TestSignals.Compressed.Wait(t); got != in.ID {
				t.Fatalf("compressed %s, want %s", got, in.ID)
			}
		}
		// Later batches: a duplicate and a chunk of new bytes.
		for _, rep := range []*Report{chunk(0, "hello "), chunk(12, "more\n")} {
			if err := r.Submit(ctx, rep); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		rd, size, err := logs.Open(ctx, in.ID, model.Stdout)
		if err != nil {
			t.Fatalf("open log: %v", err)
		}
		b, _ := io.ReadAll(rd)
		rd.Close()
		if string(b) != "hello world\n" || size != 12 {
			t.Errorf("stored stdout = %q (size %d), want %q", b, size, "hello world\n")
		}
	})

	t.Run("SilentRunFinishesItsLogWithoutAStatement", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		st, logs, r := setup(t)
		_, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceRunning, nil)
		sub := logs.Broker().Subscribe(in.ID)
		defer sub.Close()
		exit := 0
		if err := r.Submit(ctx, &Report{AgentID: "agent-1", Done: &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit}}); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if !sub.Finished() {
			t.Errorf("follower not told that the silent run's log is complete")
		}
		if _, err := st.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: in.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("log metadata of a silent run: %v, want none written", err)
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		logs := newLogs(t, st)
		mk := func() *Results {
			return NewResults(ResultsConfig{AckTimeout: time.Second}, st, logs, Wakers{}, lifecycletest.WarnLogger(t))
		}
		lifecycletest.Stress(t.Context(), t, mk())
		lifecycletest.StopsImmediately(t.Context(), t, mk())
		lifecycletest.RespectsContextCancellation(t.Context(), t, mk())
		lifecycletest.CanRestart(t.Context(), t, mk())
	})
}
