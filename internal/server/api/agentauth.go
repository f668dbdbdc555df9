package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/agentauth"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// AgentAuth enrols agents and revokes them; the server's agentauth service
// with its cluster-wide disconnect implements it.
type AgentAuth interface {
	CreateEnrollToken(ctx context.Context, p agentauth.CreateEnrollTokenParams) (string, *model.EnrollToken, error)
	ListEnrollTokens(ctx context.Context) ([]*model.EnrollToken, error)
	RevokeEnrollToken(ctx context.Context, id string) (*model.EnrollToken, error)
	Enroll(ctx context.Context, token string, labels map[string]string, remote string) (*agentauth.Enrolment, error)
	// RevokeAgent revokes the agent's credential and disconnects it
	// wherever it is connected.
	RevokeAgent(ctx context.Context, agentID string) (*model.AgentCredential, error)
}

// agentAuthRoutes registers enrolment and revocation. Called from routes().
func (a *API) agentAuthRoutes(reg regFunc) {
	if a.deps.AgentAuth == nil {
		return
	}
	h := a.huma
	op := func(perm auth.Permission, method, path, id, summary string, status int) huma.Operation {
		return reg(perm, method, path, id, summary, "agents", status)
	}
	huma.Register(h, describe(op(auth.PermAdmin, http.MethodPost, "/agent-enroll-tokens", "create-enroll-token", "Create an agent enrolment token (shown once)", http.StatusCreated),
		"Creates a token that new agents enrol with (hetuflow agent --enroll-token): one-time by default, or reusable until it expires; it expires after `ttl` "+
			"(default 24h, at most a year) and may admit only agents whose labels match a selector. The token is in this answer only: the server keeps a hash. "+
			"Needs the admin role on every namespace. Not idempotent: each call makes a new token."), a.createEnrollToken)
	huma.Register(h, describe(op(auth.PermAdmin, http.MethodGet, "/agent-enroll-tokens", "list-enroll-tokens", "List agent enrolment tokens", 0),
		"Lists the enrolment tokens with their selector, uses, expiry and revocation; never their secret. Needs the admin role on every namespace."), a.listEnrollTokens)
	huma.Register(h, describe(op(auth.PermAdmin, http.MethodPost, "/agent-enroll-tokens/{id}/revoke", "revoke-enroll-token", "Revoke an agent enrolment token", 0),
		"Revokes an enrolment token so that it enrols no more agents, and returns it. Agents it already enrolled keep their own credentials: revoke those "+
			"with /agents/{id}/revoke. Revoking it again changes nothing. Needs the admin role on every namespace."), a.revokeEnrollToken)
	huma.Register(h, describe(op(auth.PermAdmin, http.MethodPost, "/agents/{id}/revoke", "revoke-agent", "Revoke an agent's credential and disconnect it at once", 0),
		"Revokes an enrolled agent's credential and disconnects the agent from whichever server holds it; its reconnects are refused until it enrols again "+
			"with a new enrolment token. Returns the credential's record, never its secret. An agent on the shared agent token has no credential of its own: 404. "+
			"Revoking it again changes nothing. Needs the admin role on every namespace."), a.revokeAgent)
	// Checked by the enrolment token, rate limited per address.
	enroll := describe(op(auth.PermPublic, http.MethodPost, "/agents/enroll", "enroll-agent", "Exchange an enrolment token for an agent id and credential", 0),
		"Called by an agent started with --enroll-token: exchanges the enrolment token for an agent id chosen by the server and the agent's own credential, "+
			"shown this once (the server keeps a hash). Public, checked by the token: an unknown, expired, revoked or used token, or labels the token's "+
			"selector does not allow, is a 401 that does not say which. Attempts are rate limited per client address (429). "+
			"Not idempotent: each call enrols a new agent and uses up a one-time token.")
	huma.Register(h, enroll, a.enrollAgent)
	a.agentAuthExamples()
}

