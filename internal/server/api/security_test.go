package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

const alicePW = "correct horse battery"

func (b *secBundle) alice(t *testing.T, role model.Role, ns string) {
	t.Helper()
	if _, err := auth.CreateUser(t.Context(), b.store, "alice", auth.HashPassword(alicePW, cheapPasswords), role, ns); err != nil {
		t.Fatal(err)
	}
}

// login signs alice in and returns the session cookie and the CSRF token.
func (b *secBundle) login(t *testing.T, opts ...reqOpt) (*http.Cookie, string) {
	t.Helper()
	status, raw, h := b.call(t, "POST", "/auth/login", map[string]string{"name": "alice", "password": alicePW}, opts...)
	if status != http.StatusOK {
		t.Fatalf("login = %d %s", status, raw)
	}
	var me api.MeBody
	_ = json.Unmarshal(raw, &me)
	resp := http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", c)
			}
			return c, me.CSRF
		}
	}
	t.Fatalf("login set no session cookie: %v", h)
	return nil, ""
}

func cookie(c *http.Cookie) reqOpt { return func(r *http.Request) { r.AddCookie(c) } }

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func TestLoginRateLimitAndUniformFailures(t *testing.T) {
	b := newSecBundle(t, auth.Config{LoginPerUser: 3, LoginPerAddress: 6})
	b.alice(t, model.RoleViewer, "default")
	_, wrongPW, _ := b.call(t, "POST", "/auth/login", map[string]string{"name": "alice", "password": "nope-nope-nope"})
	_, unknown, _ := b.call(t, "POST", "/auth/login", map[string]string{"name": "mallory", "password": "nope-nope-nope"})
	if string(wrongPW) != string(unknown) {
		t.Errorf("answers differ for a wrong password and an unknown user:\n%s\n%s", wrongPW, unknown)
	}
	// Two more wrong tries for alice reach her limit of three.
	for range 2 {
		if status, raw, _ := b.call(t, "POST", "/auth/login", map[string]string{"name": "alice", "password": "x"}); status != http.StatusUnauthorized {
			t.Fatalf("wrong password = %d %s", status, raw)
		}
	}
	status, raw, h := b.call(t, "POST", "/auth/login", map[string]string{"name": "alice", "password": alicePW})
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("fourth try = %d %s (Retry-After %q), want 429 with Retry-After, even with the right password", status, raw, h.Get("Retry-After"))
	}
	// The address has used five of six (refused attempts count); the
	// sixth, for another user, is the last it gets.
	if status, _, _ := b.call(t, "POST", "/auth/login", map[string]string{"name": "bob", "password": "x"}); status != http.StatusUnauthorized {
		t.Fatalf("other user = %d, want 401", status)
	}
	if status, _, _ := b.call(t, "POST", "/auth/login", map[string]string{"name": "carol", "password": "x"}); status != http.StatusTooManyRequests {
		t.Fatalf("address over its limit = %d, want 429", status)
	}
	entries, err := b.store.AuditList(t.Context(), &store.AuditListParams{Action: "login.failed"})
	if err != nil || len(entries) != 5 {
		t.Errorf("login.failed entries = %d, %v; want 5", len(entries), err)
	}
	if rl, _ := b.store.AuditList(t.Context(), &store.AuditListParams{Action: "login.rate_limited"}); len(rl) != 2 {
		t.Errorf("login.rate_limited entries = %d, want 2", len(rl))
	}
}

func TestSessionFixation(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	b.alice(t, model.RoleEditor, "default")
	planted := &http.Cookie{Name: auth.CookieName, Value: "attacker-chosen-session-id"}
	first, csrf1 := b.login(t, cookie(planted))
	if first.Value == planted.Value {
		t.Fatal("login kept the session id the browser sent")
	}
	if status, _, _ := b.call(t, "GET", "/auth/me", nil, cookie(planted)); status != http.StatusUnauthorized {
		t.Errorf("planted id after login = %d, want 401", status)
	}
	second, csrf2 := b.login(t, cookie(first))
	if second.Value == first.Value || csrf2 == csrf1 {
		t.Fatal("a second login reused the session id or CSRF token")
	}
	status, raw, _ := b.call(t, "GET", "/auth/me", nil, cookie(second))
	var me api.MeBody
	if status != http.StatusOK || json.Unmarshal(raw, &me) != nil || me.Name != "alice" || me.CSRF != csrf2 {
		t.Fatalf("me = %d %s", status, raw)
	}
	if status, raw, _ := b.call(t, "POST", "/auth/logout", nil, cookie(second), header("X-CSRF-Token", csrf2)); status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", status, raw)
	}
	if status, _, _ := b.call(t, "GET", "/auth/me", nil, cookie(second)); status != http.StatusUnauthorized {
		t.Errorf("session after logout = %d, want 401", status)
	}
	if status, _, _ := b.call(t, "GET", "/auth/me", nil, cookie(first)); status != http.StatusOK {
		t.Errorf("the other session = %d, want it still signed in", status)
	}
}

