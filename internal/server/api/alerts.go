package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Alerts is what the API asks of the alert service.
type Alerts interface {
	// RulesChanged tells the service to reload its rules.
	RulesChanged()
	// SendTest sends a test alert for rule once and returns the error.
	SendTest(ctx context.Context, rule *model.AlertRule) error
}

// registerAlerts registers the alert rule routes.
func (a *API) registerAlerts(reg regFunc) {
	h := a.huma
	huma.Register(h, describe(reg(auth.PermRead, http.MethodGet, "/alert-rules", "list-alert-rules", "List alert rules, of one namespace or all", "alerts", 0),
		"Lists the alert rules of every namespace the caller may see (viewer role), or of one with `?namespace=`; naming a namespace the caller cannot see is a 404. "+
			"A webhook's signing secret is never returned: `has_secret` says whether one is set."), a.listAlertRules)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodPost, "/alert-rules", "create-alert-rule", "Create an alert rule", "alerts", http.StatusCreated),
		"Creates a rule that alerts when one of its events (failure, success_after_failure, timeout, missed_fire, agent_lost) happens to a job of its namespace, "+
			"or to one job with `job_id`: by a JSON POST to a webhook, signed with `secret` when set, or by email to the listed addresses. "+
			"Needs the admin role on every namespace. The secret is write-only. Not idempotent: each call adds a rule."), a.createAlertRule)
	huma.Register(h, describe(reg(auth.PermRead, http.MethodGet, "/alert-rules/{id}", "get-alert-rule", "Get an alert rule", "alerts", 0),
		"Returns one alert rule, never its secret. A rule in a namespace the caller cannot see is a 404, as if it did not exist."), a.getAlertRule)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodPut, "/alert-rules/{id}", "replace-alert-rule", "Replace an alert rule", "alerts", 0),
		"Replaces a rule's name, events, channel, target, job and enabled flag; the namespace cannot change (422). An empty `secret` keeps the current one. "+
			"Needs the admin role on every namespace. Idempotent."), a.replaceAlertRule)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodDelete, "/alert-rules/{id}", "delete-alert-rule", "Delete an alert rule with its deliveries", "alerts", http.StatusNoContent),
		"Deletes a rule with its delivery history; alerts it has not sent yet are dropped. Needs the admin role on every namespace. Deleting it again is a 404."), a.deleteAlertRule)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodPost, "/alert-rules/{id}/test", "test-alert-rule", "Send a test alert to the rule's webhook or addresses now", "alerts", 0),
		"Sends one test alert (`\"test\": true` in the payload) to the rule's webhook or addresses now and waits for the answer. A receiver that fails is still a 200, "+
			"with `ok` false and the reason, since the request itself worked; a test is not recorded as a delivery. Needs the admin role on every namespace; "+
			"503 when this server has no alert service. Not idempotent: each call sends an alert."), a.testAlertRule)
	huma.Register(h, describe(reg(auth.PermRead, http.MethodGet, "/alert-rules/{id}/deliveries", "list-alert-deliveries", "List a rule's deliveries, newest first", "alerts", 0),
		"Lists the alerts the rule sent or is sending, newest first, at most `limit` (default 100): each one's event, payload, status (pending, sent, failed), "+
			"attempts, next attempt and last error. Viewer role in the rule's namespace; another namespace's rule is a 404."), a.listAlertDeliveries)
	a.alertExamples()
}

// alertExamples registers the alert bodies' examples.
func (a *API) alertExamples() {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	id := uuid.MustParse("01a21d48-4830-7a01-8b22-3c4d5e6f7a81")
	job := uuid.MustParse("01a21d48-4789-79bc-908c-3353e7e04c2a")
	rule := &AlertRuleView{AlertRule: &model.AlertRule{ID: id, Namespace: "default", JobID: &job, Name: "backup failures",
		Events: []model.AlertEvent{model.AlertFailure, model.AlertTimeout}, Channel: model.AlertWebhook, Target: "https://chat.example.com/hooks/ops",
		Enabled: true, CreatedAt: t0, UpdatedAt: t0}, HasSecret: true}
	a.example("AlertRuleBody", &AlertRuleBody{Namespace: "default", JobID: job.String(), Name: "backup failures",
		Events: rule.Events, Channel: model.AlertWebhook, Target: "https://chat.example.com/hooks/ops", Secret: "whsec-2f9c0e7b"})
	a.example("AlertRuleView", rule)
	a.example("AlertRuleListOutputBody", map[string]any{"result": []*AlertRuleView{rule}})
	a.example("AlertTestOutputBody", map[string]any{"ok": false, "error": "webhook answered 502 Bad Gateway"})
	sent := t0.Add(2 * time.Second)
	a.example("AlertDeliveryListOutputBody", map[string]any{"result": []*model.AlertDelivery{{
		ID: uuid.MustParse("01a21d48-4840-7b12-9c33-4d5e6f7a8b92"), RuleID: id, Event: model.AlertFailure, Status: model.AlertSent,
		Payload:  json.RawMessage(`{"event":"failure","rule_id":"` + id.String() + `","namespace":"default","job_id":"` + job.String() + `","reason":"exit code 1"}`),
		Attempts: 1, NextAttemptAt: t0, CreatedAt: t0, SentAt: &sent,
	}}})
}

