package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// runSpan is when an instance's process ran.
type runSpan struct{ start, end time.Time }

func spans(ins []*model.TaskInstance) []runSpan {
	var out []runSpan
	for _, in := range ins {
		if in.StartedAt != nil && in.FinishedAt != nil {
			out = append(out, runSpan{*in.StartedAt, *in.FinishedAt})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// maxConcurrent is the most spans that overlap at any instant.
func maxConcurrent(ss []runSpan) int {
	best := 0
	for _, s := range ss {
		n := 0
		for _, o := range ss {
			if !o.start.After(s.start) && o.end.After(s.start) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func countStatus(tasks []*model.Task, st model.TaskStatus, reasonPart string) int {
	n := 0
	for _, t := range tasks {
		if t.Status == st && strings.Contains(t.Reason, reasonPart) {
			n++
		}
	}
	return n
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	sqlite := func(t testing.TB) store.Store { return teststore.SQLite(t) }

	t.Run("OverlapForbidSkipsRunsWhileOneRuns", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("forbid", model.JobConfig{Command: "sleep", Args: []string{"1.5"}, Overlap: model.OverlapPolicy{Policy: model.OverlapForbid}})
		h.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "500ms"})
		var tasks []*model.Task
		h.waitFor(20*time.Second, "two runs and skips", func() bool {
			tasks = h.tasks(map[string]any{"job_id": job.ID.String()})
			return countStatus(tasks, model.TaskSucceeded, "") >= 2 && countStatus(tasks, model.TaskSkipped, "overlap policy forbid") >= 3
		})
		if n := maxConcurrent(spans(h.instances(map[string]any{"job_id": job.ID.String()}))); n != 1 {
			t.Errorf("at most %d runs at once, want 1", n)
		}
	})

	t.Run("OverlapQueueWaitsAndBounds", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("queue", model.JobConfig{Command: "sleep", Args: []string{"1"}, Overlap: model.OverlapPolicy{Policy: model.OverlapQueue, QueueSize: 1}})
		h.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "400ms"})
		var tasks []*model.Task
		h.waitFor(20*time.Second, "queued runs and an overflow", func() bool {
			tasks = h.tasks(map[string]any{"job_id": job.ID.String()})
			return countStatus(tasks, model.TaskSucceeded, "") >= 3 && countStatus(tasks, model.TaskSkipped, "overlap policy queue") >= 1
		})
		ins := h.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})
		if n := maxConcurrent(spans(ins)); n != 1 {
			t.Errorf("at most %d runs at once, want 1", n)
		}
		// A queued run starts when the one before it ends, later than planned.
		late := 0
		for _, in := range ins {
			if in.StartedAt.Sub(in.PlannedAt) > 300*time.Millisecond || in.StartedAt.Sub(h.task(in.TaskID).ScheduledAt) > 300*time.Millisecond {
				late++
			}
		}
		if late == 0 {
			t.Errorf("no run waited for the one before it")
		}
	})

	t.Run("OverlapReplaceCancelsTheRunningOne", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("replace", model.JobConfig{Command: "sleep", Args: []string{"60"}, KillGrace: model.Duration(200 * time.Millisecond), Overlap: model.OverlapPolicy{Policy: model.OverlapReplace}})
		h.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "1s"})
		h.waitFor(20*time.Second, "a replaced run", func() bool {
			return countStatus(h.tasks(map[string]any{"job_id": job.ID.String()}), model.TaskCancelled, "replaced by a newer run") >= 2
		})
		running := h.instances(map[string]any{"job_id": job.ID.String(), "status": "running"})
		if len(running) > 1 {
			t.Errorf("%d runs at once, want at most 1", len(running))
		}
	})

	t.Run("MaxConcurrencyCapsRunsAcrossTheCluster", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		h.startAgent("agent-2", nil)
		job := h.createJob("capped", model.JobConfig{Command: "sleep", Args: []string{"0.5"}, MaxConcurrency: 2})
		var ids []string
		for range 6 {
			ids = append(ids, h.runJob(job, nil).ID.String())
		}
		for _, id := range ids {
			h.waitTask(mustUUID(t, id), 30*time.Second)
		}
		// The cap is the server's promise, so measure it on the server's
		// clock: a run holds a place from its dispatch until its task is
		// recorded finished. (Spans from two agents' own clocks would mix
		// their offset estimates.)
		ins := h.instances(map[string]any{"job_id": job.ID.String()})
		var held []runSpan
		for _, in := range ins {
			task := h.task(in.TaskID)
			if in.DispatchedAt != nil && task.FinishedAt != nil {
				held = append(held, runSpan{*in.DispatchedAt, *task.FinishedAt})
			}
		}
		if n := maxConcurrent(held); n != 2 {
			t.Errorf("at most %d runs at once, want exactly 2 (cap)", n)
			for _, in := range ins {
				t.Logf("  %s task %s attempt %d %s agent %s planned %s dispatched %s started %s finished %s %q", in.ID, in.TaskID, in.Attempt, in.Status, in.AgentID,
					in.PlannedAt.Format("15:04:05.000"), fmtT(in.DispatchedAt), fmtT(in.StartedAt), fmtT(in.FinishedAt), in.Error)
			}
		}
	})

	t.Run("ExponentialBackoffBetweenAttempts", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("backoff", model.JobConfig{Command: "false", Retry: model.RetryPolicy{MaxAttempts: 3, Backoff: "exponential", Delay: model.Duration(300 * time.Millisecond)}})
		task := h.waitTask(h.runJob(job, nil).ID, 20*time.Second)
		ins := h.instances(map[string]any{"task_id": task.ID.String()})
		if task.Status != model.TaskFailed || len(ins) != 3 {
			t.Fatalf("task %s with %d instances, want failed after 3", task.Status, len(ins))
		}
		gap1 := ins[1].StartedAt.Sub(*ins[0].FinishedAt)
		gap2 := ins[2].StartedAt.Sub(*ins[1].FinishedAt)
		if gap1 < 300*time.Millisecond || gap2 < 600*time.Millisecond || gap2 < gap1 {
			t.Errorf("pauses %v then %v, want at least 300ms then 600ms", gap1, gap2)
		}
	})

	t.Run("RunThatNoAgentCanTakeFailsNamingItsLabels", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", map[string]string{"zone": "eu"})
		job := h.createJob("nowhere", model.JobConfig{Command: "true", Labels: map[string]string{"zone": "mars"}, NoAgentTimeout: model.Duration(time.Second)})
		task := h.waitTask(h.runJob(job, nil).ID, 20*time.Second)
		if task.Status != model.TaskFailed || !strings.Contains(task.Reason, "zone=mars") {
			t.Errorf("task %s %q, want failed naming zone=mars", task.Status, task.Reason)
		}
	})

	t.Run("ParametersHaveDefaultsAndTemplating", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("params", model.JobConfig{
			Command: "echo", Args: []string{"region={{.Params.region}}"},
			Params: []model.ParamSpec{{Name: "region", Default: "eu"}},
		})
		for _, tc := range []struct {
			params map[string]string
			want   string
		}{{nil, "region=eu\n"}, {map[string]string{"region": "us"}, "region=us\n"}} {
			task := h.waitTask(h.runJob(job, tc.params).ID, 15*time.Second)
			ins := h.instances(map[string]any{"task_id": task.ID.String()})
			if len(ins) != 1 || h.log(ins[0].ID, model.Stdout) != tc.want {
				t.Errorf("with %v: task %s, want output %q", tc.params, task.Status, tc.want)
			}
		}
		status, raw := h.call(http.MethodPost, "/jobs/"+job.ID.String()+"/run", map[string]any{"parameters": map[string]string{"colour": "red"}}, nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "parameters.colour") {
			t.Errorf("undeclared parameter: %d %s, want 422 naming it", status, raw)
		}
		status, raw = h.call(http.MethodPost, "/jobs", map[string]any{"name": "bad-template", "config": map[string]any{"command": "echo", "args": []string{"{{.Params.nope}}"}}}, nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "config.args[0]") {
			t.Errorf("template of an undeclared parameter: %d %s, want 422 naming args[0]", status, raw)
		}
	})

	t.Run("WebhookFiresAnEventScheduleThroughItsFilter", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("on-push", model.JobConfig{Script: `cat "$HETUFLOW_EVENT_FILE"`})
		var created api.ScheduleWithHook
		h.mustCall(http.MethodPost, "/schedules", map[string]any{"job_id": job.ID, "kind": model.ScheduleEvent,
			"event_filter": map[string]any{"action": "push", "repository.name": map[string]any{"$in": []string{"api"}}}}, &created, http.StatusCreated)
		if created.HookSecret == "" || created.HookURL != api.Prefix+"/hooks/"+created.ID.String() {
			t.Fatalf("created event schedule without a hook: %+v", created)
		}
		var stored map[string]any
		h.mustCall(http.MethodGet, "/schedules/"+created.ID.String(), nil, &stored, http.StatusOK)
		if _, leaked := stored["hook_secret"]; leaked {
			t.Errorf("GET returns the hook secret")
		}
		post := func(body string, sign func(*http.Request)) (int, api.HookResult) {
			req, _ := http.NewRequest(http.MethodPost, h.base+created.HookURL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			sign(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("POST hook: %v", err)
			}
			defer resp.Body.Close()
			var out api.HookResult
			_ = json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		signed := func(body string) func(*http.Request) {
			return func(r *http.Request) {
				r.Header.Set(api.SignatureHeader, api.SignHook(created.HookSecret, []byte(body)))
			}
		}
		match := `{"action":"push","repository":{"name":"api"}}`
		if status, _ := post(match, signed(`tampered`)); status != http.StatusUnauthorized {
			t.Errorf("bad signature: %d, want 401", status)
		}
		if status, _ := post(match, func(r *http.Request) { r.Header.Set("Authorization", "Bearer hf_wrong") }); status != http.StatusUnauthorized {
			t.Errorf("wrong bearer secret: %d, want 401", status)
		}
		miss := `{"action":"delete","repository":{"name":"api"}}`
		if status, res := post(miss, signed(miss)); status != http.StatusOK || res.Fired {
			t.Errorf("non-matching event: %d %+v, want 200 and not fired", status, res)
		}
		status, res := post(match, signed(match))
		if status != http.StatusAccepted || !res.Fired || res.TaskID == nil {
			t.Fatalf("matching event: %d %+v, want 202 and fired", status, res)
		}
		h.waitTask(*res.TaskID, 15*time.Second)
		ins := h.instances(map[string]any{"task_id": res.TaskID.String()})
		if len(ins) != 1 || h.log(ins[0].ID, model.Stdout) != match {
			t.Errorf("the run saw %q, want the event body", h.log(ins[0].ID, model.Stdout))
		}
		status, res = post(match, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+created.HookSecret) })
		if status != http.StatusAccepted || !res.Fired {
			t.Errorf("bearer secret: %d %+v, want fired", status, res)
		}
	})

	t.Run("TriggerStartsAnotherJob", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		after := h.createJob("after", model.JobConfig{Command: "echo", Args: []string{"after"}})
		before := h.createJob("before", model.JobConfig{Command: "true", Triggers: []model.JobTrigger{{On: model.TriggerOnSuccess, JobID: after.ID}}})
		h.waitTask(h.runJob(before, nil).ID, 15*time.Second)
		var triggered []*model.Task
		h.waitFor(15*time.Second, "the triggered run", func() bool {
			triggered = h.tasks(map[string]any{"job_id": after.ID.String(), "status": "succeeded"})
			return len(triggered) == 1
		})
		if !strings.Contains(triggered[0].Reason, "triggered") {
			t.Errorf("triggered task reason %q", triggered[0].Reason)
		}
		// A trigger back to the first job would loop: refused.
		status, raw := h.call(http.MethodPut, "/jobs/"+after.ID.String(), map[string]any{"name": "after", "config": map[string]any{"command": "true", "triggers": []map[string]any{{"on": "end", "job_id": before.ID}}}}, nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "cycle") {
			t.Errorf("cyclic trigger: %d %s, want 422 naming the cycle", status, raw)
		}
	})

	t.Run("FixedDelayWaitsForTheRunToEnd", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("delay", model.JobConfig{Command: "sleep", Args: []string{"0.5"}})
		h.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "1s", "interval_mode": "fixed_delay"})
		var ins []*model.TaskInstance
		h.waitFor(20*time.Second, "three runs", func() bool {
			ins = h.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})
			return len(ins) >= 3
		})
		ss := spans(ins)
		for i := 1; i < len(ss); i++ {
			if gap := ss[i].start.Sub(ss[i-1].end); gap < time.Second-20*time.Millisecond {
				t.Errorf("run %d started %v after the previous ended, want at least 1s", i, gap)
			}
		}
	})

	t.Run("DaemonIsKeptRunningAndStopsWhenDisabled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		job := h.createJob("daemon", model.JobConfig{Command: "sleep", Args: []string{"0.3"}})
		s := h.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleDaemon})
		var ins []*model.TaskInstance
		h.waitFor(20*time.Second, "a restarted daemon", func() bool {
			ins = h.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})
			return len(ins) >= 3
		})
		if n := maxConcurrent(spans(h.instances(map[string]any{"job_id": job.ID.String()}))); n != 1 {
			t.Errorf("%d daemon runs at once, want 1", n)
		}
		h.mustCall(http.MethodPost, "/schedules/"+s.ID.String()+"/disable", nil, nil, http.StatusOK)
		h.waitFor(10*time.Second, "no daemon run left", func() bool {
			return len(h.tasks(map[string]any{"job_id": job.ID.String(), "status": map[string]any{"$in": []string{"pending", "doing", "waiting_retry"}}})) == 0
		})
	})

	t.Run("FlowFansOutAndIn", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		dir := t.TempDir()
		step := func(name string, fail bool) *model.Job {
			script := fmt.Sprintf("echo %s >> %s/order", name, dir)
			if fail {
				script += "; exit 3"
			}
			return h.createJob(name, model.JobConfig{Script: script})
		}
		a, b, c, d := step("a", false), step("b", false), step("c", false), step("d", false)
		var flow model.Flow
		h.mustCall(http.MethodPost, "/flows", map[string]any{"name": "diamond", "spec": map[string]any{
			"nodes": []map[string]any{{"name": "a", "job_id": a.ID}, {"name": "b", "job_id": b.ID}, {"name": "c", "job_id": c.ID}, {"name": "d", "job_id": d.ID}},
			"edges": []map[string]any{{"from": "a", "to": "b"}, {"from": "a", "to": "c"}, {"from": "b", "to": "d"}, {"from": "c", "to": "d"}},
		}}, &flow, http.StatusCreated)
		var run api.FlowRunView
		h.mustCall(http.MethodPost, "/flows/"+flow.ID.String()+"/run", map[string]any{}, &run, http.StatusCreated)
		h.waitFor(30*time.Second, "the flow run to end", func() bool {
			h.mustCall(http.MethodGet, "/flow-runs/"+run.ID.String(), nil, &run, http.StatusOK)
			return run.Status.Final()
		})
		if run.Status != model.TaskSucceeded {
			t.Fatalf("flow run %s (%q), want succeeded", run.Status, run.Reason)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "order"))
		order := strings.Fields(string(raw))
		if len(order) != 4 || order[0] != "a" || order[3] != "d" {
			t.Errorf("order %v, want a first, d last, b and c between", order)
		}
		for _, n := range run.Nodes {
			if n.Task == nil || n.Task.Status != model.TaskSucceeded {
				t.Errorf("node %s: %+v, want a succeeded task", n.Name, n.Task)
			}
		}
		// A cycle is refused.
		status, rawErr := h.call(http.MethodPut, "/flows/"+flow.ID.String(), map[string]any{"name": "diamond", "spec": map[string]any{
			"nodes": []map[string]any{{"name": "a", "job_id": a.ID}, {"name": "b", "job_id": b.ID}},
			"edges": []map[string]any{{"from": "a", "to": "b"}, {"from": "b", "to": "a"}},
		}}, nil)
		if status != http.StatusUnprocessableEntity || !bytes.Contains(rawErr, []byte("cycle")) {
			t.Errorf("cyclic flow: %d %s, want 422", status, rawErr)
		}
	})

	t.Run("FlowFailureSkipsDownstreamAndFailsTheRun", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		bad := h.createJob("bad", model.JobConfig{Command: "false"})
		next := h.createJob("next", model.JobConfig{Command: "true"})
		cleanup := h.createJob("cleanup", model.JobConfig{Command: "true"})
		var flow model.Flow
		h.mustCall(http.MethodPost, "/flows", map[string]any{"name": "etl", "spec": map[string]any{
			"nodes": []map[string]any{{"name": "bad", "job_id": bad.ID}, {"name": "next", "job_id": next.ID}, {"name": "cleanup", "job_id": cleanup.ID}},
			"edges": []map[string]any{{"from": "bad", "to": "next"}, {"from": "bad", "to": "cleanup", "on": "end"}},
		}}, &flow, http.StatusCreated)
		var run api.FlowRunView
		h.mustCall(http.MethodPost, "/flows/"+flow.ID.String()+"/run", map[string]any{}, &run, http.StatusCreated)
		h.waitFor(30*time.Second, "the flow run to end", func() bool {
			h.mustCall(http.MethodGet, "/flow-runs/"+run.ID.String(), nil, &run, http.StatusOK)
			return run.Status.Final()
		})
		got := map[string]model.TaskStatus{}
		for _, n := range run.Nodes {
			got[n.Name] = n.Task.Status
		}
		// bad's failure is handled by its "end" edge to cleanup, so the
		// run succeeds; next, which needed success, is skipped.
		if got["bad"] != model.TaskFailed || got["next"] != model.TaskSkipped || got["cleanup"] != model.TaskSucceeded || run.Status != model.TaskSucceeded {
			t.Errorf("nodes %v, run %s; want bad failed, next skipped, cleanup succeeded, run succeeded", got, run.Status)
		}
	})

	t.Run("PreviewAndLedger", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, nil)
		h.startAgent("agent-1", nil)
		var p api.Preview
		h.mustCall(http.MethodGet, "/schedules/preview?cron=0+30+2+*+*+*&tz=America/New_York&from=2026-03-07T00:00:00Z&n=3", nil, &p, http.StatusOK)
		want := []string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}
		if strings.Join(p.Fires, " ") != strings.Join(want, " ") {
			t.Errorf("preview = %v, want %v (spring-forward fires once after the gap)", p.Fires, want)
		}
		if status, _ := h.call(http.MethodGet, "/schedules/preview?cron=0+0+30+2+*", nil, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("preview of Feb 30 = %d, want 422", status)
		}
		job := h.createJob("ledger", model.JobConfig{Command: "true"})
		s := h.createSchedule(map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "500ms"})
		h.waitFor(15*time.Second, "some runs", func() bool {
			return len(h.instances(map[string]any{"job_id": job.ID.String(), "status": "succeeded"})) >= 4
		})
		var l api.Ledger
		h.mustCall(http.MethodGet, "/schedules/"+s.ID.String()+"/ledger", nil, &l, http.StatusOK)
		if len(l.Entries) < 4 || len(l.Gaps) != 0 || len(l.Duplicates) != 0 {
			t.Errorf("ledger: %d entries, gaps %v, duplicates %v; want entries and no gaps or duplicates", len(l.Entries), l.Gaps, l.Duplicates)
		}
	})

	t.Run("HistoryOlderThanTheTTLIsPurged", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sqlite, func(c *config.Config) { c.Scheduler.HistoryTTL = model.Duration(time.Second) })
		h.startAgent("agent-1", nil)
		job := h.createJob("old", model.JobConfig{Command: "echo", Args: []string{"hi"}})
		task := h.waitTask(h.runJob(job, nil).ID, 15*time.Second)
		h.waitFor(15*time.Second, "the task purged", func() bool {
			status, _ := h.call(http.MethodGet, "/tasks/"+task.ID.String(), nil, nil)
			return status == http.StatusNotFound
		})
	})
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return id
}

func fmtT(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("15:04:05.000")
}
