package protocol

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Hello is the agent's first message on a connection.
type Hello struct {
	AgentID         string            `json:"agent_id"`
	Name            string            `json:"name"`
	Version         string            `json:"version"`          // hetuflow version
	ProtocolVersion string            `json:"protocol_version"` // e.g. "1.0"
	Labels          map[string]string `json:"labels"`
	Capacity        int               `json:"capacity"`
	// Held lists instances the agent holds but has not started.
	Held []uuid.UUID `json:"held"`
	// Running lists instances whose process runs now.
	Running []uuid.UUID `json:"running"`
	// RunID names this run of the agent's sequence counter: it changes when
	// the agent restarts without its outbox, and then the server forgets the
	// sequences it applied for the agent.
	RunID string `json:"run_id"`
	// OutboxSeq is the highest sequence the agent has assigned so far.
	OutboxSeq uint64 `json:"outbox_seq"`
	// ServerSeq is the highest server sequence the agent has applied from
	// the server run named by ServerRunID.
	ServerSeq   uint64 `json:"server_seq"`
	ServerRunID string `json:"server_run_id,omitempty"`
	// Draining is set when the agent takes no new work.
	Draining bool `json:"draining,omitempty"`
	// Limits says how the agent enforces each resource limit.
	Limits LimitSupport `json:"limits"`
	// Warnings are things an operator should know about the agent, such as
	// a limit it cannot enforce.
	Warnings []string `json:"warnings,omitempty"`
}

// LimitSupport says, per resource, how an agent enforces a job's limit.
type LimitSupport = model.LimitSupport

func (h *Hello) check() error {
	switch {
	case h.AgentID == "":
		return errors.New("agent_id is required")
	case h.RunID == "":
		return errors.New("run_id is required")
	case h.ProtocolVersion == "":
		return errors.New("protocol_version is required")
	case h.Capacity < 0:
		return errors.New("capacity must not be negative")
	}
	return nil
}

// Welcome answers hello.
type Welcome struct {
	ServerID string `json:"server_id"`
	// RunID names this run of the server's sequence counter for the agent. If
	// it differs from the agent's last one, the agent forgets the server
	// sequences it applied.
	RunID string `json:"run_id"`
	// ServerTime lets the agent estimate its clock offset before the first
	// heartbeat round trip.
	ServerTime time.Time `json:"server_time"`
	// HeartbeatInterval is how often the agent should send heartbeats, and
	// HeartbeatTTL how long the server waits for one before it gives the
	// agent up.
	HeartbeatInterval model.Duration `json:"heartbeat_interval"`
	HeartbeatTTL      model.Duration `json:"heartbeat_ttl"`
	// AgentSeq is the highest agent sequence the server has applied; the
	// agent resends everything above it.
	AgentSeq uint64 `json:"agent_seq"`
	// Drop lists held or running instances the agent must give up: they were
	// redispatched or finished while it was away. Running ones are killed.
	Drop []uuid.UUID `json:"drop"`
}

// Heartbeat tells the server the agent is alive, and measures the clock.
type Heartbeat struct {
	Load      float64     `json:"load"`
	FreeSlots int         `json:"free_slots"`
	Running   []uuid.UUID `json:"running"`
	// ClockOffsetMillis is the agent's current estimate of server − agent
	// time, for display.
	ClockOffsetMillis int64 `json:"clock_offset_ms"`
	// Draining is set when the agent takes no new work.
	Draining bool `json:"draining,omitempty"`
}

// Ack acknowledges sequences in head.ack; when it answers a heartbeat it also
// echoes that heartbeat's head.ts, so the agent can measure the round trip.
type Ack struct {
	EchoTS int64 `json:"echo_ts,omitempty"`
}

// Dispatch hands instances to an agent.
type Dispatch struct {
	Instances []*DispatchedInstance `json:"instances"`
}

func (d *Dispatch) check() error {
	if len(d.Instances) == 0 {
		return errors.New("instances is empty")
	}
	for i, in := range d.Instances {
		if in == nil || in.InstanceID == uuid.Nil {
			return fmt.Errorf("instances[%d].instance_id is required", i)
		}
	}
	return nil
}

