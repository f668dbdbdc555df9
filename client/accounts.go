package client

import (
	"context"

	"github.com/hetuflow/hetuflow/internal/model"
)

type (
	// AccessToken is an API token's record; its secret is never returned.
	AccessToken = model.AccessToken
	// Role is a role in a namespace: viewer, operator, editor or admin.
	Role = model.Role
)

// TokenSpec creates an API token.
type TokenSpec struct {
	Name string `json:"name"`
	// Namespaces the token reaches; ["*"] for all.
	Namespaces []string `json:"namespaces"`
	Role       Role     `json:"role"`
	// ExpiresIn is how long the token works; zero for no expiry.
	ExpiresIn Duration `json:"expires_in,omitempty"`
}

// TokenCreated is a new token with its secret, which is shown only once.
type TokenCreated struct {
	*AccessToken
	Token string `json:"token"`
}

// CreateToken creates an API token. It is not retried.
func (c *Client) CreateToken(ctx context.Context, spec *TokenSpec) (*TokenCreated, error) {
	var t TokenCreated
	return &t, c.call(ctx, post("/tokens", spec), &t)
}

// ListTokens lists the API tokens.
func (c *Client) ListTokens(ctx context.Context) ([]*AccessToken, error) {
	var ts []*AccessToken
	return ts, c.call(ctx, get("/tokens"), &ts)
}

// RevokeToken revokes an API token at once.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.call(ctx, del("/tokens/"+esc(id)), nil)
}
