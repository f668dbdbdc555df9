package model

import (
	"time"

	"github.com/google/uuid"
)

// Schedule says when a [Job] runs. The generator turns it into tasks ahead of
// time and keeps its cursor (NextFireAt, FiredCount) in the same transaction,
// so a crash neither loses nor repeats a fire.
type Schedule struct {
	ID        uuid.UUID      `json:"id"`
	JobID     uuid.UUID      `json:"job_id"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Kind      ScheduleKind   `json:"kind"`
	Cron      string         `json:"cron,omitempty"`
	TimeZone  string         `json:"time_zone,omitempty"`
	Interval  Duration       `json:"interval,omitempty"`
	StartTime *time.Time     `json:"start_time"`
	EndTime   *time.Time     `json:"end_time"`
	MaxCount  int64          `json:"max_count,omitempty"`
	Status    ScheduleStatus `json:"status"`
	// NextFireAt is the cursor: the first fire not yet turned into a task.
	// Nil means the schedule has no further fire.
	NextFireAt *time.Time `json:"next_fire_at"`
	FiredCount int64      `json:"fired_count"`
	// LastError is why the generator could not plan this schedule, if it
	// could not; it is cleared by the next successful pass.
	LastError string `json:"last_error,omitempty"`
	// Revision changes with every write, so a guarded write can tell that the
	// schedule changed under it.
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}
