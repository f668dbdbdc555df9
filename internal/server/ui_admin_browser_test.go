package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestBrowserAdmin drives the console's admin pages in a real browser, as
// an admin signed in with a password: create an API token and see it once,
// revoke it through the confirmation dialog, set a secret whose value never
// comes back, create an enrolment token, and read the audit log. It saves
// screenshots of the admin pages.
func TestBrowserAdmin(t *testing.T) {
	h := newHarness(t, teststore.SQLite, func(c *config.Config) {
		cheapSecurity(c)
		c.Server.SecretsKey = secrets.GenerateKey()
	})
	const password = "browser admin password"
	if _, err := auth.CreateUser(t.Context(), h.store, "root", auth.HashPassword(password, auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}), model.RoleAdmin, model.AllNamespaces); err != nil {
		t.Fatalf("create user: %v", err)
	}
	ctx := newBrowser(t, 2*time.Minute)
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

	do("sign in", chromedp.Navigate(h.base+"/"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "root"), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS(`header a[href="/admin/tokens"]`)))

	// An API token, shown once.
	do("create token", chromedp.Click(chromedp.CSS(`header a[href="/admin/tokens"]`)), chromedp.WaitVisible(chromedp.ID("t-name")),
		chromedp.SendKeys(chromedp.ID("t-name"), "ci-deploy"), chromedp.SetValue(chromedp.ID("t-ns"), "default"),
		chromedp.SendKeys(chromedp.ID("t-exp"), "720h"), chromedp.Submit(chromedp.ID("t-name")), chromedp.WaitVisible(chromedp.ID("once-value")))
	secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("once-value")))
	if err != nil || !strings.HasPrefix(secret, "hf_") {
		t.Fatalf("token shown once: %q %v", secret, err)
	}
	shot("admin-tokens")
	do("token list", chromedp.Navigate(h.base+"/admin/tokens"), chromedp.WaitVisible(chromedp.CSS("main table")))
	if strings.Contains(html(), secret) {
		t.Fatal("the token's secret is shown again")
	}
	do("revoke token", chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if got := text(".flash"); !strings.Contains(got, "ci-deploy revoked") {
		t.Fatalf("revoke result: %q", got)
	}

	// A secret: set, listed by name, its value never in a page.
	const value = "browser-secret-value-42"
	do("set secret", chromedp.Navigate(h.base+"/admin/secrets?ns=default"), chromedp.WaitVisible(chromedp.ID("sec-name")),
		chromedp.SendKeys(chromedp.ID("sec-name"), "DB_PASSWORD"), chromedp.SendKeys(chromedp.ID("sec-value"), value),
		chromedp.Submit(chromedp.ID("sec-name")), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if got := text("main table"); !strings.Contains(got, "DB_PASSWORD") || strings.Contains(html(), value) {
		t.Fatalf("secrets page: %q, or it shows the value", got)
	}
	shot("admin-secrets")

	// An enrolment token, shown once.
	do("create enrolment token", chromedp.Navigate(h.base+"/admin/enroll"), chromedp.WaitVisible(chromedp.ID("e-name")),
		chromedp.SendKeys(chromedp.ID("e-name"), "rack-1"), chromedp.SendKeys(chromedp.ID("e-labels"), "zone=a"),
		chromedp.Submit(chromedp.ID("e-name")), chromedp.WaitVisible(chromedp.ID("once-value")))
	if got := text("main table"); !strings.Contains(got, "zone=a") {
		t.Fatalf("enrolment token not listed: %q", got)
	}

	// The audit log has it all, newest first, and no secret.
	do("audit", chromedp.Navigate(h.base+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS("main table")))
	got := text("main table")
	for _, action := range []string{"create-token", "revoke-token", "put-secret", "create-enroll-token"} {
		if !strings.Contains(got, action) {
			t.Fatalf("audit log lacks %s: %q", action, got)
		}
	}
	if strings.Index(got, "create-enroll-token") > strings.Index(got, "create-token") || strings.Contains(html(), value) || strings.Contains(html(), secret) {
		t.Fatal("audit log not newest first, or it shows a secret")
	}
	shot("admin-audit")
	do("users", chromedp.Navigate(h.base+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("main table")))
	if got := text("main table"); !strings.Contains(got, "root") || !strings.Contains(got, "admin") {
		t.Fatalf("users page: %q", got)
	}
	if err := chromedp.Cancel(ctx); err != nil {
		t.Logf("close browser: %v", err)
	}
}
