package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server"
	"github.com/hetuflow/hetuflow/internal/server/alert"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/metrics"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// startOpsApp is startApp with the options an operator-facing test sets.
func startOpsApp(t *testing.T, st store.Store, edit func(*server.Options)) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	opts := server.Options{Config: fastConfig(t), Store: st, Logger: lifecycletest.WarnLogger(t), Version: "test", Listener: ln}
	if edit != nil {
		edit(&opts)
	}
	app, err := server.New(opts)
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

// webhookReceiver records signed webhook bodies.
type webhookReceiver struct {
	mu     sync.Mutex
	bodies []map[string]any
	bad    int
}

func (rcv *webhookReceiver) serve(secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if r.Header.Get(alert.SignatureHeader) != alert.Sign(secret, body) {
			rcv.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		rcv.bodies = append(rcv.bodies, m)
	}
}

func (rcv *webhookReceiver) events() []string {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var out []string
	for _, b := range rcv.bodies {
		out = append(out, b["event"].(string))
	}
	return out
}

// wantFamilies is every metric the server must expose.
var wantFamilies = []string{
	"hetuflow_build_info",
	"hetuflow_trigger_lag_seconds",
	"hetuflow_runs_total",
	"hetuflow_queue_depth",
	"hetuflow_queue_oldest_pending_age_seconds",
	"hetuflow_dispatch_latency_seconds",
	"hetuflow_ack_latency_seconds",
	"hetuflow_agents",
	"hetuflow_ws_messages_sent_total",
	"hetuflow_ws_messages_received_total",
	"hetuflow_ws_resends_total",
	"hetuflow_leader_changes_total",
	"hetuflow_is_leader",
	"hetuflow_generator_lag_seconds",
	"hetuflow_store_query_duration_seconds",
	"hetuflow_alert_deliveries_total",
	"go_goroutines",
	"go_memstats_heap_alloc_bytes",
	"process_cpu_seconds_total",
	"process_resident_memory_bytes",
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestMetricsAndAlerts runs jobs on a PostgreSQL server, then scrapes
// /metrics and checks every metric by name, that labels are bounded, and
// that a failure rule's webhook received a signed alert.
func TestMetricsAndAlerts(t *testing.T) {
	t.Parallel()
	base := teststore.PGURL(t)
	m := metrics.New("test")
	st, err := pgstore.Open(context.WithoutCancel(t.Context()), pgstore.Config{URL: base, Schema: teststore.Schema(t, base), Migrate: true, MaxConns: 8, ObserveQuery: m.QueryDone}, nil)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(st.Close)
	h := startOpsApp(t, st, func(o *server.Options) { o.Metrics = m })
	h.startAgent("agent-1", nil)

	rcv := &webhookReceiver{}
	hook := httptest.NewServer(rcv.serve("hook-secret"))
	t.Cleanup(hook.Close)
	bad := h.createJob("bad", model.JobConfig{Script: "exit 3"})
	h.mustCall(http.MethodPost, "/alert-rules", map[string]any{
		"name": "oncall", "job_id": bad.ID, "events": []string{"failure", "success_after_failure"}, "channel": "webhook",
		"target": hook.URL, "secret": "hook-secret",
	}, nil, http.StatusCreated)

	good := h.createJob("good", model.JobConfig{Script: "echo ok"})
	if got := h.waitTask(h.runJob(good, nil).ID, 20*time.Second); got.Status != model.TaskSucceeded {
		t.Fatalf("good task = %s, want Succeeded", got.Status)
	}
	if got := h.waitTask(h.runJob(bad, nil).ID, 20*time.Second); got.Status != model.TaskFailed {
		t.Fatalf("bad task = %s, want Failed", got.Status)
	}
	h.waitFor(20*time.Second, "the failure alert", func() bool { return len(rcv.events()) >= 1 })
	if ev := rcv.events(); ev[0] != "failure" || rcv.bad != 0 {
		t.Errorf("webhook got %v (%d badly signed), want one signed failure", ev, rcv.bad)
	}

	var (
		fams    map[string]*dto.MetricFamily
		missing []string
	)
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams, missing = scrape(t, h.base+"/metrics"), nil
		for _, name := range wantFamilies {
			if fams[name] == nil {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %v", missing)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for /metrics")
		case <-time.After(100 * time.Millisecond): // the sampler refreshes every few seconds
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "hetuflow_") {
			continue
		}
		if n := len(f.GetMetric()); n > 300 {
			t.Errorf("%s has %d series, want a bounded number", name, n)
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if uuidPattern.MatchString(l.GetValue()) {
					t.Errorf("%s label %s=%q holds an id; labels must be bounded", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	outcomes := map[string]float64{}
	for _, mt := range fams["hetuflow_runs_total"].GetMetric() {
		outcomes[label(mt, "outcome")] += mt.GetCounter().GetValue()
	}
	if outcomes["succeeded"] < 1 || outcomes["failed"] < 1 {
		t.Errorf("hetuflow_runs_total by outcome = %v, want a success and a failure", outcomes)
	}
	ops := map[string]bool{}
	for _, mt := range fams["hetuflow_store_query_duration_seconds"].GetMetric() {
		ops[label(mt, "operation")] = true
	}
	if !ops["TaskInstanceFinishMany"] || !ops["commit"] {
		t.Errorf("store operations = %v, want sqlc query names such as TaskInstanceFinishMany, and commit", ops)
	}
	if g := fams["hetuflow_is_leader"].GetMetric()[0].GetGauge().GetValue(); g != 1 {
		t.Errorf("hetuflow_is_leader = %v, want 1 on the only server", g)
	}
	for _, name := range []string{"hetuflow_trigger_lag_seconds", "hetuflow_dispatch_latency_seconds", "hetuflow_ack_latency_seconds"} {
		if n := fams[name].GetMetric()[0].GetHistogram().GetSampleCount(); n < 2 {
			t.Errorf("%s has %d samples, want one per run", name, n)
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func TestReadyAndRequestID(t *testing.T) {
	t.Parallel()
	st := teststore.SQLite(t)
	h := startOpsApp(t, st, nil)

	h.waitFor(10*time.Second, "ready", func() bool {
		status, _ := h.call(http.MethodGet, "/ready", nil, nil)
		return status == http.StatusOK
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+api.Prefix+"/ready", nil)
	req.Header.Set(server.RequestIDHeader, "trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /ready: %v", err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(server.RequestIDHeader); got != "trace-42" {
		t.Errorf("X-Request-Id = %q, want the client's trace-42 echoed", got)
	}
	resp, err = http.Get(h.base + api.Prefix + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	resp.Body.Close()
	if _, err := uuid.Parse(resp.Header.Get(server.RequestIDHeader)); err != nil {
		t.Errorf("X-Request-Id = %q, want a generated UUID", resp.Header.Get(server.RequestIDHeader))
	}

	// The database goes away: ready says which check failed.
	st.Close()
	status, raw := h.call(http.MethodGet, "/ready", nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(raw), "database") {
		t.Errorf("GET /ready without a database = %d %s, want 503 naming the database", status, raw)
	}
}

func TestMetricsAuth(t *testing.T) {
	t.Parallel()
	h := startOpsApp(t, teststore.SQLite(t), func(o *server.Options) { o.Config.Server.MetricsAuth = true })
	get := func(token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token = %d, want 401", got)
	}
	if got := get("wrong"); got != http.StatusUnauthorized {
		t.Errorf("GET /metrics with a wrong token = %d, want 401", got)
	}
	if got := get(adminToken); got != http.StatusOK {
		t.Errorf("GET /metrics with the admin token = %d, want 200", got)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	level := new(slog.LevelVar)
	var (
		mu   sync.Mutex
		next *config.Config
	)
	h := startOpsApp(t, teststore.SQLite(t), func(o *server.Options) {
		o.LogLevel = level
		o.Reload = func(context.Context) (*config.Config, error) {
			mu.Lock()
			defer mu.Unlock()
			return next, nil
		}
		c := *o.Config
		c.Log.Level = "debug"
		c.Alert.MaxAttempts = 9
		c.Server.Listen = "0.0.0.0:9999"
		c.Scheduler.LeaderTTL = model.Duration(time.Minute)
		mu.Lock()
		next = &c
		mu.Unlock()
	})
	var rep api.ReloadReport
	h.mustCall(http.MethodPost, "/admin/reload", nil, &rep, http.StatusOK)
	if level.Level() != slog.LevelDebug {
		t.Errorf("level after reload = %s, want debug", level.Level())
	}
	if strings.Join(rep.Applied, " ") != "alert.max_attempts log.level" {
		t.Errorf("applied = %v, want alert.max_attempts and log.level", rep.Applied)
	}
	if strings.Join(rep.RestartRequired, " ") != "scheduler.leader_ttl server.listen" {
		t.Errorf("restart_required = %v, want scheduler.leader_ttl and server.listen", rep.RestartRequired)
	}
	// A second reload of the same file still reports the restart keys,
	// and nothing to apply.
	h.mustCall(http.MethodPost, "/admin/reload", nil, &rep, http.StatusOK)
	if len(rep.Applied) != 0 || len(rep.RestartRequired) != 2 {
		t.Errorf("second reload = %+v, want nothing applied and the two restart keys", rep)
	}
}

func TestAlertRulesAPI(t *testing.T) {
	t.Parallel()
	h := startOpsApp(t, teststore.SQLite(t), nil)
	rcv := &webhookReceiver{}
	hook := httptest.NewServer(rcv.serve("s3"))
	t.Cleanup(hook.Close)

	status, raw := h.call(http.MethodPost, "/alert-rules", map[string]any{"name": "x", "events": []string{"fire"}, "channel": "webhook", "target": hook.URL}, nil)
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "body.events[0]") {
		t.Errorf("create with an unknown event = %d %s, want 422 naming body.events[0]", status, raw)
	}
	status, raw = h.call(http.MethodPost, "/alert-rules", map[string]any{"name": "x", "events": []string{"failure"}, "channel": "email", "target": "not-an-address"}, nil)
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "body.target") {
		t.Errorf("create with a bad address = %d %s, want 422 naming body.target", status, raw)
	}

	var rule map[string]any
	raw = h.mustCall(http.MethodPost, "/alert-rules", map[string]any{"name": "ns", "events": []string{"failure", "agent_lost"}, "channel": "webhook", "target": hook.URL, "secret": "s3"}, &rule, http.StatusCreated)
	if strings.Contains(string(raw), `"s3"`) || rule["has_secret"] != true || rule["namespace"] != "default" {
		t.Errorf("created rule = %s, want the secret hidden, has_secret and the default namespace", raw)
	}
	id := rule["id"].(string)
	var test struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	h.mustCall(http.MethodPost, "/alert-rules/"+id+"/test", nil, &test, http.StatusOK)
	if !test.OK || len(rcv.events()) != 1 {
		t.Errorf("test sender = %+v, receiver got %v; want ok and one signed alert", test, rcv.events())
	}
	// Replacing without a secret keeps it: the receiver still verifies.
	h.mustCall(http.MethodPut, "/alert-rules/"+id, map[string]any{"name": "ns2", "events": []string{"failure"}, "channel": "webhook", "target": hook.URL}, &rule, http.StatusOK)
	h.mustCall(http.MethodPost, "/alert-rules/"+id+"/test", nil, &test, http.StatusOK)
	if !test.OK || rule["name"] != "ns2" {
		t.Errorf("after replace: test = %+v, rule = %v; want ok and the new name", test, rule)
	}
	var list struct {
		Result []map[string]any `json:"result"`
	}
	h.mustCall(http.MethodGet, "/alert-rules?namespace=default", nil, &list, http.StatusOK)
	if len(list.Result) != 1 {
		t.Errorf("list = %d rules, want 1", len(list.Result))
	}
	h.mustCall(http.MethodGet, "/alert-rules/"+id+"/deliveries", nil, &list, http.StatusOK)
	h.mustCall(http.MethodDelete, "/alert-rules/"+id, nil, nil, http.StatusNoContent)
	h.mustCall(http.MethodGet, "/alert-rules/"+id, nil, nil, http.StatusNotFound)
}
