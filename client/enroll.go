package client

import (
	"context"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

type (
	// EnrollToken is an agent enrolment token's record; its secret is
	// never returned.
	EnrollToken = model.EnrollToken
	// AgentCredential is an enrolled agent's credential record.
	AgentCredential = model.AgentCredential
)

// EnrollTokenSpec creates an agent enrolment token.
type EnrollTokenSpec struct {
	// Name says what the token is for.
	Name string `json:"name,omitempty"`
	// Reusable tokens enrol any number of agents until they expire.
	Reusable bool `json:"reusable,omitempty"`
	// Labels is a selector the agents' labels must match, e.g.
	// "env=prod,zone in (a,b)"; empty admits any.
	Labels string `json:"labels,omitempty"`
	// TTL is how long the token enrols; zero means the server's 24h.
	TTL time.Duration `json:"-"`
}

// EnrollTokenCreated is a new enrolment token with its secret, shown once.
type EnrollTokenCreated struct {
	Token       string       `json:"token"`
	EnrollToken *EnrollToken `json:"enroll_token"`
}

// Enrolment is an enrolled agent's id and credential, shown once.
type Enrolment struct {
	AgentID    string `json:"agent_id"`
	Credential string `json:"credential"`
}

// CreateEnrollToken creates an agent enrolment token. It is not retried.
func (c *Client) CreateEnrollToken(ctx context.Context, spec *EnrollTokenSpec) (*EnrollTokenCreated, error) {
	body := map[string]any{"name": spec.Name, "reusable": spec.Reusable, "labels": spec.Labels}
	if spec.TTL > 0 {
		body["ttl"] = spec.TTL.String()
	}
	var t EnrollTokenCreated
	return &t, c.call(ctx, post("/agent-enroll-tokens", body), &t)
}

// ListEnrollTokens lists the agent enrolment tokens.
func (c *Client) ListEnrollTokens(ctx context.Context) ([]*EnrollToken, error) {
	var out struct {
		Result []*EnrollToken `json:"result"`
	}
	return out.Result, c.call(ctx, get("/agent-enroll-tokens"), &out)
}

// RevokeEnrollToken stops an enrolment token from enrolling more agents.
// Revoking twice changes nothing, so it is retried.
func (c *Client) RevokeEnrollToken(ctx context.Context, id string) (*EnrollToken, error) {
	var t EnrollToken
	return &t, c.call(ctx, postIdempotent("/agent-enroll-tokens/"+esc(id)+"/revoke", nil), &t)
}

// Enroll exchanges an enrolment token for a new agent id and credential;
// labels are the agent's. It needs no API token and is not retried, since
// a one-time token is used up.
func (c *Client) Enroll(ctx context.Context, token string, labels map[string]string) (*Enrolment, error) {
	body := map[string]any{"token": token}
	if labels != nil {
		body["labels"] = labels
	}
	var e Enrolment
	return &e, c.call(ctx, post("/agents/enroll", body), &e)
}

// RevokeAgent revokes an enrolled agent's credential and disconnects it.
// Revoking twice changes nothing, so it is retried.
func (c *Client) RevokeAgent(ctx context.Context, agentID string) (*AgentCredential, error) {
	var cr AgentCredential
	return &cr, c.call(ctx, postIdempotent("/agents/"+esc(agentID)+"/revoke", nil), &cr)
}
