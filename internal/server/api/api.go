// Package api serves the HTTP API v1 (DESIGN.md §10) with huma on a
// net/http ServeMux, and its OpenAPI 3.1 document at /api/v1/openapi.json.
//
// Handlers are methods on [API], a small struct of dependencies; routes are
// registered in routes.go, each with the permission it needs (authz.go);
// handlers scope what they read to the caller's namespaces. Errors are RFC 9457 problem documents that name the failing field in
// errors[].location (for example "body.config.timeout"); bad input never
// writes anything.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Prefix is the path prefix of every API route.
const Prefix = "/api/v1"

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 1 << 20

// Authenticator tells who a request acts for and applies the request rate.
type Authenticator interface {
	// Authenticate returns the principal of r's bearer token or session
	// cookie; nil and no error when r has none.
	Authenticate(r *http.Request) (*auth.Principal, error)
	// AllowRequest takes from p's request budget; when none is left it
	// returns false and when to retry.
	AllowRequest(p *auth.Principal) (bool, time.Duration)
}

// Scheduler is what the API asks of the running scheduler.
type Scheduler interface {
	// WakeGenerator asks for a planning pass after schedules changed.
	WakeGenerator()
	// WakeGeneratorFor asks for a planning pass after a schedule changed
	// whose next fire is next (nil: none), when a pass would plan it.
	WakeGeneratorFor(next *time.Time)
	// WakeDispatcher asks for a dispatch pass after tasks were added.
	WakeDispatcher()
	// DispatchNow places tasks just created in ex's transaction on this
	// server's agents, writing their instances in it; done, called once
	// the transaction has ended, pushes them (committed) or frees their
	// slots. Tasks it did not place (placed counts those it did) wait for
	// a pass.
	DispatchNow(ctx context.Context, ex store.Executor, tasks []*model.Task) (done func(committed bool), placed int, err error)
	// CancelInstance tells the agent holding an instance to stop it.
	CancelInstance(agentID string, id uuid.UUID, reason string)
	// DrainAgent asks an agent to drain and exit. It returns an error
	// wrapping ErrAgentNotConnected when the agent has no connection to
	// this server.
	DrainAgent(ctx context.Context, agentID, reason string) error
}

// ErrAgentNotConnected is returned by Scheduler.DrainAgent when the agent is
// not connected to this server.
var ErrAgentNotConnected = errors.New("api: agent not connected to this server")

// Deps are the API's dependencies.
type Deps struct {
	Store store.Store
	Logs  *tasklog.Store
	Auth  Authenticator
	// Accounts signs users in and out and manages tokens; nil disables the
	// auth, token and audit routes (tests of other areas).
	Accounts  *auth.Service
	Scheduler Scheduler
	ServerID  string
	Version   string
	Logger    *slog.Logger
	// Follow wakes live log follows; nil means the log store's own broker.
	Follow Follower
	// FollowHeartbeat is how often a live log follow sends a keep-alive
	// comment and checks the store; zero means DefaultFollowHeartbeat.
	FollowHeartbeat time.Duration
	// Alerts sends test alerts and hears of rule changes; nil turns the
	// test sender off.
	Alerts Alerts
	// Reloader reloads the configuration; nil turns the reload route off.
	Reloader Reloader
	// AgentAuth enrols and revokes agents; nil leaves those routes out.
	AgentAuth AgentAuth
	// Secrets stores secrets; nil leaves those routes out.
	Secrets Secrets
}

// API holds the dependencies of the handlers.
type API struct {
	deps Deps
	mux  *http.ServeMux
	huma huma.API
	// adapter records the routes the mux serves (Routes).
	adapter *recordingAdapter
	// perms maps each route's mux pattern to its route and permission.
	perms map[string]Route
	// examples are body examples registered by route files (example).
	examples map[string]any

	follow    Follower
	heartbeat time.Duration
	// streamsDone is closed by CloseStreams to end live follows, which
	// http.Server.Shutdown would otherwise wait for.
	streamsDone chan struct{}
	closeOnce   sync.Once
}

