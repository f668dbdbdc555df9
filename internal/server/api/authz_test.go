package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

var update = flag.Bool("update", false, "rewrite docs/authorization.md from the route list")

const authzDoc = "../../../docs/authorization.md"

// cheapPasswords keeps argon2id fast in tests; production uses the config.
var cheapPasswords = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}

// secBundle is an API with real authentication on a fresh store.
type secBundle struct {
	store    store.Store
	api      *api.API
	accounts *auth.Service
	srv      *httptest.Server
	admin    string // the bootstrap admin token
}

func newSecBundle(t *testing.T, cfg auth.Config) *secBundle {
	t.Helper()
	return newSecBundleStore(t, teststore.SQLite(t), cfg)
}

// newSecBundleOn is a second server on b's database.
func newSecBundleOn(t *testing.T, b *secBundle) *secBundle {
	t.Helper()
	other := newSecBundleStore(t, b.store, auth.Config{})
	other.admin = b.admin
	return other
}

func newSecBundleStore(t *testing.T, st store.Store, cfg auth.Config) *secBundle {
	t.Helper()
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatalf("tasklog.New: %v", err)
	}
	if cfg.Password.Memory == 0 {
		cfg.Password = cheapPasswords
	}
	log := lifecycletest.WarnLogger(t)
	acc := auth.NewService(st, auth.NewTokens(st), cfg, log)
	enrol, secretStore := agentSecurity(t, st, log)
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: acc, Accounts: acc, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: log,
		FollowHeartbeat: 50 * time.Millisecond, AgentAuth: enrol, Secrets: secretStore, Alerts: nopAlerts{}})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	admin, _, err := auth.Bootstrap(t.Context(), st, model.TokenAdmin, "")
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return &secBundle{store: st, api: a, accounts: acc, srv: srv, admin: admin}
}

// token stores an API token with one grant and returns it.
func (b *secBundle) token(t *testing.T, name string, namespaces []string, role model.Role) (id, secret string) {
	t.Helper()
	secret = auth.Generate()
	tok, err := b.store.AccessTokenInsert(t.Context(), &store.AccessTokenInsertParams{
		ID: uuid.NewString(), Name: name, Kind: model.AccessAPI, Hash: auth.Hash(secret), Namespaces: namespaces, Role: role,
	})
	if err != nil {
		t.Fatalf("insert token: %v", err)
	}
	return tok.ID, secret
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) {
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
	}
}

// call sends a request and returns the status and body. A stream that is
// still open after a second counts as answered 200: authorisation is
// decided before a stream starts.
func (b *secBundle) call(t *testing.T, method, path string, body any, opts ...reqOpt) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		raw, _ := json.Marshal(v)
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.srv.URL+api.Prefix+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, context.DeadlineExceeded) && strings.HasSuffix(path, "/stream") {
		return http.StatusOK, nil, nil
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, nil, resp.Header
	}
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

// must calls as the bootstrap admin and decodes the answer into out.
func (b *secBundle) must(t *testing.T, method, path string, body, out any, want int) {
	t.Helper()
	status, raw, _ := b.call(t, method, path, body, bearer(b.admin))
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
}

// fixtures are one object of every kind, in api.MatrixNamespace.
type fixtures struct {
	job, schedule, event, flow, flowRun, task, instance, token string
	alertRule, secret, enrollToken, enrollPlain, agent         string
	user                                                       string
}

