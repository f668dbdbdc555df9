package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
)

// The admin pages' operations, each run as its route (see frontend.go).
// Secrets and agent enrolment exist only when the server configures them;
// their methods then answer 503, as the missing routes would answer 404.

// HasSecrets reports whether this server stores secrets.
func (a *API) HasSecrets() bool { return a.deps.Secrets != nil }

// HasAgentAuth reports whether this server enrols and revokes agents.
func (a *API) HasAgentAuth() bool { return a.deps.AgentAuth != nil }

func errNotConfigured(what string) error {
	return huma.Error503ServiceUnavailable(what + " are not configured on this server")
}

// checkBody validates a request body against the route's JSON schema, as
// huma does before an HTTP request reaches its handler: the front end calls
// the handler directly, and some handlers rely on the schema (lengths,
// enums, required items). Problems are located at "body.<field>".
func (a *API) checkBody(method, path string, body any) error {
	// The schema is read from the registered operation: asking the
	// registry for a type's schema could add one to the served document.
	doc := a.huma.OpenAPI()
	reg := doc.Components.Schemas
	item := doc.Paths[path]
	if item == nil {
		item = doc.Paths[Prefix+path]
	}
	var op *huma.Operation
	if item != nil {
		switch method {
		case http.MethodPost:
			op = item.Post
		case http.MethodPut:
			op = item.Put
		}
	}
	if op == nil || op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
		panic("api: no request body schema for " + method + " " + path)
	}
	schema := op.RequestBody.Content["application/json"].Schema
	raw, err := json.Marshal(body)
	if err != nil {
		return huma.Error400BadRequest("body: " + err.Error())
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return huma.Error400BadRequest("body: " + err.Error())
	}
	// A nil slice or pointer is a field left out, as in a JSON request.
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			if x == nil {
				delete(m, k)
			}
		}
	}
	res := &huma.ValidateResult{}
	huma.Validate(reg, schema, huma.NewPathBuffer([]byte("body"), 4), huma.ModeWriteToServer, v, res)
	if len(res.Errors) == 0 {
		return nil
	}
	for _, e := range res.Errors {
		d, ok := e.(*huma.ErrorDetail)
		if !ok {
			continue
		}
		// A form shows an error beside its field: a missing property is
		// located at it rather than at the body. The value is left out, as
		// it may hold a secret.
		if name, ok := strings.CutPrefix(d.Message, "expected required property "); ok && d.Location == "body" {
			d.Location = "body." + strings.TrimSuffix(name, " to be present")
		}
		d.Value = nil
	}
	return huma.Error422UnprocessableEntity("validation failed", res.Errors...)
}

