package litestore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// UserDelete implements [store.Executor].
func (e *executor) UserDelete(ctx context.Context, params *store.UserDeleteParams) (int, error) {
	n, err := e.q.UserDelete(ctx, e.w, &dbsqlc.UserDeleteParams{ID: params.ID})
	if err != nil {
		return 0, fmt.Errorf("delete user %s: %w", params.ID, e.interpretError(err))
	}
	return int(n), nil
}

// UserGetPrefs implements [store.Executor].
func (e *executor) UserGetPrefs(ctx context.Context, params *store.UserGetPrefsParams) (*store.UserPrefs, error) {
	row, err := e.q.UserGetPrefs(ctx, e.r, &dbsqlc.UserGetPrefsParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("get preferences of user %s: %w", params.ID, e.interpretError(err))
	}
	return &store.UserPrefs{Lang: row.Lang, TimeZone: row.TimeZone}, nil
}

// UserSetPrefs implements [store.Executor].
func (e *executor) UserSetPrefs(ctx context.Context, params *store.UserSetPrefsParams) (int, error) {
	n, err := e.q.UserSetPrefs(ctx, e.w, &dbsqlc.UserSetPrefsParams{ID: params.ID, Lang: params.Lang, TimeZone: params.TimeZone})
	if err != nil {
		return 0, fmt.Errorf("set preferences of user %s: %w", params.ID, e.interpretError(err))
	}
	return int(n), nil
}