func (b *secBundle) fixtures(t *testing.T) *fixtures {
	t.Helper()
	ctx := t.Context()
	ns := api.MatrixNamespace
	var f fixtures
	var job, job2 struct{ ID string }
	b.must(t, "POST", "/jobs", map[string]any{"namespace": ns, "name": "j-" + uuid.NewString()[:8], "config": map[string]any{"command": "true"}}, &job, 201)
	b.must(t, "POST", "/jobs", map[string]any{"namespace": ns, "name": "k-" + uuid.NewString()[:8], "config": map[string]any{"command": "true"}}, &job2, 201)
	f.job = job.ID
	var s, ev struct{ ID string }
	b.must(t, "POST", "/schedules", map[string]any{"job_id": job.ID, "kind": model.ScheduleInterval, "interval": "1h"}, &s, 201)
	b.must(t, "POST", "/schedules", map[string]any{"job_id": job.ID, "kind": model.ScheduleEvent}, &ev, 201)
	f.schedule, f.event = s.ID, ev.ID
	var fl struct{ ID string }
	b.must(t, "POST", "/flows", map[string]any{"namespace": ns, "name": "f-" + uuid.NewString()[:8], "spec": map[string]any{
		"nodes": []map[string]any{{"name": "a", "job_id": job.ID}, {"name": "b", "job_id": job2.ID}},
		"edges": []map[string]any{{"from": "a", "to": "b"}},
	}}, &fl, 201)
	f.flow = fl.ID
	var run struct{ ID string }
	b.must(t, "POST", "/flows/"+fl.ID+"/run", map[string]any{}, &run, 201)
	f.flowRun = run.ID
	var task struct {
		ID    string
		JobID uuid.UUID `json:"job_id"`
	}
	b.must(t, "POST", "/jobs/"+job.ID+"/run", map[string]any{}, &task, 201)
	f.task = task.ID
	tid := uuid.MustParse(task.ID)
	ti := storetest.TaskInstance(ctx, t, b.store, &storetest.TaskInstanceOpts{TaskID: &tid, Namespace: &ns})
	f.instance = ti.ID.String()
	f.token, _ = b.token(t, "victim", []string{ns}, model.RoleViewer)
	var rule struct{ ID string }
	b.must(t, "POST", "/alert-rules", map[string]any{"namespace": ns, "name": "r-" + uuid.NewString()[:8], "events": []string{"failure"},
		"channel": "webhook", "target": "https://alerts.example.com/hook"}, &rule, 201)
	f.alertRule = rule.ID
	f.secret = "S_" + strings.ToUpper(uuid.NewString()[:8])
	b.must(t, "PUT", "/secrets/"+ns+"/"+f.secret, map[string]any{"value": "hunter2"}, nil, 200)
	// Two enrolment tokens: one to revoke and to enrol with (a route's
	// own fixture), one used up here to enrol the agent to revoke.
	var et, used struct {
		Token       string
		EnrollToken struct{ ID string } `json:"enroll_token"`
	}
	b.must(t, "POST", "/agent-enroll-tokens", map[string]any{"name": "matrix"}, &et, 201)
	f.enrollToken, f.enrollPlain = et.EnrollToken.ID, et.Token
	b.must(t, "POST", "/agent-enroll-tokens", map[string]any{"name": "matrix agent"}, &used, 201)
	var enrolled struct {
		AgentID string `json:"agent_id"`
	}
	b.must(t, "POST", "/agents/enroll", map[string]any{"token": used.Token}, &enrolled, 200)
	f.agent = enrolled.AgentID
	var user struct{ ID string }
	b.must(t, "POST", "/users", map[string]any{"name": "u-" + uuid.NewString()[:8], "password": "correct horse battery", "namespace": ns, "role": "viewer"}, &user, 201)
	f.user = user.ID
	return &f
}

