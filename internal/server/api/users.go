package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Users and their grants, for admins of every namespace. A password goes
// in (create, set) and never comes out; the audit diff never holds it. A
// user is deleted rather than disabled: the schema has no disabled state,
// and a user with no grant already sees nothing.

// userRoutes registers the users API. Called from routes().
func (a *API) userRoutes(reg regFunc) {
	h := a.huma
	op := func(method, path, id, summary string, status int) huma.Operation {
		return reg(auth.PermAdmin, method, path, id, summary, "users", status)
	}
	huma.Register(h, describe(op(http.MethodGet, "/users", "list-users", "List users with their grants", 0),
		"Lists every user by name with their role per namespace (\"*\" for all). Never returns a password or its hash. Needs the admin role on every namespace."), a.listUsers)
	huma.Register(h, describe(op(http.MethodPost, "/users", "create-user", "Create a user, optionally with a first grant", http.StatusCreated),
		"Creates a user who signs in with `name` and `password`; with `role` (and `namespace`, \"*\" for all) they get that role at once, else no access "+
			"until granted one. The password is hashed with argon2id and never returned nor audited. Needs the admin role on every namespace. "+
			"A name already taken is a 409."), a.createUser)
	huma.Register(h, describe(op(http.MethodPut, "/users/{id}/password", "set-user-password", "Set a user's password", http.StatusNoContent),
		"Replaces a user's password. Their open sessions stay until they expire or they sign out. The password is never returned nor audited. "+
			"Needs the admin role on every namespace. Idempotent; an unknown id is a 404."), a.setUserPassword)
	huma.Register(h, describe(op(http.MethodPut, "/users/{id}/grants/{namespace}", "set-user-grant", "Give a user a role in a namespace (or \"*\" for all)", 0),
		"Gives a user `role` in `namespace` (\"*\" for every namespace), replacing the role they held there, and returns the user with their grants. "+
			"The change applies to their next request. Needs the admin role on every namespace. An admin cannot take away their own admin role on \"*\" (409). "+
			"Idempotent; an unknown id is a 404."), a.setUserGrant)
	huma.Register(h, describe(op(http.MethodDelete, "/users/{id}/grants/{namespace}", "revoke-user-grant", "Remove a user's role in a namespace", 0),
		"Removes the role a user holds in `namespace` (\"*\" for the grant on every namespace) and returns the user with their grants. "+
			"Needs the admin role on every namespace. An admin cannot remove their own admin grant on \"*\" (409). Removing an absent grant changes nothing."), a.revokeUserGrant)
	huma.Register(h, describe(op(http.MethodDelete, "/users/{id}", "delete-user", "Delete a user with their grants and sessions", http.StatusNoContent),
		"Deletes a user, their grants and their sessions: they are signed out at once. The audit log keeps their name as the actor of past changes. "+
			"Needs the admin role on every namespace. An admin cannot delete themselves (409). Deleting again is a 404."), a.deleteUser)
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	u := &UserView{ID: "0f5e2c1a-7b1d-4c8e-9a3f-2d6b8e4c1f70", Name: "alice", CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
		Grants: []UserGrant{{Namespace: "default", Role: model.RoleEditor}, {Namespace: "team-a", Role: model.RoleViewer}}}
	a.example("UserView", u)
	a.example("UsersOutputBody", map[string]any{"result": []*UserView{u}})
	a.example("CreateUserBody", &CreateUserBody{Name: "alice", Password: "correct horse battery staple", Namespace: "default", Role: model.RoleEditor})
	a.example("PasswordBody", &PasswordBody{Password: "correct horse battery staple"})
	a.example("GrantBody", &GrantBody{Role: model.RoleViewer})
}

// UserGrant is a user's role in a namespace ("*" for all).
type UserGrant struct {
	Namespace string     `json:"namespace"`
	Role      model.Role `json:"role"`
}

// UserView is a user with their grants; never their password.
type UserView struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Grants    []UserGrant `json:"grants"`
}

// UsersOutput lists users.
type UsersOutput struct {
	Body struct {
		Result []*UserView `json:"result"`
	}
}

