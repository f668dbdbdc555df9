package api

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
)

// PreviewInput describes fire times to preview without a schedule.
type PreviewInput struct {
	Cron      string `query:"cron" doc:"Cron expression (5, 6 or 7 fields, or a macro)." example:"0 30 9 * * MON-FRI"`
	TimeZone  string `query:"tz" doc:"IANA time zone the expression is read in; default UTC." example:"America/New_York"`
	Interval  string `query:"interval" doc:"Instead of cron: a fixed-rate period such as 90s, anchored at start_time."`
	StartTime string `query:"start_time" doc:"RFC 3339; interval anchor and window start."`
	EndTime   string `query:"end_time" doc:"RFC 3339; window end."`
	From      string `query:"from" doc:"RFC 3339; list fires after this instant (default now)."`
	N         int    `query:"n" default:"10" minimum:"1" maximum:"1000" doc:"How many fires."`
}

// Preview is a list of fire times.
type Preview struct {
	TimeZone string `json:"time_zone"`
	// Fires are RFC 3339 instants with the zone's offset.
	Fires []string `json:"fires"`
	// Description reads a cron expression in plain English.
	Description string `json:"description,omitempty"`
}

// PreviewOutput wraps Preview.
type PreviewOutput struct {
	Body Preview
}

func parseTimeParam(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, fieldError("query."+name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return &t, nil
}

// previewSchedule tries a cron or interval without saving it. It builds the
// same model.Schedule the API would store and asks the same code the
// generator uses (cron.ForSchedule, Spec.Next).
func (a *API) previewSchedule(_ context.Context, in *PreviewInput) (*PreviewOutput, error) {
	s := &model.Schedule{Kind: model.ScheduleCron, Cron: in.Cron, TimeZone: in.TimeZone, CreatedAt: time.Now()}
	if in.Interval != "" {
		d, err := time.ParseDuration(in.Interval)
		if err != nil {
			return nil, fieldError("query.interval", "must be a duration such as 90s")
		}
		s.Kind, s.Interval = model.ScheduleInterval, model.Duration(d)
	}
	var err error
	if s.StartTime, err = parseTimeParam("start_time", in.StartTime); err != nil {
		return nil, err
	}
	if s.EndTime, err = parseTimeParam("end_time", in.EndTime); err != nil {
		return nil, err
	}
	return preview(s, in.From, in.N)
}

// SchedulePreviewInput asks for a stored schedule's next fires.
type SchedulePreviewInput struct {
	IDInput
	From string `query:"from" doc:"RFC 3339; list fires after this instant (default now)."`
	N    int    `query:"n" default:"10" minimum:"1" maximum:"1000"`
}

func (a *API) previewStoredSchedule(ctx context.Context, in *SchedulePreviewInput) (*PreviewOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	s, err := a.deps.Store.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "schedule "+in.ID)
	}
	if sched.OneAtATime(s) {
		return nil, fieldError("path.id", "a "+s.Kind.String()+" schedule fires when its previous run ends, so its fires cannot be listed ahead")
	}
	return preview(s, in.From, in.N)
}

func preview(s *model.Schedule, fromParam string, n int) (*PreviewOutput, error) {
	spec, err := cron.ForSchedule(s)
	if err != nil {
		return nil, fieldErrorAt("query", err)
	}
	from := time.Now()
	if t, err := parseTimeParam("from", fromParam); err != nil {
		return nil, err
	} else if t != nil {
		from = *t
	}
	loc, _ := cron.LoadLocation(s.TimeZone)
	out := Preview{TimeZone: loc.String(), Fires: []string{}}
	if s.Kind == model.ScheduleCron {
		out.Description = cron.Describe(s.Cron)
	}
	for _, t := range cron.Preview(spec, from, max(n, 1)) {
		out.Fires = append(out.Fires, t.In(loc).Format(time.RFC3339Nano))
	}
	return &PreviewOutput{Body: out}, nil
}

// fieldErrorAt turns a model.FieldError into a 422 at prefix.field.
func fieldErrorAt(prefix string, err error) error {
	if fe, ok := err.(*model.FieldError); ok {
		return fieldError(prefix+"."+fe.Field, fe.Reason)
	}
	return storeError(err, "schedule")
}

// LedgerInput selects a period of a schedule's ledger.
type LedgerInput struct {
	IDInput
	From  string `query:"from" doc:"RFC 3339; default: when the schedule's timing last changed or it was enabled."`
	To    string `query:"to" doc:"RFC 3339; default now."`
	Limit int    `query:"limit" default:"1000" minimum:"1" maximum:"10000" doc:"Most entries; a longer period is cut short (truncated) and continues from its last entry."`
}

