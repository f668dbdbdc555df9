package litestore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// AgentCredentialGetByHash implements [store.Executor].
func (e *executor) AgentCredentialGetByHash(ctx context.Context, params *store.AgentCredentialGetByHashParams) (*model.AgentCredential, error) {
	row, err := e.q.AgentCredentialGetByHash(ctx, e.r, &dbsqlc.AgentCredentialGetByHashParams{Hash: params.Hash})
	if err != nil {
		return nil, fmt.Errorf("get agent credential by hash: %w", e.interpretError(err))
	}
	return agentCredentialFromRow(row), nil
}

// AgentCredentialInsert implements [store.Executor].
func (e *executor) AgentCredentialInsert(ctx context.Context, params *store.AgentCredentialInsertParams) (*model.AgentCredential, error) {
	row, err := e.q.AgentCredentialInsert(ctx, e.w, &dbsqlc.AgentCredentialInsertParams{
		AgentID: params.AgentID, Hash: params.Hash, EnrollTokenID: params.EnrollTokenID, Labels: params.Labels, Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("insert agent credential %s: %w", params.AgentID, e.interpretError(err))
	}
	return agentCredentialFromRow(row), nil
}

// AgentCredentialRevoke implements [store.Executor].
func (e *executor) AgentCredentialRevoke(ctx context.Context, params *store.AgentCredentialRevokeParams) (*model.AgentCredential, error) {
	row, err := e.q.AgentCredentialRevoke(ctx, e.w, &dbsqlc.AgentCredentialRevokeParams{AgentID: params.AgentID, Now: ptr(nowMicros(params.Now))})
	if err != nil {
		return nil, fmt.Errorf("revoke agent credential %s: %w", params.AgentID, e.interpretError(err))
	}
	return agentCredentialFromRow(row), nil
}

// EnrollTokenGetByHash implements [store.Executor].
func (e *executor) EnrollTokenGetByHash(ctx context.Context, params *store.EnrollTokenGetByHashParams) (*model.EnrollToken, error) {
	row, err := e.q.EnrollTokenGetByHash(ctx, e.r, &dbsqlc.EnrollTokenGetByHashParams{Hash: params.Hash})
	if err != nil {
		return nil, fmt.Errorf("get enrolment token by hash: %w", e.interpretError(err))
	}
	return enrollTokenFromRow(row), nil
}

// EnrollTokenInsert implements [store.Executor].
func (e *executor) EnrollTokenInsert(ctx context.Context, params *store.EnrollTokenInsertParams) (*model.EnrollToken, error) {
	row, err := e.q.EnrollTokenInsert(ctx, e.w, &dbsqlc.EnrollTokenInsertParams{
		ID: params.ID, Name: params.Name, Hash: params.Hash, Reusable: boolInt(params.Reusable), Labels: params.Labels,
		ExpiresAt: micros(params.ExpiresAt), Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("insert enrolment token %s: %w", params.ID, e.interpretError(err))
	}
	return enrollTokenFromRow(row), nil
}

// EnrollTokenList implements [store.Executor].
func (e *executor) EnrollTokenList(ctx context.Context) ([]*model.EnrollToken, error) {
	rows, err := e.q.EnrollTokenList(ctx, e.r)
	if err != nil {
		return nil, fmt.Errorf("list enrolment tokens: %w", e.interpretError(err))
	}
	return fromRows(rows, infallible(enrollTokenFromRow))
}

// EnrollTokenRevoke implements [store.Executor].
func (e *executor) EnrollTokenRevoke(ctx context.Context, params *store.EnrollTokenRevokeParams) (*model.EnrollToken, error) {
	row, err := e.q.EnrollTokenRevoke(ctx, e.w, &dbsqlc.EnrollTokenRevokeParams{ID: params.ID, Now: ptr(nowMicros(params.Now))})
	if err != nil {
		return nil, fmt.Errorf("revoke enrolment token %s: %w", params.ID, e.interpretError(err))
	}
	return enrollTokenFromRow(row), nil
}

// EnrollTokenUse implements [store.Executor].
func (e *executor) EnrollTokenUse(ctx context.Context, params *store.EnrollTokenUseParams) (*model.EnrollToken, error) {
	row, err := e.q.EnrollTokenUse(ctx, e.w, &dbsqlc.EnrollTokenUseParams{Hash: params.Hash, Now: micros(params.Now)})
	if err != nil {
		return nil, fmt.Errorf("use enrolment token: %w", e.interpretError(err))
	}
	return enrollTokenFromRow(row), nil
}

// SecretDelete implements [store.Executor].
func (e *executor) SecretDelete(ctx context.Context, params *store.SecretDeleteParams) error {
	n, err := e.q.SecretDelete(ctx, e.w, &dbsqlc.SecretDeleteParams{Namespace: params.Namespace, Name: params.Name})
	if err != nil {
		return fmt.Errorf("delete secret %s/%s: %w", params.Namespace, params.Name, e.interpretError(err))
	}
	if n == 0 {
		return fmt.Errorf("delete secret %s/%s: %w", params.Namespace, params.Name, store.ErrNotFound)
	}
	return nil
}

// SecretGet implements [store.Executor].
func (e *executor) SecretGet(ctx context.Context, params *store.SecretGetParams) (*model.Secret, error) {
	row, err := e.q.SecretGet(ctx, e.r, &dbsqlc.SecretGetParams{Namespace: params.Namespace, Name: params.Name})
	if err != nil {
		return nil, fmt.Errorf("get secret %s/%s: %w", params.Namespace, params.Name, e.interpretError(err))
	}
	return secretFromRow(row), nil
}

// SecretList implements [store.Executor].
func (e *executor) SecretList(ctx context.Context, params *store.SecretListParams) ([]*model.Secret, error) {
	rows, err := e.q.SecretList(ctx, e.r, &dbsqlc.SecretListParams{Namespace: params.Namespace})
	if err != nil {
		return nil, fmt.Errorf("list secrets of %s: %w", params.Namespace, e.interpretError(err))
	}
	return fromRows(rows, infallible(secretFromRow))
}

// SecretUpsert implements [store.Executor].
func (e *executor) SecretUpsert(ctx context.Context, params *store.SecretUpsertParams) (*model.Secret, error) {
	row, err := e.q.SecretUpsert(ctx, e.w, &dbsqlc.SecretUpsertParams{
		Namespace: params.Namespace, Name: params.Name, KeyID: params.KeyID, Nonce: params.Nonce, Ciphertext: params.Ciphertext, Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("store secret %s/%s: %w", params.Namespace, params.Name, e.interpretError(err))
	}
	return secretFromRow(row), nil
}

func agentCredentialFromRow(r *dbsqlc.SchedAgentCredential) *model.AgentCredential {
	return &model.AgentCredential{
		AgentID: r.AgentID, Hash: r.Hash, EnrollTokenID: r.EnrollTokenID, Labels: r.Labels,
		CreatedAt: fromMicros(r.CreatedAt), RevokedAt: fromMicrosPtr(r.RevokedAt),
	}
}

func enrollTokenFromRow(r *dbsqlc.SchedEnrollToken) *model.EnrollToken {
	return &model.EnrollToken{
		ID: r.ID, Name: r.Name, Hash: r.Hash, Reusable: r.Reusable != 0, Labels: r.Labels,
		ExpiresAt: fromMicros(r.ExpiresAt), Uses: int(r.Uses), RevokedAt: fromMicrosPtr(r.RevokedAt), CreatedAt: fromMicros(r.CreatedAt),
	}
}

func secretFromRow(r *dbsqlc.SchedSecret) *model.Secret {
	return &model.Secret{
		Namespace: r.Namespace, Name: r.Name, KeyID: r.KeyID, Nonce: r.Nonce, Ciphertext: r.Ciphertext,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

func ptr[T any](v T) *T { return &v }
