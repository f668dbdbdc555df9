package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// browserPath finds Debian's headless Chromium. Outside CI a machine
// without one skips the browser tests; in CI it is a failure.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no headless Chromium found, and CI is set: install chromium-headless-shell")
	}
	t.Skip("skipping browser test: no headless Chromium found (apt-get install chromium-headless-shell)")
	return ""
}

// newBrowser starts headless Chromium for t (skipping the test when there
// is none, outside CI) and returns a tab that ends with the test, or after
// timeout, and that accepts every dialog: the console asks before dangerous
// actions, and the person says yes.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()),
		chromedp.ExecPath(browserPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.WindowSize(1280, 800),
		chromedp.Env("TZ=UTC"), chromedp.Flag("lang", "en-US"))
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// screenshotDir is where the browser tests save the pages shown in the
// README.
const screenshotDir = "../../docs/screenshots"

// TestBrowserConsole drives the web console in a real browser: sign in,
// create a job with a cron schedule and watch the preview, run it now and
// watch its output arrive live, see it succeed on the dashboard, cancel a
// long run, and read pages in both languages. It saves screenshots of the
// main pages.
func TestBrowserConsole(t *testing.T) {
	h := newHarness(t, func(t testing.TB) store.Store { return teststore.SQLite(t) }, cheapSecurity)
	h.startAgent("agent-browser", map[string]string{"zone": "a"})
	const password = "browser test password"
	if _, err := auth.CreateUser(t.Context(), h.store, "admin", auth.HashPassword(password, auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}), model.RoleAdmin, model.AllNamespaces); err != nil {
		t.Fatalf("create user: %v", err)
	}

	ctx := newBrowser(t, 3*time.Minute)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitJS := func(what, expr string) {
		t.Helper()
		// A page may reload while it is watched (the log page does when
		// its run ends); the poll then starts again on the new page.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
			if err == nil {
				return
			}
			if time.Now().After(deadline) || !(strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context")) {
				t.Fatalf("waiting for %s: %v", what, err)
			}
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
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Sign in.
	do("sign in", chromedp.Navigate(h.base+"/jobs"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "admin"), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS(`a[href="/jobs/new"]`)))
	if got := text(".who"); !strings.Contains(got, "admin") {
		t.Fatalf("header does not say who is signed in: %q", got)
	}

	// Create a job that prints slowly, so its output can be watched.
	do("create job", chromedp.Click(chromedp.CSS(`a[href="/jobs/new"]`)), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "browser-hello"), chromedp.SendKeys(chromedp.ID("command"), "sh"),
		chromedp.SendKeys(chromedp.ID("args"), "-c\necho first-line; sleep 2; echo second-line; sleep 1; echo done-line"),
		chromedp.Submit(chromedp.ID("name")), chromedp.WaitVisible(chromedp.ID("run-now")))
	if got := text(".flash"); !strings.Contains(got, "browser-hello") {
		t.Fatalf("no result message after create: %q", got)
	}

	// Add a cron schedule; the preview lists the next ten fires and reads
	// the expression.
	do("open schedule form", chromedp.Click(chromedp.CSS("details summary")), chromedp.WaitVisible(chromedp.ID("s-cron")),
		chromedp.SetValue(chromedp.ID("s-tz"), "UTC"), chromedp.SendKeys(chromedp.ID("s-cron"), "0 0 3 * * *"))
	waitJS("cron preview", `document.querySelectorAll("#cron-preview .cron-fires li").length === 10`)
	if got := text("#cron-preview .cron-description"); got != "at 03:00 every day" {
		t.Fatalf("cron reading: %q", got)
	}
	shot("job-schedule-preview")
	do("save schedule", chromedp.Submit(chromedp.ID("s-cron")), chromedp.WaitVisible(chromedp.ID("run-now")))
	if got := text("main table"); !strings.Contains(got, "0 0 3 * * *") {
		t.Fatalf("schedule not listed: %q", got)
	}

	// Run it now and follow its output live.
	do("run now", chromedp.Click(chromedp.ID("run-now")), chromedp.WaitVisible(chromedp.ID("task-instances")))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	taskID := strings.TrimPrefix(loc, h.base+"/tasks/")
	var inst *model.TaskInstance
	h.waitFor(20*time.Second, "an instance of the run", func() bool {
		ins, err := h.store.TaskInstanceList(context.Background(), &store.TaskInstanceListParams{Filter: store.Filter{{Field: "task_id", Op: store.OpEq, Value: mustUUID(t, taskID)}}, Limit: 1})
		if err == nil && len(ins) == 1 {
			inst = ins[0]
		}
		return inst != nil
	})
	do("open instance", chromedp.Navigate(h.base+"/instances/"+inst.ID.String()), chromedp.WaitVisible(chromedp.ID("log-text")))
	waitJS("first line live", `document.getElementById("log-text").textContent.includes("first-line")`)
	if got := text("#log-text"); strings.Contains(got, "done-line") {
		t.Log("the run ended before the page opened; the live part is not shown this time")
	}
	waitJS("last line", `document.getElementById("log-text").textContent.includes("done-line")`)
	waitJS("success shown", `document.getElementById("run-status") && document.getElementById("run-status").textContent.includes("succeeded")`)
	shot("instance-log")

	// The dashboard counts it.
	do("dashboard", chromedp.Navigate(h.base+"/"), chromedp.WaitVisible(chromedp.CSS(".chart")))
	if got := text("main"); !strings.Contains(got, "100.0%") {
		t.Fatalf("dashboard does not show the success: %q", got)
	}
	shot("dashboard")

	// Cancel a long run from its page.
	long := h.createJob("browser-long", model.JobConfig{Command: "sleep", Args: []string{"300"}}).ID.String()
	do("open long job", chromedp.Navigate(h.base+"/jobs/"+long), chromedp.WaitVisible(chromedp.ID("run-now")), chromedp.Click(chromedp.ID("run-now")),
		chromedp.WaitVisible(chromedp.ID("task-instances")))
	loc, _ = chromedp.Run(ctx, chromedp.Location())
	longTask := mustUUID(t, strings.TrimPrefix(loc, h.base+"/tasks/"))
	h.waitFor(20*time.Second, "the long run to start", func() bool {
		n, _ := h.store.TaskInstanceCount(context.Background(), &store.TaskInstanceCountParams{Filter: store.Filter{
			{Field: "task_id", Op: store.OpEq, Value: longTask}, {Field: "status", Op: store.OpEq, Value: int64(model.InstanceRunning)}}})
		return n == 1
	})
	do("cancel", chromedp.Navigate(loc), chromedp.WaitVisible(chromedp.ID("cancel-task")), chromedp.Click(chromedp.ID("cancel-task")),
		chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	h.waitFor(20*time.Second, "the long run cancelled", func() bool {
		tk, err := h.store.TaskGetByID(context.Background(), &store.TaskGetByIDParams{ID: longTask})
		return err == nil && tk.Status == model.TaskCancelled
	})

	do("runs", chromedp.Navigate(h.base+"/runs"), chromedp.WaitVisible(chromedp.ID("runs-table")))
	shot("runs")
	do("jobs", chromedp.Navigate(h.base+"/jobs"), chromedp.WaitVisible(chromedp.ID("jobs-table")))
	shot("jobs")
	do("agents", chromedp.Navigate(h.base+"/agents"), chromedp.WaitVisible(chromedp.ID("agents-table")))
	if got := text("#agents-table"); !strings.Contains(got, "agent-browser") {
		t.Fatalf("agent not listed: %q", got)
	}
	shot("agents")
	do("cluster", chromedp.Navigate(h.base+"/cluster"), chromedp.WaitVisible(chromedp.CSS("main table")))
	shot("cluster")
	do("job form", chromedp.Navigate(h.base+"/jobs/new"), chromedp.WaitVisible(chromedp.ID("name")))
	shot("job-form")

	// Switch to Chinese with the switcher, then back.
	do("switch to Chinese", chromedp.Navigate(h.base+"/jobs"), chromedp.Click(chromedp.CSS(`.langs a[lang="zh-CN"]`)), chromedp.WaitVisible(chromedp.ID("jobs-table")))
	if got := text("main h1"); got != "作业" {
		t.Fatalf("jobs page in Chinese: h1 %q", got)
	}
	if got := text("#jobs-table"); !strings.Contains(got, "已启用") {
		t.Fatalf("statuses not in Chinese: %q", got)
	}
	shot("jobs.zh-CN")
	do("dashboard in Chinese", chromedp.Navigate(h.base+"/"), chromedp.WaitVisible(chromedp.CSS(".chart")))
	if got := text("main h1"); got != "概览" {
		t.Fatalf("dashboard in Chinese: h1 %q", got)
	}
	shot("dashboard.zh-CN")
	do("switch to English", chromedp.Click(chromedp.CSS(`.langs a[lang="en"]`)), chromedp.WaitVisible(chromedp.CSS(".chart")))
	if got := text("main h1"); got != "Dashboard" {
		t.Fatalf("dashboard in English: h1 %q", got)
	}
	// Phone width: the same page still lays out (no horizontal scroll of
	// the body).
	do("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(h.base+"/jobs"), chromedp.WaitVisible(chromedp.ID("jobs-table")))
	waitJS("no page-wide horizontal scroll", `document.body.scrollWidth <= window.innerWidth + 1`)
	shot("jobs.phone")
	if err := chromedp.Cancel(ctx); err != nil {
		t.Logf("close browser: %v", err)
	}
}
