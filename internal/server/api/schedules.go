package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/eventfilter"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
)

// ScheduleBody is what a user writes to create or replace a schedule.
type ScheduleBody struct {
	JobID string `json:"job_id" doc:"The job to run. Cannot change after creation." format:"uuid"`
	ScheduleSpec
}

// ScheduleSpec is a schedule without its job: the rest of a ScheduleBody,
// and each schedule created with a job (JobBody.Schedules).
type ScheduleSpec struct {
	Name      string             `json:"name,omitempty" doc:"Optional name."`
	Kind      model.ScheduleKind `json:"kind" enum:"1,2,3,5,6" doc:"1 cron, 2 interval (see interval_mode), 3 event (POST /api/v1/hooks/{id} fires it), 5 daemon (one run kept going, restarted with backoff when it ends), 6 once (at start_time)."`
	Cron      string             `json:"cron,omitempty" doc:"For kind 1: 5 fields (minute first) or 6 (second first)." example:"*/10 * * * * *"`
	TimeZone  string             `json:"time_zone,omitempty" doc:"IANA time zone the cron expression is read in; default UTC." example:"Europe/London"`
	Interval  model.Duration     `json:"interval,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 30s, 1m30s or 250ms" doc:"For kind 2: the period, e.g. \"30s\"."`
	StartTime *time.Time         `json:"start_time,omitempty" doc:"No fire before this instant; for kind 6, the instant."`
	EndTime   *time.Time         `json:"end_time,omitempty" doc:"No fire after this instant."`
	MaxCount  int64              `json:"max_count,omitempty" minimum:"0" doc:"Stop after this many fires; 0 means no limit."`
	// IntervalMode: fixed_rate fires at start + k·interval; fixed_delay
	// plans the next run interval after the previous one ends.
	IntervalMode model.IntervalMode   `json:"interval_mode,omitempty" enum:"fixed_rate,fixed_delay" doc:"For kind 2: fixed_rate (default: start + k·interval, never drifting) or fixed_delay (interval after the previous run ends)."`
	Misfire      model.MisfirePolicy  `json:"misfire,omitzero" doc:"What happens to fires missed while no server ran."`
	EventFilter  map[string]any       `json:"event_filter,omitempty" doc:"For kind 3: conditions on the webhook's JSON body, all of which must hold for it to fire; same operators as queries, on dotted paths." example:"{\"action\":\"push\",\"repository.name\":{\"$in\":[\"api\"]}}"`
	Status       model.ScheduleStatus `json:"status,omitempty" enum:"1,99,100" doc:"1 created, 99 disabled, 100 enabled (default)."`
}

// ScheduleOutput is a schedule response.
type ScheduleOutput struct {
	Body *model.Schedule
}

// ScheduleCreateOutput is the response to a created schedule.
type ScheduleCreateOutput struct {
	Location string `header:"Location"`
	Body     *ScheduleWithHook
}

// ScheduleWithHook is a schedule with, for kind event, its webhook address
// and secret: shown this once.
type ScheduleWithHook struct {
	*model.Schedule
	HookURL    string `json:"hook_url,omitempty" doc:"For kind 3: POST the event here."`
	HookSecret string `json:"hook_secret,omitempty" doc:"For kind 3: sign the body with it (X-Hetuflow-Signature: sha256=<hex HMAC-SHA256>) or send it as Authorization: Bearer. Shown once."`
}

func withHook(s *model.Schedule) *ScheduleWithHook {
	out := &ScheduleWithHook{Schedule: s}
	if s.Kind == model.ScheduleEvent {
		out.HookURL, out.HookSecret = Prefix+"/hooks/"+s.ID.String(), s.HookSecret
	}
	return out
}

