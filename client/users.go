package client

import (
	"context"
	"time"
)

// UserGrant is a user's role in a namespace ("*" for every namespace).
type UserGrant struct {
	Namespace string `json:"namespace"`
	Role      Role   `json:"role"`
}

// User is a user with their grants; the API never returns a password.
type User struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Grants    []UserGrant `json:"grants"`
}

// UserSpec creates a user. With Role (and Namespace, "*" for all) the user
// gets a first grant.
type UserSpec struct {
	Name      string `json:"name"`
	Password  string `json:"password"`
	Namespace string `json:"namespace,omitempty"`
	Role      Role   `json:"role,omitempty"`
}

func userPath(id string) string { return "/users/" + esc(id) }

// ListUsers lists the users with their grants.
func (c *Client) ListUsers(ctx context.Context) ([]*User, error) {
	var out struct {
		Result []*User `json:"result"`
	}
	return out.Result, c.call(ctx, get("/users"), &out)
}

// CreateUser creates a user. It is not retried.
func (c *Client) CreateUser(ctx context.Context, spec *UserSpec) (*User, error) {
	var u User
	return &u, c.call(ctx, post("/users", spec), &u)
}

// SetUserPassword replaces a user's password.
func (c *Client) SetUserPassword(ctx context.Context, id, password string) error {
	return c.call(ctx, put(userPath(id)+"/password", map[string]string{"password": password}), nil)
}

// SetUserGrant gives a user role in namespace ("*" for all), replacing the
// role held there, and returns the user.
func (c *Client) SetUserGrant(ctx context.Context, id, namespace string, role Role) (*User, error) {
	var u User
	return &u, c.call(ctx, put(userPath(id)+"/grants/"+esc(namespace), map[string]Role{"role": role}), &u)
}

// RevokeUserGrant removes a user's role in namespace and returns the user.
func (c *Client) RevokeUserGrant(ctx context.Context, id, namespace string) (*User, error) {
	var u User
	return &u, c.call(ctx, del(userPath(id)+"/grants/"+esc(namespace)), &u)
}

// DeleteUser deletes a user with their grants and sessions.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.call(ctx, del(userPath(id)), nil)
}
