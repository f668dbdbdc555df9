package litestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// ScheduleAdvanceCursorMany implements [store.Executor], one statement per
// item in one transaction, then one that reads the moved schedules back.
// They come back in input order.
func (e *executor) ScheduleAdvanceCursorMany(ctx context.Context, params *store.ScheduleAdvanceCursorManyParams) ([]*model.Schedule, error) {
	out := make([]*model.Schedule, 0, len(params.Items))
	if len(params.Items) == 0 {
		return out, nil
	}
	now := nowMicros(params.Now)
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		var moved []uuid.UUID
		for _, it := range params.Items {
			n, err := e.q.ScheduleAdvanceCursorMany(ctx, w, &dbsqlc.ScheduleAdvanceCursorManyParams{
				NextFireAt:      microsPtr(it.NextFireAt),
				FiredCountDelta: it.FiredCountDelta,
				Status:          int64(it.Status),
				Now:             now,
				ID:              it.ID,
				ExpectRevision:  it.ExpectRevision,
			})
			if err != nil {
				return err
			}
			if n > 0 {
				moved = append(moved, it.ID)
			}
		}
		if len(moved) == 0 {
			return nil
		}
		rows, err := e.q.ScheduleListByID(ctx, w, &dbsqlc.ScheduleListByIDParams{IDs: idsJSON(moved)})
		if err != nil {
			return err
		}
		out, err = inOrder(moved, rows, func(r *dbsqlc.SchedSchedule) uuid.UUID { return r.ID }, scheduleFromRow)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("advance schedule cursors: %w", e.interpretError(err))
	}
	return out, nil
}

// ScheduleCount implements [store.Executor].
func (e *executor) ScheduleCount(ctx context.Context, params *store.ScheduleCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.ScheduleResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count schedules: %w", e.interpretError(err))
	}
	return n, nil
}

