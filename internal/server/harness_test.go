package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/agent"
	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

const (
	adminToken = "hf_test-admin-token-0123456789"
	agentToken = "hf_test-agent-token-0123456789"
)

// harness is a real server on a loopback port with a real store, and real
// agents running real processes.
type harness struct {
	t     *testing.T
	store store.Store
	app   *server.App
	base  string
}

// fastConfig shortens the pipeline's timings so tests finish quickly.
func fastConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Server.BootstrapAdminToken = adminToken
	cfg.Server.BootstrapAgentToken = agentToken
	cfg.Server.AllowSharedAgentToken = true
	s := &cfg.Scheduler
	s.GenerateInterval = model.Duration(100 * time.Millisecond)
	s.DispatchInterval = model.Duration(50 * time.Millisecond)
	s.DispatchHorizon = model.Duration(time.Second)
	s.AckTimeout = model.Duration(3 * time.Second)
	s.HeartbeatInterval = model.Duration(500 * time.Millisecond)
	s.HeartbeatTTL = model.Duration(3 * time.Second)
	s.HousekeepingInterval = model.Duration(100 * time.Millisecond)
	return cfg
}

func newHarness(t *testing.T, open func(testing.TB) store.Store, edit func(*config.Config)) *harness {
	t.Helper()
	return startApp(t, open(t), edit)
}

// startApp starts a server on st; several may share one PostgreSQL store.
func startApp(t *testing.T, st store.Store, edit func(*config.Config)) *harness {
	t.Helper()
	cfg := fastConfig(t)
	if edit != nil {
		edit(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	app, err := server.New(server.Options{Config: cfg, Store: st, Logger: lifecycletest.WarnLogger(t), Version: "test", Listener: ln, PurgeInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := app.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return &harness{t: t, store: st, app: app, base: "http://" + app.Addr()}
}

// startAgent runs an agent with the given id and labels against the harness.
func (h *harness) startAgent(id string, labels map[string]string) *agent.Agent {
	h.t.Helper()
	a, err := agent.New(agent.Config{
		ID: id, Servers: []string{"ws://" + h.app.Addr()}, Token: agentToken, Labels: labels,
		Capacity: 8, DataDir: filepath.Join(h.t.TempDir(), id), Version: "test",
	}, lifecycletest.WarnLogger(h.t))
	if err != nil {
		h.t.Fatalf("agent.New: %v", err)
	}
	if err := a.Start(context.WithoutCancel(h.t.Context())); err != nil {
		h.t.Fatalf("agent Start: %v", err)
	}
	h.t.Cleanup(a.Stop)
	h.waitFor(10*time.Second, "agent "+id+" online", func() bool {
		ag, err := h.store.AgentGetByID(context.Background(), &store.AgentGetByIDParams{ID: id})
		return err == nil && ag.Status == model.AgentOnline && ag.ServerID == h.app.ServerID() && a.Status().Connected
	})
	return a
}

// call sends a request with the admin token and decodes a JSON answer into
// out when out is not nil. It returns the status and raw body.
func (h *harness) call(method, path string, body, out any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.base+api.Prefix+path, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// mustCall is call that fails the test unless the status is want.
func (h *harness) mustCall(method, path string, body, out any, want int) []byte {
	h.t.Helper()
	status, raw := h.call(method, path, body, out)
	if status != want {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, status, raw, want)
	}
	return raw
}

func (h *harness) createJob(name string, cfg model.JobConfig) *model.Job {
	h.t.Helper()
	var job model.Job
	h.mustCall(http.MethodPost, "/jobs", map[string]any{"name": name, "config": cfg}, &job, http.StatusCreated)
	return &job
}

func (h *harness) runJob(job *model.Job, params map[string]string) *model.Task {
	h.t.Helper()
	var task model.Task
	h.mustCall(http.MethodPost, "/jobs/"+job.ID.String()+"/run", map[string]any{"parameters": params}, &task, http.StatusCreated)
	return &task
}

// tasks lists a filter's tasks, oldest planned first.
func (h *harness) tasks(filter map[string]any) []*model.Task {
	h.t.Helper()
	var page struct {
		Result []*model.Task `json:"result"`
	}
	h.mustCall(http.MethodPost, "/tasks/query", map[string]any{
		"filter": filter, "page": map[string]any{"limit": 1000, "order_bys": []string{"scheduled_at"}},
	}, &page, http.StatusOK)
	return page.Result
}

func (h *harness) createSchedule(body map[string]any) *model.Schedule {
	h.t.Helper()
	var s model.Schedule
	h.mustCall(http.MethodPost, "/schedules", body, &s, http.StatusCreated)
	return &s
}

func (h *harness) task(id uuid.UUID) *model.Task {
	h.t.Helper()
	var task model.Task
	h.mustCall(http.MethodGet, "/tasks/"+id.String(), nil, &task, http.StatusOK)
	return &task
}

// instances lists a filter's task instances, oldest first.
func (h *harness) instances(filter map[string]any) []*model.TaskInstance {
	h.t.Helper()
	var page struct {
		Result []*model.TaskInstance `json:"result"`
	}
	h.mustCall(http.MethodPost, "/task-instances/query", map[string]any{
		"filter": filter, "page": map[string]any{"limit": 1000, "order_bys": []string{"created_at"}},
	}, &page, http.StatusOK)
	return page.Result
}

func (h *harness) log(id uuid.UUID, stream model.LogStream) string {
	h.t.Helper()
	return string(h.mustCall(http.MethodGet, "/task-instances/"+id.String()+"/log?stream="+string(stream), nil, nil, http.StatusOK))
}

// waitTask waits until a task is final and returns it.
func (h *harness) waitTask(id uuid.UUID, timeout time.Duration) *model.Task {
	h.t.Helper()
	var t *model.Task
	h.waitFor(timeout, "task "+id.String()+" final", func() bool {
		t = h.task(id)
		return t.Status.Final()
	})
	return t
}

// waitFor polls cond until it holds, failing the test after timeout. It
// watches real processes and sockets, which have no in-process signal.
func (h *harness) waitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-h.t.Context().Done():
			h.t.Fatalf("test ended waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func eachStore(t *testing.T, fn func(t *testing.T, open func(testing.TB) store.Store)) {
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, o.Open)
		})
	}
}

func fmtInstances(ins []*model.TaskInstance) string {
	var b bytes.Buffer
	for _, in := range ins {
		code := "nil"
		if in.ExitCode != nil {
			code = fmt.Sprint(*in.ExitCode)
		}
		fmt.Fprintf(&b, "\n  attempt %d %s exit %s agent %s error %q", in.Attempt, in.Status, code, in.AgentID, in.Error)
	}
	return b.String()
}