// request returns the call that exercises route r on f, with a valid body,
// so that an authorised caller gets the handler's own answer.
func request(t *testing.T, r api.Route, f *fixtures) (path string, body any) {
	t.Helper()
	ns := api.MatrixNamespace
	id := map[string]string{
		"get-job": f.job, "replace-job": f.job, "delete-job": f.job, "enable-job": f.job, "disable-job": f.job, "run-job": f.job,
		"get-schedule": f.schedule, "replace-schedule": f.schedule, "delete-schedule": f.schedule, "enable-schedule": f.schedule,
		"disable-schedule": f.schedule, "run-schedule": f.schedule, "preview-stored-schedule": f.schedule, "schedule-ledger": f.schedule,
		"fire-hook": f.event, "rotate-hook-secret": f.event,
		"get-flow": f.flow, "replace-flow": f.flow, "delete-flow": f.flow, "run-flow": f.flow,
		"get-flow-run": f.flowRun, "cancel-flow-run": f.flowRun,
		"get-task": f.task, "cancel-task": f.task,
		"get-task-instance": f.instance, "get-task-instance-log": f.instance, "follow-task-instance-log": f.instance,
		"get-agent": "agent-1", "drain-agent": "agent-1", "get-server": "s1", "revoke-token": f.token,
		"get-alert-rule": f.alertRule, "replace-alert-rule": f.alertRule, "delete-alert-rule": f.alertRule,
		"test-alert-rule": f.alertRule, "list-alert-deliveries": f.alertRule,
		"revoke-enroll-token": f.enrollToken, "revoke-agent": f.agent,
		"set-user-password": f.user, "set-user-grant": f.user, "revoke-user-grant": f.user, "delete-user": f.user,
	}
	bodies := map[string]any{
		"create-job":       map[string]any{"namespace": ns, "name": "n-" + uuid.NewString()[:8], "config": map[string]any{"command": "true"}},
		"replace-job":      map[string]any{"name": "r-" + uuid.NewString()[:8], "config": map[string]any{"command": "true"}},
		"create-schedule":  map[string]any{"job_id": f.job, "kind": model.ScheduleInterval, "interval": "2h"},
		"replace-schedule": map[string]any{"job_id": f.job, "kind": model.ScheduleInterval, "interval": "3h"},
		"create-flow": map[string]any{"namespace": ns, "name": "g-" + uuid.NewString()[:8], "spec": map[string]any{
			"nodes": []map[string]any{{"name": "a", "job_id": f.job}}}},
		"replace-flow": map[string]any{"name": "h-" + uuid.NewString()[:8], "spec": map[string]any{
			"nodes": []map[string]any{{"name": "a", "job_id": f.job}}}},
		"fire-hook":    "{}",
		"login":        map[string]any{"name": "alice", "password": "correct horse battery"},
		"create-token": map[string]any{"name": "new", "namespaces": []string{ns}, "role": "viewer"},
		"create-alert-rule": map[string]any{"namespace": ns, "name": "a-" + uuid.NewString()[:8], "events": []string{"failure", "timeout"},
			"channel": "email", "target": "ops@example.com"},
		"replace-alert-rule": map[string]any{"name": "b-" + uuid.NewString()[:8], "events": []string{"agent_lost"},
			"channel": "webhook", "target": "https://alerts.example.com/other"},
		"put-secret":          map[string]any{"value": "correct horse"},
		"create-enroll-token": map[string]any{"name": "rack 4", "labels": "role=db", "ttl": "1h"},
		"enroll-agent":        map[string]any{"token": f.enrollPlain, "labels": map[string]string{"role": "db"}},
		"create-user":         map[string]any{"name": "n-" + uuid.NewString()[:8], "password": "correct horse battery", "namespace": ns, "role": "editor"},
		"set-user-password":   map[string]any{"password": "correct horse battery staple"},
		"set-user-grant":      map[string]any{"role": "operator"},
	}
	path = strings.TrimPrefix(r.Path, api.Prefix)
	if strings.Contains(path, "{id}") {
		v, ok := id[r.ID]
		if !ok {
			t.Fatalf("route %s %s (%s) has no fixture in the authorisation matrix: add one", r.Method, r.Path, r.ID)
		}
		path = strings.Replace(path, "{id}", v, 1)
	}
	// Secrets are named by namespace and name, both in the path.
	path = strings.Replace(path, "{namespace}", ns, 1)
	path = strings.Replace(path, "{name}", f.secret, 1)
	switch r.ID {
	case "preview-schedule":
		path += "?cron=0+3+*+*+*&n=2"
	case "schedule-ledger":
		path += "?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
	}
	if b, ok := bodies[r.ID]; ok {
		return path, b
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		return path, map[string]any{}
	}
	return path, nil
}

// classify turns a status into the table's words.
func classify(r api.Route, status int) string {
	if r.Permission == auth.PermPublic && status != http.StatusForbidden {
		return "public"
	}
	switch status {
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusNotFound:
		return "404"
	}
	return "ok"
}

