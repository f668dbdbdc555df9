package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// ReloadReport says what a configuration reload did.
type ReloadReport struct {
	// Changed lists every key whose value differs from the running one.
	Changed []string `json:"changed"`
	// Applied lists the changed keys now in effect.
	Applied []string `json:"applied"`
	// RestartRequired lists the changed keys that take effect only after a
	// restart.
	RestartRequired []string `json:"restart_required"`
}

// Reloader re-reads the configuration file and applies what can change
// live.
type Reloader interface {
	Reload(ctx context.Context) (*ReloadReport, error)
}

// registerOps registers readiness and the admin reload.
func (a *API) registerOps(reg regFunc) {
	ready := describe(reg(auth.PermPublic, http.MethodGet, "/ready", "ready", "Readiness: database reachable, migrations current, leader known (503 names the failed check)", "system", 0),
		"Readiness probe for a load balancer or orchestrator: 200 when the database answers, every migration is applied and a live leader holds the lease; "+
			"otherwise 503 with each failed check in `errors` (its location names the check). The checks give up after 3 s, so a hung database fails the probe. "+
			"Needs no token and shows no configuration. Use /health for liveness.")
	ready.Errors = []int{http.StatusServiceUnavailable}
	huma.Register(a.huma, ready, a.ready)
	huma.Register(a.huma, describe(reg(auth.PermAdmin, http.MethodPost, "/admin/reload", "reload-config", "Re-read the configuration file; apply live keys and list those that need a restart", "system", 0),
		"Re-reads the configuration file this server started with and applies the keys that can change live: log.level, scheduler.history_ttl "+
			"and the [alert] section. The answer lists every key that differs from the running value, those applied, and those that take effect only after a restart. "+
			"A file that does not load changes nothing; the error names the key. Needs the admin role on every namespace; reloads only the server that answers. "+
			"Idempotent: reloading an unchanged file applies nothing new. 503 when the server was started without a configuration file."), a.reload)
	a.example("ReadyOutputBody", map[string]any{"status": "ready", "checks": []*ReadyCheck{{Name: "database", OK: true}, {Name: "migrations", OK: true}, {Name: "leader", OK: true}}})
	a.example("ReloadReport", &ReloadReport{Changed: []string{"log.level", "server.listen"}, Applied: []string{"log.level"}, RestartRequired: []string{"server.listen"}})
}

// ReadyCheck is one readiness check.
type ReadyCheck struct {
	Name  string `json:"name" enum:"database,migrations,leader"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// ReadyOutput is a ready server's answer.
type ReadyOutput struct {
	Body struct {
		Status string        `json:"status" enum:"ready"`
		Checks []*ReadyCheck `json:"checks"`
	}
}

// readyTimeout bounds the checks, so a hung database fails the probe
// rather than hanging it.
const readyTimeout = 3 * time.Second

func (a *API) ready(ctx context.Context, _ *struct{}) (*ReadyOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	checks := a.readyChecks(ctx)
	var (
		failed []error
		first  string
	)
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, &huma.ErrorDetail{Location: c.Name, Message: c.Error})
			if first == "" {
				first = "not ready: " + c.Name + ": " + c.Error
			}
		}
	}
	if len(failed) > 0 {
		return nil, huma.Error503ServiceUnavailable(first, failed...)
	}
	out := &ReadyOutput{}
	out.Body.Status, out.Body.Checks = "ready", checks
	return out, nil
}

// readyChecks runs the checks in order; a later check is not run (and
// fails) when the database is unreachable.
func (a *API) readyChecks(ctx context.Context) []*ReadyCheck {
	db := &ReadyCheck{Name: "database", OK: true}
	mig := &ReadyCheck{Name: "migrations", OK: true}
	lead := &ReadyCheck{Name: "leader", OK: true}
	checks := []*ReadyCheck{db, mig, lead}
	if err := a.deps.Store.Ping(ctx); err != nil {
		db.OK, db.Error = false, "unreachable: "+err.Error()
		mig.OK, mig.Error = false, "database unreachable"
		lead.OK, lead.Error = false, "database unreachable"
		return checks
	}
	status, err := a.deps.Store.MigrateStatus(ctx)
	switch {
	case err != nil:
		mig.OK, mig.Error = false, "read migration status: "+err.Error()
	default:
		for _, m := range status {
			if !m.Applied {
				mig.OK, mig.Error = false, "migration "+m.Name+" is not applied: run hetuflow migrate"
				break
			}
		}
	}
	l, err := a.deps.Store.LeaderGet(ctx, &store.LeaderGetParams{Name: LeaseName})
	switch {
	case errors.Is(err, store.ErrNotFound):
		lead.OK, lead.Error = false, "no server has taken the lead yet"
	case err != nil:
		lead.OK, lead.Error = false, "read leader: "+err.Error()
	case !l.ExpiresAt.After(time.Now()):
		lead.OK, lead.Error = false, "the leader's lease expired; an election is due"
	}
	return checks
}

// ReloadOutput is a reload's report.
type ReloadOutput struct {
	Body *ReloadReport
}

func (a *API) reload(ctx context.Context, _ *struct{}) (*ReloadOutput, error) {
	if a.deps.Reloader == nil {
		return nil, huma.Error503ServiceUnavailable("this server was started without a configuration file to reload")
	}
	rep, err := a.deps.Reloader.Reload(ctx)
	if err != nil {
		return nil, storeError(err, "configuration")
	}
	return &ReloadOutput{Body: rep}, nil
}
