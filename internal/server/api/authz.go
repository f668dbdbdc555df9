package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
)

// Route is one registered operation and the permission it needs; the
// authorisation table in docs/authorization.md is generated from them.
type Route struct {
	Method     string
	Path       string
	ID         string
	Permission auth.Permission
}

// Routes lists every operation, by path then method.
func (a *API) Routes() []Route {
	out := make([]Route, 0, len(a.perms))
	for _, r := range a.perms {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

type routeKey struct{}

// routeFrom returns the route a request matched.
func routeFrom(ctx context.Context) Route {
	r, _ := ctx.Value(routeKey{}).(Route)
	return r
}

// visible returns the namespaces the principal may see, in the store's
// convention (nil for all). Every get, list and count passes it, so an
// object in another namespace is not found.
func visible(ctx context.Context) []string {
	return auth.PrincipalFrom(ctx).Namespaces(model.RoleViewer)
}

// allow checks that the principal holds the role the route needs in the
// namespace of the object it acts on: 403 when it may see the namespace but
// not act, 404 when it may not even see it.
func allow(ctx context.Context, namespace string) error {
	p := auth.PrincipalFrom(ctx)
	role := routeFrom(ctx).Permission.Role()
	if p.Can(role, namespace) {
		return nil
	}
	if p.Can(model.RoleViewer, namespace) {
		return huma.Error403Forbidden(fmt.Sprintf("%s in namespace %q needs the %s role", routeFrom(ctx).ID, namespace, role))
	}
	return huma.Error404NotFound("not found")
}

// allowCreate is allow for a new object: 403 either way, since the
// namespace was named by the caller.
func allowCreate(ctx context.Context, namespace string) error {
	p := auth.PrincipalFrom(ctx)
	role := routeFrom(ctx).Permission.Role()
	if p.Can(role, namespace) {
		return nil
	}
	return huma.Error403Forbidden(fmt.Sprintf("creating in namespace %q needs the %s role", namespace, role))
}

// actor names the principal for created_by and updated_by fields.
func actor(ctx context.Context) string {
	if p := auth.PrincipalFrom(ctx); p != nil {
		return p.Name
	}
	return "anonymous"
}

// gate authenticates r, checks the route's permission, CSRF and the request
// rate, and returns r with the principal, the route and the request info
// in its context; on failure it writes the answer and returns nil.
func (a *API) gate(w http.ResponseWriter, r *http.Request) *http.Request {
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" || len(reqID) > 128 {
		reqID = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", reqID)
	ctx := auth.WithRequestInfo(r.Context(), auth.RequestInfo{RemoteAddr: r.RemoteAddr, RequestID: reqID, TLS: r.TLS != nil})
	_, pattern := a.mux.Handler(r)
	route, known := a.perms[pattern]
	switch {
	case known:
	case public(r.URL.Path):
		route = Route{Permission: auth.PermPublic}
	case pattern != "":
		// A handler registered without reg declared no permission: only
		// an admin on every namespace may reach it (fail closed).
		route = Route{Permission: auth.PermAdmin, ID: pattern}
	default:
		// Unknown paths need a credential too, so that the answer does not
		// depend on whether a route exists.
		route = Route{Permission: auth.PermSignedIn}
	}
	ctx = context.WithValue(ctx, routeKey{}, route)
	p, err := a.deps.Auth.Authenticate(r.WithContext(ctx))
	if err != nil && route.Permission != auth.PermPublic {
		if !errors.Is(err, auth.ErrUnauthorized) {
			a.deps.Logger.WarnContext(ctx, "cannot check credentials", "error", err)
			writeProblem(w, http.StatusServiceUnavailable, "cannot check credentials now; retry")
			return nil
		}
		writeProblem(w, http.StatusUnauthorized, "invalid or expired credential")
		return nil
	}
	if p != nil {
		ctx = auth.WithPrincipal(ctx, p)
	}
	if route.Permission != auth.PermPublic {
		if p == nil {
			writeProblem(w, http.StatusUnauthorized, "authorization required: send Authorization: Bearer <token>, or sign in at /login")
			return nil
		}
		if !p.Allows(route.Permission) {
			writeProblem(w, http.StatusForbidden, fmt.Sprintf("%s needs the %s permission", route.ID, route.Permission))
			return nil
		}
	}
	// A browser posting from another site carries its Origin; without a
	// bearer token such a request could only ride on cookies (or sign the
	// browser in to someone else's account), so it is refused.
	if unsafeMethod(r.Method) && r.Header.Get("Authorization") == "" && crossOrigin(r) {
		writeProblem(w, http.StatusForbidden, "cross-site request refused")
		return nil
	}
	// Public routes act for nobody, so a session cookie gives them nothing
	// to forge (signing in again with one is fine).
	if route.Permission != auth.PermPublic && p != nil && p.Session != nil && unsafeMethod(r.Method) && !csrfOK(r, p.Session.CSRF) {
		writeProblem(w, http.StatusForbidden, "missing or wrong CSRF token: send the X-CSRF-Token header from GET /api/v1/auth/me")
		return nil
	}
	if ok, wait := a.deps.Auth.AllowRequest(p); !ok {
		secs := int(wait.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf("request rate limit reached for this credential; retry in %d s", max(secs, 1)))
		return nil
	}
	return r.WithContext(ctx)
}

// crossOrigin reports whether r names an Origin other than its own host.
func crossOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err != nil || u.Host != r.Host
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// csrfOK compares the X-CSRF-Token header with the session's token in
// constant time. The API reads JSON only; HTML forms post to the pages,
// which check the csrf field the same way.
func csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
