package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
)

// Secrets stores per-namespace secrets; secrets.Service implements it. No
// method returns a value.
type Secrets interface {
	Put(ctx context.Context, namespace, name string, value []byte) (*model.Secret, error)
	List(ctx context.Context, namespace string) ([]*model.Secret, error)
	Get(ctx context.Context, namespace, name string) (*model.Secret, error)
	Delete(ctx context.Context, namespace, name string) error
}

// secretRoutes registers the secrets API. Called from routes().
func (a *API) secretRoutes(reg regFunc) {
	if a.deps.Secrets == nil {
		return
	}
	h := a.huma
	op := func(perm auth.Permission, method, path, id, summary string, status int) huma.Operation {
		return reg(perm, method, path, id, summary, "secrets", status)
	}
	huma.Register(h, describe(op(auth.PermEdit, http.MethodPut, "/secrets/{namespace}/{name}", "put-secret", "Create or replace a secret (its value is never returned)", 0),
		"Creates or replaces the secret `name` in `namespace`, encrypted at rest with the server's current secrets key. A job of the namespace uses it as "+
			"`${secret:name}` in an environment value; the agent gets the value only inside the run, and its output is redacted. No route ever returns the value. "+
			"The namespace must be one a job can have (not \"*\"). Needs the editor role in the namespace. Idempotent. 409 when the server has no secrets key."), a.putSecret)
	huma.Register(h, describe(op(auth.PermRead, http.MethodGet, "/secrets/{namespace}", "list-secrets", "List a namespace's secrets (names and dates only)", 0),
		"Lists a namespace's secrets: name, key id and dates, never a value. Needs the viewer role in the namespace; a namespace the caller cannot see is a 404."), a.listSecrets)
	huma.Register(h, describe(op(auth.PermRead, http.MethodGet, "/secrets/{namespace}/{name}", "get-secret", "Get a secret's metadata (never its value)", 0),
		"Returns a secret's name, key id and dates, never its value. Needs the viewer role in the namespace; in a namespace the caller cannot see, "+
			"every name is a 404, so the answer does not tell whether the secret exists."), a.getSecret)
	huma.Register(h, describe(op(auth.PermEdit, http.MethodDelete, "/secrets/{namespace}/{name}", "delete-secret", "Delete a secret", http.StatusNoContent),
		"Deletes a secret. Runs dispatched afterwards that refer to it fail without starting, naming the missing secret. Needs the editor role in the namespace; "+
			"deleting it again is a 404."), a.deleteSecret)
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	sec := &model.Secret{Namespace: "default", Name: "DB_PASSWORD", KeyID: "9f86d081884c", CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}
	a.example("PutSecretInputBody", map[string]any{"value": "s3cr3t-Pa55w0rd"})
	a.example("Secret", sec)
	a.example("SecretsOutputBody", map[string]any{"result": []*model.Secret{sec}})
}

// SecretPath names a secret.
type SecretPath struct {
	Namespace string `path:"namespace" maxLength:"128"`
	Name      string `path:"name" maxLength:"128"`
}

// PutSecretInput carries a secret's value in.
type PutSecretInput struct {
	SecretPath
	Body struct {
		Value string `json:"value" minLength:"1" maxLength:"65536" doc:"The secret's value; it is encrypted at rest and never returned."`
	}
}

// SecretOutput is a secret's metadata.
type SecretOutput struct {
	Body *model.Secret
}

func secretError(err error, what string) error {
	var fe *model.FieldError
	switch {
	case errors.Is(err, secrets.ErrNoKey):
		return huma.Error409Conflict(err.Error())
	case errors.As(err, &fe) && (fe.Field == "name" || fe.Field == "namespace"):
		// Both are in the path, not the body.
		return fieldError("path."+fe.Field, fe.Reason)
	}
	return storeError(err, what)
}

func (a *API) putSecret(ctx context.Context, in *PutSecretInput) (*SecretOutput, error) {
	if err := allowCreate(ctx, in.Namespace); err != nil {
		return nil, err
	}
	// Only a namespace a job can have: a secret elsewhere (say "*") could
	// never be used.
	if err := model.ValidateNamespace("namespace", in.Namespace); err != nil {
		return nil, secretError(err, "secret "+in.Name)
	}
	s, err := a.deps.Secrets.Put(ctx, in.Namespace, in.Name, []byte(in.Body.Value))
	if err != nil {
		return nil, secretError(err, "secret "+in.Name)
	}
	noteAudit(ctx, in.Namespace, in.Name, nil, map[string]string{"name": in.Name, "key_id": s.KeyID})
	a.deps.Logger.InfoContext(ctx, "secret stored", "namespace", in.Namespace, "name", in.Name, "key_id", s.KeyID)
	return &SecretOutput{Body: s}, nil
}

// NamespaceInput names a namespace.
type NamespaceInput struct {
	Namespace string `path:"namespace" maxLength:"128"`
}

// SecretsOutput lists secrets' metadata.
type SecretsOutput struct {
	Body struct {
		Result []*model.Secret `json:"result"`
	}
}

func (a *API) listSecrets(ctx context.Context, in *NamespaceInput) (*SecretsOutput, error) {
	if err := allow(ctx, in.Namespace); err != nil {
		return nil, err
	}
	list, err := a.deps.Secrets.List(ctx, in.Namespace)
	if err != nil {
		return nil, secretError(err, "secrets")
	}
	out := &SecretsOutput{}
	out.Body.Result = list
	if out.Body.Result == nil {
		out.Body.Result = []*model.Secret{}
	}
	return out, nil
}

func (a *API) getSecret(ctx context.Context, in *SecretPath) (*SecretOutput, error) {
	if err := allow(ctx, in.Namespace); err != nil {
		return nil, err
	}
	s, err := a.deps.Secrets.Get(ctx, in.Namespace, in.Name)
	if err != nil {
		return nil, secretError(err, "secret "+in.Name)
	}
	return &SecretOutput{Body: s}, nil
}

func (a *API) deleteSecret(ctx context.Context, in *SecretPath) (*struct{}, error) {
	if err := allow(ctx, in.Namespace); err != nil {
		return nil, err
	}
	noteAudit(ctx, in.Namespace, in.Name, nil, nil)
	if err := a.deps.Secrets.Delete(ctx, in.Namespace, in.Name); err != nil {
		return nil, secretError(err, "secret "+in.Name)
	}
	a.deps.Logger.InfoContext(ctx, "secret deleted", "namespace", in.Namespace, "name", in.Name)
	return nil, nil
}
