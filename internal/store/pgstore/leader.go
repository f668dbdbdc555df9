package pgstore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// LeaderAcquire implements [store.Executor].
func (e *executor) LeaderAcquire(ctx context.Context, params *store.LeaderAcquireParams) (*model.Leader, error) {
	row, err := e.q.LeaderAcquire(ctx, e.db, &dbsqlc.LeaderAcquireParams{Name: params.Name, Holder: params.Holder, Now: params.Now, TtlSecs: params.TTL.Seconds()})
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", params.Name, interpretError(err))
	}
	return leaderFromRow(row), nil
}

// LeaderFence implements [store.Executor].
func (e *executor) LeaderFence(ctx context.Context, params *store.LeaderFenceParams) error {
	if _, err := e.q.LeaderFence(ctx, e.db, &dbsqlc.LeaderFenceParams{Name: params.Name, Holder: params.Holder, Epoch: params.Epoch, Now: params.Now}); err != nil {
		return fmt.Errorf("fence lease %s at epoch %d: %w", params.Name, params.Epoch, interpretError(err))
	}
	return nil
}

// LeaderGet implements [store.Executor].
func (e *executor) LeaderGet(ctx context.Context, params *store.LeaderGetParams) (*model.Leader, error) {
	row, err := e.q.LeaderGet(ctx, e.db, &dbsqlc.LeaderGetParams{Name: params.Name})
	if err != nil {
		return nil, fmt.Errorf("get lease %s: %w", params.Name, interpretError(err))
	}
	return leaderFromRow(row), nil
}

// LeaderRelease implements [store.Executor].
func (e *executor) LeaderRelease(ctx context.Context, params *store.LeaderReleaseParams) (int, error) {
	n, err := e.q.LeaderRelease(ctx, e.db, &dbsqlc.LeaderReleaseParams{Name: params.Name, Holder: params.Holder, Epoch: params.Epoch, Now: params.Now})
	if err != nil {
		return 0, fmt.Errorf("release lease %s: %w", params.Name, interpretError(err))
	}
	return int(n), nil
}

// LeaderRenew implements [store.Executor].
func (e *executor) LeaderRenew(ctx context.Context, params *store.LeaderRenewParams) (*model.Leader, error) {
	row, err := e.q.LeaderRenew(ctx, e.db, &dbsqlc.LeaderRenewParams{Name: params.Name, Holder: params.Holder, Epoch: params.Epoch, Now: params.Now, TtlSecs: params.TTL.Seconds()})
	if err != nil {
		return nil, fmt.Errorf("renew lease %s: %w", params.Name, interpretError(err))
	}
	return leaderFromRow(row), nil
}

// ServerSetInactive implements [store.Executor].
func (e *executor) ServerSetInactive(ctx context.Context, params *store.ServerSetInactiveParams) (int, error) {
	n, err := e.q.ServerSetInactive(ctx, e.db, &dbsqlc.ServerSetInactiveParams{ID: params.ID, HeartbeatBefore: params.HeartbeatBefore})
	if err != nil {
		return 0, fmt.Errorf("mark servers inactive: %w", interpretError(err))
	}
	return int(n), nil
}

func leaderFromRow(r *dbsqlc.SchedLeader) *model.Leader {
	return &model.Leader{Name: r.Name, Holder: r.Holder, Epoch: r.Epoch, ExpiresAt: utc(r.ExpiresAt), UpdatedAt: utc(r.UpdatedAt)}
}
