package metrics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// exercise records one value through every method.
func exercise(m *Metrics) {
	m.TaskFinished("default", model.TaskFailed)
	m.TriggerLag(time.Millisecond)
	m.DispatchLatency(time.Millisecond)
	m.GeneratorLag(time.Second)
	m.AckLatency(time.Millisecond)
	m.MessageSent("dispatch")
	m.MessageReceived("heartbeat")
	m.Resent(true, 1)
	m.LeaderChanged(true)
	m.QueryDone("JobGetByID", time.Millisecond)
	m.AlertDelivery("webhook", "ok")
	m.Sample(Sample{QueueDepth: 3, OldestPendingAge: time.Second, AgentsByStatus: map[model.AgentStatus]int{model.AgentOnline: 2}})
}

func TestNamesAreExactlyWhatIsExposed(t *testing.T) {
	t.Parallel()
	m := New("test")
	exercise(m)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var got []string
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "hetuflow_") {
			got = append(got, f.GetName())
		}
	}
	if !slices.Equal(got, Names) {
		t.Errorf("exposed %v, Names lists %v", got, Names)
	}
}

func TestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	m := New("test")
	for i := range MaxNamespaces + 50 {
		m.TaskFinished(fmt.Sprintf("ns-%d", i), model.TaskSucceeded)
	}
	for i := range maxOperations + 50 {
		m.QueryDone(fmt.Sprintf("Op%d", i), time.Millisecond)
	}
	m.QueryDone("SELECT * FROM x", time.Millisecond)
	m.TaskFinished("default", model.TaskStatus(12345))
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "hetuflow_runs_total":
			if n := len(f.GetMetric()); n > MaxNamespaces+2 {
				t.Errorf("hetuflow_runs_total has %d series, want at most %d", n, MaxNamespaces+2)
			}
		case "hetuflow_store_query_duration_seconds":
			if n := len(f.GetMetric()); n > maxOperations+1 {
				t.Errorf("hetuflow_store_query_duration_seconds has %d series, want at most %d", n, maxOperations+1)
			}
		}
	}
}

func TestSampler(t *testing.T) {
	t.Parallel()
	st := teststore.SQLite(t)
	ctx := t.Context()
	job := storetest.Job(ctx, t, st, nil)
	past := time.Now().Add(-time.Minute)
	storetest.Task(ctx, t, st, &storetest.TaskOpts{JobID: &job.ID, RunAt: &past, ScheduledAt: &past})
	storetest.Agent(ctx, t, st, nil)
	m := New("test")
	s := NewSampler(m, st, time.Hour, lifecycletest.Logger(t))
	if err := s.RunOnce(ctx, time.Now()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	fams, _ := m.Registry().Gather()
	vals := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, l := range mt.GetLabel() {
				key += "/" + l.GetValue()
			}
			vals[key] = mt.GetGauge().GetValue()
		}
	}
	if vals["hetuflow_queue_depth"] != 1 || vals["hetuflow_queue_oldest_pending_age_seconds"] < 59 || vals["hetuflow_agents/online"] != 1 {
		t.Errorf("sampled %v, want depth 1, oldest about a minute, one online agent", vals)
	}
	lifecycletest.Stress(context.WithoutCancel(ctx), t, s)
}
