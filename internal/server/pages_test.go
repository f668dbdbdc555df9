package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func cheapSecurity(cfg *config.Config) {
	cfg.Security.Argon2MemoryKiB, cfg.Security.Argon2Time = 64, 1
}

// browser posts forms without following redirects, as the pages' own
// origin.
type browser struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
}

func (b *browser) do(method, path string, form url.Values, origin string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.CookieName {
			if ck.MaxAge < 0 {
				b.cookie = nil
			} else {
				b.cookie = ck
			}
		}
	}
	return resp, string(raw)
}

func (b *browser) me() (int, string) {
	resp, body := b.do("GET", "/api/v1/auth/me", nil, "")
	var me struct {
		Name string
		CSRF string `json:"csrf_token"`
	}
	_ = json.Unmarshal([]byte(body), &me)
	return resp.StatusCode, me.Name
}

func TestSetupLinkAndSignInPages(t *testing.T) {
	h := startApp(t, teststore.SQLite(t), cheapSecurity)
	link := h.app.SetupLink()
	if !strings.Contains(link, "/setup/hf_") {
		t.Fatalf("setup link %q", link)
	}
	path := link[strings.Index(link, "/setup/"):]
	b := &browser{t: t, base: h.base}
	if resp, body := b.do("GET", path, nil, ""); resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) || strings.Contains(body, "<script") {
		t.Fatalf("setup page = %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.do("POST", path, url.Values{"name": {"root"}, "password": {"long enough password"}}, "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site setup post = %d, want 403", resp.StatusCode)
	}
	if resp, body := b.do("POST", path, url.Values{"name": {"root"}, "password": {"short"}}, h.base); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("short password = %d %s, want 422", resp.StatusCode, body)
	}
	if resp, body := b.do("POST", path, url.Values{"name": {"root"}, "password": {"long enough password"}}, h.base); resp.StatusCode != http.StatusSeeOther || b.cookie == nil {
		t.Fatalf("setup = %d %s, want a redirect with a session", resp.StatusCode, body)
	}
	if status, name := b.me(); status != 200 || name != "root" {
		t.Errorf("me after setup = %d %q", status, name)
	}
	if resp, _ := b.do("GET", path, nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("setup link reused = %d, want 404", resp.StatusCode)
	}
	// Sign out needs the session's CSRF token.
	_, page := b.do("GET", "/login", nil, "")
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("signed-in page has no CSRF field: %s", page)
	}
	csrf := page[i+len(`name="csrf" value="`):]
	csrf = csrf[:strings.Index(csrf, `"`)]
	if resp, _ := b.do("POST", "/logout", url.Values{"csrf": {"wrong"}}, h.base); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token = %d, want 403", resp.StatusCode)
	}
	old := b.cookie
	if resp, _ := b.do("POST", "/logout", url.Values{"csrf": {csrf}}, h.base); resp.StatusCode != http.StatusSeeOther || b.cookie != nil {
		t.Errorf("logout = %d, cookie %v", resp.StatusCode, b.cookie)
	}
	b.cookie = old
	if status, _ := b.me(); status != http.StatusUnauthorized {
		t.Errorf("old session after logout = %d, want 401", status)
	}
	b.cookie = nil
	// Sign in with the form.
	if resp, body := b.do("POST", "/login", url.Values{"name": {"root"}, "password": {"wrong password!"}}, h.base); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
		t.Errorf("wrong password = %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/login", url.Values{"name": {"root"}, "password": {"long enough password"}}, "https://evil.example"); resp.StatusCode != http.StatusForbidden || b.cookie != nil {
		t.Errorf("cross-site login = %d, want 403 and no session", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/login", url.Values{"name": {"root"}, "password": {"long enough password"}}, h.base); resp.StatusCode != http.StatusSeeOther || b.cookie == nil {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	if status, name := b.me(); status != 200 || name != "root" {
		t.Errorf("me after login = %d %q", status, name)
	}
}