// ScheduleDelete implements [store.Executor].
func (e *executor) ScheduleDelete(ctx context.Context, params *store.ScheduleDeleteParams) (*model.Schedule, error) {
	row, err := e.q.ScheduleDelete(ctx, e.w, &dbsqlc.ScheduleDeleteParams{
		ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("delete schedule %s: %w", params.ID, e.interpretError(err))
	}
	return scheduleFromRow(row)
}

// ScheduleGetByID implements [store.Executor].
func (e *executor) ScheduleGetByID(ctx context.Context, params *store.ScheduleGetByIDParams) (*model.Schedule, error) {
	row, err := e.q.ScheduleGetByID(ctx, e.r, &dbsqlc.ScheduleGetByIDParams{
		ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("get schedule %s: %w", params.ID, e.interpretError(err))
	}
	return scheduleFromRow(row)
}

// ScheduleInsert implements [store.Executor].
func (e *executor) ScheduleInsert(ctx context.Context, params *store.ScheduleInsertParams) (*model.Schedule, error) {
	opts, err := json.Marshal(params.Options)
	if err != nil {
		return nil, fmt.Errorf("insert schedule: encode options: %w", err)
	}
	arg := &dbsqlc.ScheduleInsertParams{
		ID:         params.ID,
		JobID:      params.JobID,
		Namespace:  params.Namespace,
		Name:       params.Name,
		Kind:       int64(params.Kind),
		Cron:       params.Cron,
		TimeZone:   params.TimeZone,
		IntervalMS: params.Interval.Milliseconds(),
		StartTime:  microsPtr(params.StartTime),
		EndTime:    microsPtr(params.EndTime),
		MaxCount:   params.MaxCount,
		Status:     int64(params.Status),
		NextFireAt: microsPtr(params.NextFireAt),
		Now:        nowMicros(params.Now),
		Options:    string(opts),
	}
	if err := e.q.ScheduleInsert(ctx, e.w, arg); err != nil {
		return nil, fmt.Errorf("insert schedule: %w", e.interpretError(err))
	}
	// The row as the statement inserted it (fired_count 0, no error,
	// revision 1).
	return scheduleFromRow(&dbsqlc.SchedSchedule{
		ID: arg.ID, JobID: arg.JobID, Namespace: arg.Namespace, Name: arg.Name, Kind: arg.Kind, Cron: arg.Cron,
		TimeZone: arg.TimeZone, IntervalMS: arg.IntervalMS, StartTime: arg.StartTime, EndTime: arg.EndTime,
		MaxCount: arg.MaxCount, Status: arg.Status, NextFireAt: arg.NextFireAt, Revision: 1,
		CreatedAt: arg.Now, UpdatedAt: arg.Now, Options: arg.Options, SpecChangedAt: arg.Now,
	})
}

// ScheduleList implements [store.Executor].
func (e *executor) ScheduleList(ctx context.Context, params *store.ScheduleListParams) ([]*model.Schedule, error) {
	rows, err := listRows[dbsqlc.SchedSchedule](ctx, e.r, store.ScheduleResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", e.interpretError(err))
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleListDue implements [store.Executor]. A zero Limit means 1000.
func (e *executor) ScheduleListDue(ctx context.Context, params *store.ScheduleListDueParams) ([]*model.Schedule, error) {
	rows, err := e.q.ScheduleListDue(ctx, e.r, &dbsqlc.ScheduleListDueParams{
		Horizon: micros(params.Horizon),
		Max:     batchLimit(params.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list due schedules: %w", e.interpretError(err))
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleListParked implements [store.Executor].
func (e *executor) ScheduleListParked(ctx context.Context, params *store.ScheduleListParkedParams) ([]*model.Schedule, error) {
	if len(params.IDs) == 0 {
		return nil, nil
	}
	rows, err := e.q.ScheduleListParked(ctx, e.r, &dbsqlc.ScheduleListParkedParams{IDs: idsJSON(params.IDs)})
	if err != nil {
		return nil, fmt.Errorf("list parked schedules: %w", e.interpretError(err))
	}
	return fromRows(rows, scheduleFromRow)
}

// ScheduleSetErrorIf implements [store.Executor].
func (e *executor) ScheduleSetErrorIf(ctx context.Context, params *store.ScheduleSetErrorIfParams) (int, error) {
	n, err := e.q.ScheduleSetErrorIf(ctx, e.w, &dbsqlc.ScheduleSetErrorIfParams{
		LastError:      params.LastError,
		Now:            nowMicros(params.Now),
		ID:             params.ID,
		ExpectRevision: params.ExpectRevision,
	})
	if err != nil {
		return 0, fmt.Errorf("set schedule %s error: %w", params.ID, e.interpretError(err))
	}
	return int(n), nil
}

// ScheduleUpdate implements [store.Executor].
func (e *executor) ScheduleUpdate(ctx context.Context, params *store.ScheduleUpdateParams) (*model.Schedule, error) {
	opts, err := json.Marshal(params.Options)
	if err != nil {
		return nil, fmt.Errorf("update schedule: encode options: %w", err)
	}
	row, err := e.q.ScheduleUpdate(ctx, e.w, &dbsqlc.ScheduleUpdateParams{
		CronDoUpdate:       params.CronDoUpdate,
		Cron:               params.Cron,
		EndTimeDoUpdate:    params.EndTimeDoUpdate,
		EndTime:            microsPtr(params.EndTime),
		IntervalMSDoUpdate: params.IntervalDoUpdate,
		IntervalMS:         params.Interval.Milliseconds(),
		MaxCountDoUpdate:   params.MaxCountDoUpdate,
		MaxCount:           params.MaxCount,
		NameDoUpdate:       params.NameDoUpdate,
		Name:               params.Name,
		NextFireAtDoUpdate: params.NextFireAtDoUpdate,
		NextFireAt:         microsPtr(params.NextFireAt),
		StartTimeDoUpdate:  params.StartTimeDoUpdate,
		StartTime:          microsPtr(params.StartTime),
		StatusDoUpdate:     params.StatusDoUpdate,
		Status:             int64(params.Status),
		TimeZoneDoUpdate:   params.TimeZoneDoUpdate,
		TimeZone:           params.TimeZone,
		Now:                nowMicros(params.Now),
		ID:                 params.ID,
		AnyNamespace:       params.Namespaces == nil,
		Namespaces:         params.Namespaces,
		OptionsDoUpdate:    params.OptionsDoUpdate,
		Options:            string(opts),
		SpecChanged:        params.SpecChanged,
	})
	if err != nil {
		return nil, fmt.Errorf("update schedule %s: %w", params.ID, e.interpretError(err))
	}
	return scheduleFromRow(row)
}
