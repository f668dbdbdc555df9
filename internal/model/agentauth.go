package model

import "time"

// EnrollToken lets new agents enrol: an agent presents it once and gets a
// credential of its own. Only its hash is kept.
type EnrollToken struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Hash []byte `json:"-"`
	// Reusable tokens enrol any number of agents until they expire; others
	// enrol one.
	Reusable bool `json:"reusable"`
	// Labels is a label selector (see ParseSelector) that an enrolling
	// agent's labels must match; empty allows any labels.
	Labels    string     `json:"labels"`
	ExpiresAt time.Time  `json:"expires_at"`
	Uses      int        `json:"uses"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// AgentCredential is an enrolled agent's own secret. Only its hash is kept;
// the agent id comes from it, never from the agent.
type AgentCredential struct {
	AgentID       string `json:"agent_id"`
	Hash          []byte `json:"-"`
	EnrollTokenID string `json:"enroll_token_id"`
	// Labels is the enrolment token's label selector, which the agent's
	// labels must keep matching at every connection.
	Labels    string     `json:"labels,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Secret is a per-namespace secret. Its value is stored encrypted and never
// leaves the server except inside a run message to an agent; the API shows
// only this metadata.
type Secret struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// KeyID names the key that encrypted the value, for rotation.
	KeyID      string    `json:"key_id"`
	Nonce      []byte    `json:"-"`
	Ciphertext []byte    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}
