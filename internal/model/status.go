package model

import "strconv"

// JobStatus is the lifecycle state of a [Job].
type JobStatus int

// Job statuses. Only Enabled jobs produce tasks from their schedules.
const (
	JobCreated  JobStatus = 1
	JobDisabled JobStatus = 99
	JobEnabled  JobStatus = 100
)

// String returns the lower-case name used in logs and filters.
func (s JobStatus) String() string {
	switch s {
	case JobCreated:
		return "created"
	case JobDisabled:
		return "disabled"
	case JobEnabled:
		return "enabled"
	}
	return "job_status(" + strconv.Itoa(int(s)) + ")"
}

// ScheduleKind says how a [Schedule] produces fire times.
type ScheduleKind int

// Schedule kinds, numbered as in the Rust original's server (not its UI).
const (
	ScheduleCron     ScheduleKind = 1
	ScheduleInterval ScheduleKind = 2
	ScheduleEvent    ScheduleKind = 3
	ScheduleFlow     ScheduleKind = 4
	ScheduleDaemon   ScheduleKind = 5
	ScheduleOnce     ScheduleKind = 6
)

// String returns the lower-case name used in logs and filters.
func (k ScheduleKind) String() string {
	switch k {
	case ScheduleCron:
		return "cron"
	case ScheduleInterval:
		return "interval"
	case ScheduleEvent:
		return "event"
	case ScheduleFlow:
		return "flow"
	case ScheduleDaemon:
		return "daemon"
	case ScheduleOnce:
		return "once"
	}
	return "schedule_kind(" + strconv.Itoa(int(k)) + ")"
}

// ScheduleStatus is the lifecycle state of a [Schedule].
type ScheduleStatus int

// Schedule statuses. Expired is set by the generator once the window or the
// count is exhausted.
const (
	ScheduleCreated  ScheduleStatus = 1
	ScheduleExpired  ScheduleStatus = 98
	ScheduleDisabled ScheduleStatus = 99
	ScheduleEnabled  ScheduleStatus = 100
)

// String returns the lower-case name used in logs and filters.
func (s ScheduleStatus) String() string {
	switch s {
	case ScheduleCreated:
		return "created"
	case ScheduleExpired:
		return "expired"
	case ScheduleDisabled:
		return "disabled"
	case ScheduleEnabled:
		return "enabled"
	}
	return "schedule_status(" + strconv.Itoa(int(s)) + ")"
}

// TaskStatus is the state of one planned run.
type TaskStatus int

// Task statuses. Failed and above are final.
const (
	TaskPending      TaskStatus = 1
	TaskDoing        TaskStatus = 10
	TaskWaitingRetry TaskStatus = 20
	TaskFailed       TaskStatus = 90
	TaskSkipped      TaskStatus = 95
	TaskCancelled    TaskStatus = 99
	TaskSucceeded    TaskStatus = 100
)

// Final reports whether no further attempt will be made.
func (s TaskStatus) Final() bool { return s >= TaskFailed }

// String returns the lower-case name used in logs and filters.
func (s TaskStatus) String() string {
	switch s {
	case TaskPending:
		return "pending"
	case TaskDoing:
		return "doing"
	case TaskWaitingRetry:
		return "waiting_retry"
	case TaskFailed:
		return "failed"
	case TaskSkipped:
		return "skipped"
	case TaskCancelled:
		return "cancelled"
	case TaskSucceeded:
		return "succeeded"
	}
	return "task_status(" + strconv.Itoa(int(s)) + ")"
}

// InstanceStatus is the state of one attempt on one agent.
type InstanceStatus int

// Task instance statuses. Timeout and those of 90 and above are final.
const (
	InstancePending    InstanceStatus = 1
	InstanceDispatched InstanceStatus = 5
	InstanceAcked      InstanceStatus = 7
	InstanceRunning    InstanceStatus = 10
	InstanceTimeout    InstanceStatus = 20
	InstanceFailed     InstanceStatus = 90
	InstanceLost       InstanceStatus = 91
	InstanceCancelled  InstanceStatus = 99
	InstanceSucceeded  InstanceStatus = 100
)

// Final reports whether the instance will not change again.
func (s InstanceStatus) Final() bool { return s == InstanceTimeout || s >= InstanceFailed }

// Live reports whether the instance is held or run by an agent.
func (s InstanceStatus) Live() bool {
	return s == InstanceDispatched || s == InstanceAcked || s == InstanceRunning
}

// String returns the lower-case name used in logs and filters.
func (s InstanceStatus) String() string {
	switch s {
	case InstancePending:
		return "pending"
	case InstanceDispatched:
		return "dispatched"
	case InstanceAcked:
		return "acked"
	case InstanceRunning:
		return "running"
	case InstanceTimeout:
		return "timeout"
	case InstanceFailed:
		return "failed"
	case InstanceLost:
		return "lost"
	case InstanceCancelled:
		return "cancelled"
	case InstanceSucceeded:
		return "succeeded"
	}
	return "instance_status(" + strconv.Itoa(int(s)) + ")"
}

// AgentStatus is the connection state of an [Agent].
type AgentStatus int

// Agent statuses.
const (
	AgentDraining AgentStatus = 50
	AgentOffline  AgentStatus = 90
	AgentOnline   AgentStatus = 100
)

// String returns the lower-case name used in logs and filters.
func (s AgentStatus) String() string {
	switch s {
	case AgentDraining:
		return "draining"
	case AgentOffline:
		return "offline"
	case AgentOnline:
		return "online"
	}
	return "agent_status(" + strconv.Itoa(int(s)) + ")"
}

// ServerStatus is the liveness of a [Server].
type ServerStatus int

// Server statuses.
const (
	ServerInactive ServerStatus = 99
	ServerActive   ServerStatus = 100
)

// String returns the lower-case name used in logs and filters.
func (s ServerStatus) String() string {
	switch s {
	case ServerInactive:
		return "inactive"
	case ServerActive:
		return "active"
	}
	return "server_status(" + strconv.Itoa(int(s)) + ")"
}
