package ui_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/server/ui"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

const (
	adminTok  = "hf_ui-admin"
	viewerTok = "hf_ui-viewer-team-a"
)

type tokens struct{}

func (tokens) AuthenticateAdmin(_ context.Context, tok string) error {
	if tok != adminTok {
		return errors.New("bad token")
	}
	return nil
}

// Authenticate makes tokens an api.Authenticator: the admin token is the
// bootstrap admin.
func (tokens) Authenticate(r *http.Request) (*auth.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "":
		return nil, nil
	case "Bearer " + adminTok:
		return auth.BootstrapAdmin("admin", "admin"), nil
	}
	return nil, auth.ErrUnauthorized
}

func (tokens) AllowRequest(*auth.Principal) (bool, time.Duration) { return true, 0 }

// adminCtx is t's context as the admin, for seeding data through the API's
// operations, which check the caller's permissions.
func adminCtx(t *testing.T) context.Context {
	return auth.WithPrincipal(t.Context(), auth.BootstrapAdmin("admin", "admin"))
}

type nopScheduler struct{}

func (nopScheduler) WakeGenerator()              {}
func (nopScheduler) WakeGeneratorFor(*time.Time) {}
func (nopScheduler) WakeDispatcher()             {}
func (nopScheduler) DispatchNow(context.Context, store.Executor, []*model.Task) (func(bool), int, error) {
	return func(bool) {}, 0, nil
}
func (nopScheduler) CancelInstance(string, uuid.UUID, string)         {}
func (nopScheduler) DrainAgent(context.Context, string, string) error { return nil }

type bundle struct {
	st  store.Store
	api *api.API
	srv *httptest.Server
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st := teststore.SQLite(t)
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokens{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
	auth := &ui.TokenAuth{Tokens: tokens{}, Extra: map[string]ui.Identity{
		viewerTok: {Name: "viewer-a", Roles: map[string]ui.Role{"team-a": ui.RoleViewer}},
	}}
	u := ui.New(ui.Deps{Store: st, API: a, Auth: auth, Version: "test", Logger: lifecycletest.WarnLogger(t)})
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return &bundle{st: st, api: a, srv: srv}
}

// client is a browser without JavaScript: cookies, no redirects followed
// unless asked.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	lang string
}

func (b *bundle) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: b.srv.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func (c *client) get(path string) (int, string) {
	resp, body := c.do(http.MethodGet, path, nil)
	return resp.StatusCode, body
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post sends a form with the CSRF token taken from page.
func (c *client) post(page, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	_, html := c.get(page)
	m := csrfRe.FindStringSubmatch(html)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s", page)
	}
	form.Set("csrf", m[1])
	return c.do(http.MethodPost, path, form)
}