// check validates b as a schedule of job created at createdAt and returns
// its first fire at or after now, or a field error.
func (b *ScheduleSpec) check(job *model.Job, createdAt, now time.Time) (*time.Time, error) {
	if b.Status == 0 {
		b.Status = model.ScheduleEnabled
	}
	if b.Name != "" {
		if err := model.ValidateName("name", b.Name); err != nil {
			return nil, err
		}
	}
	if b.EndTime != nil && b.StartTime != nil && b.EndTime.Before(*b.StartTime) {
		return nil, model.Errorf("end_time", "is before start_time")
	}
	if b.IntervalMode != "" && b.IntervalMode != model.FixedRate && b.IntervalMode != model.FixedDelay {
		return nil, model.Errorf("interval_mode", "must be fixed_rate or fixed_delay")
	}
	if b.IntervalMode == model.FixedDelay && b.Kind != model.ScheduleInterval {
		return nil, model.Errorf("interval_mode", "applies to interval schedules (kind 2) only")
	}
	if err := b.Misfire.Validate(); err != nil {
		return nil, model.Prefix("misfire", err)
	}
	if b.EventFilter != nil && b.Kind != model.ScheduleEvent {
		return nil, model.Errorf("event_filter", "applies to event schedules (kind 3) only")
	}
	if _, err := eventfilter.Parse(b.eventFilterJSON()); err != nil {
		return nil, err
	}
	return firstFire(b.model(job, createdAt), now)
}

func (b *ScheduleSpec) eventFilterJSON() json.RawMessage {
	if b.EventFilter == nil {
		return nil
	}
	raw, _ := json.Marshal(b.EventFilter)
	return raw
}

// options returns the stored options of b, keeping hookSecret.
func (b *ScheduleSpec) options(hookSecret string) model.ScheduleOptions {
	return model.ScheduleOptions{IntervalMode: b.IntervalMode, Misfire: b.Misfire, EventFilter: b.eventFilterJSON(), HookSecret: hookSecret}
}

// firstFire validates a schedule's timing and returns its first fire at or
// after now: from its spec, or for a one-at-a-time schedule (daemon, fixed
// delay) now or its start time.
func firstFire(s *model.Schedule, now time.Time) (*time.Time, error) {
	if s.Kind == model.ScheduleEvent {
		// Fired by webhook calls only; the generator never plans it.
		_, err := cron.LoadLocation(s.TimeZone)
		return nil, err
	}
	if s.Kind == model.ScheduleDaemon {
		if _, err := cron.LoadLocation(s.TimeZone); err != nil {
			return nil, err
		}
		return startOrNow(s, now), nil
	}
	spec, err := cron.ForSchedule(s)
	if err != nil {
		return nil, err
	}
	if sched.OneAtATime(s) {
		return startOrNow(s, now), nil
	}
	next, ok := cron.First(spec, now)
	if !ok {
		if s.Kind == model.ScheduleOnce {
			return nil, model.Errorf("start_time", "is in the past")
		}
		return nil, model.Errorf("end_time", "leaves no fire after now")
	}
	n := next.UTC()
	return &n, nil
}

func startOrNow(s *model.Schedule, now time.Time) *time.Time {
	t := now.UTC()
	if s.StartTime != nil && s.StartTime.After(now) {
		t = s.StartTime.UTC()
	}
	return &t
}

func (b *ScheduleSpec) model(job *model.Job, createdAt time.Time) *model.Schedule {
	return &model.Schedule{
		JobID: job.ID, Namespace: job.Namespace, Name: b.Name, Kind: b.Kind, Cron: b.Cron, TimeZone: b.TimeZone,
		Interval: b.Interval, StartTime: utcPtr(b.StartTime), EndTime: utcPtr(b.EndTime), MaxCount: b.MaxCount,
		IntervalMode: b.IntervalMode, Misfire: b.Misfire, Status: b.Status, CreatedAt: createdAt,
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (a *API) scheduleJob(ctx context.Context, jobID string) (*model.Job, error) {
	id, err := uuid.Parse(jobID)
	if err != nil {
		return nil, fieldError("body.job_id", "not a UUID")
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, fieldError("body.job_id", "no job with this id")
	}
	return job, nil
}

// gateSchedule returns a schedule the caller may act on as its route says:
// 404 when it cannot see it, 403 when it may not act.
func (a *API) gateSchedule(ctx context.Context, id uuid.UUID) (*model.Schedule, error) {
	s, err := a.deps.Store.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "schedule "+id.String())
	}
	if err := allow(ctx, s.Namespace); err != nil {
		return nil, err
	}
	return s, nil
}