// UserOutput is one user.
type UserOutput struct {
	Body *UserView
}

// CreateUserBody creates a user.
type CreateUserBody struct {
	Name      string     `json:"name" minLength:"1" maxLength:"128"`
	Password  string     `json:"password" minLength:"1" maxLength:"1024" doc:"Never returned nor audited."`
	Namespace string     `json:"namespace,omitempty" maxLength:"128" doc:"The namespace of the first grant, \"*\" for all; needed with role."`
	Role      model.Role `json:"role,omitempty" enum:"viewer,operator,editor,admin" doc:"The first grant's role; without it the user has no access yet."`
}

// PasswordBody carries a new password in.
type PasswordBody struct {
	Password string `json:"password" minLength:"1" maxLength:"1024" doc:"Never returned nor audited."`
}

// GrantBody is the role to give.
type GrantBody struct {
	Role model.Role `json:"role" enum:"viewer,operator,editor,admin"`
}

// UserGrantPath names a user's grant in a namespace.
type UserGrantPath struct {
	ID        string `path:"id" maxLength:"128"`
	Namespace string `path:"namespace" maxLength:"128" doc:"A namespace, or \"*\" for every namespace."`
}

// errOwnAdmin refuses a change that would take the caller's own admin
// role on every namespace: they could not undo it.
var errOwnAdmin = huma.Error409Conflict("you cannot remove your own admin role on every namespace")

// isSelf reports whether the caller is the user id.
func isSelf(ctx context.Context, id string) bool {
	p := auth.PrincipalFrom(ctx)
	return p != nil && p.Kind == auth.KindUser && p.ID == id
}

func (a *API) userView(ctx context.Context, u *model.User) (*UserView, error) {
	gs, err := a.deps.Store.GrantList(ctx, &store.GrantListParams{UserID: u.ID})
	if err != nil {
		return nil, storeError(err, "grants")
	}
	v := &UserView{ID: u.ID, Name: u.Name, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Grants: make([]UserGrant, 0, len(gs))}
	for _, g := range gs {
		v.Grants = append(v.Grants, UserGrant{Namespace: g.Namespace, Role: g.Role})
	}
	return v, nil
}

func (a *API) getUser(ctx context.Context, id string) (*model.User, error) {
	u, err := a.deps.Store.UserGetByID(ctx, &store.UserGetByIDParams{ID: id})
	if err != nil {
		return nil, storeError(err, "user "+id)
	}
	return u, nil
}

func (a *API) listUsers(ctx context.Context, _ *struct{}) (*UsersOutput, error) {
	users, err := a.deps.Store.UserList(ctx)
	if err != nil {
		return nil, storeError(err, "users")
	}
	out := &UsersOutput{}
	out.Body.Result = make([]*UserView, 0, len(users))
	for _, u := range users {
		v, err := a.userView(ctx, u)
		if err != nil {
			return nil, err
		}
		out.Body.Result = append(out.Body.Result, v)
	}
	return out, nil
}

// checkGrant validates a grant's namespace ("*" or a job's namespace) at
// location.
func checkGrant(location, namespace string) error {
	if namespace == model.AllNamespaces {
		return nil
	}
	if err := model.ValidateNamespace("namespace", namespace); err != nil {
		var fe *model.FieldError
		if errors.As(err, &fe) {
			return fieldError(location, fe.Reason)
		}
		return err
	}
	return nil
}

