package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestBrowserViewerOfOneNamespace: an admin creates, in the console, a
// viewer of namespace team-a; signed in in a fresh browser context, the
// viewer sees team-a's job and not team-b's, and no button that changes a
// job. It saves the users page's screenshot.
func TestBrowserViewerOfOneNamespace(t *testing.T) {
	h := newHarness(t, teststore.SQLite, cheapSecurity)
	const adminPassword, viewerPassword = "browser admin password", "browser viewer password"
	if _, err := auth.CreateUser(t.Context(), h.store, "root", auth.HashPassword(adminPassword, auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}), model.RoleAdmin, model.AllNamespaces); err != nil {
		t.Fatalf("create user: %v", err)
	}
	var jobA, jobB model.Job
	h.mustCall(http.MethodPost, "/jobs", map[string]any{"namespace": "team-a", "name": "report-team-a", "config": model.JobConfig{Command: "true"}}, &jobA, http.StatusCreated)
	h.mustCall(http.MethodPost, "/jobs", map[string]any{"namespace": "team-b", "name": "payroll-team-b", "config": model.JobConfig{Command: "true"}}, &jobB, http.StatusCreated)

	browser := newBrowser(t, 2*time.Minute)
	// The admin's tab; the viewer gets a context of their own below, with
	// no cookie of the admin's.
	ctx := browser
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	html := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatalf("page HTML: %v", err)
		}
		return s
	}
	signIn := func(name, password string) {
		t.Helper()
		do("sign in as "+name, chromedp.Navigate(h.base+"/login"), chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), name), chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS(`header`)), chromedp.WaitNotPresent(chromedp.ID("password")))
	}

	signIn("root", adminPassword)
	do("new user", chromedp.Navigate(h.base+"/admin/users"), chromedp.WaitVisible(chromedp.ID("nu-name")),
		chromedp.SendKeys(chromedp.ID("nu-name"), "vera"), chromedp.SendKeys(chromedp.ID("nu-pw"), viewerPassword),
		chromedp.SetValue(chromedp.ID("nu-role"), "viewer"), chromedp.SetValue(chromedp.ID("nu-ns"), "team-a"),
		chromedp.Submit(chromedp.ID("nu-name")), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if got := text(".flash"); !strings.Contains(got, "User vera created.") {
		t.Fatalf("create result: %q", got)
	}
	if got := text(`tr[data-user="vera"]`); !strings.Contains(got, "team-a") || !strings.Contains(got, "viewer") {
		t.Fatalf("vera's row: %q", got)
	}
	if strings.Contains(html(), viewerPassword) {
		t.Fatal("the users page shows the password")
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, "admin-users.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	// The viewer, in a fresh browser context (no shared cookies).
	viewer, cancelViewer := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelViewer()
	ctx = viewer
	signIn("vera", viewerPassword)
	do("jobs", chromedp.Navigate(h.base+"/jobs?ns="), chromedp.WaitVisible(chromedp.CSS("main table")))
	got := text("main")
	if !strings.Contains(got, "report-team-a") || strings.Contains(got, "payroll-team-b") {
		t.Fatalf("the viewer's jobs page: %q", got)
	}
	page := html()
	if strings.Contains(page, `href="/jobs/new"`) || strings.Contains(page, `href="/admin/`) {
		t.Fatal("the viewer sees a new-job or admin link")
	}
	do("team-a job", chromedp.Navigate(h.base+"/jobs/"+jobA.ID.String()), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if got := text("main h1"); !strings.Contains(got, "report-team-a") {
		t.Fatalf("team-a job page: %q", got)
	}
	page = html()
	for _, action := range []string{"/edit", "/run", "/delete", "/enable", "/disable", "/clone"} {
		if strings.Contains(page, `action="/jobs/`+jobA.ID.String()+action) || strings.Contains(page, `href="/jobs/`+jobA.ID.String()+action) {
			t.Errorf("the viewer sees the %s control", action)
		}
	}
	do("team-b job", chromedp.Navigate(h.base+"/jobs/"+jobB.ID.String()), chromedp.WaitVisible(chromedp.CSS("main")))
	if strings.Contains(text("main"), "payroll-team-b") {
		t.Fatal("the viewer reads team-b's job")
	}
	if err := chromedp.Cancel(browser); err != nil {
		t.Logf("close browser: %v", err)
	}
}
