package auth

import (
	"context"
	"net/http"
	"slices"
	"sort"

	"github.com/hetuflow/hetuflow/internal/model"
)

// PrincipalKind says how a principal proved who it is.
type PrincipalKind string

// Principal kinds.
const (
	// KindUser is a person signed in with a session cookie.
	KindUser PrincipalKind = "user"
	// KindToken is a named API token.
	KindToken PrincipalKind = "token"
	// KindBootstrap is the bootstrap admin token: admin on every namespace.
	KindBootstrap PrincipalKind = "bootstrap"
)

// Principal is who a request acts for, and what it may do where.
type Principal struct {
	Kind PrincipalKind
	// ID is the user's or the token's id.
	ID string
	// Name is the user's or the token's name, for the audit log.
	Name string
	// Grants maps namespaces, or "*" for all, to roles.
	Grants map[string]model.Role
	// Session is the browser session of a KindUser principal signed in by
	// cookie; nil for bearer tokens.
	Session *model.Session
	// UserID is the user a token or session belongs to, if any.
	UserID string
}

// BootstrapAdmin is the principal of the bootstrap admin token: admin on
// every namespace.
func BootstrapAdmin(id, name string) *Principal {
	return &Principal{Kind: KindBootstrap, ID: id, Name: name, Grants: map[string]model.Role{model.AllNamespaces: model.RoleAdmin}}
}

// Role returns the principal's role in namespace: the higher of its grant
// there and its grant on every namespace.
func (p *Principal) Role(namespace string) model.Role {
	if p == nil {
		return model.RoleNone
	}
	r := p.Grants[model.AllNamespaces]
	if g := p.Grants[namespace]; g.Rank() > r.Rank() {
		r = g
	}
	return r
}

// Can reports whether the principal holds at least role in namespace.
func (p *Principal) Can(role model.Role, namespace string) bool {
	return p.Role(namespace).Rank() >= role.Rank()
}

// CanSomewhere reports whether the principal holds at least role in some
// namespace.
func (p *Principal) CanSomewhere(role model.Role) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Grants {
		if r.Rank() >= role.Rank() {
			return true
		}
	}
	return false
}

// Namespaces returns the namespaces where the principal holds at least
// role, in the store's convention: nil for all, an empty slice for none.
func (p *Principal) Namespaces(role model.Role) []string {
	if p == nil {
		return []string{}
	}
	if p.Grants[model.AllNamespaces].Rank() >= role.Rank() {
		return nil
	}
	out := []string{}
	for ns, r := range p.Grants {
		if ns != model.AllNamespaces && r.Rank() >= role.Rank() {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// GrantList returns the grants as a sorted list, for display.
func (p *Principal) GrantList() []model.Grant {
	out := make([]model.Grant, 0, len(p.Grants))
	for ns, r := range p.Grants {
		out = append(out, model.Grant{UserID: p.UserID, Namespace: ns, Role: r})
	}
	slices.SortFunc(out, func(a, b model.Grant) int {
		switch {
		case a.Namespace < b.Namespace:
			return -1
		case a.Namespace > b.Namespace:
			return 1
		}
		return 0
	})
	return out
}

// grantsOf turns scoped namespaces and a role into grants.
func grantsOf(namespaces []string, role model.Role) map[string]model.Role {
	g := make(map[string]model.Role, len(namespaces))
	if !role.Valid() {
		return g
	}
	for _, ns := range namespaces {
		g[ns] = role
	}
	return g
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a request acts for, or nil for an
// anonymous one.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// CSRFToken returns the CSRF token to put in forms (field "csrf") or the
// X-CSRF-Token header for the session signed in on r, or "" when r has no
// session.
func CSRFToken(r *http.Request) string {
	if p := PrincipalFrom(r.Context()); p != nil && p.Session != nil {
		return p.Session.CSRF
	}
	return ""
}

// RequestInfo is what the audit log records about where a request came
// from.
type RequestInfo struct {
	RemoteAddr string
	RequestID  string
	TLS        bool
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the request info in ctx, or the zero value.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// Permission is what a route needs, declared where the route is
// registered.
type Permission string

// Permissions, from none to most.
const (
	// PermPublic needs no credential (health, hooks with their own secret,
	// login).
	PermPublic Permission = "public"
	// PermSignedIn needs any valid credential, whatever its grants.
	PermSignedIn Permission = "signed-in"
	// PermRead needs viewer in the object's namespace.
	PermRead Permission = "read"
	// PermOperate needs operator in the object's namespace: trigger,
	// cancel, retry, read logs.
	PermOperate Permission = "operate"
	// PermEdit needs editor in the object's namespace: change jobs,
	// schedules and flows.
	PermEdit Permission = "edit"
	// PermAdmin needs admin on every namespace ("*"): users, tokens,
	// agents, the audit log.
	PermAdmin Permission = "admin"
)

// Role returns the least role the permission needs in a namespace.
func (p Permission) Role() model.Role {
	switch p {
	case PermRead:
		return model.RoleViewer
	case PermOperate:
		return model.RoleOperator
	case PermEdit:
		return model.RoleEditor
	case PermAdmin:
		return model.RoleAdmin
	}
	return model.RoleNone
}

// Allows reports whether the principal may call a route needing perm at
// all; handlers then check the object's namespace.
func (p *Principal) Allows(perm Permission) bool {
	switch perm {
	case PermPublic:
		return true
	case PermSignedIn:
		return p != nil
	case PermAdmin:
		return p.Can(model.RoleAdmin, model.AllNamespaces)
	}
	return p.CanSomewhere(perm.Role())
}
