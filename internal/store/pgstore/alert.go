package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// pgForeignKeyViolation is PostgreSQL's foreign_key_violation code.
const pgForeignKeyViolation = "23503"

// alertError is interpretError, with a row naming a missing job or rule as
// ErrNotFound.
func alertError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgForeignKeyViolation {
		return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.ConstraintName)
	}
	return interpretError(err)
}

func alertRuleFromRow(r *dbsqlc.SchedAlertRule) *model.AlertRule {
	return &model.AlertRule{
		ID: r.ID, Namespace: r.Namespace, JobID: r.JobID, Name: r.Name, Events: store.SplitAlertEvents(r.Events),
		Channel: model.AlertChannel(r.Channel), Target: r.Target, Secret: r.Secret, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func alertDeliveryFromRow(r *dbsqlc.SchedAlertDelivery) *model.AlertDelivery {
	d := &model.AlertDelivery{
		ID: r.ID, RuleID: r.RuleID, Event: model.AlertEvent(r.Event), Status: model.AlertDeliveryStatus(r.Status),
		Payload: r.Payload, Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt.UTC(), LastError: r.LastError,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if r.SentAt != nil {
		t := r.SentAt.UTC()
		d.SentAt = &t
	}
	return d
}

// AlertDeliveryClaim implements [store.Executor].
func (e *executor) AlertDeliveryClaim(ctx context.Context, params *store.AlertDeliveryClaimParams) ([]*model.AlertDelivery, error) {
	rows, err := e.q.AlertDeliveryClaim(ctx, e.db, &dbsqlc.AlertDeliveryClaimParams{
		Now: params.Now, LeaseSeconds: params.Lease.Seconds(), MaxRows: int32(store.AlertLimit(params.Limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("claim alert deliveries: %w", interpretError(err))
	}
	out := make([]*model.AlertDelivery, len(rows))
	for i, r := range rows {
		out[i] = alertDeliveryFromRow(r)
	}
	return out, nil
}

// AlertDeliveryInsertMany implements [store.Executor] in one statement.
func (e *executor) AlertDeliveryInsertMany(ctx context.Context, params *store.AlertDeliveryInsertManyParams) (int, error) {
	if len(params.Items) == 0 {
		return 0, nil
	}
	arg := &dbsqlc.AlertDeliveryInsertManyParams{
		IDs:      make([]uuid.UUID, len(params.Items)),
		RuleIds:  make([]uuid.UUID, len(params.Items)),
		Events:   make([]string, len(params.Items)),
		Payloads: make([][]byte, len(params.Items)),
		Now:      params.Now,
	}
	for i, it := range params.Items {
		arg.IDs[i], arg.RuleIds[i], arg.Events[i], arg.Payloads[i] = it.ID, it.RuleID, string(it.Event), it.Payload
	}
	n, err := e.q.AlertDeliveryInsertMany(ctx, e.db, arg)
	if err != nil {
		return 0, fmt.Errorf("insert alert deliveries: %w", alertError(err))
	}
	return int(n), nil
}

// AlertDeliveryList implements [store.Executor].
func (e *executor) AlertDeliveryList(ctx context.Context, params *store.AlertDeliveryListParams) ([]*model.AlertDelivery, error) {
	rows, err := e.q.AlertDeliveryList(ctx, e.db, &dbsqlc.AlertDeliveryListParams{RuleID: params.RuleID, MaxRows: int32(store.AlertLimit(params.Limit))})
	if err != nil {
		return nil, fmt.Errorf("list alert deliveries of %s: %w", params.RuleID, interpretError(err))
	}
	out := make([]*model.AlertDelivery, len(rows))
	for i, r := range rows {
		out[i] = alertDeliveryFromRow(r)
	}
	return out, nil
}

// AlertDeliverySetResultIf implements [store.Executor].
func (e *executor) AlertDeliverySetResultIf(ctx context.Context, params *store.AlertDeliverySetResultIfParams) (int, error) {
	n, err := e.q.AlertDeliverySetResult(ctx, e.db, &dbsqlc.AlertDeliverySetResultParams{
		ID: params.ID, Status: string(params.Status), LastError: params.LastError, NextAttemptAt: params.NextAttemptAt, Now: params.Now,
	})
	if err != nil {
		return 0, fmt.Errorf("record alert delivery %s: %w", params.ID, interpretError(err))
	}
	return int(n), nil
}

// AlertRuleDelete implements [store.Executor].
func (e *executor) AlertRuleDelete(ctx context.Context, params *store.AlertRuleDeleteParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleDelete(ctx, e.db, &dbsqlc.AlertRuleDeleteParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("delete alert rule %s: %w", params.ID, interpretError(err))
	}
	return alertRuleFromRow(row), nil
}

// AlertRuleGetByID implements [store.Executor].
func (e *executor) AlertRuleGetByID(ctx context.Context, params *store.AlertRuleGetByIDParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleGetByID(ctx, e.db, &dbsqlc.AlertRuleGetByIDParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("get alert rule %s: %w", params.ID, interpretError(err))
	}
	return alertRuleFromRow(row), nil
}

// AlertRuleInsert implements [store.Executor].
func (e *executor) AlertRuleInsert(ctx context.Context, params *store.AlertRuleInsertParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleInsert(ctx, e.db, &dbsqlc.AlertRuleInsertParams{
		ID: params.ID, Namespace: params.Namespace, JobID: params.JobID, Name: params.Name, Events: store.JoinAlertEvents(params.Events),
		Channel: string(params.Channel), Target: params.Target, Secret: params.Secret, Enabled: params.Enabled, Now: params.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("insert alert rule: %w", alertError(err))
	}
	return alertRuleFromRow(row), nil
}

// AlertRuleList implements [store.Executor].
func (e *executor) AlertRuleList(ctx context.Context, params *store.AlertRuleListParams) ([]*model.AlertRule, error) {
	rows, err := e.q.AlertRuleList(ctx, e.db, &dbsqlc.AlertRuleListParams{Namespace: params.Namespace, MaxRows: int32(store.AlertLimit(params.Limit))})
	if err != nil {
		return nil, fmt.Errorf("list alert rules: %w", interpretError(err))
	}
	out := make([]*model.AlertRule, len(rows))
	for i, r := range rows {
		out[i] = alertRuleFromRow(r)
	}
	return out, nil
}

// AlertRuleUpdate implements [store.Executor].
func (e *executor) AlertRuleUpdate(ctx context.Context, params *store.AlertRuleUpdateParams) (*model.AlertRule, error) {
	row, err := e.q.AlertRuleUpdate(ctx, e.db, &dbsqlc.AlertRuleUpdateParams{
		ID: params.ID, JobID: params.JobID, Name: params.Name, Events: store.JoinAlertEvents(params.Events),
		Channel: string(params.Channel), Target: params.Target, Secret: params.Secret, Enabled: params.Enabled, Now: params.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("update alert rule %s: %w", params.ID, alertError(err))
	}
	return alertRuleFromRow(row), nil
}