// DispatchedInstance is one attempt the agent should start at FireAt (server
// clock).
type DispatchedInstance struct {
	InstanceID  uuid.UUID         `json:"instance_id"`
	TaskID      uuid.UUID         `json:"task_id"`
	JobID       uuid.UUID         `json:"job_id"`
	Namespace   string            `json:"namespace"`
	Attempt     int               `json:"attempt"`
	ScheduledAt time.Time         `json:"scheduled_at"`
	FireAt      time.Time         `json:"fire_at"`
	Config      model.JobConfig   `json:"config"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	// Event is the webhook body that started the task; the agent writes it
	// to a file in the run's working directory and names it in
	// HETUFLOW_EVENT_FILE.
	Event []byte `json:"event,omitempty"`
	// ShardIndex and ShardTotal place a broadcast run among its siblings;
	// the run sees them as HETUFLOW_SHARD_INDEX and HETUFLOW_SHARD_TOTAL.
	// ShardTotal is zero for a run that is not broadcast.
	ShardIndex int `json:"shard_index,omitempty"`
	ShardTotal int `json:"shard_total,omitempty"`
	// Redact lists secret values the run's env holds; the agent replaces
	// each with *** in the run's output before it is stored or streamed.
	Redact []string `json:"redact,omitempty"`
	// SecretError says why the server could not resolve the secrets the
	// job's env refers to; the agent then fails the run without starting
	// it.
	SecretError string `json:"secret_error,omitempty"`
}

// Cancel asks the agent to stop an instance: drop it if held, or signal its
// process group if running.
type Cancel struct {
	InstanceID uuid.UUID `json:"instance_id"`
	Reason     string    `json:"reason"`
}

func (c *Cancel) check() error {
	if c.InstanceID == uuid.Nil {
		return errors.New("instance_id is required")
	}
	return nil
}

// Drain tells the agent to take no new work; Reason says why. Without Exit
// the server is going away: the drain lasts until the agent's next
// connection. With Exit (an operator's drain) it lasts for good: the agent
// lets its runs finish within its shutdown grace, reports, and exits.
type Drain struct {
	Reason string `json:"reason"`
	Exit   bool   `json:"exit,omitempty"`
}

// Refused tells the sender one of its messages was refused.
type Refused struct {
	RefID  string `json:"ref_id"` // head.id of the refused message, if known
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// TaskRunning reports that an instance's process started.
type TaskRunning struct {
	InstanceID uuid.UUID `json:"instance_id"`
	// StartedAt is in server time (the agent applies its clock offset).
	StartedAt time.Time `json:"started_at"`
	PID       int       `json:"pid,omitempty"`
}

func (r *TaskRunning) check() error {
	if r.InstanceID == uuid.Nil {
		return errors.New("instance_id is required")
	}
	return nil
}

// TaskLog carries a chunk of a run's output. Offset is the position of
// Data's first byte in its stream, so a receiver can drop duplicates and see
// gaps.
type TaskLog struct {
	InstanceID uuid.UUID       `json:"instance_id"`
	Stream     model.LogStream `json:"stream"`
	Offset     int64           `json:"offset"`
	Data       []byte          `json:"data"`
}

func (l *TaskLog) check() error {
	switch {
	case l.InstanceID == uuid.Nil:
		return errors.New("instance_id is required")
	case l.Stream != model.Stdout && l.Stream != model.Stderr:
		return fmt.Errorf("stream must be stdout or stderr, not %q", l.Stream)
	case l.Offset < 0:
		return errors.New("offset must not be negative")
	}
	return nil
}

// TaskDone reports how an instance ended.
type TaskDone struct {
	InstanceID uuid.UUID            `json:"instance_id"`
	Status     model.InstanceStatus `json:"status"`
	ExitCode   *int                 `json:"exit_code"`
	// Reason is a stable code (see model.TaskInstance.Reason).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// OutputTail is the last lines of the output (at most 2 KiB).
	OutputTail string `json:"output_tail,omitempty"`
	// StartedAt is zero when the process never started.
	StartedAt  time.Time           `json:"started_at"`
	FinishedAt time.Time           `json:"finished_at"`
	Usage      model.ResourceUsage `json:"usage"`
}

func (d *TaskDone) check() error {
	if d.InstanceID == uuid.Nil {
		return errors.New("instance_id is required")
	}
	if !d.Status.Final() {
		return fmt.Errorf("status %d is not final", d.Status)
	}
	return nil
}
