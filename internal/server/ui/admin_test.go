package ui_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/agentauth"
	"github.com/hetuflow/hetuflow/internal/server/alert"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/server/ui"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// adminBundle is a console whose API has secrets, agent enrolment and
// alerts, as the server wires them.
type adminBundle struct {
	*bundle
	agents *agentauth.Service
}

func setupAdmin(t *testing.T) *adminBundle {
	t.Helper()
	st := teststore.SQLite(t)
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.ParseKeys(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", secrets.KeySize))))
	if err != nil {
		t.Fatal(err)
	}
	log := lifecycletest.WarnLogger(t)
	agents := agentauth.New(agentauth.Config{}, st, nil, log)
	alerts := alert.New(alert.Config{Timeout: 10 * time.Second}, st, nil, log)
	// Accounts hash the passwords of the users page, cheaply here.
	accounts := auth.NewService(st, auth.NewTokens(st), auth.Config{Password: auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}}, log)
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokens{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: log,
		Secrets: secrets.New(st, keys), AgentAuth: agents, Alerts: alerts, Accounts: accounts})
	ta := &ui.TokenAuth{Tokens: tokens{}, Extra: map[string]ui.Identity{
		viewerTok: {Name: "viewer-a", Roles: map[string]ui.Role{"team-a": ui.RoleViewer}},
	}}
	u := ui.New(ui.Deps{Store: st, API: a, Auth: ta, Version: "test", Logger: log})
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return &adminBundle{bundle: &bundle{st: st, api: a, srv: srv}, agents: agents}
}

var adminPages = []string{"/admin/tokens", "/admin/users", "/admin/secrets", "/admin/secrets?ns=team-a", "/admin/enroll", "/admin/alerts", "/admin/audit"}

var missingKey = regexp.MustCompile(`![a-z_]+\.[a-z_.0-9]+!`)