// New builds the API and registers every route.
func New(deps Deps) *API {
	if deps.Store == nil || deps.Logs == nil || deps.Auth == nil || deps.Scheduler == nil || deps.Logger == nil {
		panic("api: New needs a store, a log store, an authenticator, a scheduler and a logger")
	}
	cfg := huma.DefaultConfig("hetuflow API", deps.Version)
	// No $schema links in bodies and no third-party docs renderer.
	cfg.CreateHooks = nil
	cfg.SchemasPath = ""
	cfg.DocsPath = ""
	cfg.OpenAPIPath = Prefix + "/openapi"
	cfg.Info.Description = "The hetuflow scheduler API. Routes need `Authorization: Bearer <token>` (or a signed-in session cookie plus the X-CSRF-Token header on changes); see docs/authorization.md for the permission of each."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API token (hetuflow token create), or the bootstrap admin token."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	cfg.Components.Schemas.RegisterTypeAlias(reflect.TypeFor[model.Duration](), reflect.TypeFor[string]())
	cfg.Transformers = append(cfg.Transformers, locateMissingProperties, addProblemCode)
	a := &API{deps: deps, mux: http.NewServeMux(), perms: map[string]Route{}, follow: deps.Follow, heartbeat: deps.FollowHeartbeat, streamsDone: make(chan struct{})}
	if a.follow == nil {
		a.follow = deps.Logs.Broker()
	}
	if a.heartbeat <= 0 {
		a.heartbeat = DefaultFollowHeartbeat
	}
	a.adapter = &recordingAdapter{Adapter: humago.NewAdapter(a.mux, "")}
	a.huma = huma.NewAPI(cfg, a.adapter)
	a.routes()
	a.document()
	return a
}

// CloseStreams ends every live log follow, and any started later, so that
// http.Server.Shutdown does not wait on them; register it with
// RegisterOnShutdown. It is safe to call more than once.
func (a *API) CloseStreams() {
	a.closeOnce.Do(func() { close(a.streamsDone) })
}

// OpenAPI returns the API's OpenAPI document.
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

// Handler returns the API's handler, which authenticates every request and
// checks the permission its route declares (see gate).
func (a *API) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r = a.gate(w, r); r == nil {
			return
		}
		// The API speaks only JSON; curl -d labels bodies as a form, so a
		// missing or form content type is read as JSON instead of a 415.
		if ct := r.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			if r.ContentLength != 0 {
				r.Header.Set("Content-Type", "application/json")
			}
		}
		if !limitBody(w, r) {
			return
		}
		if !auditable(routeFrom(r.Context())) {
			a.mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		// The mux sets r's path values as it routes r, so the id is read
		// when the entry is written.
		r = r.WithContext(withAuditNote(r.Context(), func() string { return r.PathValue("id") }))
		a.mux.ServeHTTP(rec, r)
		a.auditRequest(r, rec.status)
	})
}

// limitBody refuses a body over MaxBodyBytes before anything reads it, and
// closes the connection so unread bytes cannot be taken for the next request.
// A body of unknown length is read here, up to the limit. It reports whether
// the request may go on.
func limitBody(w http.ResponseWriter, r *http.Request) bool {
	tooLarge := func() bool {
		w.Header().Set("Connection", "close")
		writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
		return false
	}
	switch {
	case r.ContentLength > MaxBodyBytes:
		return tooLarge()
	case r.ContentLength >= 0:
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "cannot read request body")
		return false
	}
	if len(body) > MaxBodyBytes {
		return tooLarge()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

func public(path string) bool {
	if strings.HasPrefix(path, Prefix+"/hooks/") {
		return true // authenticated by each hook's own secret
	}
	switch path {
	case Prefix + "/agents/enroll": // checked by the enrolment token
		return true
	case Prefix + "/health", Prefix + "/ready", Prefix + "/openapi.json", Prefix + "/openapi.yaml", Prefix + "/openapi-3.0.json", Prefix + "/openapi-3.0.yaml":
		return true
	}
	return false
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hetuflow"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&Problem{ErrorModel: &huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail}, Code: ProblemCode(status)})
}

// locateMissingProperties points a "required property missing" error at the
// property itself (body.config) rather than at the object that lacks it, so
// every problem document names the failing field in its location.
func locateMissingProperties(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	for _, d := range em.Errors {
		var name string
		if _, err := fmt.Sscanf(d.Message, "expected required property %s to be present", &name); err == nil && name != "" {
			d.Location += "." + name
		}
	}
	return em, nil
}

// storeError turns a store or validation error into an HTTP error.
func storeError(err error, what string) error {
	var fe *model.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(huma.StatusError)):
		var se huma.StatusError
		errors.As(err, &se)
		return se
	case errors.As(err, &fe):
		return fieldError("body."+fe.Field, fe.Reason)
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict(what + " conflicts with an existing one")
	}
	return huma.Error500InternalServerError("internal error: " + err.Error())
}

// fieldError returns a 422 naming the field at location.
func fieldError(location, reason string) error {
	return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: location, Message: reason})
}