// TestAuthorizationMatrix calls every registered route as every kind of
// caller and compares the answers with the table generated from the
// routes' declared permissions, which is also docs/authorization.md.
func TestAuthorizationMatrix(t *testing.T) {
	b := newSecBundle(t, auth.Config{LoginPerUser: 1000, LoginPerAddress: 1000})
	routes := b.api.Routes()
	md := api.AuthorizationMarkdown(routes)
	if *update {
		if err := os.WriteFile(authzDoc, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if old, err := os.ReadFile(authzDoc); err != nil || string(old) != md {
		t.Errorf("docs/authorization.md is stale (or missing: %v); run go test ./internal/server/api -run TestAuthorizationMatrix -update", err)
	}
	ctx := t.Context()
	storetest.Agent(ctx, t, b.store, &storetest.AgentOpts{ID: ptr("agent-1")})
	if _, err := b.store.ServerUpsert(ctx, &store.ServerUpsertParams{ID: "s1", Address: "127.0.0.1:1", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateUser(ctx, b.store, "alice", auth.HashPassword("correct horse battery", cheapPasswords), model.RoleAdmin, model.AllNamespaces); err != nil {
		t.Fatal(err)
	}
	cols := api.Columns()
	creds := map[string]string{"wrong": "hf_" + strings.Repeat("x", 43)}
	for _, c := range cols {
		if c.Principal == nil {
			continue
		}
		for ns, role := range c.Principal.Grants {
			_, creds[c.Name] = b.token(t, c.Name, []string{ns}, role)
		}
	}
	shared := b.fixtures(t)
	// refusals are the answers an admin gets from a valid request that
	// this in-process server cannot carry out.
	refusals := map[string]int{
		"ready":         http.StatusServiceUnavailable, // no leader
		"reload-config": http.StatusServiceUnavailable, // no configuration file
		"drain-agent":   http.StatusConflict,           // agent-1 is not connected
		"delete-job":    http.StatusConflict,           // its run is in progress
		"delete-flow":   http.StatusConflict,           // its run is in progress
		"fire-hook":     http.StatusUnauthorized,       // signed by the hook's secret, not sent
	}
	for _, r := range routes {
		for _, c := range cols {
			f := shared
			if r.Method != http.MethodGet && !strings.HasSuffix(r.Path, "/query") {
				f = b.fixtures(t) // changes get their own objects
			}
			path, body := request(t, r, f)
			status, raw, _ := b.call(t, r.Method, path, body, bearer(creds[c.Name]))
			if c.Name == "admin@*" && status >= 400 && refusals[r.ID] != status {
				// The fixtures are valid requests: an admin gets the
				// handler's own success, or its known refusal.
				t.Errorf("%s %s as admin@* = %d %s: fix the route's fixture", r.Method, path, status, raw)
			}
			if got, want := classify(r, status), api.Expect(r, c); got != want {
				t.Errorf("%s %s as %s = %d (%s), want %s: %s", r.Method, r.Path, c.Name, status, got, want, raw)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestListsAreScoped checks that queries show only visible namespaces.
func TestListsAreScoped(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	b.fixtures(t)
	_, mine := b.token(t, "mine", []string{api.MatrixNamespace}, model.RoleViewer)
	_, other := b.token(t, "other", []string{api.MatrixOther}, model.RoleAdmin)
	for _, res := range []string{"jobs", "schedules", "flows", "flow-runs", "tasks", "task-instances"} {
		for _, c := range []struct {
			tok  string
			seen bool
		}{{mine, true}, {other, false}} {
			status, raw, _ := b.call(t, "POST", "/"+res+"/query", "{}", bearer(c.tok))
			var page struct {
				Page struct{ Total int } `json:"page"`
			}
			if status != 200 || json.Unmarshal(raw, &page) != nil {
				t.Fatalf("query %s = %d %s", res, status, raw)
			}
			if (page.Page.Total > 0) != c.seen {
				t.Errorf("query %s: total %d, want visible=%v", res, page.Page.Total, c.seen)
			}
		}
	}
	// The cluster's queue depth counts only visible namespaces too.
	var cl struct {
		QueueDepth int `json:"queue_depth"`
	}
	for _, c := range []struct {
		tok  string
		want bool
	}{{mine, true}, {other, false}} {
		status, raw, _ := b.call(t, "GET", "/cluster", nil, bearer(c.tok))
		if status != 200 || json.Unmarshal(raw, &cl) != nil {
			t.Fatalf("cluster = %d %s", status, raw)
		}
		if (cl.QueueDepth > 0) != c.want {
			t.Errorf("cluster queue depth %d for %v", cl.QueueDepth, c.want)
		}
	}
}

// TestEveryOperationDeclaresPermission: each operation in the OpenAPI
// document was registered with a permission.
func TestEveryOperationDeclaresPermission(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	declared := map[string]bool{}
	for _, r := range b.api.Routes() {
		declared[r.Method+" "+r.Path] = true
		if r.Permission == "" {
			t.Errorf("%s %s has an empty permission", r.Method, r.Path)
		}
	}
	n := 0
	for path, item := range b.api.OpenAPI().Paths {
		for method, op := range map[string]any{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "DELETE": item.Delete, "PATCH": item.Patch} {
			if op == nil || op == (*huma.Operation)(nil) {
				continue
			}
			n++
			if !declared[method+" "+path] {
				t.Errorf("%s %s is registered without a permission (use reg in routes.go)", method, path)
			}
		}
	}
	if n != len(declared) {
		t.Errorf("%d operations in the OpenAPI document, %d declared", n, len(declared))
	}
}
