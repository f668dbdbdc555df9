package client_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/agentauth"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// securedClient serves the real API in process with real accounts,
// enrolment and secrets, and returns a client holding the bootstrap admin
// token and the server's URL.
func securedClient(t *testing.T) (*client.Client, string) {
	t.Helper()
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, log := teststore.SQLite(t), lifecycletest.WarnLogger(t)
	acc := auth.NewService(st, auth.NewTokens(st), auth.Config{Password: auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}}, log)
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	keys, err := secrets.ParseKeys(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: acc, Accounts: acc, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: log,
		AgentAuth: agentauth.New(agentauth.Config{}, st, nil, log), Secrets: secrets.New(st, keys)})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	admin, _, err := auth.Bootstrap(t.Context(), st, model.TokenAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateUser(t.Context(), st, "alice", auth.HashPassword("correct horse battery", auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}), model.RoleEditor, "default"); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.URL, client.WithToken(admin), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return c, srv.URL
}

func TestClientTokensSessionsAndAudit(t *testing.T) {
	ctx := t.Context()
	c, url := securedClient(t)
	if me, err := c.Me(ctx); err != nil || me.Kind != "bootstrap" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	created, err := c.CreateToken(ctx, &client.TokenSpec{Name: "ci", Namespaces: []string{"default"}, Role: model.RoleViewer, ExpiresIn: client.Duration(time.Hour)})
	if err != nil || created.Token == "" || created.ExpiresAt == nil {
		t.Fatalf("CreateToken = %+v, %v", created, err)
	}
	viewer, _ := client.New(url, client.WithToken(created.Token), client.WithRetries(0, 0))
	if me, err := viewer.Me(ctx); err != nil || me.Kind != "token" || len(me.Grants) != 1 || me.Grants[0].Role != model.RoleViewer {
		t.Errorf("Me as the new token = %+v, %v", me, err)
	}
	if _, err := viewer.ListTokens(ctx); !client.IsForbidden(err) {
		t.Errorf("ListTokens as a viewer: %v, want forbidden", err)
	}
	if toks, err := c.ListTokens(ctx); err != nil || len(toks) != 1 || toks[0].ID != created.ID {
		t.Errorf("ListTokens = %v, %v", toks, err)
	}
	if err := c.RevokeToken(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.Me(ctx); !client.IsUnauthorized(err) {
		t.Errorf("Me with a revoked token: %v", err)
	}

	anon, _ := client.New(url, client.WithRetries(0, 0))
	if _, err := anon.Login(ctx, "alice", "wrong"); !client.IsUnauthorized(err) {
		t.Errorf("Login with a wrong password: %v", err)
	}
	s, err := anon.Login(ctx, "alice", "correct horse battery")
	if err != nil || s.Me.Name != "alice" || s.Me.CSRF == "" || s.Cookie == nil {
		t.Fatalf("Login = %+v, %v", s, err)
	}
	alice, _ := client.New(url, client.WithSession(s), client.WithRetries(0, 0))
	if me, err := alice.Me(ctx); err != nil || me.Kind != "user" || me.Name != "alice" {
		t.Errorf("Me in the session = %+v, %v", me, err)
	}
	// A change made with the cookie carries the session's CSRF token.
	if _, err := alice.CreateJob(ctx, &client.JobSpec{Name: "by-alice", Config: client.JobConfig{Command: "true"}}); err != nil {
		t.Errorf("CreateJob in the session: %v", err)
	}
	if err := alice.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Me(ctx); !client.IsUnauthorized(err) {
		t.Errorf("Me after logout: %v", err)
	}

	page, err := c.QueryAudit(ctx, &client.AuditQuery{Actor: "alice", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, e := range page.Result {
		actions[e.Action] = true
		if e.Actor != "alice" {
			t.Errorf("audit entry of %q in a query for alice", e.Actor)
		}
	}
	if !actions["logout"] || !actions["create-job"] {
		t.Errorf("alice's audit actions = %v, want logout and create-job", actions)
	}
	if page, err := c.QueryAudit(ctx, &client.AuditQuery{Limit: 1}); err != nil || len(page.Result) != 1 || !page.HasMore {
		t.Errorf("QueryAudit limit 1 = %+v, %v", page, err)
	}
}

func TestClientAlertRules(t *testing.T) {
	ctx := t.Context()
	c, _ := securedClient(t)
	job, err := c.CreateJob(ctx, &client.JobSpec{Name: "backup", Config: client.JobConfig{Command: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	spec := &client.AlertRuleSpec{JobID: &job.ID, Name: "backup failures", Events: []client.AlertEvent{client.AlertFailure},
		Channel: client.AlertWebhook, Target: "https://alerts.example.com/hook", Secret: "s3"}
	r, err := c.CreateAlertRule(ctx, spec)
	if err != nil || r.Namespace != "default" || !r.HasSecret || !r.Enabled || r.JobID == nil || *r.JobID != job.ID {
		t.Fatalf("CreateAlertRule = %+v, %v", r, err)
	}
	if got, err := c.GetAlertRule(ctx, r.ID); err != nil || got.Name != "backup failures" {
		t.Errorf("GetAlertRule = %+v, %v", got, err)
	}
	off := false
	spec.Name, spec.Secret, spec.Enabled, spec.Events = "renamed", "", &off, []client.AlertEvent{client.AlertTimeout, client.AlertAgentLost}
	if got, err := c.ReplaceAlertRule(ctx, r.ID, spec); err != nil || got.Name != "renamed" || got.Enabled || !got.HasSecret || len(got.Events) != 2 {
		t.Errorf("ReplaceAlertRule = %+v, %v (an empty secret keeps the old one)", got, err)
	}
	if list, err := c.ListAlertRules(ctx, "default"); err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Errorf("ListAlertRules = %v, %v", list, err)
	}
	if list, err := c.ListAlertRules(ctx, "elsewhere"); err != nil || len(list) != 0 {
		t.Errorf("ListAlertRules of another namespace = %v, %v", list, err)
	}
	if ds, err := c.AlertDeliveries(ctx, r.ID, 10); err != nil || ds == nil || len(ds) != 0 {
		t.Errorf("AlertDeliveries = %v, %v; want an empty list", ds, err)
	}
	// This server has no alert service: the test is refused, not faked.
	var ae *client.APIError
	if _, err := c.TestAlertRule(ctx, r.ID); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "unavailable" {
		t.Errorf("TestAlertRule without an alert service: %v", err)
	}
	if _, err := c.CreateAlertRule(ctx, &client.AlertRuleSpec{Name: "bad", Events: []client.AlertEvent{"sometimes"}, Channel: client.AlertEmail, Target: "ops@example.com"}); !errors.As(err, &ae) || ae.Code != "validation_failed" {
		t.Error("CreateAlertRule with an unknown event succeeded")
	}
	// The audit trail names the rule and its namespace; the secret is
	// never in it.
	page, err := c.QueryAudit(ctx, &client.AuditQuery{Action: "replace-alert-rule"})
	if err != nil || len(page.Result) != 1 || page.Result[0].Namespace != "default" || page.Result[0].ObjectID != r.ID.String() ||
		!strings.Contains(string(page.Result[0].Diff), "renamed") || strings.Contains(string(page.Result[0].Diff), "s3") {
		t.Errorf("audit of replace-alert-rule = %+v, %v", page, err)
	}
	if err := c.DeleteAlertRule(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAlertRule(ctx, r.ID); !client.IsNotFound(err) {
		t.Errorf("deleted rule: %v", err)
	}
}

func TestClientSecretsEnrolmentAndOps(t *testing.T) {
	ctx := t.Context()
	c, url := securedClient(t)
	s, err := c.PutSecret(ctx, "default", "DB_PASSWORD", "hunter2")
	if err != nil || s.Name != "DB_PASSWORD" || s.KeyID == "" {
		t.Fatalf("PutSecret = %+v, %v", s, err)
	}
	if got, err := c.GetSecret(ctx, "default", "DB_PASSWORD"); err != nil || got.Namespace != "default" {
		t.Errorf("GetSecret = %+v, %v", got, err)
	}
	if list, err := c.ListSecrets(ctx, "default"); err != nil || len(list) != 1 {
		t.Errorf("ListSecrets = %v, %v", list, err)
	}
	var ae *client.APIError
	if _, err := c.PutSecret(ctx, "*", "X", "v"); !errors.As(err, &ae) || ae.Code != "validation_failed" || len(ae.Errors) != 1 || ae.Errors[0].Location != "path.namespace" {
		t.Errorf("PutSecret in namespace *: %#v", err)
	}
	if _, err := c.PutSecret(ctx, "default", "no spaces", "v"); !errors.As(err, &ae) || len(ae.Errors) != 1 || ae.Errors[0].Location != "path.name" {
		t.Errorf("PutSecret with a bad name: %#v", err)
	}
	// The audit trail records the change, never the value.
	page, err := c.QueryAudit(ctx, &client.AuditQuery{Action: "put-secret"})
	if err != nil || len(page.Result) != 1 || page.Result[0].ObjectID != "DB_PASSWORD" || strings.Contains(string(page.Result[0].Diff), "hunter2") {
		t.Errorf("audit of put-secret = %+v, %v", page, err)
	}
	if err := c.DeleteSecret(ctx, "default", "DB_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(ctx, "default", "DB_PASSWORD"); !client.IsNotFound(err) {
		t.Errorf("deleted secret: %v", err)
	}

	tok, err := c.CreateEnrollToken(ctx, &client.EnrollTokenSpec{Name: "rack 4", Labels: "role=db", TTL: time.Hour})
	if err != nil || tok.Token == "" || tok.EnrollToken.Reusable || tok.EnrollToken.Labels != "role=db" {
		t.Fatalf("CreateEnrollToken = %+v, %v", tok, err)
	}
	anon, _ := client.New(url, client.WithRetries(0, 0))
	if _, err := anon.Enroll(ctx, tok.Token, map[string]string{"role": "web"}); !client.IsUnauthorized(err) {
		t.Errorf("Enroll with labels the token refuses: %v", err)
	}
	e, err := anon.Enroll(ctx, tok.Token, map[string]string{"role": "db"})
	if err != nil || e.AgentID == "" || e.Credential == "" {
		t.Fatalf("Enroll = %+v, %v", e, err)
	}
	if _, err := anon.Enroll(ctx, tok.Token, map[string]string{"role": "db"}); !client.IsUnauthorized(err) {
		t.Errorf("second Enroll with a one-time token: %v", err)
	}
	if list, err := c.ListEnrollTokens(ctx); err != nil || len(list) != 1 || list[0].Uses != 1 {
		t.Errorf("ListEnrollTokens = %v, %v", list, err)
	}
	if got, err := c.RevokeEnrollToken(ctx, tok.EnrollToken.ID); err != nil || got.RevokedAt == nil {
		t.Errorf("RevokeEnrollToken = %+v, %v", got, err)
	}
	if cr, err := c.RevokeAgent(ctx, e.AgentID); err != nil || cr.AgentID != e.AgentID || cr.RevokedAt == nil {
		t.Errorf("RevokeAgent = %+v, %v", cr, err)
	}
	if _, err := c.RevokeAgent(ctx, "never-enrolled"); !client.IsNotFound(err) {
		t.Errorf("RevokeAgent of an agent without a credential: %v", err)
	}

	// No leader in this test: not ready, and the failed check is named.
	_, err = anon.Ready(ctx)
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || len(ae.Errors) == 0 {
		t.Errorf("Ready without a leader: %v", err)
	}
	if _, err := c.ReloadConfig(ctx); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Errorf("ReloadConfig without a configuration file: %v", err)
	}
}