// LedgerEntry is one fire of a schedule and what became of it.
type LedgerEntry struct {
	ScheduledAt time.Time        `json:"scheduled_at"`
	TaskID      uuid.UUID        `json:"task_id"`
	Status      model.TaskStatus `json:"status"`
	Attempt     int              `json:"attempt"`
	Reason      string           `json:"reason,omitempty"`
}

// Ledger accounts for every fire of a schedule in a period: each is a task
// that ran (or will), or a Skipped task with its reason.
type Ledger struct {
	ScheduleID uuid.UUID     `json:"schedule_id"`
	From       time.Time     `json:"from"`
	To         time.Time     `json:"to"`
	Entries    []LedgerEntry `json:"entries"`
	// Gaps are fires the schedule's timing calls for that have no task;
	// hetuflow's promise is that there are none. They are computed for
	// fires up to now, since the timing last changed; not for daemons and
	// fixed-delay schedules, whose fires follow their runs.
	Gaps []time.Time `json:"gaps"`
	// Duplicates are instants with more than one task; never expected.
	Duplicates []time.Time `json:"duplicates"`
	// Truncated says the period held more than the limit; To is then the
	// last entry's time.
	Truncated bool `json:"truncated"`
}

// LedgerOutput wraps Ledger.
type LedgerOutput struct {
	Body Ledger
}

func (a *API) scheduleLedger(ctx context.Context, in *LedgerInput) (*LedgerOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	s, err := a.deps.Store.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: id, Namespaces: visible(ctx)})
	if err != nil {
		return nil, storeError(err, "schedule "+in.ID)
	}
	now := time.Now().UTC()
	from, to := s.SpecChangedAt, now
	if t, err := parseTimeParam("from", in.From); err != nil {
		return nil, err
	} else if t != nil {
		from = t.UTC()
	}
	if t, err := parseTimeParam("to", in.To); err != nil {
		return nil, err
	} else if t != nil {
		to = t.UTC()
	}
	if to.Before(from) {
		return nil, fieldError("query.to", "is before from")
	}
	limit := max(in.Limit, 1)
	tasks, err := a.deps.Store.TaskList(ctx, &store.TaskListParams{
		Filter: store.Filter{
			{Field: "schedule_id", Op: store.OpEq, Value: id},
			{Field: "scheduled_at", Op: store.OpGte, Value: from},
			{Field: "scheduled_at", Op: store.OpLte, Value: to},
		},
		OrderBy: []store.Order{{Field: "scheduled_at"}},
		Limit:   limit + 1,
	})
	if err != nil {
		return nil, storeError(err, "tasks")
	}
	out := Ledger{ScheduleID: id, From: from, To: to, Entries: []LedgerEntry{}, Gaps: []time.Time{}, Duplicates: []time.Time{}}
	if len(tasks) > limit {
		tasks = tasks[:limit]
		out.Truncated = true
		out.To = tasks[len(tasks)-1].ScheduledAt
	}
	for i, t := range tasks {
		if i > 0 && t.ScheduledAt.Equal(tasks[i-1].ScheduledAt) {
			out.Duplicates = append(out.Duplicates, t.ScheduledAt)
		}
		out.Entries = append(out.Entries, LedgerEntry{ScheduledAt: t.ScheduledAt, TaskID: t.ID, Status: t.Status, Attempt: t.Attempt, Reason: t.Reason})
	}
	gaps, err := ledgerGaps(s, tasks, out.From, out.To, now, limit)
	if err != nil {
		return nil, err
	}
	out.Gaps = append(out.Gaps, gaps...)
	return &LedgerOutput{Body: out}, nil
}

// ledgerGaps lists the fires of s between from and to (and not after now,
// nor before its timing last changed) that have no task.
func ledgerGaps(s *model.Schedule, tasks []*model.Task, from, to, now time.Time, limit int) ([]time.Time, error) {
	if sched.OneAtATime(s) || s.Kind == model.ScheduleEvent {
		return nil, nil
	}
	spec, err := cron.ForSchedule(s)
	if err != nil {
		return nil, fmt.Errorf("schedule timing: %w", err)
	}
	from = maxTime(from, s.SpecChangedAt)
	to = minTime(to, now)
	if s.Status == model.ScheduleExpired && len(tasks) > 0 {
		// Fires after it expired (max_count reached) are not due.
		to = minTime(to, tasks[len(tasks)-1].ScheduledAt)
	}
	have := make(map[int64]bool, len(tasks))
	for _, t := range tasks {
		have[t.ScheduledAt.UnixMicro()] = true
	}
	var gaps []time.Time
	fire, ok := cron.First(spec, from)
	for n := 0; ok && !fire.After(to) && n < limit; n++ {
		if !have[fire.UTC().UnixMicro()] {
			gaps = append(gaps, fire.UTC())
		}
		fire, ok = spec.Next(fire)
	}
	return gaps, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
