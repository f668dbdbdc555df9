package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/eventfilter"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// SignatureHeader carries the HMAC of a webhook body.
const SignatureHeader = "X-Hetuflow-Signature"

// HookInput is a webhook call.
type HookInput struct {
	ID            string `path:"id" doc:"The event schedule's id."`
	Signature     string `header:"X-Hetuflow-Signature" doc:"sha256=<hex HMAC-SHA256 of the raw body, keyed with the hook secret>."`
	Authorization string `header:"Authorization" doc:"Bearer <hook secret>, instead of a signature."`
	RawBody       []byte
}

// HookResult says whether a webhook call fired its schedule.
type HookResult struct {
	Fired  bool       `json:"fired"`
	TaskID *uuid.UUID `json:"task_id,omitempty"`
	Reason string     `json:"reason,omitempty" doc:"Why it did not fire."`
}

// HookOutput wraps HookResult.
type HookOutput struct {
	Status int
	Body   HookResult
}

// SignHook returns the signature header value for body under secret.
func SignHook(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func hookAuthorized(secret string, in *HookInput) bool {
	if secret == "" {
		return false
	}
	if in.Signature != "" {
		return hmac.Equal([]byte(in.Signature), []byte(SignHook(secret, in.RawBody)))
	}
	tok, ok := strings.CutPrefix(in.Authorization, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) == 1
}

// fireHook runs an event schedule's job for a webhook call whose body passes
// the schedule's filter. The body reaches the run as a file.
func (a *API) fireHook(ctx context.Context, in *HookInput) (*HookOutput, error) {
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return nil, huma.Error404NotFound("no such hook")
	}
	s, err := a.deps.Store.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: id})
	if err != nil || s.Kind != model.ScheduleEvent {
		return nil, huma.Error404NotFound("no such hook")
	}
	if !hookAuthorized(s.HookSecret, in) {
		return nil, huma.Error401Unauthorized("sign the body (" + SignatureHeader + ": sha256=<hex HMAC-SHA256>) or send Authorization: Bearer <hook secret>")
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: s.JobID})
	if err != nil {
		return nil, storeError(err, "job")
	}
	if s.Status != model.ScheduleEnabled || job.Status != model.JobEnabled {
		return &HookOutput{Status: 200, Body: HookResult{Reason: "the schedule or its job is disabled"}}, nil
	}
	filter, err := eventfilter.Parse(s.EventFilter)
	if err != nil {
		return nil, huma.Error500InternalServerError("stored event filter: " + err.Error())
	}
	if !filter.Empty() {
		doc, err := eventfilter.Decode(in.RawBody)
		if err != nil {
			return nil, huma.Error400BadRequest("the schedule filters on the body, which must be JSON")
		}
		if !filter.Match(doc) {
			return &HookOutput{Status: 200, Body: HookResult{Reason: "the event filter did not match"}}, nil
		}
	}
	cfg, err := model.RenderConfig(job.Config, model.DefaultParams(job.Config.Params))
	if err != nil {
		cfg = job.Config
	}
	now := time.Now().UTC()
	// Two calls in the same microsecond would share (schedule, instant):
	// nudge the later one rather than drop it.
	for try := range 5 {
		at := now.Add(time.Duration(try) * time.Microsecond)
		tasks, err := a.deps.Store.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*store.TaskInsert{{
			ID: uuid.Must(uuid.NewV7()), Config: cfg, Event: append([]byte(nil), in.RawBody...), JobID: job.ID, Namespace: job.Namespace,
			Parameters: model.DefaultParams(job.Config.Params), Reason: "webhook event", RunAt: at, ScheduleID: &s.ID, ScheduledAt: at, Status: model.TaskPending,
		}}})
		if err != nil {
			return nil, storeError(err, "task")
		}
		if len(tasks) == 1 {
			a.deps.Scheduler.WakeDispatcher()
			return &HookOutput{Status: 202, Body: HookResult{Fired: true, TaskID: &tasks[0].ID}}, nil
		}
	}
	return nil, huma.Error503ServiceUnavailable("too many events at once; retry")
}

// rotateHookSecret gives an event schedule a new secret, shown once.
func (a *API) rotateHookSecret(ctx context.Context, in *IDInput) (*struct{ Body *ScheduleWithHook }, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	s, err := a.gateSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.Kind != model.ScheduleEvent {
		return nil, fieldError("path.id", fmt.Sprintf("a %s schedule has no hook", s.Kind))
	}
	opts := s.Options()
	opts.HookSecret = auth.Generate()
	s, err = a.deps.Store.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: id, Options: opts, OptionsDoUpdate: true})
	if err != nil {
		return nil, storeError(err, "schedule "+in.ID)
	}
	noteAudit(ctx, s.Namespace, in.ID, nil, map[string]any{"hook_secret": "rotated"})
	return &struct{ Body *ScheduleWithHook }{Body: withHook(s)}, nil
}