// insertSchedule checks b as a schedule of job and inserts it with ex. An
// event schedule gets its webhook secret here.
func insertSchedule(ctx context.Context, ex store.Executor, job *model.Job, b *ScheduleSpec, now time.Time) (*model.Schedule, error) {
	next, err := b.check(job, now, now)
	if err != nil {
		return nil, err
	}
	secret := ""
	if b.Kind == model.ScheduleEvent {
		secret = auth.Generate()
	}
	return ex.ScheduleInsert(ctx, &store.ScheduleInsertParams{
		ID: uuid.Must(uuid.NewV7()), Cron: b.Cron, EndTime: utcPtr(b.EndTime), Interval: b.Interval.D(), JobID: job.ID,
		Kind: b.Kind, MaxCount: b.MaxCount, Name: b.Name, Namespace: job.Namespace, NextFireAt: next, Now: &now,
		Options:   b.options(secret),
		StartTime: utcPtr(b.StartTime), Status: b.Status, TimeZone: b.TimeZone,
	})
}

func (a *API) createSchedule(ctx context.Context, in *struct{ Body ScheduleBody }) (*ScheduleCreateOutput, error) {
	job, err := a.scheduleJob(ctx, in.Body.JobID)
	if err != nil {
		return nil, err
	}
	if err := allowCreate(ctx, job.Namespace); err != nil {
		return nil, err
	}
	var s *model.Schedule
	err = a.inTx(ctx, func(ex store.Executor) error {
		s, err = insertSchedule(ctx, ex, job, &in.Body.ScheduleSpec, time.Now())
		if err != nil {
			return err
		}
		noteAudit(ctx, s.Namespace, s.ID.String(), nil, s)
		return nil
	})
	if err != nil {
		return nil, storeError(err, "schedule")
	}
	a.deps.Scheduler.WakeGeneratorFor(s.NextFireAt)
	return &ScheduleCreateOutput{Location: Prefix + "/schedules/" + s.ID.String(), Body: withHook(s)}, nil
}

func (a *API) getSchedule(ctx context.Context, in *IDInput) (*ScheduleOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	s, err := a.deps.Store.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "schedule "+in.ID)
	}
	return &ScheduleOutput{Body: s}, nil
}

// replaceSchedule changes a schedule. Tasks it planned ahead that were not
// yet dispatched are dropped and planning restarts from now, so the change
// takes effect within the dispatch horizon.
func (a *API) replaceSchedule(ctx context.Context, in *struct {
	IDInput
	Body ScheduleBody
}) (*ScheduleOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	old, err := a.gateSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Body.JobID != "" && in.Body.JobID != old.JobID.String() {
		return nil, fieldError("body.job_id", "cannot change; create a schedule for the other job instead")
	}
	job, err := a.scheduleJob(ctx, old.JobID.String())
	if err != nil {
		return nil, err
	}
	if in.Body.Status == 0 {
		in.Body.Status = old.Status
	}
	now := time.Now()
	next, err := in.Body.check(job, old.CreatedAt, now)
	if err != nil {
		return nil, storeError(err, "schedule")
	}
	if in.Body.Kind != old.Kind {
		return nil, fieldError("body.kind", "cannot change; create a new schedule instead")
	}
	b := in.Body
	var s *model.Schedule
	err = a.inTx(ctx, func(ex store.Executor) error {
		if _, err := ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduleID: &id, ScheduledAfter: now}); err != nil {
			return err
		}
		if sched.OneAtATime(old) {
			// A run under way re-arms the schedule when it ends.
			if next, err = parkIfRunning(ctx, ex, id, next); err != nil {
				return err
			}
		}
		s, err = ex.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{
			ID: id, Cron: b.Cron, CronDoUpdate: true, EndTime: utcPtr(b.EndTime), EndTimeDoUpdate: true,
			Interval: b.Interval.D(), IntervalDoUpdate: true, MaxCount: b.MaxCount, MaxCountDoUpdate: true,
			Name: b.Name, NameDoUpdate: true, NextFireAt: next, NextFireAtDoUpdate: true,
			StartTime: utcPtr(b.StartTime), StartTimeDoUpdate: true, Status: b.Status, StatusDoUpdate: true,
			TimeZone: b.TimeZone, TimeZoneDoUpdate: true, SpecChanged: true,
			Options: b.options(old.HookSecret), OptionsDoUpdate: true,
		})
		if err != nil {
			return err
		}
		noteAudit(ctx, s.Namespace, in.ID, old, s)
		return nil
	})
	if err != nil {
		return nil, storeError(err, "schedule "+in.ID)
	}
	a.deps.Scheduler.WakeGeneratorFor(s.NextFireAt)
	return &ScheduleOutput{Body: s}, nil
}

