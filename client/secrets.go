package client

import (
	"context"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Secret is a secret's metadata; the API never returns a value.
type Secret = model.Secret

func secretPath(namespace, name string) string {
	return "/secrets/" + esc(namespace) + "/" + esc(name)
}

// PutSecret creates or replaces the secret name in namespace. Jobs of the
// namespace use it as ${secret:name} in an environment value.
func (c *Client) PutSecret(ctx context.Context, namespace, name, value string) (*Secret, error) {
	var s Secret
	return &s, c.call(ctx, put(secretPath(namespace, name), map[string]string{"value": value}), &s)
}

// ListSecrets lists a namespace's secrets, without values.
func (c *Client) ListSecrets(ctx context.Context, namespace string) ([]*Secret, error) {
	var out struct {
		Result []*Secret `json:"result"`
	}
	return out.Result, c.call(ctx, get("/secrets/"+esc(namespace)), &out)
}

// GetSecret returns a secret's metadata, never its value.
func (c *Client) GetSecret(ctx context.Context, namespace, name string) (*Secret, error) {
	var s Secret
	return &s, c.call(ctx, get(secretPath(namespace, name)), &s)
}

// DeleteSecret deletes a secret.
func (c *Client) DeleteSecret(ctx context.Context, namespace, name string) error {
	return c.call(ctx, del(secretPath(namespace, name)), nil)
}