func TestCSRF(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	b.alice(t, model.RoleEditor, "default")
	c, csrf := b.login(t)
	job := func(name string) map[string]any {
		return map[string]any{"name": name, "config": map[string]any{"command": "true"}}
	}
	if status, raw, _ := b.call(t, "POST", "/jobs", job("a"), cookie(c)); status != http.StatusForbidden || !strings.Contains(string(raw), "CSRF") {
		t.Errorf("cookie POST without token = %d %s, want 403", status, raw)
	}
	if status, _, _ := b.call(t, "POST", "/jobs", job("a"), cookie(c), header("X-CSRF-Token", csrf+"x")); status != http.StatusForbidden {
		t.Errorf("cookie POST with a wrong token = %d, want 403", status)
	}
	if n, _ := b.store.JobCount(t.Context(), &store.JobCountParams{}); n != 0 {
		t.Fatalf("%d jobs after refused requests", n)
	}
	if status, raw, _ := b.call(t, "POST", "/jobs", job("a"), cookie(c), header("X-CSRF-Token", csrf)); status != http.StatusCreated {
		t.Errorf("cookie POST with token = %d %s, want 201", status, raw)
	}
	if status, _, _ := b.call(t, "POST", "/jobs", job("c"), cookie(c), header("X-CSRF-Token", csrf), header("Origin", "https://evil.example")); status != http.StatusForbidden {
		t.Errorf("cookie POST from another site = %d, want 403 even with the token", status)
	}
	if status, _, _ := b.call(t, "POST", "/auth/login", map[string]string{"name": "alice", "password": alicePW}, header("Origin", "https://evil.example")); status != http.StatusForbidden {
		t.Errorf("cross-site sign-in = %d, want 403 (login CSRF)", status)
	}
	if status, _, _ := b.call(t, "POST", "/jobs/query", "{}", cookie(c)); status != http.StatusForbidden {
		t.Errorf("cookie query POST without token = %d, want 403 (every unsafe method needs it)", status)
	}
	if status, _, _ := b.call(t, "GET", "/auth/me", nil, cookie(c)); status != http.StatusOK {
		t.Errorf("cookie GET without token = %d, want 200", status)
	}
	_, tok := b.token(t, "ci", []string{"default"}, model.RoleEditor)
	if status, raw, _ := b.call(t, "POST", "/jobs", job("b"), bearer(tok)); status != http.StatusCreated {
		t.Errorf("bearer POST without CSRF token = %d %s, want 201", status, raw)
	}
}

