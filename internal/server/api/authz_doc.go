package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
)

// Scope says how a route's object relates to namespaces, for the
// authorisation table.
type Scope string

// Scopes.
const (
	// ScopeGlobal routes touch nothing namespaced (agents, servers, tokens,
	// the audit log, the caller itself).
	ScopeGlobal Scope = "global"
	// ScopeObject routes act on one object by id; in a namespace the caller
	// cannot see it does not exist (404).
	ScopeObject Scope = "object"
	// ScopeCreate routes create an object in a namespace the caller names
	// (403 without the role there).
	ScopeCreate Scope = "create"
	// ScopeList routes list or count; they return only visible namespaces.
	ScopeList Scope = "list"
	// ScopeRef routes create an object beside one they name by id (a
	// schedule for a job): an invisible job is reported as missing (422).
	ScopeRef Scope = "ref"
)

// ScopeOf classifies a route.
func ScopeOf(r Route) Scope {
	p := strings.TrimPrefix(r.Path, Prefix)
	namespaced := false
	for _, s := range []string{"/jobs", "/schedules", "/flows", "/flow-runs", "/tasks", "/task-instances", "/alert-rules", "/secrets"} {
		if p == s || strings.HasPrefix(p, s+"/") {
			namespaced = true
		}
	}
	switch {
	case !namespaced:
		return ScopeGlobal
	case r.ID == "create-schedule":
		return ScopeRef
	case r.ID == "put-secret":
		// The caller names the namespace, as in a create.
		return ScopeCreate
	case strings.Contains(p, "{id}"), strings.Contains(p, "{namespace}"):
		// A secret's namespace is in its path; in a namespace the caller
		// cannot see, every name is missing.
		return ScopeObject
	case strings.HasSuffix(p, "/query") || strings.HasSuffix(p, "/preview") || r.Method == http.MethodGet:
		return ScopeList
	}
	return ScopeCreate
}

// Column is one kind of caller in the authorisation table.
type Column struct {
	Name string
	// Principal is nil for no credential; Wrong marks a bad credential.
	Principal *auth.Principal
	Wrong     bool
	// Other marks a principal whose grant is in another namespace than
	// the objects'.
	Other bool
}

// MatrixNamespace and MatrixOther are the namespaces of the table: the
// objects live in the first.
const (
	MatrixNamespace = "team-a"
	MatrixOther     = "team-b"
)

// Columns returns the callers of the authorisation table.
func Columns() []Column {
	cols := []Column{{Name: "none"}, {Name: "wrong", Wrong: true}}
	roles := []model.Role{model.RoleViewer, model.RoleOperator, model.RoleEditor, model.RoleAdmin}
	for _, other := range []bool{false, true} {
		for _, r := range roles {
			ns, name := MatrixNamespace, string(r)
			if other {
				ns, name = MatrixOther, string(r)+"@other"
			}
			cols = append(cols, Column{Name: name, Other: other, Principal: &auth.Principal{Kind: auth.KindToken, Name: name, Grants: map[string]model.Role{ns: r}}})
		}
	}
	cols = append(cols, Column{Name: "admin@*", Principal: &auth.Principal{Kind: auth.KindToken, Name: "admin@*", Grants: map[string]model.Role{model.AllNamespaces: model.RoleAdmin}}})
	return cols
}

// Expect returns what a caller gets from a route, by its declaration:
// "public" (no check), "401", "403", "404", or "ok" (authorised; the
// handler's own answer).
func Expect(r Route, c Column) string {
	switch {
	case r.Permission == auth.PermPublic:
		return "public"
	case c.Principal == nil:
		return "401"
	case !c.Principal.Allows(r.Permission):
		return "403"
	case !c.Other:
		return "ok"
	}
	switch ScopeOf(r) {
	case ScopeObject:
		return "404"
	case ScopeCreate:
		return "403"
	}
	return "ok"
}

// AuthorizationMarkdown renders docs/authorization.md from the routes.
func AuthorizationMarkdown(routes []Route) string {
	var b strings.Builder
	b.WriteString(`# Authorisation table

Generated from the route list (internal/server/api/routes.go) by
` + "`go test ./internal/server/api -run TestAuthorizationMatrix -update`" + `; the same test calls
every route as every caller below and fails when an answer differs from this table.

Permissions: **public** needs nothing; **signed-in** any valid credential; **read** the viewer role,
**operate** operator, **edit** editor in the object's namespace; **admin** the admin role on every
namespace (` + "`*`" + `). Roles include the ones below them: viewer < operator < editor < admin.

Callers: *none* sends no credential, *wrong* an unknown token; *viewer* … *admin* hold that role in the
namespace of the objects, *…@other* in another namespace; *admin@\** is admin on every namespace.
Answers: *ok* means authorised (the handler answers), *401* no or bad credential, *403* not allowed,
*404* the object is in a namespace the caller cannot see, *public* the route checks no credential.
Lists and counts show only the namespaces the caller can see; creating a schedule for a job the caller
cannot see is answered as if the job did not exist (422).

`)
	cols := Columns()
	b.WriteString("| Method | Path | Permission | Scope |")
	for _, c := range cols {
		b.WriteString(" " + strings.ReplaceAll(c.Name, "*", `\*`) + " |")
	}
	b.WriteString("\n|---|---|---|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range routes {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |", r.Method, r.Path, r.Permission, ScopeOf(r))
		for _, c := range cols {
			b.WriteString(" " + Expect(r, c) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}
