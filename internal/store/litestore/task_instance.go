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

// TaskInstanceAckMany implements [store.Executor].
func (e *executor) TaskInstanceAckMany(ctx context.Context, params *store.TaskInstanceAckManyParams) (int, error) {
	if len(params.IDs) == 0 {
		return 0, nil
	}
	n, err := e.q.TaskInstanceAckMany(ctx, e.w, &dbsqlc.TaskInstanceAckManyParams{
		Now:          nowMicros(params.Now),
		LeaseGraceUs: params.LeaseGrace.Microseconds(),
		AgentID:      params.AgentID,
		IDs:          idsJSON(params.IDs),
	})
	if err != nil {
		return 0, fmt.Errorf("ack task instances: %w", e.interpretError(err))
	}
	return int(n), nil
}

// TaskInstanceCount implements [store.Executor].
func (e *executor) TaskInstanceCount(ctx context.Context, params *store.TaskInstanceCountParams) (int, error) {
	n, err := countRows(ctx, e.r, store.TaskInstanceResource(), params.Filter, params.Namespaces)
	if err != nil {
		return 0, fmt.Errorf("count task instances: %w", e.interpretError(err))
	}
	return n, nil
}

// TaskInstanceFinishMany implements [store.Executor], one statement per
// item in one transaction, then one that reads the ended instances back.
// The instances come back in input order.
func (e *executor) TaskInstanceFinishMany(ctx context.Context, params *store.TaskInstanceFinishManyParams) ([]*model.TaskInstance, error) {
	out := make([]*model.TaskInstance, 0, len(params.Items))
	if len(params.Items) == 0 {
		return out, nil
	}
	now := nowMicros(params.Now)
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		var ended []uuid.UUID
		for _, it := range params.Items {
			arg := &dbsqlc.TaskInstanceFinishManyParams{
				Status:     int64(it.Status),
				Error:      it.Error,
				Reason:     it.Reason,
				OutputTail: it.OutputTail,
				FinishedAt: now,
				StartedAt:  microsPtr(it.StartedAt),
				Acked:      it.Acked,
				Now:        now,
				ID:         it.ID,
				AgentID:    it.AgentID,
			}
			if it.FinishedAt != nil {
				arg.FinishedAt = micros(*it.FinishedAt)
			}
			if it.ExitCode != nil {
				code := int64(*it.ExitCode)
				arg.ExitCode = &code
			}
			if it.Usage != nil {
				usage, err := json.Marshal(it.Usage)
				if err != nil {
					return fmt.Errorf("encode usage: %w", err)
				}
				s := string(usage)
				arg.Usage = &s
			}
			n, err := e.q.TaskInstanceFinishMany(ctx, w, arg)
			if err != nil {
				return err
			}
			if n > 0 {
				ended = append(ended, it.ID)
			}
		}
		if len(ended) == 0 {
			return nil
		}
		rows, err := e.q.TaskInstanceListByID(ctx, w, &dbsqlc.TaskInstanceListByIDParams{IDs: idsJSON(ended)})
		if err != nil {
			return err
		}
		out, err = inOrder(ended, rows, func(r *dbsqlc.SchedTaskInstance) uuid.UUID { return r.ID }, taskInstanceFromRow)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finish task instances: %w", e.interpretError(err))
	}
	return out, nil
}

// TaskInstanceGetByID implements [store.Executor].
func (e *executor) TaskInstanceGetByID(ctx context.Context, params *store.TaskInstanceGetByIDParams) (*model.TaskInstance, error) {
	row, err := e.q.TaskInstanceGetByID(ctx, e.r, &dbsqlc.TaskInstanceGetByIDParams{
		ID: params.ID, AnyNamespace: params.Namespaces == nil, Namespaces: params.Namespaces,
	})
	if err != nil {
		return nil, fmt.Errorf("get task instance %s: %w", params.ID, e.interpretError(err))
	}
	return taskInstanceFromRow(row)
}

