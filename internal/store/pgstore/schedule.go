package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// ScheduleAdvanceCursorMany implements [store.Executor] in one statement.
func (e *executor) ScheduleAdvanceCursorMany(ctx context.Context, params *store.ScheduleAdvanceCursorManyParams) ([]*model.Schedule, error) {
	if len(params.Items) == 0 {
		return []*model.Schedule{}, nil
	}
	n := len(params.Items)
	arg := &dbsqlc.ScheduleAdvanceCursorManyParams{
		Now:              params.Now,
		IDs:              make([]uuid.UUID, n),
		ExpectRevisions:  make([]int64, n),
		FiredCountDeltas: make([]int64, n),
		NextFireAts:      make([]time.Time, n),
		Statuses:         make([]int32, n),
	}
	for i, it := range params.Items {
		arg.IDs[i] = it.ID
		arg.ExpectRevisions[i] = it.ExpectRevision
		arg.FiredCountDeltas[i] = it.FiredCountDelta
		arg.NextFireAts[i] = zeroIfNil(it.NextFireAt)
		arg.Statuses[i] = int32(it.Status)
	}
	rows, err := e.q.ScheduleAdvanceCursorMany(ctx, e.db, arg)
	if err != nil {
		return nil, fmt.Errorf("advance schedule cursors: %w", interpretError(err))
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleCount implements [store.Executor].
func (e *executor) ScheduleCount(ctx context.Context, params *store.ScheduleCountParams) (int, error) {
	n, err := countRows(ctx, e.db, store.ScheduleResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count schedules: %w", err)
	}
	return n, nil
}

// ScheduleDelete implements [store.Executor].
func (e *executor) ScheduleDelete(ctx context.Context, params *store.ScheduleDeleteParams) (*model.Schedule, error) {
	row, err := e.q.ScheduleDelete(ctx, e.db, &dbsqlc.ScheduleDeleteParams{ID: params.ID, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("delete schedule %s: %w", params.ID, interpretError(err))
	}
	return scheduleFromRow(row)
}

// ScheduleGetByID implements [store.Executor].
func (e *executor) ScheduleGetByID(ctx context.Context, params *store.ScheduleGetByIDParams) (*model.Schedule, error) {
	row, err := e.q.ScheduleGetByID(ctx, e.db, &dbsqlc.ScheduleGetByIDParams{ID: params.ID, Namespaces: params.Namespaces})
	if err != nil {
		return nil, fmt.Errorf("get schedule %s: %w", params.ID, interpretError(err))
	}
	return scheduleFromRow(row)
}

// ScheduleInsert implements [store.Executor].
func (e *executor) ScheduleInsert(ctx context.Context, params *store.ScheduleInsertParams) (*model.Schedule, error) {
	opts, err := json.Marshal(params.Options)
	if err != nil {
		return nil, fmt.Errorf("insert schedule: encode options: %w", err)
	}
	row, err := e.q.ScheduleInsert(ctx, e.db, &dbsqlc.ScheduleInsertParams{
		ID:         params.ID,
		JobID:      params.JobID,
		Namespace:  params.Namespace,
		Name:       params.Name,
		Kind:       int32(params.Kind),
		Cron:       params.Cron,
		TimeZone:   params.TimeZone,
		IntervalMS: params.Interval.Milliseconds(),
		StartTime:  params.StartTime,
		EndTime:    params.EndTime,
		MaxCount:   params.MaxCount,
		Status:     int32(params.Status),
		NextFireAt: params.NextFireAt,
		Now:        params.Now,
		Options:    opts,
	})
	if err != nil {
		return nil, fmt.Errorf("insert schedule: %w", interpretError(err))
	}
	return scheduleFromRow(row)
}

// ScheduleList implements [store.Executor].
func (e *executor) ScheduleList(ctx context.Context, params *store.ScheduleListParams) ([]*model.Schedule, error) {
	rows, err := listRows[dbsqlc.SchedSchedule](ctx, e.db, store.ScheduleResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleListDue implements [store.Executor]. A zero Limit means 1000.
func (e *executor) ScheduleListDue(ctx context.Context, params *store.ScheduleListDueParams) ([]*model.Schedule, error) {
	rows, err := e.q.ScheduleListDue(ctx, e.db, &dbsqlc.ScheduleListDueParams{
		Horizon: params.Horizon,
		Max:     batchLimit(params.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list due schedules: %w", interpretError(err))
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleListParked implements [store.Executor].
func (e *executor) ScheduleListParked(ctx context.Context, params *store.ScheduleListParkedParams) ([]*model.Schedule, error) {
	if len(params.IDs) == 0 {
		return nil, nil
	}
	rows, err := e.q.ScheduleListParked(ctx, e.db, &dbsqlc.ScheduleListParkedParams{IDs: params.IDs})
	if err != nil {
		return nil, fmt.Errorf("list parked schedules: %w", interpretError(err))
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleSetErrorIf implements [store.Executor].
func (e *executor) ScheduleSetErrorIf(ctx context.Context, params *store.ScheduleSetErrorIfParams) (int, error) {
	n, err := e.q.ScheduleSetErrorIf(ctx, e.db, &dbsqlc.ScheduleSetErrorIfParams{
		LastError:      params.LastError,
		Now:            params.Now,
		ID:             params.ID,
		ExpectRevision: params.ExpectRevision,
	})
	if err != nil {
		return 0, fmt.Errorf("set schedule %s error: %w", params.ID, interpretError(err))
	}
	return int(n), nil
}

// ScheduleUpdate implements [store.Executor].
func (e *executor) ScheduleUpdate(ctx context.Context, params *store.ScheduleUpdateParams) (*model.Schedule, error) {
	opts, err := json.Marshal(params.Options)
	if err != nil {
		return nil, fmt.Errorf("update schedule: encode options: %w", err)
	}
	row, err := e.q.ScheduleUpdate(ctx, e.db, &dbsqlc.ScheduleUpdateParams{
		CronDoUpdate:       params.CronDoUpdate,
		Cron:               params.Cron,
		EndTimeDoUpdate:    params.EndTimeDoUpdate,
		EndTime:            params.EndTime,
		IntervalMSDoUpdate: params.IntervalDoUpdate,
		IntervalMS:         params.Interval.Milliseconds(),
		MaxCountDoUpdate:   params.MaxCountDoUpdate,
		MaxCount:           params.MaxCount,
		NameDoUpdate:       params.NameDoUpdate,
		Name:               params.Name,
		NextFireAtDoUpdate: params.NextFireAtDoUpdate,
		NextFireAt:         params.NextFireAt,
		StartTimeDoUpdate:  params.StartTimeDoUpdate,
		StartTime:          params.StartTime,
		StatusDoUpdate:     params.StatusDoUpdate,
		Status:             int32(params.Status),
		TimeZoneDoUpdate:   params.TimeZoneDoUpdate,
		TimeZone:           params.TimeZone,
		Now:                params.Now,
		ID:                 params.ID,
		Namespaces:         params.Namespaces,
		OptionsDoUpdate:    params.OptionsDoUpdate,
		Options:            opts,
		SpecChanged:        params.SpecChanged,
	})
	if err != nil {
		return nil, fmt.Errorf("update schedule %s: %w", params.ID, interpretError(err))
	}
	return scheduleFromRow(row)
}
