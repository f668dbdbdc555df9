package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

const adminToken = "hf_client-test"

// adminAuth treats the test token as the bootstrap admin token.
type adminAuth struct{}

func (adminAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	if h != "Bearer "+adminToken {
		return nil, auth.ErrUnauthorized
	}
	return auth.BootstrapAdmin("admin", "admin"), nil
}

func (adminAuth) AllowRequest(*auth.Principal) (bool, time.Duration) { return true, 0 }

type nopScheduler struct{}

func (nopScheduler) WakeGenerator()              {}
func (nopScheduler) WakeGeneratorFor(*time.Time) {}
func (nopScheduler) WakeDispatcher()             {}
func (nopScheduler) DispatchNow(context.Context, store.Executor, []*model.Task) (func(bool), int, error) {
	return func(bool) {}, 0, nil
}
func (nopScheduler) CancelInstance(string, uuid.UUID, string) {}
func (nopScheduler) DrainAgent(context.Context, string, string) error {
	return api.ErrAgentNotConnected
}

// apiClient serves the real API in process, on SQLite, and returns a
// client of it: the client's types must decode what the server writes.
func apiClient(t *testing.T) *client.Client {
	t.Helper()
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: teststore.SQLite(t), Logs: logs, Auth: adminAuth{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithToken(adminToken), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientAgainstTheAPI(t *testing.T) {
	ctx := t.Context()
	c := apiClient(t)
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" || h.ServerID != "s1" {
		t.Fatalf("health = %+v, %v", h, err)
	}
	job, err := c.CreateJob(ctx, &client.JobSpec{Name: "hello", Config: client.JobConfig{Command: "echo", Args: []string{"hi"}, Timeout: client.Duration(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	if job.Namespace != "default" || job.Status != client.JobEnabled || job.Config.Timeout.String() != "1m0s" {
		t.Errorf("created job = %+v", job)
	}
	if _, err := c.CreateJob(ctx, &client.JobSpec{Name: "hello", Config: client.JobConfig{Command: "true"}}); !client.IsConflict(err) {
		t.Errorf("duplicate name: %v, want a conflict", err)
	}
	var ae *client.APIError
	if _, err := c.CreateJob(ctx, &client.JobSpec{Name: "bad", Config: client.JobConfig{}}); !errors.As(err, &ae) || ae.Code != "validation_failed" || len(ae.Errors) == 0 {
		t.Errorf("invalid job: %#v", err)
	}
	if got, err := c.FindJob(ctx, "", "hello"); err != nil || got.ID != job.ID {
		t.Errorf("FindJob = %v, %v", got, err)
	}
	if _, err := c.FindJob(ctx, "", "nosuch"); !client.IsNotFound(err) {
		t.Errorf("FindJob of a missing name: %v", err)
	}
	job.Config.Args = []string{"again"}
	if got, err := c.ReplaceJob(ctx, job.ID, &client.JobSpec{Name: "hello", Config: job.Config}); err != nil || got.Config.Args[0] != "again" {
		t.Errorf("ReplaceJob = %v, %v", got, err)
	}
	if got, err := c.DisableJob(ctx, job.ID); err != nil || got.Status != client.JobDisabled {
		t.Errorf("DisableJob = %v, %v", got, err)
	}
	if _, err := c.EnableJob(ctx, job.ID); err != nil {
		t.Fatal(err)
	}

	s, err := c.CreateSchedule(ctx, &client.ScheduleSpec{JobID: job.ID, Name: "daily", Kind: client.ScheduleCron, Cron: "0 0 3 * * *", TimeZone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Schedule == nil || s.Name != "daily" || s.NextFireAt == nil {
		t.Fatalf("created schedule = %+v", s)
	}
	if p, err := c.PreviewStoredSchedule(ctx, s.ID, time.Time{}, 3); err != nil || len(p.Fires) != 3 || p.TimeZone != "Europe/London" {
		t.Errorf("PreviewStoredSchedule = %+v, %v", p, err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if p, err := c.PreviewSchedule(ctx, &client.PreviewRequest{Interval: 90 * time.Second, StartTime: &from, From: from, N: 2}); err != nil || len(p.Fires) != 2 {
		t.Errorf("PreviewSchedule = %+v, %v", p, err)
	}
	if l, err := c.ScheduleLedger(ctx, s.ID, time.Time{}, time.Time{}, 0); err != nil || l.ScheduleID != s.ID {
		t.Errorf("ScheduleLedger = %+v, %v", l, err)
	}
	ev, err := c.CreateSchedule(ctx, &client.ScheduleSpec{JobID: job.ID, Name: "on-push", Kind: client.ScheduleEvent})
	if err != nil || ev.HookSecret == "" {
		t.Fatalf("event schedule = %+v, %v", ev, err)
	}
	if res, err := c.FireHook(ctx, ev.ID, ev.HookSecret, []byte(`{"action":"push"}`)); err != nil || !res.Fired || res.TaskID == nil {
		t.Errorf("FireHook = %+v, %v", res, err)
	}
	if _, err := c.FireHook(ctx, ev.ID, "wrong", nil); !client.IsUnauthorized(err) {
		t.Errorf("FireHook with a wrong secret: %v", err)
	}
	if got, err := c.DisableSchedule(ctx, s.ID); err != nil || got.Status != model.ScheduleDisabled {
		t.Errorf("DisableSchedule = %+v, %v", got, err)
	}
	if res, err := c.QuerySchedules(ctx, &client.Query{Filter: map[string]any{"job_id": job.ID.String()}}); err != nil || res.Page.Total != 2 {
		t.Errorf("QuerySchedules = %+v, %v", res, err)
	}

	task, err := c.RunJob(ctx, job.ID, &client.RunRequest{Parameters: map[string]string{"k": "v"}, Priority: 5})
	if err != nil {
		t.Fatal(err)
	}
	if task.JobID != job.ID || task.Priority != 5 || task.Parameters["k"] != "v" {
		t.Errorf("run = %+v", task)
	}
	if got, err := c.CancelTask(ctx, task.ID, "test"); err != nil || got.Status != model.TaskCancelled {
		t.Errorf("CancelTask = %+v, %v", got, err)
	}
	if _, err := c.CancelTask(ctx, task.ID, "again"); !client.IsConflict(err) {
		t.Errorf("second cancel: %v, want a conflict", err)
	}
	if res, err := c.QueryTasks(ctx, &client.Query{Filter: map[string]any{"status": "cancelled"}}); err != nil || len(res.Result) != 1 || res.Result[0].ID != task.ID {
		t.Errorf("QueryTasks = %+v, %v", res, err)
	}
	if ti, err := c.LatestInstance(ctx, task.ID); err != nil || ti != nil {
		t.Errorf("LatestInstance of a task that never ran = %v, %v", ti, err)
	}

	flow, err := c.CreateFlow(ctx, &client.FlowSpecBody{Name: "f", Spec: client.FlowSpec{Nodes: []model.FlowNode{{Name: "a", JobID: job.ID}}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.RunFlow(ctx, flow.ID, nil)
	if err != nil || run.FlowRun == nil || len(run.Nodes) != 1 {
		t.Fatalf("RunFlow = %+v, %v", run, err)
	}
	if got, err := c.GetFlowRun(ctx, run.ID); err != nil || got.FlowID != flow.ID {
		t.Errorf("GetFlowRun = %+v, %v", got, err)
	}

	if res, err := c.QueryAgents(ctx, nil); err != nil || res.Page.Total != 0 {
		t.Errorf("QueryAgents = %+v, %v", res, err)
	}
	if _, err := c.GetAgent(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("GetAgent of a missing agent: %v", err)
	}
	if st, err := c.Cluster(ctx); err != nil || st.AgentsByStatus == nil {
		t.Errorf("Cluster = %+v, %v", st, err)
	}
	if err := c.DeleteSchedule(ctx, s.ID); err != nil {
		t.Error(err)
	}
	if err := c.DeleteJob(ctx, job.ID); err != nil {
		t.Error(err)
	}
	if _, err := c.GetJob(ctx, job.ID); !client.IsNotFound(err) {
		t.Errorf("deleted job: %v", err)
	}
	bad, _ := client.New(c.Base(), client.WithToken("wrong"))
	if _, err := bad.QueryJobs(ctx, nil); !client.IsUnauthorized(err) {
		t.Errorf("wrong token: %v", err)
	}
}