func TestTokenRevokeCutsAccess(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	var created api.TokenCreated
	b.must(t, "POST", "/tokens", map[string]any{"name": "ci", "namespaces": []string{"default"}, "role": "operator", "expires_in": "1h"}, &created, 201)
	if !strings.HasPrefix(created.Token, "hf_") || created.ExpiresAt == nil {
		t.Fatalf("created %+v", created)
	}
	// A second server on the same database, whose cache has the token.
	other := newSecBundleOn(t, b)
	for _, srv := range []*secBundle{b, other} {
		if status, raw, _ := srv.call(t, "POST", "/jobs/query", "{}", bearer(created.Token)); status != http.StatusOK {
			t.Fatalf("token before revoke = %d %s", status, raw)
		}
	}
	var list []model.AccessToken
	b.must(t, "GET", "/tokens", nil, &list, 200)
	if len(list) != 1 || list[0].LastUsedAt == nil || strings.Contains(mustJSON(list), created.Token) {
		t.Fatalf("list = %s: want one token, used, without its secret", mustJSON(list))
	}
	b.must(t, "DELETE", "/tokens/"+created.ID, nil, nil, 204)
	if status, _, _ := b.call(t, "POST", "/jobs/query", "{}", bearer(created.Token)); status != http.StatusUnauthorized {
		t.Errorf("token after revoke on the same server = %d, want 401 at once", status)
	}
	// The other server's cache holds a verification for at most a second.
	deadline := time.Now().Add(3 * time.Second)
	for {
		status, _, _ := other.call(t, "POST", "/jobs/query", "{}", bearer(created.Token))
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other server still accepts the revoked token: %d", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRequestRateLimit(t *testing.T) {
	b := newSecBundle(t, auth.Config{TokenRate: 0.001, TokenBurst: 2})
	_, tok := b.token(t, "ci", []string{"default"}, model.RoleViewer)
	for range 2 {
		if status, _, _ := b.call(t, "GET", "/auth/me", nil, bearer(tok)); status != http.StatusOK {
			t.Fatalf("within the burst = %d", status)
		}
	}
	status, raw, h := b.call(t, "GET", "/auth/me", nil, bearer(tok))
	var p problem
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || json.Unmarshal(raw, &p) != nil || p.Status != 429 || !strings.Contains(p.Detail, "rate limit") {
		t.Fatalf("over the limit = %d %s (Retry-After %q), want a 429 problem with Retry-After", status, raw, h.Get("Retry-After"))
	}
	// Another credential has its own budget.
	if status, _, _ := b.call(t, "GET", "/auth/me", nil, bearer(b.admin)); status != http.StatusOK {
		t.Errorf("another token = %d, want 200", status)
	}
}

func TestAuditTrail(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	_, tok := b.token(t, "deployer", []string{"default"}, model.RoleEditor)
	var job model.Job
	status, raw, _ := b.call(t, "POST", "/jobs", map[string]any{"name": "backup", "config": map[string]any{"command": "true"}}, bearer(tok), header("X-Request-Id", "req-42"))
	if status != 201 || json.Unmarshal(raw, &job) != nil {
		t.Fatalf("create = %d %s", status, raw)
	}
	if status, _, _ := b.call(t, "PUT", "/jobs/"+job.ID.String(), map[string]any{"name": "backup2", "config": map[string]any{"command": "true"}}, bearer(tok)); status != 200 {
		t.Fatalf("replace = %d", status)
	}
	var ev struct {
		ID         string
		HookSecret string `json:"hook_secret"`
	}
	b.must(t, "POST", "/schedules", map[string]any{"job_id": job.ID, "kind": model.ScheduleEvent}, &ev, 201)
	var rotated struct {
		HookSecret string `json:"hook_secret"`
	}
	b.must(t, "POST", "/schedules/"+ev.ID+"/rotate-secret", nil, &rotated, 200)
	_, _, _ = b.call(t, "POST", "/auth/login", map[string]string{"name": "ghost", "password": "whatever-pass"})
	// Refused and read-only requests leave no entry.
	_, _, _ = b.call(t, "DELETE", "/jobs/"+job.ID.String(), nil, bearer("hf_wrong"))
	_, _, _ = b.call(t, "POST", "/jobs/query", "{}", bearer(tok))

	var page api.AuditQueryOutput
	b.must(t, "POST", "/audit/query", map[string]any{}, &page.Body, 200)
	var actions []string
	for _, e := range page.Body.Result {
		actions = append(actions, e.Action)
	}
	want := []string{"login.failed", "rotate-hook-secret", "create-schedule", "replace-job", "create-job"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
	all := mustJSON(page.Body.Result)
	for _, secret := range []string{ev.HookSecret, rotated.HookSecret, tok} {
		if secret != "" && strings.Contains(all, secret) {
			t.Errorf("the audit log holds a secret: %s", all)
		}
	}
	create, replace := page.Body.Result[4], page.Body.Result[3]
	if create.Actor != "deployer" || create.ActorKind != "token" || create.Namespace != "default" || create.ObjectID != job.ID.String() ||
		create.ObjectType != "job" || create.RequestID != "req-42" || create.RemoteAddr == "" {
		t.Errorf("create entry %+v", create)
	}
	var diff map[string]map[string]any
	if json.Unmarshal(replace.Diff, &diff) != nil || diff["name"]["from"] != "backup" || diff["name"]["to"] != "backup2" {
		t.Errorf("replace diff %s, want the name's change", replace.Diff)
	}
	// Filters.
	var filtered api.AuditQueryOutput
	b.must(t, "POST", "/audit/query", map[string]any{"actor": "deployer", "limit": 1}, &filtered.Body, 200)
	if len(filtered.Body.Result) != 1 || !filtered.Body.HasMore || filtered.Body.Result[0].Action != "replace-job" {
		t.Errorf("filtered page %s", mustJSON(filtered.Body))
	}
}

func mustJSON(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

func TestExpiredAndAgentTokensAreRefused(t *testing.T) {
	b := newSecBundle(t, auth.Config{})
	past := time.Now().Add(-time.Minute)
	secret := auth.Generate()
	if _, err := b.store.AccessTokenInsert(t.Context(), &store.AccessTokenInsertParams{ID: "old", Name: "old", Kind: model.AccessAPI, Hash: auth.Hash(secret),
		Namespaces: []string{"*"}, Role: model.RoleAdmin, ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	agentTok, _, err := auth.Bootstrap(t.Context(), b.store, model.TokenAgent, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"expired": secret, "agent": agentTok} {
		if status, _, _ := b.call(t, "GET", "/auth/me", nil, bearer(tok)); status != http.StatusUnauthorized {
			t.Errorf("%s token = %d, want 401", name, status)
		}
	}
}
