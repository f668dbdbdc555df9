package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// AlertEvent is what an alert rule is notified of.
type AlertEvent string

// Alert events.
const (
	// AlertFailure: a task failed for good (no retry left).
	AlertFailure AlertEvent = "failure"
	// AlertSuccessAfterFailure: a task succeeded and the job's previous
	// finished task had failed (the job recovered).
	AlertSuccessAfterFailure AlertEvent = "success_after_failure"
	// AlertTimeout: a task failed for good and its last attempt timed out.
	AlertTimeout AlertEvent = "timeout"
	// AlertMissedFire: a schedule's fires were missed while no server ran
	// and its misfire policy skipped some.
	AlertMissedFire AlertEvent = "missed_fire"
	// AlertAgentLost: an agent stopped heartbeating and was marked Offline.
	AlertAgentLost AlertEvent = "agent_lost"
)

// AlertEvents lists every event, in a stable order.
var AlertEvents = []AlertEvent{AlertFailure, AlertSuccessAfterFailure, AlertTimeout, AlertMissedFire, AlertAgentLost}

// Valid reports whether e is a known event.
func (e AlertEvent) Valid() bool {
	for _, k := range AlertEvents {
		if e == k {
			return true
		}
	}
	return false
}

// AlertChannel is how an alert is sent.
type AlertChannel string

// Alert channels.
const (
	// AlertWebhook POSTs a JSON body signed with the rule's secret.
	AlertWebhook AlertChannel = "webhook"
	// AlertEmail sends mail over SMTP to the rule's comma-separated
	// addresses.
	AlertEmail AlertChannel = "email"
)

// AlertRule sends some events of a namespace, or of one job in it, to a
// webhook or to email addresses.
type AlertRule struct {
	ID        uuid.UUID `json:"id"`
	Namespace string    `json:"namespace"`
	// JobID narrows the rule to one job; nil means every job of the
	// namespace (and, for agent_lost, every lost agent).
	JobID   *uuid.UUID   `json:"job_id"`
	Name    string       `json:"name"`
	Events  []AlertEvent `json:"events"`
	Channel AlertChannel `json:"channel"`
	// Target is the webhook URL, or the email addresses separated by
	// commas.
	Target string `json:"target"`
	// Secret signs webhook bodies (X-Hetuflow-Signature: sha256=HMAC).
	// It is never shown after it is set.
	Secret    string    `json:"-"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Wants reports whether the rule is enabled and subscribes to e.
func (r *AlertRule) Wants(e AlertEvent) bool {
	if !r.Enabled {
		return false
	}
	for _, k := range r.Events {
		if k == e {
			return true
		}
	}
	return false
}

// Covers reports whether the rule's scope includes a task of job in
// namespace.
func (r *AlertRule) Covers(namespace string, job uuid.UUID) bool {
	return r.Namespace == namespace && (r.JobID == nil || *r.JobID == job)
}

// AlertDeliveryStatus is where a delivery stands.
type AlertDeliveryStatus string

// Delivery statuses.
const (
	AlertPending AlertDeliveryStatus = "pending"
	AlertSent    AlertDeliveryStatus = "sent"
	AlertFailed  AlertDeliveryStatus = "failed"
)

// AlertDelivery is one alert to send for one rule, and the record of its
// attempts: an outbox row that a sender claims, tries, and marks.
type AlertDelivery struct {
	ID     uuid.UUID           `json:"id"`
	RuleID uuid.UUID           `json:"rule_id"`
	Event  AlertEvent          `json:"event"`
	Status AlertDeliveryStatus `json:"status"`
	// Payload is the JSON body sent (the webhook body; the mail's content).
	Payload  json.RawMessage `json:"payload"`
	Attempts int             `json:"attempts"`
	// NextAttemptAt is when a sender may try it (again); a claim moves it
	// past the claim's lease, so a sender that dies leaves it to others.
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at"`
}