// agentAuthExamples registers the enrolment bodies' examples.
func (a *API) agentAuthExamples() {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	tok := &model.EnrollToken{ID: "3c9a1e5f-8b2d-4f7a-9e1c-6d4b2a8f0e31", Name: "rack 4 db hosts", Reusable: true, Labels: "role=db,zone in (a,b)",
		ExpiresAt: t0.Add(24 * time.Hour), Uses: 2, CreatedAt: t0}
	a.example("EnrollTokenInputBody", map[string]any{"name": "rack 4 db hosts", "reusable": true, "labels": "role=db,zone in (a,b)", "ttl": "24h"})
	a.example("EnrollTokenCreatedBody", map[string]any{"token": "hfe_Zk3vQ9mT2xWc7bN1rL5pY8sD0fH4jK6gA2eU9iO3qR", "enroll_token": tok})
	a.example("EnrollTokensOutputBody", map[string]any{"result": []*model.EnrollToken{tok}})
	revoked := t0.Add(time.Hour)
	a.example("EnrollToken", &model.EnrollToken{ID: tok.ID, Name: tok.Name, Reusable: true, Labels: tok.Labels, ExpiresAt: tok.ExpiresAt, Uses: 2, RevokedAt: &revoked, CreatedAt: t0})
	a.example("AgentCredential", &model.AgentCredential{AgentID: "agt-7f3b9c2e1d4a", EnrollTokenID: tok.ID, Labels: tok.Labels, CreatedAt: t0, RevokedAt: &revoked})
	a.example("EnrollInputBody", map[string]any{"token": "hfe_Zk3vQ9mT2xWc7bN1rL5pY8sD0fH4jK6gA2eU9iO3qR", "labels": map[string]string{"role": "db", "zone": "a", "os": "linux"}})
	a.example("Enrolment", &agentauth.Enrolment{AgentID: "agt-7f3b9c2e1d4a", Credential: "hfa_Hq8wE2rT5yU1iO9pA3sD7fG4hJ6kL0zX2cV8bN5mQ"})
}

// EnrollTokenInput creates an enrolment token.
type EnrollTokenInput struct {
	Body struct {
		Name     string `json:"name,omitempty" maxLength:"200" doc:"What the token is for."`
		Reusable bool   `json:"reusable,omitempty" doc:"Enrol any number of agents until it expires (default: one)."`
		Labels   string `json:"labels,omitempty" maxLength:"1000" doc:"Label selector the agent's labels must match, e.g. \"env=prod,zone in (a,b)\"."`
		TTL      string `json:"ttl,omitempty" doc:"How long the token enrols, e.g. \"24h\" (the default); at most a year."`
	}
}

// EnrollTokenCreated is a new token with its plain text, shown once.
type EnrollTokenCreated struct {
	Body struct {
		Token       string             `json:"token" doc:"The enrolment token; it is not shown again."`
		EnrollToken *model.EnrollToken `json:"enroll_token"`
	}
}

func (a *API) createEnrollToken(ctx context.Context, in *EnrollTokenInput) (*EnrollTokenCreated, error) {
	var ttl time.Duration
	if in.Body.TTL != "" {
		d, err := time.ParseDuration(in.Body.TTL)
		if err != nil {
			return nil, fieldError("body.ttl", err.Error())
		}
		ttl = d
	}
	plain, tok, err := a.deps.AgentAuth.CreateEnrollToken(ctx, agentauth.CreateEnrollTokenParams{Name: in.Body.Name, Reusable: in.Body.Reusable, Labels: in.Body.Labels, TTL: ttl})
	if err != nil {
		return nil, storeError(err, "enrolment token")
	}
	a.deps.Logger.InfoContext(ctx, "enrolment token created", "enroll_token_id", tok.ID, "reusable", tok.Reusable, "labels", tok.Labels)
	out := &EnrollTokenCreated{}
	out.Body.Token, out.Body.EnrollToken = plain, tok
	return out, nil
}

