package ui

import (
	"net/http"
	"slices"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
)

// Role is what an identity may do in a namespace; each role includes the
// ones before it.
type Role int

// Roles, weakest first.
const (
	RoleViewer Role = iota + 1
	RoleOperator
	RoleEditor
	RoleAdmin
)

// AllNamespaces is the Roles key that stands for every namespace.
const AllNamespaces = "*"

// Identity is who made a request.
type Identity struct {
	Name  string
	Admin bool
	// Roles maps namespaces to the identity's role there; nil, or the key
	// AllNamespaces, grants the role in every namespace (nil: admin).
	Roles map[string]Role
}

// Role returns the identity's role in namespace ns, or 0 for none.
func (id Identity) Role(ns string) Role {
	if id.Admin || id.Roles == nil {
		return RoleAdmin
	}
	if r, ok := id.Roles[ns]; ok {
		return r
	}
	return id.Roles[AllNamespaces]
}

// Can reports whether the identity has at least role in ns.
func (id Identity) Can(ns string, role Role) bool { return id.Role(ns) >= role }

// CanAny reports whether the identity has at least role in some namespace,
// which decides whether a page shows the buttons of that role at all.
func (id Identity) CanAny(role Role) bool {
	if id.Admin || id.Roles == nil {
		return true
	}
	for _, r := range id.Roles {
		if r >= role {
			return true
		}
	}
	return false
}

// Visible returns the namespaces the identity may read, sorted; nil means
// all of them.
func (id Identity) Visible() []string {
	if id.Admin || id.Roles == nil {
		return nil
	}
	if _, ok := id.Roles[AllNamespaces]; ok {
		return nil
	}
	out := make([]string, 0, len(id.Roles))
	for ns, r := range id.Roles {
		if r >= RoleViewer {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// principal is the identity as the API's permission checks see it.
func (id Identity) principal() *auth.Principal {
	p := &auth.Principal{Kind: auth.KindUser, ID: id.Name, Name: id.Name, Grants: map[string]model.Role{}}
	if id.Admin || id.Roles == nil {
		p.Grants[model.AllNamespaces] = model.RoleAdmin
		return p
	}
	for ns, r := range id.Roles {
		if role := r.model(); role != model.RoleNone {
			p.Grants[ns] = role
		}
	}
	return p
}

// model returns the role's name in the model.
func (r Role) model() model.Role {
	switch r {
	case RoleViewer:
		return model.RoleViewer
	case RoleOperator:
		return model.RoleOperator
	case RoleEditor:
		return model.RoleEditor
	case RoleAdmin:
		return model.RoleAdmin
	}
	return model.RoleNone
}

// RoleOf returns the console role of a model role; 0 for none.
func RoleOf(r model.Role) Role {
	switch r {
	case model.RoleViewer:
		return RoleViewer
	case model.RoleOperator:
		return RoleOperator
	case model.RoleEditor:
		return RoleEditor
	case model.RoleAdmin:
		return RoleAdmin
	}
	return 0
}

// Auth is what the UI needs from the authentication layer. The security
// work replaces the temporary TokenAuth with sessions, users and roles.
type Auth interface {
	// Identify returns who made the request, or false when nobody is
	// signed in.
	Identify(r *http.Request) (Identity, bool)
	// CSRFToken returns the token every form of this session carries.
	CSRFToken(r *http.Request) string
	// VerifyCSRF checks the token of an unsafe request.
	VerifyCSRF(r *http.Request) bool
}

// Login is the optional part of Auth that signs people in and out through
// the UI's own login page. An Auth without it brings its own login page.
type Login interface {
	// SignIn checks the credential typed on the login page and, when it is
	// good, sets what identifies the session on w.
	SignIn(w http.ResponseWriter, r *http.Request, credential string) bool
	// SignOut ends the session.
	SignOut(w http.ResponseWriter, r *http.Request)
}
