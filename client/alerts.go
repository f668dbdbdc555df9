package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

type (
	// AlertEvent is what an alert rule fires on: failure,
	// success_after_failure, timeout, missed_fire or agent_lost.
	AlertEvent = model.AlertEvent
	// AlertChannel is webhook or email.
	AlertChannel = model.AlertChannel
	// AlertDelivery is one alert a rule sent or is sending.
	AlertDelivery = model.AlertDelivery
)

// Alert events and channels, re-exported for callers outside this module.
const (
	AlertFailure             = model.AlertFailure
	AlertSuccessAfterFailure = model.AlertSuccessAfterFailure
	AlertTimeout             = model.AlertTimeout
	AlertMissedFire          = model.AlertMissedFire
	AlertAgentLost           = model.AlertAgentLost

	AlertWebhook = model.AlertWebhook
	AlertEmail   = model.AlertEmail
)

// AlertRule is an alert rule as the API shows it: never its secret, but
// whether it has one.
type AlertRule struct {
	*model.AlertRule
	HasSecret bool `json:"has_secret"`
}

// AlertRuleSpec is what a caller writes to create or replace an alert rule.
type AlertRuleSpec struct {
	// Namespace is the rule's namespace (default "default"); it cannot
	// change after creation.
	Namespace string `json:"namespace,omitempty"`
	// JobID narrows the rule to one job; nil means every job.
	JobID   *uuid.UUID   `json:"job_id,omitempty"`
	Name    string       `json:"name"`
	Events  []AlertEvent `json:"events"`
	Channel AlertChannel `json:"channel"`
	// Target is the webhook URL, or email addresses separated by commas.
	Target string `json:"target"`
	// Secret signs webhook bodies; on replace, empty keeps the current one.
	Secret string `json:"secret,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
}

// AlertTestResult is the outcome of a test alert.
type AlertTestResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// CreateAlertRule creates an alert rule. It is not retried.
func (c *Client) CreateAlertRule(ctx context.Context, spec *AlertRuleSpec) (*AlertRule, error) {
	var r AlertRule
	return &r, c.call(ctx, post("/alert-rules", spec), &r)
}

// GetAlertRule returns an alert rule by id.
func (c *Client) GetAlertRule(ctx context.Context, id uuid.UUID) (*AlertRule, error) {
	var r AlertRule
	return &r, c.call(ctx, get("/alert-rules/"+id.String()), &r)
}

// ListAlertRules lists the alert rules of namespace, or of every namespace
// the caller may see when namespace is empty.
func (c *Client) ListAlertRules(ctx context.Context, namespace string) ([]*AlertRule, error) {
	path := "/alert-rules"
	if namespace != "" {
		path += "?namespace=" + url.QueryEscape(namespace)
	}
	var out struct {
		Result []*AlertRule `json:"result"`
	}
	return out.Result, c.call(ctx, get(path), &out)
}

// ReplaceAlertRule replaces an alert rule.
func (c *Client) ReplaceAlertRule(ctx context.Context, id uuid.UUID, spec *AlertRuleSpec) (*AlertRule, error) {
	var r AlertRule
	return &r, c.call(ctx, put("/alert-rules/"+id.String(), spec), &r)
}

// DeleteAlertRule deletes an alert rule with its deliveries.
func (c *Client) DeleteAlertRule(ctx context.Context, id uuid.UUID) error {
	return c.call(ctx, del("/alert-rules/"+id.String()), nil)
}

// TestAlertRule sends a test alert to the rule's target now. A receiver
// that fails is not an error: the result says so. It is not retried.
func (c *Client) TestAlertRule(ctx context.Context, id uuid.UUID) (*AlertTestResult, error) {
	var r AlertTestResult
	return &r, c.call(ctx, post("/alert-rules/"+id.String()+"/test", nil), &r)
}

// AlertDeliveries lists a rule's deliveries, newest first, at most limit
// (0: the server's default of 100).
func (c *Client) AlertDeliveries(ctx context.Context, id uuid.UUID, limit int) ([]*AlertDelivery, error) {
	path := "/alert-rules/" + id.String() + "/deliveries"
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var out struct {
		Result []*AlertDelivery `json:"result"`
	}
	return out.Result, c.call(ctx, get(path), &out)
}
