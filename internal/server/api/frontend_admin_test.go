package api_test

import (
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestFrontendChecksSchema: the front-end methods validate a body against
// the route's schema, as huma does for an HTTP request, so the console
// cannot store what the API refuses.
func TestFrontendChecksSchema(t *testing.T) {
	t.Parallel()
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: teststore.SQLite(t), Logs: logs, Auth: tokenAuth{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
	ctx := auth.WithPrincipal(t.Context(), auth.BootstrapAdmin("admin", "admin"))
	// Secrets and enrolment are not configured here: their methods say so.
	if _, err := a.ListSecrets(ctx, "default"); api.ErrorModel(err) == nil || api.ErrorModel(err).Status != 503 {
		t.Fatalf("secrets without a key: %v", err)
	}
	_, err = a.CreateToken(ctx, api.TokenBody{Name: "", Role: model.RoleViewer})
	em := api.ErrorModel(err)
	if em == nil || em.Status != 422 || !hasLocation(em, "body.name") || !hasLocation(em, "body.namespaces") {
		t.Fatalf("empty token: %v %+v", err, em.Errors)
	}
	_, err = a.CreateAlertRule(ctx, api.AlertRuleBody{Name: "x", Events: []model.AlertEvent{model.AlertFailure}, Channel: "pigeon", Target: "t"})
	if em := api.ErrorModel(err); em == nil || em.Status != 422 || !hasLocation(em, "body.channel") {
		t.Fatalf("unknown channel: %v", err)
	}
	_, err = a.CreateUser(ctx, api.CreateUserBody{Name: "", Password: "correct horse battery", Role: "owner"})
	if em := api.ErrorModel(err); em == nil || em.Status != 422 || !hasLocation(em, "body.name") || !hasLocation(em, "body.role") {
		t.Fatalf("user without a name, with an unknown role: %v", err)
	}
	if _, err := a.SetUserGrant(ctx, "u1", "team-a", "owner"); api.ErrorModel(err) == nil || !hasLocation(err, "body.role") {
		t.Fatalf("grant of an unknown role: %v", err)
	}
	tok, err := a.CreateToken(ctx, api.TokenBody{Name: "ok", Role: model.RoleViewer, Namespaces: []string{"*"}})
	if err != nil || !strings.HasPrefix(tok.Token, "hf_") {
		t.Fatalf("good token: %v", err)
	}
}

func hasLocation(em interface{ Error() string }, loc string) bool {
	for _, d := range api.ErrorModel(em.(error)).Errors {
		if d.Location == loc {
			return true
		}
	}
	return false
}
