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
