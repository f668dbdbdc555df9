package store

import (
	"context"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// AgentSecurityExecutor holds the queries of agent enrolment, agent credentials
// and secrets.
type AgentSecurityExecutor interface {
	// AgentCredentialGetByHash returns the credential with the hash, revoked
	// or not, or ErrNotFound.
	AgentCredentialGetByHash(ctx context.Context, params *AgentCredentialGetByHashParams) (*model.AgentCredential, error)
	// AgentCredentialInsert stores a new agent's credential; an agent id
	// already enrolled is ErrConflict.
	AgentCredentialInsert(ctx context.Context, params *AgentCredentialInsertParams) (*model.AgentCredential, error)
	// AgentCredentialRevoke marks an agent's credential revoked (keeping an
	// earlier revocation time) and returns it, or ErrNotFound.
	AgentCredentialRevoke(ctx context.Context, params *AgentCredentialRevokeParams) (*model.AgentCredential, error)

	// EnrollTokenGetByHash returns the token with the hash, or ErrNotFound.
	EnrollTokenGetByHash(ctx context.Context, params *EnrollTokenGetByHashParams) (*model.EnrollToken, error)
	// EnrollTokenInsert stores a token.
	EnrollTokenInsert(ctx context.Context, params *EnrollTokenInsertParams) (*model.EnrollToken, error)
	// EnrollTokenList lists every token, newest first.
	EnrollTokenList(ctx context.Context) ([]*model.EnrollToken, error)
	// EnrollTokenRevoke marks a token revoked and returns it, or ErrNotFound.
	EnrollTokenRevoke(ctx context.Context, params *EnrollTokenRevokeParams) (*model.EnrollToken, error)
	// EnrollTokenUse counts one use of the token with the hash if it may
	// still enrol at Now (not revoked, not expired, reusable or unused) and
	// returns it; otherwise ErrNotFound. It is atomic, so a one-time token
	// enrols one agent however many present it at once.
	EnrollTokenUse(ctx context.Context, params *EnrollTokenUseParams) (*model.EnrollToken, error)

	// SecretDelete deletes a secret, or returns ErrNotFound.
	SecretDelete(ctx context.Context, params *SecretDeleteParams) error
	// SecretGet returns a secret with its ciphertext, or ErrNotFound.
	SecretGet(ctx context.Context, params *SecretGetParams) (*model.Secret, error)
	// SecretList lists a namespace's secrets with their ciphertexts, by
	// name.
	SecretList(ctx context.Context, params *SecretListParams) ([]*model.Secret, error)
	// SecretUpsert creates or replaces a secret.
	SecretUpsert(ctx context.Context, params *SecretUpsertParams) (*model.Secret, error)
}

// AgentCredentialGetByHashParams are the inputs of AgentCredentialGetByHash.
type AgentCredentialGetByHashParams struct {
	Hash []byte
}

// AgentCredentialInsertParams are the inputs of AgentCredentialInsert.
type AgentCredentialInsertParams struct {
	AgentID       string
	Hash          []byte
	EnrollTokenID string
	Labels        string
	Now           *time.Time
}

// AgentCredentialRevokeParams are the inputs of AgentCredentialRevoke.
type AgentCredentialRevokeParams struct {
	AgentID string
	Now     *time.Time
}

// EnrollTokenGetByHashParams are the inputs of EnrollTokenGetByHash.
type EnrollTokenGetByHashParams struct {
	Hash []byte
}

// EnrollTokenInsertParams are the inputs of EnrollTokenInsert.
type EnrollTokenInsertParams struct {
	ID        string
	Name      string
	Hash      []byte
	Reusable  bool
	Labels    string
	ExpiresAt time.Time
	Now       *time.Time
}

// EnrollTokenRevokeParams are the inputs of EnrollTokenRevoke.
type EnrollTokenRevokeParams struct {
	ID  string
	Now *time.Time
}

// EnrollTokenUseParams are the inputs of EnrollTokenUse. Now is required:
// expiry is judged against it.
type EnrollTokenUseParams struct {
	Hash []byte
	Now  time.Time
}

// SecretDeleteParams are the inputs of SecretDelete.
type SecretDeleteParams struct {
	Namespace string
	Name      string
}

// SecretGetParams are the inputs of SecretGet.
type SecretGetParams struct {
	Namespace string
	Name      string
}

// SecretListParams are the inputs of SecretList.
type SecretListParams struct {
	Namespace string
}

// SecretUpsertParams are the inputs of SecretUpsert.
type SecretUpsertParams struct {
	Namespace  string
	Name       string
	KeyID      string
	Nonce      []byte
	Ciphertext []byte
	Now        *time.Time
}