// EnrollTokensOutput lists enrolment tokens.
type EnrollTokensOutput struct {
	Body struct {
		Result []*model.EnrollToken `json:"result"`
	}
}

func (a *API) listEnrollTokens(ctx context.Context, _ *struct{}) (*EnrollTokensOutput, error) {
	list, err := a.deps.AgentAuth.ListEnrollTokens(ctx)
	if err != nil {
		return nil, storeError(err, "enrolment tokens")
	}
	out := &EnrollTokensOutput{}
	out.Body.Result = list
	if out.Body.Result == nil {
		out.Body.Result = []*model.EnrollToken{}
	}
	return out, nil
}

// EnrollTokenOutput is one enrolment token.
type EnrollTokenOutput struct {
	Body *model.EnrollToken
}

func (a *API) revokeEnrollToken(ctx context.Context, in *StringIDInput) (*EnrollTokenOutput, error) {
	tok, err := a.deps.AgentAuth.RevokeEnrollToken(ctx, in.ID)
	if err != nil {
		return nil, storeError(err, "enrolment token "+in.ID)
	}
	a.deps.Logger.InfoContext(ctx, "enrolment token revoked", "enroll_token_id", in.ID)
	return &EnrollTokenOutput{Body: tok}, nil
}

// AgentCredentialOutput is an agent's credential metadata.
type AgentCredentialOutput struct {
	Body *model.AgentCredential
}

func (a *API) revokeAgent(ctx context.Context, in *StringIDInput) (*AgentCredentialOutput, error) {
	c, err := a.deps.AgentAuth.RevokeAgent(ctx, in.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, huma.Error404NotFound("agent " + in.ID + " has no credential: only enrolled agents can be revoked one by one (agents on the shared token stop when it is disabled)")
	}
	if err != nil {
		return nil, storeError(err, "agent "+in.ID)
	}
	a.deps.Logger.InfoContext(ctx, "agent revoked", "agent_id", in.ID)
	return &AgentCredentialOutput{Body: c}, nil
}

// EnrollInput is an agent's enrolment request.
type EnrollInput struct {
	Body struct {
		Token  string            `json:"token" maxLength:"200" doc:"The enrolment token."`
		Labels map[string]string `json:"labels,omitempty" doc:"The agent's labels, automatic ones included."`
	}
	remote string
}

// Resolve keeps the client address, which enrolment is rate limited by.
func (in *EnrollInput) Resolve(ctx huma.Context) []error {
	in.remote = ctx.RemoteAddr()
	if host, _, err := net.SplitHostPort(in.remote); err == nil {
		in.remote = host
	}
	return nil
}

// EnrollOutput is an enrolled agent's identity.
type EnrollOutput struct {
	Body *agentauth.Enrolment
}

func (a *API) enrollAgent(ctx context.Context, in *EnrollInput) (*EnrollOutput, error) {
	if err := model.ValidateLabels("labels", in.Body.Labels); err != nil {
		return nil, storeError(err, "labels")
	}
	e, err := a.deps.AgentAuth.Enroll(ctx, in.Body.Token, in.Body.Labels, in.remote)
	switch {
	case errors.Is(err, agentauth.ErrRateLimited):
		return nil, huma.Error429TooManyRequests(err.Error())
	case errors.Is(err, agentauth.ErrEnrollRefused), errors.Is(err, agentauth.ErrLabelsNotAllowed):
		return nil, huma.Error401Unauthorized(err.Error())
	case err != nil:
		return nil, huma.Error503ServiceUnavailable(err.Error())
	}
	// Public routes are not audited by the Handler; an enrolment is.
	auth.Record(ctx, a.deps.Store, a.deps.Logger, &model.AuditEntry{Actor: e.AgentID, ActorKind: "agent", Action: "enroll-agent",
		ObjectType: "agent", ObjectID: e.AgentID, Diff: Diff(nil, map[string]any{"labels": in.Body.Labels})})
	return &EnrollOutput{Body: e}, nil
}
