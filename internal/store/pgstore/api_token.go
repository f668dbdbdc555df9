package pgstore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// APITokenCount implements [store.Executor].
func (e *executor) APITokenCount(ctx context.Context, params *store.APITokenCountParams) (int, error) {
	n, err := e.q.APITokenCount(ctx, e.db, &dbsqlc.APITokenCountParams{Kind: string(params.Kind)})
	if err != nil {
		return 0, fmt.Errorf("count %s tokens: %w", params.Kind, interpretError(err))
	}
	return int(n), nil
}

// APITokenGetByHash implements [store.Executor].
func (e *executor) APITokenGetByHash(ctx context.Context, params *store.APITokenGetByHashParams) (*model.APIToken, error) {
	row, err := e.q.APITokenGetByHash(ctx, e.db, &dbsqlc.APITokenGetByHashParams{Hash: params.Hash})
	if err != nil {
		return nil, fmt.Errorf("get token by hash: %w", interpretError(err))
	}
	return apiTokenFromRow(row), nil
}

// APITokenInsert implements [store.Executor].
func (e *executor) APITokenInsert(ctx context.Context, params *store.APITokenInsertParams) (*model.APIToken, error) {
	row, err := e.q.APITokenInsert(ctx, e.db, &dbsqlc.APITokenInsertParams{
		ID:        params.ID,
		Name:      params.Name,
		Kind:      string(params.Kind),
		Hash:      params.Hash,
		ExpiresAt: params.ExpiresAt,
		Now:       params.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("insert token: %w", interpretError(err))
	}
	return apiTokenFromRow(row), nil
}