// AlertRuleBody is an alert rule as written.
type AlertRuleBody struct {
	Namespace string             `json:"namespace,omitempty" maxLength:"100" doc:"Namespace the rule watches. Default \"default\". Cannot change after creation."`
	JobID     string             `json:"job_id,omitempty" format:"uuid" doc:"Narrow the rule to one job of the namespace; empty means every job."`
	Name      string             `json:"name" minLength:"1" maxLength:"200"`
	Events    []model.AlertEvent `json:"events" minItems:"1" doc:"Any of failure, success_after_failure, timeout, missed_fire, agent_lost."`
	Channel   model.AlertChannel `json:"channel" enum:"webhook,email"`
	Target    string             `json:"target" minLength:"1" maxLength:"2000" doc:"Webhook URL (http or https), or email addresses separated by commas."`
	Secret    string             `json:"secret,omitempty" maxLength:"500" doc:"Webhook signing secret: X-Hetuflow-Signature is sha256= and the hex HMAC-SHA256 of the body. Write-only; on replace, empty keeps the current one."`
	Enabled   *bool              `json:"enabled,omitempty" doc:"Default true."`
}

// AlertRuleView is an alert rule as shown: the secret is never returned.
type AlertRuleView struct {
	*model.AlertRule
	HasSecret bool `json:"has_secret"`
}

// AlertRuleOutput is an alert rule response.
type AlertRuleOutput struct {
	Body *AlertRuleView
}

func viewRule(r *model.AlertRule) *AlertRuleOutput {
	return &AlertRuleOutput{Body: &AlertRuleView{AlertRule: r, HasSecret: r.Secret != ""}}
}

// check validates the body and returns the job id it names, if any.
func (b *AlertRuleBody) check() (*uuid.UUID, error) {
	seen := map[model.AlertEvent]bool{}
	for i, e := range b.Events {
		if !e.Valid() {
			return nil, fieldError(fmt.Sprintf("body.events[%d]", i), "unknown event; use failure, success_after_failure, timeout, missed_fire or agent_lost")
		}
		if seen[e] {
			return nil, fieldError(fmt.Sprintf("body.events[%d]", i), "duplicate event")
		}
		seen[e] = true
	}
	switch b.Channel {
	case model.AlertWebhook:
		u, err := url.Parse(b.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fieldError("body.target", "must be an http or https URL")
		}
	case model.AlertEmail:
		for _, addr := range strings.Split(b.Target, ",") {
			if addr = strings.TrimSpace(addr); addr == "" || !strings.Contains(addr, "@") || strings.ContainsAny(addr, "\r\n<>") {
				return nil, fieldError("body.target", "must be email addresses separated by commas")
			}
		}
	}
	if b.JobID == "" {
		return nil, nil
	}
	id, err := uuid.Parse(b.JobID)
	if err != nil {
		return nil, fieldError("body.job_id", "not a UUID")
	}
	return &id, nil
}

// ruleJob checks that a job named by a rule exists in the rule's namespace.
func (a *API) ruleJob(ctx context.Context, id *uuid.UUID, namespace string) error {
	if id == nil {
		return nil
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: *id})
	if err != nil || job.Namespace != namespace {
		return fieldError("body.job_id", "no job with this id in the namespace")
	}
	return nil
}

// rule loads an alert rule the caller may act on with the route's role:
// 404 when its namespace is not visible to them.
func (a *API) rule(ctx context.Context, id uuid.UUID) (*model.AlertRule, error) {
	r, err := a.deps.Store.AlertRuleGetByID(ctx, &store.AlertRuleGetByIDParams{ID: id})
	if err != nil {
		return nil, storeError(err, "alert rule "+id.String())
	}
	if err := allow(ctx, r.Namespace); err != nil {
		return nil, err
	}
	return r, nil
}

func (a *API) rulesChanged() {
	if a.deps.Alerts != nil {
		a.deps.Alerts.RulesChanged()
	}
}

func (a *API) createAlertRule(ctx context.Context, in *struct{ Body *AlertRuleBody }) (*AlertRuleOutput, error) {
	b := in.Body
	if b.Namespace == "" {
		b.Namespace = model.DefaultNamespace
	}
	if err := allowCreate(ctx, b.Namespace); err != nil {
		return nil, err
	}
	jobID, err := b.check()
	if err != nil {
		return nil, err
	}
	if err := a.ruleJob(ctx, jobID, b.Namespace); err != nil {
		return nil, err
	}
	r, err := a.deps.Store.AlertRuleInsert(ctx, &store.AlertRuleInsertParams{
		ID: uuid.Must(uuid.NewV7()), Channel: b.Channel, Enabled: b.Enabled == nil || *b.Enabled, Events: b.Events, JobID: jobID,
		Name: b.Name, Namespace: b.Namespace, Secret: b.Secret, Target: b.Target,
	})
	if err != nil {
		return nil, storeError(err, "alert rule")
	}
	noteAudit(ctx, r.Namespace, r.ID.String(), nil, viewRule(r).Body)
	a.rulesChanged()
	return viewRule(r), nil
}

