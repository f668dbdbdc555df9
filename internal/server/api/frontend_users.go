package api

import (
	"context"
	"net/http"

	"github.com/hetuflow/hetuflow/internal/model"
)

// The users page's operations, each run as its route (see frontend.go).

// ListUsers lists users with their grants as GET /users does.
func (a *API) ListUsers(ctx context.Context) ([]*UserView, error) {
	return asRoute(ctx, a, http.MethodGet, "/users", "", func(ctx context.Context) ([]*UserView, error) {
		out, err := a.listUsers(ctx, &struct{}{})
		if err != nil {
			return nil, err
		}
		return out.Body.Result, nil
	})
}

// CreateUser creates a user, with a first grant when body has a role, as
// POST /users does.
func (a *API) CreateUser(ctx context.Context, body CreateUserBody) (*UserView, error) {
	return asRoute(ctx, a, http.MethodPost, "/users", "", func(ctx context.Context) (*UserView, error) {
		if err := a.checkBody(http.MethodPost, "/users", body); err != nil {
			return nil, err
		}
		out, err := a.createUser(ctx, &struct{ Body CreateUserBody }{body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// SetUserPassword replaces a user's password as PUT /users/{id}/password
// does.
func (a *API) SetUserPassword(ctx context.Context, id, password string) error {
	_, err := asRoute(ctx, a, http.MethodPut, "/users/{id}/password", id, func(ctx context.Context) (*struct{}, error) {
		body := PasswordBody{Password: password}
		if err := a.checkBody(http.MethodPut, "/users/{id}/password", body); err != nil {
			return nil, err
		}
		return a.setUserPassword(ctx, &struct {
			ID   string `path:"id" maxLength:"128"`
			Body PasswordBody
		}{id, body})
	})
	return err
}

// SetUserGrant gives a user role in namespace as PUT
// /users/{id}/grants/{namespace} does.
func (a *API) SetUserGrant(ctx context.Context, id, namespace string, role model.Role) (*UserView, error) {
	return asRoute(ctx, a, http.MethodPut, "/users/{id}/grants/{namespace}", id, func(ctx context.Context) (*UserView, error) {
		body := GrantBody{Role: role}
		if err := a.checkBody(http.MethodPut, "/users/{id}/grants/{namespace}", body); err != nil {
			return nil, err
		}
		out, err := a.setUserGrant(ctx, &struct {
			UserGrantPath
			Body GrantBody
		}{UserGrantPath{id, namespace}, body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// RevokeUserGrant removes a user's role in namespace as DELETE
// /users/{id}/grants/{namespace} does.
func (a *API) RevokeUserGrant(ctx context.Context, id, namespace string) (*UserView, error) {
	return asRoute(ctx, a, http.MethodDelete, "/users/{id}/grants/{namespace}", id, func(ctx context.Context) (*UserView, error) {
		out, err := a.revokeUserGrant(ctx, &UserGrantPath{id, namespace})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// DeleteUser deletes a user with their grants and sessions as DELETE
// /users/{id} does.
func (a *API) DeleteUser(ctx context.Context, id string) error {
	_, err := asRoute(ctx, a, http.MethodDelete, "/users/{id}", id, func(ctx context.Context) (*struct{}, error) {
		return a.deleteUser(ctx, &struct {
			ID string `path:"id" maxLength:"128"`
		}{id})
	})
	return err
}