func (a *API) setScheduleStatus(status model.ScheduleStatus) func(context.Context, *IDInput) (*ScheduleOutput, error) {
	return func(ctx context.Context, in *IDInput) (*ScheduleOutput, error) {
		id, err := parseID(in.ID)
		if err != nil {
			return nil, err
		}
		old, err := a.gateSchedule(ctx, id)
		if err != nil {
			return nil, err
		}
		noteAudit(ctx, old.Namespace, in.ID, map[string]any{"status": old.Status}, map[string]any{"status": status})
		now := time.Now()
		var (
			s       *model.Schedule
			cancels []instanceCancel
		)
		err = a.inTx(ctx, func(ex store.Executor) error {
			s, err = ex.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: id, Status: status, StatusDoUpdate: true})
			if err != nil {
				return err
			}
			if status == model.ScheduleEnabled {
				// Restart from now: the time it was disabled is not missed.
				if err := restartSchedule(ctx, ex, s, now); err != nil {
					return err
				}
				s, err = ex.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: id, Namespaces: visible(ctx)})
				return err
			}
			if _, err = ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduleID: &id, ScheduledAfter: now}); err != nil {
				return err
			}
			if s.Kind == model.ScheduleDaemon {
				// A daemon runs while its schedule is enabled.
				cancels, err = cancelScheduleRuns(ctx, ex, id, "daemon schedule disabled", now)
			}
			return err
		})
		if err != nil {
			return nil, storeError(err, "schedule "+in.ID)
		}
		a.sendCancels(cancels)
		a.deps.Scheduler.WakeGenerator()
		return &ScheduleOutput{Body: s}, nil
	}
}

func (a *API) deleteSchedule(ctx context.Context, in *IDInput) (*struct{}, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	old, err := a.gateSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	noteAudit(ctx, old.Namespace, in.ID, old, nil)
	var cancels []instanceCancel
	err = a.inTx(ctx, func(ex store.Executor) error {
		now := time.Now()
		if _, err := ex.TaskDeletePending(ctx, &store.TaskDeletePendingParams{ScheduleID: &id, ScheduledAfter: now}); err != nil {
			return err
		}
		s, err := ex.ScheduleDelete(ctx, &store.ScheduleDeleteParams{ID: id, Namespaces: visible(ctx)})
		if err != nil {
			return err
		}
		if s.Kind == model.ScheduleDaemon {
			cancels, err = cancelScheduleRuns(ctx, ex, id, "daemon schedule deleted", now)
		}
		return err
	})
	if err != nil {
		return nil, storeError(err, "schedule "+in.ID)
	}
	a.sendCancels(cancels)
	return nil, nil
}

func (a *API) runSchedule(ctx context.Context, in *struct {
	IDInput
	Body *RunBody
}) (*TaskCreateOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	s, err := a.gateSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	job, err := a.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: s.JobID, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "job "+s.JobID.String())
	}
	body := in.Body
	if body == nil {
		body = &RunBody{}
	}
	// A manual run is not one of the schedule's fires, so it does not
	// carry the schedule's id: the ledger lists fires only.
	t, err := a.insertRun(ctx, job, s.ID, body, "run now (schedule "+s.ID.String()+")")
	if err != nil {
		return nil, err
	}
	return &TaskCreateOutput{Location: Prefix + "/tasks/" + t.ID.String(), Body: t}, nil
}

func (a *API) querySchedules(ctx context.Context, in *QueryInput) (*QueryOutput[*model.Schedule], error) {
	return runQuery(store.ScheduleResource(), in.Body, func(q *query) ([]*model.Schedule, error) {
		return a.deps.Store.ScheduleList(ctx, &store.ScheduleListParams{Namespaces: visible(ctx), Filter: q.filter, Limit: q.limit, Offset: q.offset, OrderBy: q.order})
	}, func(f store.Filter) (int, error) {
		return a.deps.Store.ScheduleCount(ctx, &store.ScheduleCountParams{Filter: f, Namespaces: visible(ctx)})
	})
}
