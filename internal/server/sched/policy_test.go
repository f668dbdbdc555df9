package sched

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
)

// planFor runs planSchedule for an interval schedule of period every whose
// cursor is at cursor, at now, with a one-minute window.
func planFor(t *testing.T, every time.Duration, cursor, now time.Time, misfire model.MisfirePolicy) []string {
	t.Helper()
	g := NewGenerator(GeneratorConfig{Window: time.Minute, Interval: time.Second}, nopStore{}, nil, lifecycletest.WarnLogger(t))
	s := &model.Schedule{ID: uuid.New(), JobID: uuid.New(), Kind: model.ScheduleInterval, Interval: model.Duration(every),
		StartTime: &cursor, NextFireAt: &cursor, Misfire: misfire, Status: model.ScheduleEnabled}
	tasks, _, err := g.planSchedule(s, &model.Job{ID: s.JobID}, now, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("planSchedule: %v", err)
	}
	var out []string
	for _, task := range tasks {
		if task.ScheduledAt.After(now) {
			break
		}
		switch {
		case task.Status == model.TaskSkipped:
			out = append(out, "skip")
		case task.RunAt.Equal(now) && task.ScheduledAt.Before(now.Add(-5*time.Second)):
			out = append(out, "late")
		default:
			out = append(out, "run")
		}
	}
	return out
}

