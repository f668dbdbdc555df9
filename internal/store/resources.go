package store

import "github.com/hetuflow/hetuflow/internal/model"

// The resources below describe what the query API may filter and sort by.
// Each call builds a fresh value, so callers may not change shared state.

func enumOf[T ~int](vals ...T) map[string]int64 {
	m := make(map[string]int64, len(vals))
	for _, v := range vals {
		m[any(v).(interface{ String() string }).String()] = int64(v)
	}
	return m
}

// JobResource describes sched_job for queries.
func JobResource() *Resource {
	return &Resource{
		Name: "jobs", Table: "sched_job",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindUUID},
			{Name: "namespace", Column: "namespace", Kind: KindString},
			{Name: "name", Column: "name", Kind: KindString},
			{Name: "description", Column: "description", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.JobCreated, model.JobDisabled, model.JobEnabled)},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
			{Name: "created_by", Column: "created_by", Kind: KindString},
			{Name: "updated_at", Column: "updated_at", Kind: KindTime},
			{Name: "updated_by", Column: "updated_by", Kind: KindString},
		},
		DefaultOrder: []Order{{Field: "created_at", Desc: true}},
	}
}

// ScheduleResource describes sched_schedule for queries.
func ScheduleResource() *Resource {
	return &Resource{
		Name: "schedules", Table: "sched_schedule",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindUUID},
			{Name: "job_id", Column: "job_id", Kind: KindUUID},
			{Name: "namespace", Column: "namespace", Kind: KindString},
			{Name: "name", Column: "name", Kind: KindString},
			{Name: "kind", Column: "kind", Kind: KindInt, Enum: enumOf(model.ScheduleCron, model.ScheduleInterval, model.ScheduleEvent, model.ScheduleFlow, model.ScheduleDaemon, model.ScheduleOnce)},
			{Name: "cron", Column: "cron", Kind: KindString},
			{Name: "time_zone", Column: "time_zone", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.ScheduleCreated, model.ScheduleExpired, model.ScheduleDisabled, model.ScheduleEnabled)},
			{Name: "start_time", Column: "start_time", Kind: KindTime, Nullable: true},
			{Name: "end_time", Column: "end_time", Kind: KindTime, Nullable: true},
			{Name: "next_fire_at", Column: "next_fire_at", Kind: KindTime, Nullable: true},
			{Name: "fired_count", Column: "fired_count", Kind: KindInt},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
			{Name: "updated_at", Column: "updated_at", Kind: KindTime},
		},
		DefaultOrder: []Order{{Field: "created_at", Desc: true}},
	}
}

// TaskResource describes sched_task for queries.
func TaskResource() *Resource {
	return &Resource{
		Name: "tasks", Table: "sched_task",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindUUID},
			{Name: "job_id", Column: "job_id", Kind: KindUUID},
			{Name: "schedule_id", Column: "schedule_id", Kind: KindUUID, Nullable: true},
			{Name: "namespace", Column: "namespace", Kind: KindString},
			{Name: "scheduled_at", Column: "scheduled_at", Kind: KindTime},
			{Name: "run_at", Column: "run_at", Kind: KindTime},
			{Name: "priority", Column: "priority", Kind: KindInt},
			{Name: "attempt", Column: "attempt", Kind: KindInt},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.TaskPending, model.TaskDoing, model.TaskWaitingRetry, model.TaskFailed, model.TaskSkipped, model.TaskCancelled, model.TaskSucceeded)},
			{Name: "reason", Column: "reason", Kind: KindString},
			{Name: "flow_run_id", Column: "flow_run_id", Kind: KindUUID, Nullable: true},
			{Name: "flow_node", Column: "flow_node", Kind: KindString},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
			{Name: "updated_at", Column: "updated_at", Kind: KindTime},
			{Name: "finished_at", Column: "finished_at", Kind: KindTime, Nullable: true},
		},
		DefaultOrder: []Order{{Field: "scheduled_at", Desc: true}},
	}
}