func (c *client) login(tok string) {
	c.t.Helper()
	resp, _ := c.do(http.MethodPost, "/login", url.Values{"token": {tok}, "next": {"/jobs"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/jobs" {
		c.t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLoginAndCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	resp, _ := c.do(http.MethodGet, "/jobs", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("signed out /jobs: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := c.do(http.MethodPost, "/login", url.Values{"token": {"wrong"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "That token is not valid.") {
		t.Fatalf("bad login: %d", resp.StatusCode)
	}
	c.login(adminTok)
	for _, c := range resp.Cookies() {
		if c.Name == "hetuflow_session" && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
			t.Fatalf("session cookie not HttpOnly SameSite=Lax: %+v", c)
		}
	}
	// An unsafe request without the token is refused and changes nothing.
	resp, _ = c.do(http.MethodPost, "/jobs/new", url.Values{"name": {"x"}, "command": {"true"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without CSRF: %d", resp.StatusCode)
	}
	if n, _ := b.st.JobCount(t.Context(), &store.JobCountParams{}); n != 0 {
		t.Fatalf("jobs after refused POST: %d", n)
	}
}

func TestJobFormErrorsAndCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.login(adminTok)
	// A bad duration is caught by the form, a missing command by the API;
	// both are shown beside their fields and nothing is stored.
	resp, body := c.post("/jobs/new", "/jobs/new", url.Values{"name": {"nightly"}, "namespace": {"default"}, "type": {"process"}, "timeout": {"soon"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "must be a duration") {
		t.Fatalf("bad timeout: %d", resp.StatusCode)
	}
	resp, body = c.post("/jobs/new", "/jobs/new", url.Values{"name": {"nightly"}, "namespace": {"default"}, "type": {"process"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) || !strings.Contains(body, `value="nightly"`) {
		t.Fatalf("no command: %d %s", resp.StatusCode, body)
	}
	resp, _ = c.post("/jobs/new", "/jobs/new", url.Values{"name": {"nightly"}, "namespace": {"default"}, "type": {"process"}, "command": {"echo"}, "args": {"a\nb"}, "enabled": {"1"},
		"env": {"A=1\nB=2"}, "params": {"who=world !required # greeting target"}, "retry.max_attempts": {"3"}, "limits.memory_mb": {"64"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	jobs, err := b.st.JobList(t.Context(), &store.JobListParams{Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs: %v %d", err, len(jobs))
	}
	j := jobs[0]
	if j.Config.Command != "echo" || len(j.Config.Args) != 2 || j.Config.Env["B"] != "2" || j.Config.Retry.MaxAttempts != 3 || j.Config.Limits.MemoryMB != 64 ||
		len(j.Config.Params) != 1 || !j.Config.Params[0].Required || j.Config.Params[0].Description != "greeting target" || j.Status != model.JobEnabled {
		t.Fatalf("stored job: %+v", j.Config)
	}
	if resp.Header.Get("Location") != "/jobs/"+j.ID.String() {
		t.Fatalf("redirect: %s", resp.Header.Get("Location"))
	}
	// The flash says what happened, once.
	_, body = c.get("/jobs/" + j.ID.String())
	if !strings.Contains(body, "Job nightly created.") {
		t.Fatal("no flash after create")
	}
	// Delete asks first when no script confirmed it.
	resp, body = c.post("/jobs/"+j.ID.String(), "/jobs/"+j.ID.String()+"/delete", url.Values{})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirmed" value="1"`) {
		t.Fatalf("delete without confirmation: %d", resp.StatusCode)
	}
	resp, _ = c.post("/jobs/"+j.ID.String(), "/jobs/"+j.ID.String()+"/delete", url.Values{"confirmed": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if n, _ := b.st.JobCount(t.Context(), &store.JobCountParams{}); n != 0 {
		t.Fatalf("jobs after delete: %d", n)
	}
}

func TestViewerSeesOnlyTheirNamespace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := adminCtx(t)
	mk := func(ns, name string) *model.Job {
		j, err := b.api.CreateJob(ctx, api.JobBody{Namespace: ns, Name: name, Config: model.JobConfig{Command: "true"}})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	ja, jb := mk("team-a", "alpha-job"), mk("team-b", "beta-job")
	c := b.client(t)
	c.login(viewerTok)
	_, body := c.get("/jobs")
	if !strings.Contains(body, "alpha-job") || strings.Contains(body, "beta-job") {
		t.Fatal("viewer's job list shows another namespace, or not their own")
	}
	if strings.Contains(body, `href="/jobs/new"`) {
		t.Fatal("viewer sees the new-job button")
	}
	if code, _ := c.get("/jobs/" + jb.ID.String()); code != http.StatusNotFound {
		t.Fatalf("viewer opened another namespace's job: %d", code)
	}
	code, body := c.get("/jobs/" + ja.ID.String())
	if code != http.StatusOK || strings.Contains(body, "/edit") || strings.Contains(body, "run-now") || strings.Contains(body, "/delete") {
		t.Fatalf("viewer's job page: %d, or it shows edit, run or delete", code)
	}
	_, body = c.get("/runs")
	if strings.Contains(body, "beta-job") {
		t.Fatal("viewer's runs show another namespace")
	}
	// Acting anyway is refused.
	resp, _ := c.post("/jobs/"+ja.ID.String(), "/jobs/"+ja.ID.String()+"/run", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("viewer run: %d", resp.StatusCode)
	}
	if n, _ := b.st.TaskCount(ctx, &store.TaskCountParams{}); n != 0 {
		t.Fatalf("viewer started %d runs", n)
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.lang = "zh-CN,zh;q=0.9,en;q=0.8"
	_, body := c.get("/login")
	if !strings.Contains(body, `<html lang="zh-CN">`) || !strings.Contains(body, "登录 hetuflow") {
		t.Fatal("Accept-Language zh-CN did not give Chinese")
	}
	// The switcher's choice wins over Accept-Language.
	resp, _ := c.do(http.MethodGet, "/prefs?lang=en&back=/login", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("prefs: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = c.get("/login")
	if !strings.Contains(body, "Sign in to hetuflow") {
		t.Fatal("the chosen language did not win")
	}
	// The time zone chosen in the header is kept.
	c.do(http.MethodGet, "/prefs?tz=Asia/Shanghai&back=/login", nil)
	_, body = c.get("/login")
	if !strings.Contains(body, `value="Asia/Shanghai"`) {
		t.Fatal("the chosen time zone is not kept")
	}
	// A redirect never leaves the site.
	resp, _ = c.do(http.MethodGet, "/prefs?lang=en&back=//evil.example", nil)
	if resp.Header.Get("Location") != "/" {
		t.Fatalf("open redirect: %s", resp.Header.Get("Location"))
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.login(adminTok)
	c.lang = "zh-CN"
	code, body := c.get("/ui/preview?cron=" + url.QueryEscape("0 30 9 * * MON-FRI") + "&tz=Asia/Shanghai")
	if code != http.StatusOK || !strings.Contains(body, "周一至周五 09:30") || !strings.Contains(body, "年") {
		t.Fatalf("preview: %d %s", code, body)
	}
	code, body = c.get("/ui/preview?cron=nope")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "error") {
		t.Fatalf("bad preview: %d %s", code, body)
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j, err := b.api.CreateJob(adminCtx(t), api.JobBody{Name: "j", Config: model.JobConfig{Command: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.api.CreateSchedule(adminCtx(t), api.ScheduleBody{JobID: j.ID.String(), ScheduleSpec: api.ScheduleSpec{Kind: model.ScheduleCron, Cron: "*/5 * * * *"}}); err != nil {
		t.Fatal(err)
	}
	task, err := b.api.RunJob(adminCtx(t), j.ID.String(), api.RunBody{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		c := b.client(t)
		c.login(adminTok)
		c.lang = lang
		for _, p := range []string{"/", "/jobs", "/jobs/new", "/jobs/" + j.ID.String(), "/jobs/" + j.ID.String() + "/edit", "/jobs/" + j.ID.String() + "/clone",
			"/runs", "/runs?view=instances", "/tasks/" + task.ID.String(), "/agents", "/cluster"} {
			code, body := c.get(p)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d", lang, p, code)
			}
			if strings.Contains(body, "!") && regexp.MustCompile(`![a-z_]+\.[a-z_.0-9]+!`).MatchString(body) {
				t.Errorf("%s %s: a key missing from the catalogue shows", lang, p)
			}
		}
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 55 {
		if _, err := b.api.CreateJob(adminCtx(t), api.JobBody{Name: fmt.Sprintf("page-job-%02d", i), Config: model.JobConfig{Command: "true"}}); err != nil {
			t.Fatal(err)
		}
	}
	c := b.client(t)
	c.login(adminTok)
	_, body := c.get("/jobs?q=page-job&status=enabled")
	if !strings.Contains(body, `href="?q=page-job&amp;status=enabled&offset=50"`) || !strings.Contains(body, "1–50 of 55") {
		t.Fatalf("first page's paging: %s", regexp.MustCompile(`(?s)<nav class="pager".*?</nav>`).FindString(body))
	}
	_, body = c.get("/jobs?q=page-job&status=enabled&offset=50")
	if !strings.Contains(body, "page-job-54") || strings.Contains(body, "page-job-00") || !strings.Contains(body, "51–55 of 55") {
		t.Fatal("second page is wrong")
	}
}