func TestMisfirePolicies(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// Six fires (every 10 s) were missed: -60 s … -10 s; then 0 s is on time.
	cursor := now.Add(-60 * time.Second)
	for _, tc := range []struct {
		name   string
		policy model.MisfirePolicy
		want   string
	}{
		{"DefaultRunsTheLatest", model.MisfirePolicy{}, "skip skip skip skip skip late run"},
		{"FireOnce", model.MisfirePolicy{Policy: model.MisfireFireOnce}, "skip skip skip skip skip late run"},
		{"Skip", model.MisfirePolicy{Policy: model.MisfireSkip}, "skip skip skip skip skip skip run"},
		{"FireAllBounded", model.MisfirePolicy{Policy: model.MisfireFireAll, Limit: 4}, "skip skip late late late late run"},
		{"FireAllUnderTheBound", model.MisfirePolicy{Policy: model.MisfireFireAll}, "late late late late late late run"},
		// With a 30 s threshold the fires of the last 30 s are merely late,
		// not missed; they run as planned.
		{"Threshold", model.MisfirePolicy{Policy: model.MisfireSkip, Threshold: model.Duration(30 * time.Second)}, "skip skip skip run run run run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(planFor(t, 10*time.Second, cursor, now, tc.policy), " ")
			if got != tc.want {
				t.Errorf("fires = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOneAtATimePlanning(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	g := NewGenerator(GeneratorConfig{Window: time.Minute, Interval: time.Second}, nopStore{}, nil, lifecycletest.WarnLogger(t))
	for _, s := range []*model.Schedule{
		{Kind: model.ScheduleInterval, IntervalMode: model.FixedDelay, Interval: model.Duration(time.Second)},
		{Kind: model.ScheduleDaemon},
	} {
		s.ID, s.JobID, s.NextFireAt = uuid.New(), uuid.New(), &now
		tasks, adv, err := g.planSchedule(s, &model.Job{ID: s.JobID}, now, now.Add(time.Minute))
		if err != nil {
			t.Fatalf("planSchedule(%s): %v", s.Kind, err)
		}
		// One run, and the cursor parks until it ends.
		if len(tasks) != 1 || adv.NextFireAt != nil || adv.Status != 0 || adv.FiredCountDelta != 1 {
			t.Errorf("%s: %d tasks, cursor %v, status %v; want one task and a parked cursor", s.Kind, len(tasks), adv.NextFireAt, adv.Status)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	d := func(s string) model.Duration { v, _ := time.ParseDuration(s); return model.Duration(v) }
	for _, tc := range []struct {
		name   string
		policy model.RetryPolicy
		want   []string // pauses after attempts 1, 2, 3, 4
	}{
		{"DefaultFixedOneSecond", model.RetryPolicy{}, []string{"1s", "1s", "1s", "1s"}},
		{"Fixed", model.RetryPolicy{Backoff: "fixed", Delay: d("5s")}, []string{"5s", "5s", "5s", "5s"}},
		{"Linear", model.RetryPolicy{Backoff: "linear", Delay: d("5s")}, []string{"5s", "10s", "15s", "20s"}},
		{"Exponential", model.RetryPolicy{Backoff: "exponential", Delay: d("1s")}, []string{"1s", "2s", "4s", "8s"}},
		{"ExponentialCapped", model.RetryPolicy{Backoff: "exponential", Delay: d("1s"), MaxDelay: d("3s")}, []string{"1s", "2s", "3s", "3s"}},
		{"LinearCapped", model.RetryPolicy{Backoff: "linear", Delay: d("1m"), MaxDelay: d("90s")}, []string{"1m0s", "1m30s", "1m30s", "1m30s"}},
	} {
		for n, want := range tc.want {
			if got := tc.policy.RetryDelay(n + 1).String(); got != want {
				t.Errorf("%s: RetryDelay(%d) = %s, want %s", tc.name, n+1, got, want)
			}
		}
	}
	jittered := model.RetryPolicy{Delay: d("10s"), Jitter: true}
	for range 100 {
		if p := retryPause(jittered, 1); p < 5*time.Second || p > 10*time.Second {
			t.Fatalf("jittered pause %v outside [5s, 10s]", p)
		}
	}
}

func TestRetryOn(t *testing.T) {
	t.Parallel()
	now := time.Now()
	started := now.Add(-time.Second)
	task := func(on ...string) *model.Task {
		return &model.Task{Status: model.TaskDoing, Attempt: 1, Config: model.JobConfig{Retry: model.RetryPolicy{MaxAttempts: 3, RetryOn: on}}}
	}
	code := 1
	failed := model.TaskInstance{Attempt: 1, Status: model.InstanceFailed, ExitCode: &code, StartedAt: &started}
	timeout := model.TaskInstance{Attempt: 1, Status: model.InstanceTimeout, StartedAt: &started}
	lost := model.TaskInstance{Attempt: 1, Status: model.InstanceLost, StartedAt: &started, Error: "agent gone"}
	for _, tc := range []struct {
		name string
		on   []string
		in   model.TaskInstance
		want model.TaskStatus
	}{
		{"AllByDefault", nil, timeout, model.TaskWaitingRetry},
		{"ExitCodeOnlyRetriesExit", []string{"exit_code"}, failed, model.TaskWaitingRetry},
		{"ExitCodeOnlyFailsTimeout", []string{"exit_code"}, timeout, model.TaskFailed},
		{"ExitCodeOnlyFailsLost", []string{"exit_code"}, lost, model.TaskFailed},
		{"LostOnly", []string{"lost"}, lost, model.TaskWaitingRetry},
		{"TimeoutOnly", []string{"timeout"}, failed, model.TaskFailed},
	} {
		mv := nextTaskState(task(tc.on...), &tc.in, now)
		if mv == nil || mv.Status != tc.want {
			t.Errorf("%s: next state = %+v, want %s", tc.name, mv, tc.want)
		}
		if mv != nil && mv.Status == model.TaskFailed && !strings.Contains(mv.Reason, "not retried") {
			t.Errorf("%s: reason %q should say why it is not retried", tc.name, mv.Reason)
		}
	}
}

func TestFlowDecisions(t *testing.T) {
	t.Parallel()
	spec := model.FlowSpec{
		Nodes: []model.FlowNode{{Name: "extract"}, {Name: "load"}, {Name: "alert"}, {Name: "report"}},
		Edges: []model.FlowEdge{
			{From: "extract", To: "load"},
			{From: "extract", To: "alert", On: model.TriggerOnFailure},
			{From: "load", To: "report", On: model.TriggerOnEnd},
			{From: "alert", To: "report", On: model.TriggerOnEnd},
		},
	}
	in := map[string][]model.FlowEdge{}
	for _, e := range spec.Edges {
		in[e.To] = append(in[e.To], e)
	}
	st := map[string]model.TaskStatus{"extract": model.TaskSucceeded}
	if ready, runs, _ := nodeReady(in["load"], st); !ready || !runs {
		t.Errorf("load after extract succeeded: ready %v runs %v, want both", ready, runs)
	}
	if ready, runs, why := nodeReady(in["alert"], st); !ready || runs || !strings.Contains(why, "needs failure") {
		t.Errorf("alert after extract succeeded: ready %v runs %v (%q), want skipped", ready, runs, why)
	}
	if ready, _, _ := nodeReady(in["report"], st); ready {
		t.Errorf("report is ready before load and alert ended")
	}
	st["load"], st["alert"] = model.TaskSucceeded, model.TaskSkipped
	// Fan-in over an "end" edge from a skipped node: skipped nodes do not
	// satisfy edges.
	if ready, runs, _ := nodeReady(in["report"], st); !ready || runs {
		t.Errorf("report after load succeeded, alert skipped: ready %v runs %v, want ready and skipped", ready, runs)
	}
	st["report"] = model.TaskSkipped
	if got, _ := flowOutcome(spec, st); got != model.TaskSucceeded {
		t.Errorf("outcome = %s, want succeeded", got)
	}
	// extract failed but its failure edge handles it; report's failure is
	// not handled.
	st = map[string]model.TaskStatus{"extract": model.TaskFailed, "load": model.TaskSkipped, "alert": model.TaskSucceeded, "report": model.TaskFailed}
	if got, reason := flowOutcome(spec, st); got != model.TaskFailed || !strings.Contains(reason, "report") || strings.Contains(reason, "extract") {
		t.Errorf("outcome = %s (%q), want failed for report only", got, reason)
	}
}