// ListTokens lists API tokens as GET /tokens does.
func (a *API) ListTokens(ctx context.Context) ([]*model.AccessToken, error) {
	return asRoute(ctx, a, http.MethodGet, "/tokens", "", func(ctx context.Context) ([]*model.AccessToken, error) {
		out, err := a.listTokens(ctx, &struct{}{})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// CreateToken creates an API token as POST /tokens does; the answer holds
// the token's secret, the only time it is shown.
func (a *API) CreateToken(ctx context.Context, body TokenBody) (*TokenCreated, error) {
	return asRoute(ctx, a, http.MethodPost, "/tokens", "", func(ctx context.Context) (*TokenCreated, error) {
		if err := a.checkBody(http.MethodPost, "/tokens", body); err != nil {
			return nil, err
		}
		out, err := a.createToken(ctx, &struct{ Body TokenBody }{body})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// RevokeToken revokes an API token as DELETE /tokens/{id} does.
func (a *API) RevokeToken(ctx context.Context, id string) error {
	_, err := asRoute(ctx, a, http.MethodDelete, "/tokens/{id}", id, func(ctx context.Context) (*struct{}, error) {
		return a.revokeToken(ctx, &StringIDInput{id})
	})
	return err
}

// QueryAudit reads one page of the audit log as POST /audit/query does.
func (a *API) QueryAudit(ctx context.Context, body AuditQueryBody) (*AuditQueryOutput, error) {
	return asRoute(ctx, a, http.MethodPost, "/audit/query", "", func(ctx context.Context) (*AuditQueryOutput, error) {
		if err := a.checkBody(http.MethodPost, "/audit/query", body); err != nil {
			return nil, err
		}
		return a.queryAudit(ctx, &struct{ Body AuditQueryBody }{body})
	})
}

// ListSecrets lists a namespace's secrets (never their values) as GET
// /secrets/{namespace} does.
func (a *API) ListSecrets(ctx context.Context, namespace string) ([]*model.Secret, error) {
	if !a.HasSecrets() {
		return nil, errNotConfigured("secrets")
	}
	return asRoute(ctx, a, http.MethodGet, "/secrets/{namespace}", "", func(ctx context.Context) ([]*model.Secret, error) {
		out, err := a.listSecrets(ctx, &NamespaceInput{namespace})
		if err != nil {
			return nil, err
		}
		return out.Body.Result, nil
	})
}

// PutSecret creates or replaces a secret as PUT /secrets/{namespace}/{name}
// does.
func (a *API) PutSecret(ctx context.Context, namespace, name, value string) (*model.Secret, error) {
	if !a.HasSecrets() {
		return nil, errNotConfigured("secrets")
	}
	return asRoute(ctx, a, http.MethodPut, "/secrets/{namespace}/{name}", name, func(ctx context.Context) (*model.Secret, error) {
		in := &PutSecretInput{SecretPath: SecretPath{namespace, name}}
		in.Body.Value = value
		out, err := a.putSecret(ctx, in)
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// DeleteSecret deletes a secret as DELETE /secrets/{namespace}/{name} does.
func (a *API) DeleteSecret(ctx context.Context, namespace, name string) error {
	if !a.HasSecrets() {
		return errNotConfigured("secrets")
	}
	_, err := asRoute(ctx, a, http.MethodDelete, "/secrets/{namespace}/{name}", name, func(ctx context.Context) (*struct{}, error) {
		return a.deleteSecret(ctx, &SecretPath{namespace, name})
	})
	return err
}

// ListEnrollTokens lists agent enrolment tokens as GET /agent-enroll-tokens
// does.
func (a *API) ListEnrollTokens(ctx context.Context) ([]*model.EnrollToken, error) {
	if !a.HasAgentAuth() {
		return nil, errNotConfigured("agent enrolment tokens")
	}
	return asRoute(ctx, a, http.MethodGet, "/agent-enroll-tokens", "", func(ctx context.Context) ([]*model.EnrollToken, error) {
		out, err := a.listEnrollTokens(ctx, &struct{}{})
		if err != nil {
			return nil, err
		}
		return out.Body.Result, nil
	})
}

// CreateEnrollToken creates an agent enrolment token as POST
// /agent-enroll-tokens does; the plain token is returned this once.
func (a *API) CreateEnrollToken(ctx context.Context, in EnrollTokenInput) (string, *model.EnrollToken, error) {
	if !a.HasAgentAuth() {
		return "", nil, errNotConfigured("agent enrolment tokens")
	}
	out, err := asRoute(ctx, a, http.MethodPost, "/agent-enroll-tokens", "", func(ctx context.Context) (*EnrollTokenCreated, error) {
		if err := a.checkBody(http.MethodPost, "/agent-enroll-tokens", in.Body); err != nil {
			return nil, err
		}
		out, err := a.createEnrollToken(ctx, &in)
		if err == nil {
			noteAudit(ctx, "", out.Body.EnrollToken.ID, nil, nil)
		}
		return out, err
	})
	if err != nil {
		return "", nil, err
	}
	return out.Body.Token, out.Body.EnrollToken, nil
}

// RevokeEnrollToken revokes an enrolment token as POST
// /agent-enroll-tokens/{id}/revoke does.
func (a *API) RevokeEnrollToken(ctx context.Context, id string) (*model.EnrollToken, error) {
	if !a.HasAgentAuth() {
		return nil, errNotConfigured("agent enrolment tokens")
	}
	return asRoute(ctx, a, http.MethodPost, "/agent-enroll-tokens/{id}/revoke", id, func(ctx context.Context) (*model.EnrollToken, error) {
		out, err := a.revokeEnrollToken(ctx, &StringIDInput{id})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// RevokeAgent revokes an agent's credential and disconnects it as POST
// /agents/{id}/revoke does.
func (a *API) RevokeAgent(ctx context.Context, id string) (*model.AgentCredential, error) {
	if !a.HasAgentAuth() {
		return nil, errNotConfigured("agent credentials")
	}
	return asRoute(ctx, a, http.MethodPost, "/agents/{id}/revoke", id, func(ctx context.Context) (*model.AgentCredential, error) {
		out, err := a.revokeAgent(ctx, &StringIDInput{id})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	})
}

// ListAlertRules lists the alert rules the caller may see, of namespace or
// all, as GET /alert-rules does.
func (a *API) ListAlertRules(ctx context.Context, namespace string) ([]*AlertRuleView, error) {
	return asRoute(ctx, a, http.MethodGet, "/alert-rules", "", func(ctx context.Context) ([]*AlertRuleView, error) {
		out, err := a.listAlertRules(ctx, &struct {
			Namespace string `query:"namespace" doc:"Only this namespace's rules; empty lists every namespace."`
		}{namespace})
		if err != nil {
			return nil, err
		}
		return out.Body.Result, nil
	})
}

// CreateAlertRule creates an alert rule as POST /alert-rules does.
func (a *API) CreateAlertRule(ctx context.Context, body AlertRuleBody) (*AlertRuleView, error) {
	return asRoute(ctx, a, http.MethodPost, "/alert-rules", "", func(ctx context.Context) (*AlertRuleView, error) {
		if err := a.checkBody(http.MethodPost, "/alert-rules", body); err != nil {
			return nil, err
		}
		out, err := a.createAlertRule(ctx, &struct{ Body *AlertRuleBody }{&body})
		if err != nil {
			return nil, err
		}
		noteAudit(ctx, out.Body.Namespace, out.Body.ID.String(), nil, out.Body)
		return out.Body, nil
	})
}

// DeleteAlertRule deletes an alert rule as DELETE /alert-rules/{id} does.
func (a *API) DeleteAlertRule(ctx context.Context, id string) error {
	_, err := asRoute(ctx, a, http.MethodDelete, "/alert-rules/{id}", id, func(ctx context.Context) (*struct{}, error) {
		return a.deleteAlertRule(ctx, &IDInput{id})
	})
	return err
}

// TestAlertRule sends a test alert now as POST /alert-rules/{id}/test does
// and returns the receiver's error message, "" when it was delivered.
func (a *API) TestAlertRule(ctx context.Context, id string) (string, error) {
	out, err := asRoute(ctx, a, http.MethodPost, "/alert-rules/{id}/test", id, func(ctx context.Context) (*AlertTestOutput, error) {
		return a.testAlertRule(ctx, &IDInput{id})
	})
	if err != nil {
		return "", err
	}
	return out.Body.Error, nil
}
