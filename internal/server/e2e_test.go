package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func TestEndToEnd(t *testing.T) {
	t.Parallel()

	t.Run("IntervalJobRunsEverySecondWithOutput", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
			h := newHarness(t, open, nil)
			h.startAgent("agent-1", nil)
			job := h.createJob("tick", model.JobConfig{Script: `echo "tick $HETUFLOW_ATTEMPT"; echo warn >&2`})
			h.mustCall(http.MethodPost, "/schedules", map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "1s"}, nil, http.StatusCreated)
			var done []*model.TaskInstance
			defer func() {
				if t.Failed() {
					t.Logf("instances:%s", fmtInstances(h.instances(map[string]any{"job_id": job.ID.String()})))
				}
			}()
			h.waitFor(15*time.Second, "3 succeeded instances", func() bool {
				done = h.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})
				return len(done) >= 3
			})
			for _, in := range done[:3] {
				if got := h.log(in.ID, model.Stdout); got != "tick 1\n" {
					t.Errorf("stdout of %s = %q, want %q", in.ID, got, "tick 1\n")
				}
				if got := h.log(in.ID, model.Stderr); got != "warn\n" {
					t.Errorf("stderr of %s = %q, want %q", in.ID, got, "warn\n")
				}
				if in.ExitCode == nil || *in.ExitCode != 0 || in.AgentID != "agent-1" || in.StartedAt == nil || in.FinishedAt == nil {
					t.Errorf("instance = %+v, want exit 0 on agent-1 with start and finish times", in)
				}
				// The agent fires at the planned instant, not when it got the task.
				if lag := in.StartedAt.Sub(in.PlannedAt); lag < 0 || lag > 2*time.Second {
					t.Errorf("start lag = %v, want between 0 and 2s", lag)
				}
			}
			tasks := map[time.Time]bool{}
			for _, in := range done {
				task := h.task(in.TaskID)
				if task.Status != model.TaskSucceeded || tasks[task.ScheduledAt] {
					t.Errorf("task %s = %s at %s (seen before: %v)", task.ID, task.Status, task.ScheduledAt, tasks[task.ScheduledAt])
				}
				tasks[task.ScheduledAt] = true
			}
		})
	})

	t.Run("FailureIsRetriedThenFailsWithExitCode", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
			h := newHarness(t, open, nil)
			h.startAgent("agent-1", nil)
			job := h.createJob("flaky", model.JobConfig{Script: `echo "try $HETUFLOW_ATTEMPT"; exit 7`, Retry: model.RetryPolicy{MaxAttempts: 3, Delay: model.Duration(100 * time.Millisecond)}})
			task := h.waitTask(h.runJob(job, nil).ID, 20*time.Second)
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			if task.Status != model.TaskFailed || task.Attempt != 3 || len(ins) != 3 {
				t.Fatalf("task = %s attempt %d with %d instances, want failed after 3:%s", task.Status, task.Attempt, len(ins), fmtInstances(ins))
			}
			if !strings.Contains(task.Reason, "attempt 3 of 3 exited with code 7") {
				t.Errorf("task reason = %q, want it to name the attempt and exit code", task.Reason)
			}
			for i, in := range ins {
				if in.Attempt != i+1 || in.Status != model.InstanceFailed || in.ExitCode == nil || *in.ExitCode != 7 {
					t.Errorf("instance %d:%s, want attempt %d failed with exit 7", i, fmtInstances(ins[i:i+1]), i+1)
				}
				if got, want := h.log(in.ID, model.Stdout), fmt.Sprintf("try %d\n", i+1); got != want {
					t.Errorf("stdout of attempt %d = %q, want %q", i+1, got, want)
				}
			}
		})
	})

	t.Run("TimeoutKillsTheWholeProcessTree", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
			h := newHarness(t, open, nil)
			h.startAgent("agent-1", nil)
			pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
			job := h.createJob("slow", model.JobConfig{
				Script:    fmt.Sprintf(`sleep 300 & echo $! > %s; echo started; sleep 300`, pidFile),
				Timeout:   model.Duration(time.Second),
				KillGrace: model.Duration(200 * time.Millisecond),
			})
			task := h.waitTask(h.runJob(job, nil).ID, 20*time.Second)
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			if task.Status != model.TaskFailed || len(ins) != 1 || ins[0].Status != model.InstanceTimeout {
				t.Fatalf("task %s with instances:%s, want failed after one Timeout", task.Status, fmtInstances(ins))
			}
			if got := h.log(ins[0].ID, model.Stdout); got != "started\n" {
				t.Errorf("stdout = %q, want %q", got, "started\n")
			}
			raw, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("read grandchild pid: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
			if err != nil {
				t.Fatalf("parse grandchild pid %q: %v", raw, err)
			}
			h.waitFor(5*time.Second, "grandchild gone", func() bool { return processGone(pid) })
		})
	})

	t.Run("MissingCommandFailsTheRunNotTheAgent", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
			h := newHarness(t, open, nil)
			h.startAgent("agent-1", nil)
			bad := h.createJob("missing", model.JobConfig{Command: "/nonexistent/hetuflow-test-command"})
			task := h.waitTask(h.runJob(bad, nil).ID, 15*time.Second)
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			if task.Status != model.TaskFailed || len(ins) != 1 || ins[0].Status != model.InstanceFailed || !strings.Contains(ins[0].Error, "/nonexistent/hetuflow-test-command") {
				t.Fatalf("task %s, instances:%s; want failed naming the command", task.Status, fmtInstances(ins))
			}
			good := h.createJob("echo", model.JobConfig{Command: "echo", Args: []string{"still", "here"}})
			task = h.waitTask(h.runJob(good, nil).ID, 15*time.Second)
			ins = h.instances(map[string]any{"task_id": task.ID.String()})
			if task.Status != model.TaskSucceeded || len(ins) != 1 || h.log(ins[0].ID, model.Stdout) != "still here\n" {
				t.Fatalf("after a missing command the agent ran: task %s, instances:%s", task.Status, fmtInstances(ins))
			}
		})
	})

	t.Run("ParametersReachTheProcess", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
			h := newHarness(t, open, nil)
			h.startAgent("agent-1", nil)
			job := h.createJob("params", model.JobConfig{Script: `echo "$HETUFLOW_PARAM_REGION $GREETING"`, Env: map[string]string{"GREETING": "hi"}})
			task := h.waitTask(h.runJob(job, map[string]string{"region": "eu"}).ID, 15*time.Second)
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			if len(ins) != 1 || h.log(ins[0].ID, model.Stdout) != "eu hi\n" {
				t.Fatalf("task %s, instances:%s, want stdout %q", task.Status, fmtInstances(ins), "eu hi\n")
			}
		})
	})

	t.Run("CancelStopsARunningTask", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, open func(testing.TB) store.Store) {
			h := newHarness(t, open, nil)
			h.startAgent("agent-1", nil)
			pidFile := filepath.Join(t.TempDir(), "run.pid")
			job := h.createJob("long", model.JobConfig{Script: fmt.Sprintf(`echo $$ > %s; sleep 300`, pidFile), KillGrace: model.Duration(200 * time.Millisecond)})
			task := h.runJob(job, nil)
			h.waitFor(15*time.Second, "task running", func() bool {
				ins := h.instances(map[string]any{"task_id": task.ID.String(), "status": "running"})
				return len(ins) == 1
			})
			// Recorded running means started, not that the shell has yet
			// written its pid, which the test needs to check the kill.
			h.waitFor(5*time.Second, "pid written", func() bool {
				raw, err := os.ReadFile(pidFile)
				return err == nil && strings.HasSuffix(string(raw), "\n")
			})
			var cancelled model.Task
			h.mustCall(http.MethodPost, "/tasks/"+task.ID.String()+"/cancel", map[string]any{"reason": "test"}, &cancelled, http.StatusOK)
			if cancelled.Status != model.TaskCancelled {
				t.Errorf("cancelled task status = %s, want cancelled", cancelled.Status)
			}
			raw, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("read pid: %v", err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			h.waitFor(5*time.Second, "process gone", func() bool { return processGone(pid) })
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			if len(ins) != 1 || ins[0].Status != model.InstanceCancelled || !strings.Contains(ins[0].Error, "test") {
				t.Errorf("instances:%s, want one cancelled with the reason", fmtInstances(ins))
			}
			if status, _ := h.call(http.MethodPost, "/tasks/"+task.ID.String()+"/cancel", nil, nil); status != http.StatusConflict {
				t.Errorf("cancel of a cancelled task = %d, want 409", status)
			}
		})
	})
}

// processGone reports whether pid no longer runs (gone, or a zombie waiting
// for its parent).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}
