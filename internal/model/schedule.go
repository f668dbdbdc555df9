package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Schedule says when a [Job] runs. The generator turns it into tasks ahead of
// time and keeps its cursor (NextFireAt, FiredCount) in the same transaction,
// so a crash neither loses nor repeats a fire.
type Schedule struct {
	ID        uuid.UUID    `json:"id"`
	JobID     uuid.UUID    `json:"job_id"`
	Namespace string       `json:"namespace"`
	Name      string       `json:"name"`
	Kind      ScheduleKind `json:"kind"`
	Cron      string       `json:"cron,omitempty"`
	TimeZone  string       `json:"time_zone,omitempty"`
	Interval  Duration     `json:"interval,omitempty"`
	StartTime *time.Time   `json:"start_time"`
	EndTime   *time.Time   `json:"end_time"`
	MaxCount  int64        `json:"max_count,omitempty"`
	// IntervalMode is fixed_rate (the default: fires at start + k·interval)
	// or fixed_delay (the next fire is planned interval after the previous
	// run ends), for kind Interval.
	IntervalMode IntervalMode `json:"interval_mode,omitempty"`
	// Misfire says what happens to fires missed while no server ran.
	Misfire MisfirePolicy `json:"misfire"`
	// EventFilter decides, for kind Event, whether a webhook body fires the
	// schedule (see package eventfilter); empty fires on every call.
	EventFilter json.RawMessage `json:"event_filter,omitempty"`
	// HookSecret authenticates webhook calls for kind Event. It is shown
	// once, when created or rotated, and never returned again.
	HookSecret string         `json:"-"`
	Status     ScheduleStatus `json:"status"`
	// NextFireAt is the cursor: the first fire not yet turned into a task.
	// Nil means the schedule has no further fire.
	NextFireAt *time.Time `json:"next_fire_at"`
	FiredCount int64      `json:"fired_count"`
	// LastError is why the generator could not plan this schedule, if it
	// could not; it is cleared by the next successful pass.
	LastError string `json:"last_error,omitempty"`
	// SpecChangedAt is when the schedule's timing last changed or it was
	// enabled again; the ledger accounts for every fire since.
	SpecChangedAt time.Time `json:"spec_changed_at"`
	// Revision changes with every write, so a guarded write can tell that the
	// schedule changed under it.
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// IntervalMode says how an interval schedule counts its period.
type IntervalMode string

// Interval modes.
const (
	FixedRate  IntervalMode = "fixed_rate"
	FixedDelay IntervalMode = "fixed_delay"
)

// Misfire policies.
const (
	MisfireSkip     = "skip"
	MisfireFireOnce = "fire_once"
	MisfireFireAll  = "fire_all"
)

// MisfirePolicy says what happens to fires that were due while no server
// ran. A fire planned more than Threshold late is missed. Missed fires that do
// not run are still recorded, as Skipped tasks with the reason.
type MisfirePolicy struct {
	// Policy is skip (record them all Skipped), fire_once (the default: run
	// the latest, skip the rest) or fire_all (run them all, oldest first, up
	// to Limit; skip the older ones beyond it).
	Policy string `json:"policy,omitempty" enum:"skip,fire_once,fire_all" doc:"skip, fire_once (default) or fire_all."`
	// Threshold is how late a fire may be planned and still run as normal.
	// Zero means 5s.
	Threshold Duration `json:"threshold,omitempty" pattern:"^(0|-?([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$" patternDescription:"a duration such as 30s" doc:"How late a fire may be and still run as normal; default 5s."`
	// Limit bounds fire_all: at most this many missed fires run. Zero means
	// 100.
	Limit int `json:"limit,omitempty" minimum:"0" maximum:"10000" doc:"fire_all: at most this many missed fires run; default 100."`
}

// Defaults of a MisfirePolicy.
const (
	DefaultMisfireThreshold = 5 * time.Second
	DefaultMisfireLimit     = 100
)

// EffectivePolicy returns Policy or its default.
func (m MisfirePolicy) EffectivePolicy() string {
	if m.Policy == "" {
		return MisfireFireOnce
	}
	return m.Policy
}

// EffectiveThreshold returns Threshold or its default.
func (m MisfirePolicy) EffectiveThreshold() time.Duration {
	if m.Threshold <= 0 {
		return DefaultMisfireThreshold
	}
	return m.Threshold.D()
}

// EffectiveLimit returns Limit or its default.
func (m MisfirePolicy) EffectiveLimit() int {
	if m.Limit <= 0 {
		return DefaultMisfireLimit
	}
	return m.Limit
}

// Validate checks the policy; errors name fields relative to it.
func (m MisfirePolicy) Validate() error {
	switch m.Policy {
	case "", MisfireSkip, MisfireFireOnce, MisfireFireAll:
	default:
		return Errorf("policy", "unknown misfire policy %q (use skip, fire_once or fire_all)", m.Policy)
	}
	if m.Threshold < 0 {
		return Errorf("threshold", "must not be negative")
	}
	if m.Limit < 0 || m.Limit > 10_000 {
		return Errorf("limit", "must be between 0 and 10000")
	}
	return nil
}

// ScheduleOptions are the policy settings of a schedule that are stored
// together (as JSON) rather than as columns.
type ScheduleOptions struct {
	IntervalMode IntervalMode    `json:"interval_mode,omitempty"`
	Misfire      MisfirePolicy   `json:"misfire,omitzero"`
	EventFilter  json.RawMessage `json:"event_filter,omitempty"`
	HookSecret   string          `json:"hook_secret,omitempty"`
}

// Options returns s's stored options.
func (s *Schedule) Options() ScheduleOptions {
	return ScheduleOptions{IntervalMode: s.IntervalMode, Misfire: s.Misfire, EventFilter: s.EventFilter, HookSecret: s.HookSecret}
}

// SetOptions copies stored options into s.
func (s *Schedule) SetOptions(o ScheduleOptions) {
	s.IntervalMode, s.Misfire, s.EventFilter, s.HookSecret = o.IntervalMode, o.Misfire, o.EventFilter, o.HookSecret
}
