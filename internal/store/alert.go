package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// AlertExecutor holds the queries of alert rules and their delivery outbox.
// It is embedded in [Executor].
type AlertExecutor interface {
	// AlertDeliveryClaim takes up to Limit pending deliveries due at Now
	// (earliest first), counts an attempt on each and moves its next attempt
	// Lease ahead, so a sender that dies leaves it to another. Concurrent
	// claims never return the same row.
	AlertDeliveryClaim(ctx context.Context, params *AlertDeliveryClaimParams) ([]*model.AlertDelivery, error)
	// AlertDeliveryInsertMany queues deliveries, due at once, and returns
	// the number stored. A delivery of an unknown rule is ErrNotFound.
	AlertDeliveryInsertMany(ctx context.Context, params *AlertDeliveryInsertManyParams) (int, error)
	// AlertDeliveryList lists a rule's deliveries, newest first.
	AlertDeliveryList(ctx context.Context, params *AlertDeliveryListParams) ([]*model.AlertDelivery, error)
	// AlertDeliverySetResultIf records an attempt's outcome on a delivery
	// that is still pending: Sent (with the time), Failed, or Pending again
	// with its next attempt at NextAttemptAt. An empty LastError keeps the
	// stored one. It returns the rows changed.
	AlertDeliverySetResultIf(ctx context.Context, params *AlertDeliverySetResultIfParams) (int, error)

	// AlertRuleDelete deletes a rule with its deliveries and returns it, or
	// ErrNotFound.
	AlertRuleDelete(ctx context.Context, params *AlertRuleDeleteParams) (*model.AlertRule, error)
	// AlertRuleGetByID returns a rule or ErrNotFound.
	AlertRuleGetByID(ctx context.Context, params *AlertRuleGetByIDParams) (*model.AlertRule, error)
	// AlertRuleInsert stores a new rule. A JobID naming no job is
	// ErrNotFound.
	AlertRuleInsert(ctx context.Context, params *AlertRuleInsertParams) (*model.AlertRule, error)
	// AlertRuleList lists the rules of Namespace (every namespace when
	// empty), oldest first.
	AlertRuleList(ctx context.Context, params *AlertRuleListParams) ([]*model.AlertRule, error)
	// AlertRuleUpdate replaces a rule's fields and returns it, or
	// ErrNotFound.
	AlertRuleUpdate(ctx context.Context, params *AlertRuleUpdateParams) (*model.AlertRule, error)
}

// AlertDeliveryClaimParams are the inputs of AlertDeliveryClaim.
type AlertDeliveryClaimParams struct {
	Lease time.Duration
	Limit int
	Now   *time.Time
}

// AlertDeliveryInsert is one delivery to queue.
type AlertDeliveryInsert struct {
	ID      uuid.UUID
	Event   model.AlertEvent
	Payload json.RawMessage
	RuleID  uuid.UUID
}

// AlertDeliveryInsertManyParams are the inputs of AlertDeliveryInsertMany.
type AlertDeliveryInsertManyParams struct {
	Items []*AlertDeliveryInsert
	Now   *time.Time
}

// AlertDeliveryListParams are the inputs of AlertDeliveryList.
type AlertDeliveryListParams struct {
	Limit  int
	RuleID uuid.UUID
}

// AlertDeliverySetResultIfParams are the inputs of AlertDeliverySetResultIf.
type AlertDeliverySetResultIfParams struct {
	ID        uuid.UUID
	LastError string
	// NextAttemptAt, for a delivery left Pending, is its next try; nil
	// keeps the claim's lease.
	NextAttemptAt *time.Time
	Now           *time.Time
	Status        model.AlertDeliveryStatus
}

// AlertRuleDeleteParams are the inputs of AlertRuleDelete.
type AlertRuleDeleteParams struct {
	ID uuid.UUID
}

// AlertRuleGetByIDParams are the inputs of AlertRuleGetByID.
type AlertRuleGetByIDParams struct {
	ID uuid.UUID
}

// AlertRuleInsertParams are the inputs of AlertRuleInsert.
type AlertRuleInsertParams struct {
	ID        uuid.UUID
	Channel   model.AlertChannel
	Enabled   bool
	Events    []model.AlertEvent
	JobID     *uuid.UUID
	Name      string
	Namespace string
	Now       *time.Time
	Secret    string
	Target    string
}

// AlertRuleListParams are the inputs of AlertRuleList.
type AlertRuleListParams struct {
	Limit     int
	Namespace string
}

// AlertRuleUpdateParams are the inputs of AlertRuleUpdate: every field is
// replaced.
type AlertRuleUpdateParams struct {
	ID      uuid.UUID
	Channel model.AlertChannel
	Enabled bool
	Events  []model.AlertEvent
	JobID   *uuid.UUID
	Name    string
	Now     *time.Time
	Secret  string
	Target  string
}

// JoinAlertEvents stores events as one comma-separated column, for the
// drivers.
func JoinAlertEvents(events []model.AlertEvent) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ",")
}

// SplitAlertEvents reads a column written by JoinAlertEvents.
func SplitAlertEvents(s string) []model.AlertEvent {
	if s == "" {
		return []model.AlertEvent{}
	}
	parts := strings.Split(s, ",")
	out := make([]model.AlertEvent, len(parts))
	for i, p := range parts {
		out[i] = model.AlertEvent(p)
	}
	return out
}

// AlertLimit returns the rows a list or claim may return for limit: limit,
// or MaxPageLimit when it is not positive or larger.
func AlertLimit(limit int) int {
	if limit <= 0 || limit > MaxPageLimit {
		return MaxPageLimit
	}
	return limit
}
