package model

import (
	"time"

	"github.com/google/uuid"
)

// Task is one planned run of a job: a fire of a schedule, or a manual run.
// Each attempt at running it is a [TaskInstance].
type Task struct {
	ID         uuid.UUID  `json:"id"`
	JobID      uuid.UUID  `json:"job_id"`
	ScheduleID *uuid.UUID `json:"schedule_id"`
	Namespace  string     `json:"namespace"`
	// ScheduledAt is the planned fire instant; with ScheduleID it is unique.
	ScheduledAt time.Time `json:"scheduled_at"`
	// RunAt is when the next attempt may start: ScheduledAt for the first,
	// later for retries.
	RunAt      time.Time         `json:"run_at"`
	Priority   int               `json:"priority"`
	Parameters map[string]string `json:"parameters"`
	// Config is the job's config when the task was planned.
	Config JobConfig `json:"config"`
	// Attempt is the number of the current or last attempt (0 before the
	// first dispatch).
	Attempt int        `json:"attempt"`
	Status  TaskStatus `json:"status"`
	Reason  string     `json:"reason,omitempty"`
	// Event is the body of the webhook call that started the task, handed
	// to the run as a file (HETUFLOW_EVENT_FILE).
	Event []byte `json:"-"`
	// FlowRunID and FlowNode place the task in a flow run.
	FlowRunID  *uuid.UUID `json:"flow_run_id,omitempty"`
	FlowNode   string     `json:"flow_node,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// TaskInstance is one attempt at a task on one agent.
type TaskInstance struct {
	ID        uuid.UUID      `json:"id"`
	TaskID    uuid.UUID      `json:"task_id"`
	JobID     uuid.UUID      `json:"job_id"`
	Namespace string         `json:"namespace"`
	Attempt   int            `json:"attempt"`
	AgentID   string         `json:"agent_id"`
	ServerID  string         `json:"server_id"`
	Status    InstanceStatus `json:"status"`
	// PlannedAt is the instant the agent was told to start it.
	PlannedAt time.Time `json:"planned_at"`
	// LeaseExpiresAt is when a dispatched but not yet running instance is
	// given up and the task dispatched again.
	LeaseExpiresAt *time.Time `json:"lease_expires_at"`
	DispatchedAt   *time.Time `json:"dispatched_at"`
	AckedAt        *time.Time `json:"acked_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	ExitCode       *int       `json:"exit_code"`
	// Reason is a stable code for why the run ended as it did ("oom",
	// "timeout", "cancelled", "lost", "start_failed", "exit_code",
	// "http_status", "refused" (the agent's guard), …); Error is the
	// sentence for people.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Placement says which routing strategy chose the agent, and why.
	Placement string `json:"placement,omitempty"`
	// ShardIndex and ShardTotal place a broadcast run among its siblings
	// (ShardTotal is zero for a run that is not broadcast).
	ShardIndex int `json:"shard_index,omitempty"`
	ShardTotal int `json:"shard_total,omitempty"`
	// OutputTail is the last lines of the run's output, for lists.
	OutputTail string         `json:"output_tail,omitempty"`
	Usage      *ResourceUsage `json:"usage"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// ResourceUsage is what a finished run consumed.
type ResourceUsage struct {
	UserCPUMillis   int64 `json:"user_cpu_ms"`
	SystemCPUMillis int64 `json:"system_cpu_ms"`
	// PeakMemoryBytes is the run's peak memory: its cgroup's peak for a run
	// with a memory limit on an agent with cgroups, else the largest resident
	// set of its processes.
	PeakMemoryBytes int64 `json:"peak_memory_bytes"`
	StdoutBytes     int64 `json:"stdout_bytes"`
	StderrBytes     int64 `json:"stderr_bytes"`
	DroppedBytes    int64 `json:"dropped_bytes"`
}

// LogStream names one output stream of a run.
type LogStream string

// Log streams.
const (
	Stdout LogStream = "stdout"
	Stderr LogStream = "stderr"
)

// TaskLog is the metadata of a run's stored output. The bytes live in files
// on a SQLite server and in [TaskLogChunk] rows on PostgreSQL.
type TaskLog struct {
	InstanceID  uuid.UUID `json:"instance_id"`
	StdoutBytes int64     `json:"stdout_bytes"`
	StderrBytes int64     `json:"stderr_bytes"`
	UpdatedAt   time.Time `json:"updated_at"`
	// FinishedAt is when the log was marked complete: the run is over and
	// its output stored, so the streams will not grow. Nil while it may.
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// TaskLogChunk is a piece of one stream of a run's output, stored at its
// byte offset in the stream. Chunks may overlap (an agent resent output
// split differently); the bytes at an offset are the same in each.
type TaskLogChunk struct {
	InstanceID uuid.UUID `json:"instance_id"`
	Stream     LogStream `json:"stream"`
	Offset     int64     `json:"offset"`
	Data       []byte    `json:"data"`
}
