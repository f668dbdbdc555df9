package client

import (
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// The resources the API returns. They are aliases of hetuflow's own model
// types, so the client and the server can never disagree on a field.
type (
	// Job is what to run: its command or script, environment, limits, retry
	// policy and which agents may run it.
	Job = model.Job
	// JobConfig is the task template of a job.
	JobConfig = model.JobConfig
	// JobStatus is 1 created, 99 disabled, 100 enabled.
	JobStatus = model.JobStatus
	// Schedule says when a job runs.
	Schedule = model.Schedule
	// ScheduleKind is 1 cron, 2 interval, 3 event, 5 daemon, 6 once.
	ScheduleKind = model.ScheduleKind
	// ScheduleStatus is 1 created, 98 expired, 99 disabled, 100 enabled.
	ScheduleStatus = model.ScheduleStatus
	// MisfirePolicy says what happens to fires missed while no server ran.
	MisfirePolicy = model.MisfirePolicy
	// IntervalMode is fixed_rate or fixed_delay.
	IntervalMode = model.IntervalMode
	// Duration is a time.Duration written as a string such as "30s".
	Duration = model.Duration
	// Task is one planned run of a job.
	Task = model.Task
	// TaskStatus is a task's state.
	TaskStatus = model.TaskStatus
	// TaskInstance is one attempt of a task on one agent.
	TaskInstance = model.TaskInstance
	// InstanceStatus is a task instance's state.
	InstanceStatus = model.InstanceStatus
	// Agent is a process that runs tasks.
	Agent = model.Agent
	// AgentStatus is online, draining or offline.
	AgentStatus = model.AgentStatus
	// Server is a hetuflow server sharing the database.
	Server = model.Server
	// Leader is the scheduler's leader lease.
	Leader = model.Leader
	// Flow is a DAG of jobs.
	Flow = model.Flow
	// FlowSpec is a flow's nodes and edges.
	FlowSpec = model.FlowSpec
	// FlowRun is one run of a flow.
	FlowRun = model.FlowRun
)

// Job, schedule and task statuses, re-exported for callers outside this
// module.
const (
	JobCreated  = model.JobCreated
	JobDisabled = model.JobDisabled
	JobEnabled  = model.JobEnabled

	ScheduleCron     = model.ScheduleCron
	ScheduleInterval = model.ScheduleInterval
	ScheduleEvent    = model.ScheduleEvent
	ScheduleDaemon   = model.ScheduleDaemon
	ScheduleOnce     = model.ScheduleOnce
)

// JobSpec is what a caller writes to create or replace a job.
type JobSpec struct {
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Status      JobStatus `json:"status,omitempty"`
	Config      JobConfig `json:"config"`
}

// ScheduleSpec is what a caller writes to create or replace a schedule.
type ScheduleSpec struct {
	JobID        uuid.UUID      `json:"job_id"`
	Name         string         `json:"name,omitempty"`
	Kind         ScheduleKind   `json:"kind"`
	Cron         string         `json:"cron,omitempty"`
	TimeZone     string         `json:"time_zone,omitempty"`
	Interval     Duration       `json:"interval,omitempty"`
	StartTime    *time.Time     `json:"start_time,omitempty"`
	EndTime      *time.Time     `json:"end_time,omitempty"`
	MaxCount     int64          `json:"max_count,omitempty"`
	IntervalMode IntervalMode   `json:"interval_mode,omitempty"`
	Misfire      MisfirePolicy  `json:"misfire,omitzero"`
	EventFilter  map[string]any `json:"event_filter,omitempty"`
	Status       ScheduleStatus `json:"status,omitempty"`
}

// ScheduleWithHook is a created schedule with, for kind event, its webhook
// address and secret, shown this once.
type ScheduleWithHook struct {
	*Schedule
	HookURL    string `json:"hook_url,omitempty"`
	HookSecret string `json:"hook_secret,omitempty"`
}

// FlowSpecBody is what a caller writes to create or replace a flow.
type FlowSpecBody struct {
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Status      JobStatus `json:"status,omitempty"`
	Spec        FlowSpec  `json:"spec"`
}

// RunRequest asks for a run now.
type RunRequest struct {
	Parameters map[string]string `json:"parameters,omitempty"`
	Priority   int               `json:"priority,omitempty"`
}

// Query selects resources: filter conditions by field, and a page.
type Query struct {
	// Filter holds conditions by field, all of which must hold: a value
	// means equality; an object holds operators ($eq $ne $in $nin $gt $gte
	// $lt $lte $contains $startsWith $null).
	Filter map[string]any `json:"filter,omitempty"`
	Page   Page           `json:"page,omitzero"`
}

// Page says which page and in what order.
type Page struct {
	// Page is the page number, from 1.
	Page int `json:"page,omitempty"`
	// Limit is rows per page, at most 1000; 0 means 20.
	Limit int `json:"limit,omitempty"`
	// OrderBys are fields to sort by; a leading ! sorts descending.
	OrderBys []string `json:"order_bys,omitempty"`
}

// PageInfo describes the page a query returned.
type PageInfo struct {
	Total   int  `json:"total"`
	HasMore bool `json:"has_more"`
}

// QueryResult is one page of a query.
type QueryResult[T any] struct {
	Page   PageInfo `json:"page"`
	Result []T      `json:"result"`
}

// PreviewRequest asks for the next fires of a cron expression or interval
// that is not stored.
type PreviewRequest struct {
	Cron      string
	TimeZone  string
	Interval  time.Duration
	StartTime *time.Time
	EndTime   *time.Time
	// From lists fires after this instant; zero means now.
	From time.Time
	// N is how many fires; 0 means 10.
	N int
}

// Preview is a list of fire times.
type Preview struct {
	TimeZone string `json:"time_zone"`
	// Fires are RFC 3339 instants with the zone's offset.
	Fires       []string `json:"fires"`
	Description string   `json:"description,omitempty"`
}

// LedgerEntry is one fire of a schedule and its task.
type LedgerEntry struct {
	ScheduledAt time.Time  `json:"scheduled_at"`
	TaskID      uuid.UUID  `json:"task_id"`
	Status      TaskStatus `json:"status"`
	Attempt     int        `json:"attempt"`
	Reason      string     `json:"reason,omitempty"`
}

// Ledger accounts for every fire of a schedule in a period.
type Ledger struct {
	ScheduleID uuid.UUID     `json:"schedule_id"`
	From       time.Time     `json:"from"`
	To         time.Time     `json:"to"`
	Entries    []LedgerEntry `json:"entries"`
	Gaps       []time.Time   `json:"gaps"`
	Duplicates []time.Time   `json:"duplicates"`
	Truncated  bool          `json:"truncated"`
}

// FlowRunNode is one node of a flow run and its task, nil until decided.
type FlowRunNode struct {
	Name     string    `json:"name"`
	JobID    uuid.UUID `json:"job_id"`
	Upstream []string  `json:"upstream"`
	Task     *Task     `json:"task"`
}

// FlowRunView is a flow run with its nodes.
type FlowRunView struct {
	*FlowRun
	Nodes []FlowRunNode `json:"nodes"`
}

// ClusterServer is a server with its place in the cluster.
type ClusterServer struct {
	Server
	Leader bool `json:"leader"`
	Agents int  `json:"agents"`
}

// ClusterStatus is the state of the servers sharing the database.
type ClusterStatus struct {
	Leader                  *Leader          `json:"leader"`
	LeaderLive              bool             `json:"leader_live"`
	Servers                 []*ClusterServer `json:"servers"`
	AgentsByStatus          map[string]int   `json:"agents_by_status"`
	QueueDepth              int              `json:"queue_depth"`
	OldestPendingAt         *time.Time       `json:"oldest_pending_at"`
	OldestPendingAgeSeconds float64          `json:"oldest_pending_age_seconds"`
	Time                    time.Time        `json:"time"`
}

// Health is the server's liveness answer.
type Health struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	ServerID string `json:"server_id"`
	Database string `json:"database"`
}
