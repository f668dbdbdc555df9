package litestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// alertError is interpretError, with a row naming a missing job or rule as
// ErrNotFound.
func (e *executor) alertError(err error) error {
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) && liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("%w: %s", store.ErrNotFound, liteErr.Error())
	}
	return e.interpretError(err)
}

func alertRuleFromRow(r *dbsqlc.SchedAlertRule) (*model.AlertRule, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("alert rule id %q: %w", r.ID, err)
	}
	rule := &model.AlertRule{
		ID: id, Namespace: r.Namespace, Name: r.Name, Events: store.SplitAlertEvents(r.Events),
		Channel: model.AlertChannel(r.Channel), Target: r.Target, Secret: r.Secret, Enabled: r.Enabled != 0,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
	if r.JobID != nil {
		job, err := uuid.Parse(*r.JobID)
		if err != nil {
			return nil, fmt.Errorf("alert rule %s job id %q: %w", r.ID, *r.JobID, err)
		}
		rule.JobID = &job
	}
	return rule, nil
}

func alertDeliveryFromRow(r *dbsqlc.SchedAlertDelivery) (*model.AlertDelivery, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("alert delivery id %q: %w", r.ID, err)
	}
	rule, err := uuid.Parse(r.RuleID)
	if err != nil {
		return nil, fmt.Errorf("alert delivery %s rule id %q: %w", r.ID, r.RuleID, err)
	}
	return &model.AlertDelivery{
		ID: id, RuleID: rule, Event: model.AlertEvent(r.Event), Status: model.AlertDeliveryStatus(r.Status),
		Payload: json.RawMessage(r.Payload), Attempts: int(r.Attempts), NextAttemptAt: fromMicros(r.NextAttemptAt),
		LastError: r.LastError, CreatedAt: fromMicros(r.CreatedAt), SentAt: fromMicrosPtr(r.SentAt),
	}, nil
}

func jobIDText(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}

// AlertDeliveryClaim implements [store.Executor].
func (e *executor) AlertDeliveryClaim(ctx context.Context, params *store.AlertDeliveryClaimParams) ([]*model.AlertDelivery, error) {
	now := nowMicros(params.Now)
	rows, err := e.q.AlertDeliveryClaim(ctx, e.w, &dbsqlc.AlertDeliveryClaimParams{
		Now: now, LeaseUntil: now + params.Lease.Microseconds(), MaxRows: int64(store.AlertLimit(params.Limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("claim alert deliveries: %w", e.interpretError(err))
	}
	return fromRows(rows, alertDeliveryFromRow)
}

// AlertDeliveryInsertMany implements [store.Executor]: one statement per
// delivery, applied together.
func (e *executor) AlertDeliveryInsertMany(ctx context.Context, params *store.AlertDeliveryInsertManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	now := nowMicros(params.Now)
	err := e.inWriteTx(ctx, func(w dbsqlc.DBTX) error {
		for _, it := range params.Items {
			if err := e.q.AlertDeliveryInsert(ctx, w, &dbsqlc.AlertDeliveryInsertParams{
				ID: it.ID.String(), RuleID: it.RuleID.String(), Event: string(it.Event), Payload: string(it.Payload), Now: now,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("insert alert deliveries: %w", e.alertError(err))
	}
	return len(params.Items), nil
}

// AlertDeliveryList implements [store.Executor].
func (e *executor) AlertDeliveryList(ctx context.Context, params *store.AlertDeliveryListParams) ([]*model.AlertDelivery, error) {
	rows, err := e.q.AlertDeliveryList(ctx, e.r, &dbsqlc.AlertDeliveryListParams{RuleID: params.RuleID.String(), MaxRows: int64(store.AlertLimit(params.Limit))})
	if err != nil {
		return nil, fmt.Errorf("list alert deliveries of %s: %w", params.RuleID, e.interpretError(err))
	}
	return fromRows(rows, alertDeliveryFromRow)
}

// AlertDeliverySetResultIf implements [store.Executor].
func (e *executor) AlertDeliverySetResultIf(ctx context.Context, params *store.AlertDeliverySetResultIfParams) (int, error) {
	now := nowMicros(params.Now)
	n, err := e.q.AlertDeliverySetResult(ctx, e.w, &dbsqlc.AlertDeliverySetResultParams{
		ID: params.ID.String(), Status: string(params.Status), LastError: params.LastError, NextAttemptAt: microsPtr(params.NextAttemptAt), Now: &now,
	})
	if err != nil {
		return 0, fmt.Errorf("record alert delivery %s: %w", params.ID, e.interpretError(err))
	}
	return int(n), nil
}

// AlertRuleDelete implements [store.Executor].
func (e *executor) AlertRuleDelete(ctx context.Context, params *store.AlertRuleDeleteParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleDelete(ctx, e.w, &dbsqlc.AlertRuleDeleteParams{ID: params.ID.String()})
	if err != nil {
		return nil, fmt.Errorf("delete alert rule %s: %w", params.ID, e.interpretError(err))
	}
	return alertRuleFromRow(row)
}

// AlertRuleGetByID implements [store.Executor].
func (e *executor) AlertRuleGetByID(ctx context.Context, params *store.AlertRuleGetByIDParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleGetByID(ctx, e.r, &dbsqlc.AlertRuleGetByIDParams{ID: params.ID.String()})
	if err != nil {
		return nil, fmt.Errorf("get alert rule %s: %w", params.ID, e.interpretError(err))
	}
	return alertRuleFromRow(row)
}

// AlertRuleInsert implements [store.Executor].
func (e *executor) AlertRuleInsert(ctx context.Context, params *store.AlertRuleInsertParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleInsert(ctx, e.w, &dbsqlc.AlertRuleInsertParams{
		ID: params.ID.String(), Namespace: params.Namespace, JobID: jobIDText(params.JobID), Name: params.Name,
		Events: store.JoinAlertEvents(params.Events), Channel: string(params.Channel), Target: params.Target,
		Secret: params.Secret, Enabled: boolInt(params.Enabled), Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("insert alert rule: %w", e.alertError(err))
	}
	return alertRuleFromRow(row)
}

// AlertRuleList implements [store.Executor].
func (e *executor) AlertRuleList(ctx context.Context, params *store.AlertRuleListParams) ([]*model.AlertRule, error) {
	rows, err := e.q.AlertRuleList(ctx, e.r, &dbsqlc.AlertRuleListParams{Namespace: params.Namespace, MaxRows: int64(store.AlertLimit(params.Limit))})
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", e.interpretError(err))
	}
	return fromRows(rows, alertRuleFromRow)
}

// AlertRuleUpdate implements [store.Executor].
func (e *executor) AlertRuleUpdate(ctx context.Context, params *store.AlertRuleUpdateParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleUpdate(ctx, e.w, &dbsqlc.AlertRuleUpdateParams{
		ID: params.ID.String(), JobID: jobIDText(params.JobID), Name: params.Name,
		Events: store.JoinAlertEvents(params.Events), Channel: string(params.Channel), Target: params.Target,
		Secret: params.Secret, Enabled: boolInt(params.Enabled), Now: nowMicros(params.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("update alert rule %s: %w", params.ID, e.alertError(err))
	}
	return alertRuleFromRow(row)
}