// TaskInstanceInsertMany implements [store.Executor], one statement per
// instance in one transaction.
func (e *executor) TaskInstanceInsertMany(ctx context.Context, params *store.TaskInstanceInsertManyParams) (int, error) {
	if len(params.Instances) == 0 {
		return 0, nil
	}
	now := nowMicros(params.Now)
	total := 0
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		if params.StartAttempts {
			ids := make([]uuid.UUID, len(params.Instances))
			for i, ti := range params.Instances {
				ids[i] = ti.TaskID
			}
			if _, err := e.q.TaskStartAttemptMany(ctx, w, &dbsqlc.TaskStartAttemptManyParams{Now: now, IDs: idsJSON(ids)}); err != nil {
				return fmt.Errorf("start task attempts: %w", err)
			}
		}
		for _, ti := range params.Instances {
			n, err := e.q.TaskInstanceInsertMany(ctx, w, &dbsqlc.TaskInstanceInsertManyParams{
				ID:             ti.ID,
				TaskID:         ti.TaskID,
				JobID:          ti.JobID,
				Namespace:      ti.Namespace,
				Attempt:        int64(ti.Attempt),
				AgentID:        ti.AgentID,
				ServerID:       ti.ServerID,
				Status:         int64(ti.Status),
				PlannedAt:      micros(ti.PlannedAt),
				LeaseExpiresAt: microsPtr(ti.LeaseExpiresAt),
				DispatchedAt:   microsPtr(ti.DispatchedAt),
				Placement:      ti.Placement,
				ShardIndex:     int64(ti.ShardIndex),
				ShardTotal:     int64(ti.ShardTotal),
				Now:            now,
			})
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("insert task instances: %w", e.interpretError(err))
	}
	return total, nil
}

// TaskInstanceList implements [store.Executor].
func (e *executor) TaskInstanceList(ctx context.Context, params *store.TaskInstanceListParams) ([]*model.TaskInstance, error) {
	rows, err := listRows[dbsqlc.SchedTaskInstance](ctx, e.r, store.TaskInstanceResource(), listPage{
		filter: params.Filter, namespaces: params.Namespaces, order: params.OrderBy, limit: params.Limit, offset: params.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("list task instances: %w", e.interpretError(err))
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceListLeaseExpired implements [store.Executor]. A zero Limit
// means 1000.
func (e *executor) TaskInstanceListLeaseExpired(ctx context.Context, params *store.TaskInstanceListLeaseExpiredParams) ([]*model.TaskInstance, error) {
	rows, err := e.q.TaskInstanceListLeaseExpired(ctx, e.r, &dbsqlc.TaskInstanceListLeaseExpiredParams{
		Now: nowMicros(params.Now),
		Max: batchLimit(params.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list lease-expired task instances: %w", e.interpretError(err))
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceListLiveByAgent implements [store.Executor].
func (e *executor) TaskInstanceListLiveByAgent(ctx context.Context, params *store.TaskInstanceListLiveByAgentParams) ([]*model.TaskInstance, error) {
	rows, err := e.q.TaskInstanceListLiveByAgent(ctx, e.r, &dbsqlc.TaskInstanceListLiveByAgentParams{AgentID: params.AgentID})
	if err != nil {
		return nil, fmt.Errorf("list live task instances of agent %s: %w", params.AgentID, e.interpretError(err))
	}
	return fromRows(rows, taskInstanceFromRow)
}

// TaskInstanceStartMany implements [store.Executor], one statement per item
// in one transaction.
func (e *executor) TaskInstanceStartMany(ctx context.Context, params *store.TaskInstanceStartManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	now := nowMicros(params.Now)
	total := 0
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		for _, it := range params.Items {
			n, err := e.q.TaskInstanceStartMany(ctx, w, &dbsqlc.TaskInstanceStartManyParams{
				StartedAt: micros(it.StartedAt),
				Now:       now,
				ID:        it.ID,
				AgentID:   it.AgentID,
			})
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("start task instances: %w", e.interpretError(err))
	}
	return total, nil
}