func TestLoginLinkAndAuditPurge(t *testing.T) {
	st := teststore.SQLite(t)
	h := startApp(t, st, func(cfg *config.Config) {
		cheapSecurity(cfg)
		cfg.Security.AuditTTL = model.Duration(time.Hour)
	})
	ctx := t.Context()
	u, err := auth.CreateUser(ctx, st, "dev", auth.HashPassword("irrelevant-password", auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}), model.RoleAdmin, model.AllNamespaces)
	if err != nil {
		t.Fatal(err)
	}
	if h.app.SetupLink() == "" {
		t.Error("no setup link although no user existed at start")
	}
	tok, err := h.app.Accounts().CreateLoginLink(ctx, u.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: h.base}
	path := strings.TrimPrefix(h.app.LoginLinkURL(tok), "http://"+h.app.Addr())
	if resp, _ := b.do("GET", path, nil, ""); resp.StatusCode != http.StatusSeeOther || b.cookie == nil {
		t.Fatalf("login link = %d", resp.StatusCode)
	}
	if status, name := b.me(); status != 200 || name != "dev" {
		t.Errorf("me = %d %q", status, name)
	}
	b.cookie = nil
	if resp, _ := b.do("GET", path, nil, ""); resp.StatusCode != http.StatusNotFound || b.cookie != nil {
		t.Errorf("login link reused = %d, want 404", resp.StatusCode)
	}
	// The housekeeper purges audit entries older than audit_ttl.
	old := time.Now().Add(-2 * time.Hour)
	if _, err := st.AuditInsert(ctx, &store.AuditInsertParams{At: &old, Actor: "x", ActorKind: "user", Action: "ancient"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(10*time.Second, "the old audit entry to be purged", func() bool {
		es, err := st.AuditList(ctx, &store.AuditListParams{Action: "ancient"})
		return err == nil && len(es) == 0
	})
	if es, _ := st.AuditList(ctx, &store.AuditListParams{Action: "login.link"}); len(es) != 1 {
		t.Errorf("login.link entries = %d, want 1 (recent entries stay)", len(es))
	}
}

// TestSignInPageSpeaksTheReadersLanguage checks that the sign-in page uses
// the console's catalogue: English by default, Chinese for a browser that
// asks for it.
func TestSignInPageSpeaksTheReadersLanguage(t *testing.T) {
	h := startApp(t, teststore.SQLite(t), cheapSecurity)
	for _, tc := range []struct{ accept, lang, label, button string }{
		{"", "en", ">User name<", ">Sign in<"},
		{"zh-CN,zh;q=0.9,en;q=0.5", "zh-CN", ">用户名<", ">登录<"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", h.base+"/login", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.accept != "" {
			req.Header.Set("Accept-Language", tc.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(raw)
		if resp.StatusCode != 200 || !strings.Contains(body, `lang="`+tc.lang+`"`) || !strings.Contains(body, tc.label) || !strings.Contains(body, tc.button) {
			t.Errorf("sign-in page for Accept-Language %q = %d, want lang %s with %s and %s:\n%s", tc.accept, resp.StatusCode, tc.lang, tc.label, tc.button, body)
		}
	}
}

// TestUserPrefsFollowThePerson checks that a language and time zone chosen
// in the console are stored with the user and reach a browser that has
// made no choice of its own.
func TestUserPrefsFollowThePerson(t *testing.T) {
	h := startApp(t, teststore.SQLite(t), cheapSecurity)
	const password = "prefs test password"
	u, err := auth.CreateUser(t.Context(), h.store, "lee", auth.HashPassword(password, auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}), model.RoleAdmin, model.AllNamespaces)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: h.base}
	if resp, _ := b.do("POST", "/login", url.Values{"name": {"lee"}, "password": {password}}, h.base); resp.StatusCode != http.StatusSeeOther || b.cookie == nil {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/prefs?lang=zh-CN&tz=Asia/Shanghai&back=/jobs", nil, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("prefs = %d", resp.StatusCode)
	}
	prefs, err := h.store.UserGetPrefs(t.Context(), &store.UserGetPrefsParams{ID: u.ID})
	if err != nil || prefs.Lang != "zh-CN" || prefs.TimeZone != "Asia/Shanghai" {
		t.Fatalf("stored prefs = %+v, %v; want zh-CN in Asia/Shanghai", prefs, err)
	}
	// Another browser of the same person: only the session cookie.
	resp, body := b.do("GET", "/jobs", nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Language") != "zh-CN" || !strings.Contains(body, `lang="zh-CN"`) {
		t.Errorf("jobs page in a browser without a choice = %d, Content-Language %q; want the stored zh-CN", resp.StatusCode, resp.Header.Get("Content-Language"))
	}
	var langSet, zoneSet bool
	for _, c := range resp.Cookies() {
		langSet = langSet || (c.Name == "hetuflow_lang" && c.Value == "zh-CN")
		zoneSet = zoneSet || (c.Name == "hetuflow_tz" && c.Value == "Asia/Shanghai")
	}
	if !langSet || !zoneSet {
		t.Errorf("the browser was not given the stored choices as cookies: %v", resp.Cookies())
	}
}