func (a *API) getAlertRule(ctx context.Context, in *IDInput) (*AlertRuleOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	r, err := a.rule(ctx, id)
	if err != nil {
		return nil, err
	}
	return viewRule(r), nil
}

// AlertRuleListOutput lists alert rules.
type AlertRuleListOutput struct {
	Body struct {
		Result []*AlertRuleView `json:"result"`
	}
}

func (a *API) listAlertRules(ctx context.Context, in *struct {
	Namespace string `query:"namespace" doc:"Only this namespace's rules; empty lists every namespace."`
}) (*AlertRuleListOutput, error) {
	if in.Namespace != "" {
		if err := allow(ctx, in.Namespace); err != nil {
			return nil, err
		}
	}
	rules, err := a.deps.Store.AlertRuleList(ctx, &store.AlertRuleListParams{Namespace: in.Namespace, Limit: store.MaxPageLimit})
	if err != nil {
		return nil, storeError(err, "alert rules")
	}
	out := &AlertRuleListOutput{}
	out.Body.Result = make([]*AlertRuleView, 0, len(rules))
	p := auth.PrincipalFrom(ctx)
	for _, r := range rules {
		// Rules are few (a page holds them all), so they are scoped here.
		if p.Can(model.RoleViewer, r.Namespace) {
			out.Body.Result = append(out.Body.Result, viewRule(r).Body)
		}
	}
	return out, nil
}

func (a *API) replaceAlertRule(ctx context.Context, in *struct {
	IDInput
	Body *AlertRuleBody
}) (*AlertRuleOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	cur, err := a.rule(ctx, id)
	if err != nil {
		return nil, err
	}
	b := in.Body
	if b.Namespace != "" && b.Namespace != cur.Namespace {
		return nil, fieldError("body.namespace", "cannot change after creation")
	}
	jobID, err := b.check()
	if err != nil {
		return nil, err
	}
	if err := a.ruleJob(ctx, jobID, cur.Namespace); err != nil {
		return nil, err
	}
	secret := b.Secret
	if secret == "" {
		secret = cur.Secret
	}
	r, err := a.deps.Store.AlertRuleUpdate(ctx, &store.AlertRuleUpdateParams{
		ID: id, Channel: b.Channel, Enabled: b.Enabled == nil || *b.Enabled, Events: b.Events, JobID: jobID, Name: b.Name, Secret: secret, Target: b.Target,
	})
	if err != nil {
		return nil, storeError(err, "alert rule "+in.ID)
	}
	noteAudit(ctx, r.Namespace, in.ID, viewRule(cur).Body, viewRule(r).Body)
	a.rulesChanged()
	return viewRule(r), nil
}

func (a *API) deleteAlertRule(ctx context.Context, in *IDInput) (*struct{}, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	cur, err := a.rule(ctx, id)
	if err != nil {
		return nil, err
	}
	noteAudit(ctx, cur.Namespace, in.ID, viewRule(cur).Body, nil)
	if _, err := a.deps.Store.AlertRuleDelete(ctx, &store.AlertRuleDeleteParams{ID: id}); err != nil {
		return nil, storeError(err, "alert rule "+in.ID)
	}
	a.rulesChanged()
	return nil, nil
}

// AlertTestOutput is the outcome of a test alert.
type AlertTestOutput struct {
	Body struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty" doc:"Why the test alert could not be delivered."`
	}
}

// testAlertRule sends one test alert synchronously; a receiver that fails
// is a 200 with ok false and the reason, since the request itself worked.
func (a *API) testAlertRule(ctx context.Context, in *IDInput) (*AlertTestOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	r, err := a.rule(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.deps.Alerts == nil {
		return nil, huma.Error503ServiceUnavailable("alerts are not configured on this server")
	}
	out := &AlertTestOutput{}
	if err := a.deps.Alerts.SendTest(ctx, r); err != nil {
		out.Body.Error = err.Error()
	} else {
		out.Body.OK = true
	}
	return out, nil
}

// AlertDeliveryListOutput lists deliveries.
type AlertDeliveryListOutput struct {
	Body struct {
		Result []*model.AlertDelivery `json:"result"`
	}
}

func (a *API) listAlertDeliveries(ctx context.Context, in *struct {
	IDInput
	Limit int `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many; default 100."`
}) (*AlertDeliveryListOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	if _, err := a.rule(ctx, id); err != nil {
		return nil, err
	}
	limit := in.Limit
	if limit == 0 {
		limit = 100
	}
	ds, err := a.deps.Store.AlertDeliveryList(ctx, &store.AlertDeliveryListParams{RuleID: id, Limit: limit})
	if err != nil {
		return nil, storeError(err, "alert deliveries")
	}
	out := &AlertDeliveryListOutput{}
	out.Body.Result = ds
	if out.Body.Result == nil {
		out.Body.Result = []*model.AlertDelivery{}
	}
	return out, nil
}
