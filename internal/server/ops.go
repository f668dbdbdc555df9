package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/logging"
	"github.com/hetuflow/hetuflow/internal/server/alert"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/metrics"
)

// ReloadFunc reads the configuration again (file, environment and the
// command line's overrides) and validates it.
type ReloadFunc func(ctx context.Context) (*config.Config, error)

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-Id"

// ops holds what operators use: metrics and their sampler, alerts, the
// live log level and configuration reloads.
type ops struct {
	app     *App
	log     *slog.Logger
	metrics *metrics.Metrics
	sampler *metrics.Sampler
	alerts  *alert.Service
	level   *slog.LevelVar
	reload  ReloadFunc

	// mu serialises reloads; cfg is the configuration in effect (restart
	// keys keep their running values, so each reload reports them again).
	mu  sync.Mutex
	cfg config.Config
}

func newOps(a *App, opts Options) *ops {
	m := opts.Metrics
	if m == nil {
		m = metrics.New(opts.Version)
	}
	level := opts.LogLevel
	if level == nil {
		level = logging.LevelVar(opts.Config.Log.Level)
	}
	o := &ops{app: a, log: a.log.With("svc", "server.ops"), metrics: m, level: level, reload: opts.Reload, cfg: *opts.Config}
	o.sampler = metrics.NewSampler(m, opts.Store, 0, a.log.With("svc", "metrics.sampler"))
	o.alerts = alert.New(alertConfig(opts.Config.Alert), opts.Store, m, a.log.With("svc", "alert"))
	return o
}

// alertConfig converts the [alert] section.
func alertConfig(c config.Alert) alert.Config {
	return alert.Config{
		SendInterval: c.SendInterval.D(), Timeout: c.Timeout.D(), MaxAttempts: c.MaxAttempts, RetryBackoff: c.RetryBackoff.D(),
		SMTP: alert.SMTPConfig{Addr: c.SMTPAddr, From: c.SMTPFrom, Username: c.SMTPUsername, Password: c.SMTPPassword},
	}
}

// services are started after the scheduler's, and stopped by stop.
func (o *ops) services() []lifecycle.Service { return []lifecycle.Service{o.sampler, o.alerts} }

// stop stops the services, after the writers that feed the alerts.
func (o *ops) stop() {
	o.alerts.Stop()
	o.sampler.Stop()
}

// routes adds /metrics: public, like health, unless server.metrics_auth
// asks for the admin token.
func (o *ops) routes(mux *http.ServeMux) {
	h := o.metrics.Handler()
	if o.cfg.Server.MetricsAuth {
		h = o.requireAdmin(h)
	}
	// permission: public (server.metrics_auth: admin)
	mux.Handle("GET /metrics", h)
}

// requireAdmin refuses a request without the admin bearer token.
func (o *ops) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || o.app.tokens.AuthenticateAdmin(r.Context(), token) != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hetuflow"`)
			http.Error(w, "metrics need the admin token (server.metrics_auth)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestIDPattern bounds ids taken from clients: they reach log lines.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// middleware gives every request an id: the client's X-Request-Id when it
// is sane, else a new one. The id is echoed in the response and carried by
// the request's context into every log line written with it.
func (o *ops) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := logging.WithRequestID(r.Context(), id)
		start := time.Now()
		next.ServeHTTP(w, r.WithContext(ctx))
		o.log.DebugContext(ctx, "request", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start))
	})
}

// reloader returns the API's reloader, or nil when there is nothing to
// reload from.
func (o *ops) reloader() api.Reloader {
	if o.reload == nil {
		return nil
	}
	return o.app
}

// Reload re-reads the configuration and applies the keys that can change
// live (log.level, scheduler.history_ttl, the [alert] section). It reports
// every changed key, which it applied, and which need a restart. A bad
// file changes nothing and returns the error naming the key.
func (a *App) Reload(ctx context.Context) (*api.ReloadReport, error) {
	o := a.ops
	if o.reload == nil {
		return nil, fmt.Errorf("reload: this server has no configuration source")
	}
	next, err := o.reload(ctx)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	rep := &api.ReloadReport{Changed: config.Diff(&o.cfg, next), Applied: []string{}, RestartRequired: []string{}}
	for _, k := range rep.Changed {
		if config.IsLive(k) {
			rep.Applied = append(rep.Applied, k)
		} else {
			rep.RestartRequired = append(rep.RestartRequired, k)
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(next.Log.Level)); err == nil {
		o.level.Set(lvl)
	}
	a.housekeeper.SetHistoryTTL(next.Scheduler.HistoryTTL.D())
	o.alerts.SetConfig(alertConfig(next.Alert))
	o.cfg.Log.Level, o.cfg.Scheduler.HistoryTTL, o.cfg.Alert = next.Log.Level, next.Scheduler.HistoryTTL, next.Alert
	o.log.InfoContext(ctx, "configuration reloaded", "applied", rep.Applied, "restart_required", rep.RestartRequired)
	return rep, nil
}

// Metrics returns the server's metrics.
func (a *App) Metrics() *metrics.Metrics { return a.ops.metrics }

// Alerts returns the alert service.
func (a *App) Alerts() *alert.Service { return a.ops.alerts }
