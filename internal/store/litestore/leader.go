package litestore

import (
	"context"
	"fmt"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// LeaderAcquire implements [store.Executor].
func (e *executor) LeaderAcquire(ctx context.Context, params *store.LeaderAcquireParams) (*model.Leader, error) {
	now := nowTime(params.Now)
	row, err := e.q.LeaderAcquire(ctx, e.w, &dbsqlc.LeaderAcquireParams{Name: params.Name, Holder: params.Holder, ExpiresAt: micros(now.Add(params.TTL)), Now: micros(now)})
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", params.Name, e.interpretError(err))
	}
	return leaderFromRow(row), nil
}

// LeaderFence implements [store.Executor].
func (e *executor) LeaderFence(ctx context.Context, params *store.LeaderFenceParams) error {
	if _, err := e.q.LeaderFence(ctx, e.w, &dbsqlc.LeaderFenceParams{Name: params.Name, Holder: params.Holder, Epoch: params.Epoch, Now: nowMicros(params.Now)}); err != nil {
		return fmt.Errorf("fence lease %s at epoch %d: %w", params.Name, params.Epoch, e.interpretError(err))
	}
	return nil
}

// LeaderGet implements [store.Executor].
func (e *executor) LeaderGet(ctx context.Context, params *store.LeaderGetParams) (*model.Leader, error) {
	row, err := e.q.LeaderGet(ctx, e.r, &dbsqlc.LeaderGetParams{Name: params.Name})
	if err != nil {
		return nil, fmt.Errorf("get lease %s: %w", params.Name, e.interpretError(err))
	}
	return leaderFromRow(row), nil
}

// LeaderRelease implements [store.Executor].
func (e *executor) LeaderRelease(ctx context.Context, params *store.LeaderReleaseParams) (int, error) {
	n, err := e.q.LeaderRelease(ctx, e.w, &dbsqlc.LeaderReleaseParams{Name: params.Name, Holder: params.Holder, Epoch: params.Epoch, Now: nowMicros(params.Now)})
	if err != nil {
		return 0, fmt.Errorf("release lease %s: %w", params.Name, e.interpretError(err))
	}
	return int(n), nil
}

// LeaderRenew implements [store.Executor].
func (e *executor) LeaderRenew(ctx context.Context, params *store.LeaderRenewParams) (*model.Leader, error) {
	now := nowTime(params.Now)
	row, err := e.q.LeaderRenew(ctx, e.w, &dbsqlc.LeaderRenewParams{Name: params.Name, Holder: params.Holder, Epoch: params.Epoch, ExpiresAt: micros(now.Add(params.TTL)), Now: micros(now)})
	if err != nil {
		return nil, fmt.Errorf("renew lease %s: %w", params.Name, e.interpretError(err))
	}
	return leaderFromRow(row), nil
}

// ServerSetInactive implements [store.Executor].
func (e *executor) ServerSetInactive(ctx context.Context, params *store.ServerSetInactiveParams) (int, error) {
	n, err := e.q.ServerSetInactive(ctx, e.w, &dbsqlc.ServerSetInactiveParams{ID: params.ID, HeartbeatBefore: microsPtr(params.HeartbeatBefore)})
	if err != nil {
		return 0, fmt.Errorf("mark servers inactive: %w", e.interpretError(err))
	}
	return int(n), nil
}

func leaderFromRow(r *dbsqlc.SchedLeader) *model.Leader {
	return &model.Leader{Name: r.Name, Holder: r.Holder, Epoch: r.Epoch, ExpiresAt: fromMicros(r.ExpiresAt), UpdatedAt: fromMicros(r.UpdatedAt)}
}

// nowTime returns *t, or the current time.
func nowTime(t *time.Time) time.Time {
	if t != nil {
		return *t
	}
	return time.Now()
}