func TestAdminPagesRenderForAdminsOnly(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	// Something on every page: a user with grants, a token, a secret, an
	// enrolment token, a rule.
	ctx := adminCtx(t)
	usr, err := b.st.UserInsert(ctx, &store.UserInsertParams{ID: "u1", Name: "alice", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.GrantSet(ctx, &store.GrantSetParams{UserID: usr.ID, Namespace: "team-a", Role: model.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.api.CreateToken(ctx, api.TokenBody{Name: "ci", Namespaces: []string{"team-a"}, Role: model.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.api.PutSecret(ctx, "team-a", "DB_PASSWORD", "pw"); err != nil {
		t.Fatal(err)
	}
	var et api.EnrollTokenInput
	et.Body.Name = "rack-1"
	if _, _, err := b.api.CreateEnrollToken(ctx, et); err != nil {
		t.Fatal(err)
	}
	if _, err := b.api.CreateAlertRule(ctx, api.AlertRuleBody{Namespace: "team-a", Name: "pager", Events: []model.AlertEvent{model.AlertFailure}, Channel: model.AlertWebhook, Target: "https://hooks.example/x"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/admin/users": "alice", "/admin/tokens": "ci", "/admin/secrets?ns=team-a": "DB_PASSWORD", "/admin/enroll": "rack-1", "/admin/alerts": "pager", "/admin/audit": "create-token"}
	for _, lang := range []string{"en", "zh-CN"} {
		c := b.client(t)
		c.login(adminTok)
		c.lang = lang
		_, home := c.get("/")
		if !strings.Contains(home, `href="/admin/tokens"`) {
			t.Errorf("%s: the admin sees no admin link", lang)
		}
		for _, p := range adminPages {
			code, body := c.get(p)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d", lang, p, code)
			}
			if missingKey.MatchString(body) {
				t.Errorf("%s %s: a key missing from the catalogue shows", lang, p)
			}
			if w := want[p]; w != "" && !strings.Contains(body, w) {
				t.Errorf("%s %s: %q not shown", lang, p, w)
			}
		}
	}
	_, body := (func() (int, string) {
		c := b.client(t)
		c.login(adminTok)
		c.lang = "zh-CN"
		return c.get("/admin/users")
	})()
	if !strings.Contains(body, "编辑者") || !strings.Contains(body, "用户") {
		t.Error("the users page is not in Chinese, or lacks the role")
	}
	v := b.client(t)
	v.login(viewerTok)
	_, home := v.get("/")
	if strings.Contains(home, "/admin/") {
		t.Error("a viewer sees an admin link")
	}
	for _, p := range append(adminPages, "/admin") {
		if code, body := v.get(p); code != http.StatusNotFound || strings.Contains(body, "DB_PASSWORD") {
			t.Errorf("viewer %s: %d", p, code)
		}
	}
	for _, p := range []string{"/admin/tokens", "/admin/secrets", "/admin/enroll", "/admin/alerts", "/agents/a1/revoke"} {
		if resp, _ := v.post("/", p, url.Values{"name": {"x"}, "namespace": {"team-a"}, "value": {"v"}, "confirmed": {"1"}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("viewer POST %s: %d", p, resp.StatusCode)
		}
	}
	if _, err := b.api.ListSecrets(ctx, "team-a"); err != nil {
		t.Fatal(err)
	}
	toks, _ := b.api.ListTokens(ctx)
	if len(toks) != 1 {
		t.Fatalf("a viewer's POST made a token: %d tokens", len(toks))
	}
}

func TestAdminTokenCreateAndRevoke(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c := b.client(t)
	c.login(adminTok)
	// A bad expiry is shown beside its field; nothing is stored.
	resp, body := c.post("/admin/tokens", "/admin/tokens", url.Values{"name": {"deploy"}, "role": {"editor"}, "namespaces": {"team-a, team-b"}, "expires_in": {"soon"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "must be a duration") || !strings.Contains(body, `value="deploy"`) {
		t.Fatalf("bad expiry: %d", resp.StatusCode)
	}
	// What the API's schema refuses (no name, no namespace) is refused here
	// too, beside the fields.
	resp, body = c.post("/admin/tokens", "/admin/tokens", url.Values{"name": {""}, "role": {"editor"}, "namespaces": {""}})
	if resp.StatusCode != http.StatusUnprocessableEntity || strings.Count(body, `class="field-error"`) != 2 {
		t.Fatalf("empty name and namespaces: %d, %d field errors", resp.StatusCode, strings.Count(body, `class="field-error"`))
	}
	resp, body = c.post("/admin/tokens", "/admin/tokens", url.Values{"name": {"deploy"}, "role": {"editor"}, "namespaces": {"team-a, team-b"}, "expires_in": {"720h"}})
	secret := regexp.MustCompile(`id="once-value"[^>]*value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || secret == nil || !strings.Contains(body, "never shown again") || !strings.Contains(body, "API token deploy created.") {
		t.Fatalf("create: %d, secret %v", resp.StatusCode, secret)
	}
	toks, err := b.api.ListTokens(adminCtx(t))
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %d", err, len(toks))
	}
	tok := toks[0]
	if tok.Role != model.RoleEditor || strings.Join(tok.Namespaces, ",") != "team-a,team-b" || tok.ExpiresAt == nil {
		t.Fatalf("stored token: %+v", tok)
	}
	// The list shows the token, never its secret again.
	_, body = c.get("/admin/tokens")
	if !strings.Contains(body, "deploy") || strings.Contains(body, secret[1]) || !strings.Contains(body, "team-a, team-b") {
		t.Fatal("token list: missing the token, or shows its secret")
	}
	// Revoking asks first without a script, then revokes.
	resp, body = c.post("/admin/tokens", "/admin/tokens/"+tok.ID+"/revoke", url.Values{"name": {"deploy"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirmed" value="1"`) || !strings.Contains(body, "Revoke API token deploy?") {
		t.Fatalf("revoke without confirmation: %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/tokens", "/admin/tokens/"+tok.ID+"/revoke", url.Values{"name": {"deploy"}, "confirmed": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	_, body = c.get("/admin/tokens")
	if !strings.Contains(body, "API token deploy revoked.") || strings.Contains(body, "/admin/tokens/"+tok.ID+"/revoke") {
		t.Fatal("no result message, or the revoked token still has a revoke button")
	}
	toks, _ = b.api.ListTokens(adminCtx(t))
	if toks[0].RevokedAt == nil {
		t.Fatal("token not revoked")
	}
	// Both actions are in the audit log, newest first.
	_, body = c.get("/admin/audit")
	i, j := strings.Index(body, "revoke-token"), strings.Index(body, "create-token")
	if i < 0 || j < 0 || i > j || strings.Contains(body, secret[1]) {
		t.Fatalf("audit log: revoke at %d, create at %d, or the secret shows", i, j)
	}
}

func TestAdminSecretSetAndDelete(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c := b.client(t)
	c.login(adminTok)
	const value = "hunter2-very-secret-value"
	resp, _ := c.post("/admin/secrets", "/admin/secrets", url.Values{"namespace": {"team-a"}, "name": {"API_KEY"}, "value": {value}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/secrets?ns=team-a" {
		t.Fatalf("set: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	pages := []string{"/admin/secrets?ns=team-a", "/admin/audit", "/admin/tokens", "/"}
	_, body := c.get("/admin/secrets?ns=team-a")
	if !strings.Contains(body, "Secret API_KEY saved in team-a.") || !strings.Contains(body, "API_KEY") {
		t.Fatal("no result message or no secret listed")
	}
	// A bad name is shown beside the field, and the value is not sent back.
	resp, body = c.post("/admin/secrets", "/admin/secrets", url.Values{"namespace": {"team-a"}, "name": {"bad name!"}, "value": {value}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) || strings.Contains(body, value) {
		t.Fatalf("bad name: %d, or the value is shown", resp.StatusCode)
	}
	for _, p := range pages {
		if _, body := c.get(p); strings.Contains(body, value) {
			t.Fatalf("%s shows the secret's value", p)
		}
	}
	resp, body = c.post("/admin/secrets?ns=team-a", "/admin/secrets/delete", url.Values{"namespace": {"team-a"}, "name": {"API_KEY"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Delete secret API_KEY of namespace team-a?") {
		t.Fatalf("delete without confirmation: %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/secrets?ns=team-a", "/admin/secrets/delete", url.Values{"namespace": {"team-a"}, "name": {"API_KEY"}, "confirmed": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	_, body = c.get("/admin/secrets?ns=team-a")
	if !strings.Contains(body, "Secret API_KEY deleted from team-a.") || strings.Contains(body, "<code>API_KEY</code>") {
		t.Fatal("no result message, or the secret is still listed")
	}
	if list, err := b.api.ListSecrets(adminCtx(t), "team-a"); err != nil || len(list) != 0 {
		t.Fatalf("secrets after delete: %v %d", err, len(list))
	}
}

func TestAdminEnrolmentAndAgentRevoke(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c := b.client(t)
	c.login(adminTok)
	resp, body := c.post("/admin/enroll", "/admin/enroll", url.Values{"name": {"rack-7"}, "ttl": {"tomorrow"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) {
		t.Fatalf("bad ttl: %d", resp.StatusCode)
	}
	resp, body = c.post("/admin/enroll", "/admin/enroll", url.Values{"name": {"rack-7"}, "ttl": {"2h"}, "labels": {"env=prod"}, "reusable": {"1"}})
	plain := regexp.MustCompile(`id="once-value"[^>]*value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || plain == nil || !strings.Contains(body, "Enrolment token rack-7 created.") {
		t.Fatalf("create: %d %v", resp.StatusCode, plain)
	}
	list, err := b.api.ListEnrollTokens(adminCtx(t))
	if err != nil || len(list) != 1 || !list[0].Reusable || list[0].Labels != "env=prod" {
		t.Fatalf("enrolment tokens: %v %+v", err, list)
	}
	_, body = c.get("/admin/enroll")
	if strings.Contains(body, plain[1]) || !strings.Contains(body, "env=prod") {
		t.Fatal("the list shows the token's secret, or not its selector")
	}
	// An agent enrols with it; its Revoke button on the agents page works.
	e, err := b.agents.Enroll(t.Context(), plain[1], map[string]string{"env": "prod"}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.AgentUpsert(t.Context(), &store.AgentUpsertParams{ID: e.AgentID, Name: "worker-7", Status: model.AgentOnline, Capacity: 1, Labels: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	_, body = c.get("/agents")
	if !strings.Contains(body, "/agents/"+e.AgentID+"/revoke") {
		t.Fatal("no revoke button on the agents page")
	}
	resp, body = c.post("/agents", "/agents/"+e.AgentID+"/revoke", url.Values{})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirmed" value="1"`) {
		t.Fatalf("agent revoke without confirmation: %d", resp.StatusCode)
	}
	resp, _ = c.post("/agents", "/agents/"+e.AgentID+"/revoke", url.Values{"confirmed": {"1"}, "back": {"/agents"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("agent revoke: %d", resp.StatusCode)
	}
	_, body = c.get("/agents")
	if !strings.Contains(body, fmt.Sprintf("Agent %s revoked and disconnected.", e.AgentID)) {
		t.Fatal("no result message after revoking the agent")
	}
	if _, err := b.agents.IdentifyAgent(t.Context(), e.Credential, e.AgentID); err == nil {
		t.Fatal("the revoked agent's credential still works")
	}
	// Revoking an agent that never enrolled says why it failed.
	c.post("/agents", "/agents/not-enrolled/revoke", url.Values{"confirmed": {"1"}})
	if _, body = c.get("/agents"); !strings.Contains(body, "has no credential") {
		t.Fatal("no error message for an agent without a credential")
	}
	// The enrolment token is revoked after a confirmation.
	id := list[0].ID
	resp, _ = c.post("/admin/enroll", "/admin/enroll/"+id+"/revoke", url.Values{"confirmed": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke enrolment token: %d", resp.StatusCode)
	}
	_, body = c.get("/admin/enroll")
	if !strings.Contains(body, "Enrolment token "+id+" revoked.") {
		t.Fatal("no result message after revoking the enrolment token")
	}
	if list, _ = b.api.ListEnrollTokens(adminCtx(t)); list[0].RevokedAt == nil {
		t.Fatal("enrolment token not revoked")
	}
}

func TestAdminAlertRuleTest(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver is down", http.StatusBadGateway)
	}))
	t.Cleanup(failing.Close)
	got := make(chan struct{}, 1)
	working := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(working.Close)
	c := b.client(t)
	c.login(adminTok)
	resp, body := c.post("/admin/alerts", "/admin/alerts", url.Values{"name": {"ops"}, "namespace": {"team-a"}, "channel": {"webhook"}, "target": {failing.URL}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose at least one event.") {
		t.Fatalf("no events: %d", resp.StatusCode)
	}
	resp, body = c.post("/admin/alerts", "/admin/alerts", url.Values{"name": {"ops"}, "namespace": {"team-a"}, "channel": {"webhook"}, "target": {"ftp://nope"}, "ev.failure": {"1"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "must be an http or https URL") {
		t.Fatalf("bad target: %d", resp.StatusCode)
	}
	for _, r := range []struct{ name, target string }{{"ops", failing.URL}, {"ok-hook", working.URL}} {
		resp, _ = c.post("/admin/alerts", "/admin/alerts", url.Values{"name": {r.name}, "namespace": {"team-a"}, "channel": {"webhook"}, "target": {r.target}, "ev.failure": {"1"}, "ev.timeout": {"1"}, "secret": {"sign-me"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create %s: %d", r.name, resp.StatusCode)
		}
	}
	rules, err := b.api.ListAlertRules(adminCtx(t), "team-a")
	if err != nil || len(rules) != 2 {
		t.Fatalf("rules: %v %d", err, len(rules))
	}
	ids := map[string]string{}
	for _, r := range rules {
		ids[r.Name] = r.ID.String()
		if len(r.Events) != 2 || !r.HasSecret {
			t.Fatalf("rule %s: %+v", r.Name, r)
		}
	}
	_, body = c.get("/admin/alerts")
	if strings.Contains(body, "sign-me") {
		t.Fatal("the alerts page shows a signing secret")
	}
	c.post("/admin/alerts", "/admin/alerts/"+ids["ops"]+"/test", url.Values{"name": {"ops"}})
	_, body = c.get("/admin/alerts")
	if !strings.Contains(body, "Test alert of ops failed:") || !strings.Contains(body, "502") {
		t.Fatalf("failing test alert: %s", regexp.MustCompile(`<p class="flash[^"]*"[^>]*>[^<]*`).FindString(body))
	}
	c.post("/admin/alerts", "/admin/alerts/"+ids["ok-hook"]+"/test", url.Values{"name": {"ok-hook"}})
	select {
	case <-got:
	default:
		t.Fatal("the working receiver got no test alert")
	}
	if _, body = c.get("/admin/alerts"); !strings.Contains(body, "Test alert of ok-hook delivered.") {
		t.Fatal("no result message for the delivered test alert")
	}
	resp, _ = c.post("/admin/alerts", "/admin/alerts/"+ids["ops"]+"/delete", url.Values{"name": {"ops"}, "confirmed": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, body = c.get("/admin/alerts"); !strings.Contains(body, "Alert rule ops deleted.") {
		t.Fatal("no result message after delete")
	}
	if rules, _ = b.api.ListAlertRules(adminCtx(t), ""); len(rules) != 1 {
		t.Fatalf("rules after delete: %d", len(rules))
	}
}

func TestAdminAuditFiltersAndPaging(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 60 {
		at := base.Add(time.Duration(i) * time.Minute)
		if _, err := b.st.AuditInsert(t.Context(), &store.AuditInsertParams{At: &at, Actor: "bot", ActorKind: "token", Action: fmt.Sprintf("job.run-%02d", i), Namespace: "team-a"}); err != nil {
			t.Fatal(err)
		}
	}
	at := base.Add(-time.Hour)
	if _, err := b.st.AuditInsert(t.Context(), &store.AuditInsertParams{At: &at, Actor: "carol", ActorKind: "user", Action: "login", Namespace: ""}); err != nil {
		t.Fatal(err)
	}
	c := b.client(t)
	c.login(adminTok)
	c.do(http.MethodGet, "/prefs?tz=UTC&back=/", nil)
	_, body := c.get("/admin/audit?actor=bot")
	if !strings.Contains(body, "job.run-59") || strings.Contains(body, "job.run-09") || strings.Contains(body, ">login<") {
		t.Fatal("first page: not the newest 50 of the actor")
	}
	if strings.Index(body, "job.run-59") > strings.Index(body, "job.run-58") {
		t.Fatal("not newest first")
	}
	if !strings.Contains(body, `href="?actor=bot&offset=50"`) {
		t.Fatalf("paging: %s", regexp.MustCompile(`(?s)<nav class="pager".*?</nav>`).FindString(body))
	}
	_, body = c.get("/admin/audit?actor=bot&offset=50")
	if !strings.Contains(body, "job.run-09") || strings.Contains(body, "job.run-10") || strings.Contains(body, "offset=100") {
		t.Fatal("second page is wrong")
	}
	_, body = c.get("/admin/audit?action=login")
	if !strings.Contains(body, "carol") || strings.Contains(body, "job.run-") {
		t.Fatal("action filter")
	}
	_, body = c.get("/admin/audit?namespace=team-a&from=2026-03-01T12:30&to=2026-03-01T12:35")
	if !strings.Contains(body, "job.run-30") || !strings.Contains(body, "job.run-34") || strings.Contains(body, "job.run-35") || strings.Contains(body, "job.run-29") {
		t.Fatal("time range filter")
	}
	if code, body := c.get("/admin/audit?from=yesterday"); code != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) {
		t.Fatalf("bad time: %d", code)
	}
}