// TaskInstanceResource describes sched_task_instance for queries.
func TaskInstanceResource() *Resource {
	return &Resource{
		Name: "task-instances", Table: "sched_task_instance",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindUUID},
			{Name: "task_id", Column: "task_id", Kind: KindUUID},
			{Name: "job_id", Column: "job_id", Kind: KindUUID},
			{Name: "namespace", Column: "namespace", Kind: KindString},
			{Name: "attempt", Column: "attempt", Kind: KindInt},
			{Name: "agent_id", Column: "agent_id", Kind: KindString},
			{Name: "server_id", Column: "server_id", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.InstancePending, model.InstanceDispatched, model.InstanceAcked, model.InstanceRunning, model.InstanceTimeout, model.InstanceFailed, model.InstanceLost, model.InstanceCancelled, model.InstanceSucceeded)},
			{Name: "planned_at", Column: "planned_at", Kind: KindTime},
			{Name: "dispatched_at", Column: "dispatched_at", Kind: KindTime, Nullable: true},
			{Name: "started_at", Column: "started_at", Kind: KindTime, Nullable: true},
			{Name: "finished_at", Column: "finished_at", Kind: KindTime, Nullable: true},
			{Name: "exit_code", Column: "exit_code", Kind: KindInt, Nullable: true},
			{Name: "error", Column: "error", Kind: KindString},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
			{Name: "updated_at", Column: "updated_at", Kind: KindTime},
		},
		DefaultOrder: []Order{{Field: "created_at", Desc: true}},
	}
}

// AgentResource describes sched_agent for queries.
func AgentResource() *Resource {
	return &Resource{
		Name: "agents", Table: "sched_agent",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindString},
			{Name: "name", Column: "name", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.AgentDraining, model.AgentOffline, model.AgentOnline)},
			{Name: "server_id", Column: "server_id", Kind: KindString},
			{Name: "version", Column: "version", Kind: KindString},
			{Name: "capacity", Column: "capacity", Kind: KindInt},
			{Name: "running", Column: "running", Kind: KindInt},
			{Name: "load", Column: "load", Kind: KindFloat},
			{Name: "last_heartbeat_at", Column: "last_heartbeat_at", Kind: KindTime},
			{Name: "connected_at", Column: "connected_at", Kind: KindTime},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
		},
		DefaultOrder: []Order{{Field: "id"}},
	}
}

// ServerResource describes sched_server for queries.
func ServerResource() *Resource {
	return &Resource{
		Name: "servers", Table: "sched_server",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindString},
			{Name: "address", Column: "address", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.ServerInactive, model.ServerActive)},
			{Name: "version", Column: "version", Kind: KindString},
			{Name: "started_at", Column: "started_at", Kind: KindTime},
			{Name: "last_heartbeat_at", Column: "last_heartbeat_at", Kind: KindTime},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
		},
		DefaultOrder: []Order{{Field: "id"}},
	}
}

// FlowResource describes sched_flow for queries.
func FlowResource() *Resource {
	return &Resource{
		Name: "flows", Table: "sched_flow",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindUUID},
			{Name: "namespace", Column: "namespace", Kind: KindString},
			{Name: "name", Column: "name", Kind: KindString},
			{Name: "description", Column: "description", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.JobCreated, model.JobDisabled, model.JobEnabled)},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
			{Name: "updated_at", Column: "updated_at", Kind: KindTime},
		},
		DefaultOrder: []Order{{Field: "created_at", Desc: true}},
	}
}

// FlowRunResource describes sched_flow_run for queries.
func FlowRunResource() *Resource {
	return &Resource{
		Name: "flow-runs", Table: "sched_flow_run",
		Fields: []Field{
			{Name: "id", Column: "id", Kind: KindUUID},
			{Name: "flow_id", Column: "flow_id", Kind: KindUUID},
			{Name: "namespace", Column: "namespace", Kind: KindString},
			{Name: "status", Column: "status", Kind: KindInt, Enum: enumOf(model.TaskPending, model.TaskDoing, model.TaskWaitingRetry, model.TaskFailed, model.TaskSkipped, model.TaskCancelled, model.TaskSucceeded)},
			{Name: "created_at", Column: "created_at", Kind: KindTime},
			{Name: "updated_at", Column: "updated_at", Kind: KindTime},
			{Name: "finished_at", Column: "finished_at", Kind: KindTime, Nullable: true},
		},
		DefaultOrder: []Order{{Field: "created_at", Desc: true}},
	}
}