func (a *API) createUser(ctx context.Context, in *struct{ Body CreateUserBody }) (*UserOutput, error) {
	acc, err := a.accounts()
	if err != nil {
		return nil, err
	}
	b := in.Body
	if err := auth.ValidateNewUser(b.Name, b.Password); err != nil {
		return nil, storeError(err, "user")
	}
	if b.Role != model.RoleNone {
		if b.Namespace == "" {
			return nil, fieldError("body.namespace", "is required with a role")
		}
		if err := checkGrant("body.namespace", b.Namespace); err != nil {
			return nil, err
		}
	}
	var user *model.User
	err = store.InTx(ctx, a.deps.Store, func(ex store.Executor) error {
		var err error
		user, err = auth.CreateUser(ctx, ex, b.Name, acc.HashPassword(b.Password), b.Role, b.Namespace)
		return err
	})
	if err != nil {
		return nil, storeError(err, "user "+b.Name)
	}
	v, err := a.userView(ctx, user)
	if err != nil {
		return nil, err
	}
	noteAudit(ctx, b.Namespace, user.ID, nil, map[string]any{"name": user.Name, "grants": v.Grants})
	a.deps.Logger.InfoContext(ctx, "user created", "name", user.Name, "id", user.ID)
	return &UserOutput{Body: v}, nil
}

func (a *API) setUserPassword(ctx context.Context, in *struct {
	ID   string `path:"id" maxLength:"128"`
	Body PasswordBody
}) (*struct{}, error) {
	acc, err := a.accounts()
	if err != nil {
		return nil, err
	}
	if err := auth.ValidatePassword(in.Body.Password); err != nil {
		return nil, storeError(err, "user")
	}
	u, err := a.deps.Store.UserSetPassword(ctx, &store.UserSetPasswordParams{ID: in.ID, PasswordHash: acc.HashPassword(in.Body.Password)})
	if err != nil {
		return nil, storeError(err, "user "+in.ID)
	}
	// The entry names the user; the password stays out of it.
	noteAudit(ctx, "", u.ID, nil, map[string]string{"name": u.Name})
	a.deps.Logger.InfoContext(ctx, "user password set", "name", u.Name)
	return nil, nil
}

func (a *API) setUserGrant(ctx context.Context, in *struct {
	UserGrantPath
	Body GrantBody
}) (*UserOutput, error) {
	if err := checkGrant("path.namespace", in.Namespace); err != nil {
		return nil, err
	}
	if in.Namespace == model.AllNamespaces && in.Body.Role != model.RoleAdmin && isSelf(ctx, in.ID) {
		return nil, errOwnAdmin
	}
	u, err := a.getUser(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	before, err := a.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	if _, err := a.deps.Store.GrantSet(ctx, &store.GrantSetParams{UserID: u.ID, Namespace: in.Namespace, Role: in.Body.Role}); err != nil {
		return nil, storeError(err, "grant")
	}
	after, err := a.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	noteAudit(ctx, in.Namespace, u.ID, map[string]any{"grants": before.Grants}, map[string]any{"grants": after.Grants})
	return &UserOutput{Body: after}, nil
}

func (a *API) revokeUserGrant(ctx context.Context, in *UserGrantPath) (*UserOutput, error) {
	if in.Namespace == model.AllNamespaces && isSelf(ctx, in.ID) {
		return nil, errOwnAdmin
	}
	u, err := a.getUser(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	before, err := a.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	if _, err := a.deps.Store.GrantDelete(ctx, &store.GrantDeleteParams{UserID: u.ID, Namespace: in.Namespace}); err != nil {
		return nil, storeError(err, "grant")
	}
	after, err := a.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	noteAudit(ctx, in.Namespace, u.ID, map[string]any{"grants": before.Grants}, map[string]any{"grants": after.Grants})
	return &UserOutput{Body: after}, nil
}

func (a *API) deleteUser(ctx context.Context, in *struct {
	ID string `path:"id" maxLength:"128"`
}) (*struct{}, error) {
	if isSelf(ctx, in.ID) {
		return nil, errOwnAdmin
	}
	u, err := a.getUser(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	v, err := a.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	n, err := a.deps.Store.UserDelete(ctx, &store.UserDeleteParams{ID: u.ID})
	if err != nil {
		return nil, storeError(err, "user "+in.ID)
	}
	if n == 0 {
		return nil, huma.Error404NotFound("user " + in.ID + " not found")
	}
	noteAudit(ctx, "", u.ID, map[string]any{"name": u.Name, "grants": v.Grants}, nil)
	a.deps.Logger.InfoContext(ctx, "user deleted", "name", u.Name)
	return nil, nil
}
