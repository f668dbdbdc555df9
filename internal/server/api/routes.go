package api

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
)

// regFunc describes an operation and records the permission it needs.
type regFunc func(perm auth.Permission, method, path, id, summary, tag string, status int) huma.Operation

// routes registers every operation. Keep it the one place that lists them
// (or calls the functions that do, each with reg).
func (a *API) routes() {
	h := a.huma
	// reg describes an operation and records the permission it needs;
	// gate checks it before the handler runs.
	var reg regFunc = func(perm auth.Permission, method, path, id, summary, tag string, status int) huma.Operation {
		op := huma.Operation{OperationID: id, Method: method, Path: Prefix + path, Summary: summary, Tags: []string{tag}, MaxBodyBytes: MaxBodyBytes,
			Metadata: map[string]any{"permission": perm}}
		if status != 0 {
			op.DefaultStatus = status
		}
		if perm == auth.PermPublic {
			op.Security = []map[string][]string{}
		}
		a.perms[method+" "+op.Path] = Route{Method: method, Path: op.Path, ID: id, Permission: perm}
		return op
	}

	huma.Register(h, reg(auth.PermPublic, http.MethodGet, "/health", "health", "Liveness and database check", "system", 0), a.health)
	a.registerOps(reg)
	a.registerAlerts(reg)

	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/jobs", "create-job", "Create a job", "jobs", http.StatusCreated), a.createJob)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/jobs/{id}", "get-job", "Get a job", "jobs", 0), a.getJob)
	huma.Register(h, reg(auth.PermEdit, http.MethodPut, "/jobs/{id}", "replace-job", "Replace a job's name, description, status and config", "jobs", 0), a.replaceJob)
	huma.Register(h, reg(auth.PermEdit, http.MethodDelete, "/jobs/{id}", "delete-job", "Delete a job with its schedules and history", "jobs", http.StatusNoContent), a.deleteJob)
	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/jobs/{id}/enable", "enable-job", "Enable a job", "jobs", 0), a.setJobStatus(model.JobEnabled))
	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/jobs/{id}/disable", "disable-job", "Disable a job", "jobs", 0), a.setJobStatus(model.JobDisabled))
	huma.Register(h, reg(auth.PermOperate, http.MethodPost, "/jobs/{id}/run", "run-job", "Run a job now, with parameters", "jobs", http.StatusCreated), a.runJob)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/jobs/query", "query-jobs", "Query jobs", "jobs", 0), a.queryJobs)

	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/schedules", "create-schedule", "Create a schedule", "schedules", http.StatusCreated), a.createSchedule)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/schedules/{id}", "get-schedule", "Get a schedule", "schedules", 0), a.getSchedule)
	huma.Register(h, reg(auth.PermEdit, http.MethodPut, "/schedules/{id}", "replace-schedule", "Replace a schedule", "schedules", 0), a.replaceSchedule)
	huma.Register(h, reg(auth.PermEdit, http.MethodDelete, "/schedules/{id}", "delete-schedule", "Delete a schedule; its past tasks stay", "schedules", http.StatusNoContent), a.deleteSchedule)
	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/schedules/{id}/enable", "enable-schedule", "Enable a schedule, planning from now", "schedules", 0), a.setScheduleStatus(model.ScheduleEnabled))
	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/schedules/{id}/disable", "disable-schedule", "Disable a schedule", "schedules", 0), a.setScheduleStatus(model.ScheduleDisabled))
	huma.Register(h, reg(auth.PermOperate, http.MethodPost, "/schedules/{id}/run", "run-schedule", "Run a schedule's job now, with parameters", "schedules", http.StatusCreated), a.runSchedule)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/schedules/query", "query-schedules", "Query schedules", "schedules", 0), a.querySchedules)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/schedules/preview", "preview-schedule", "List the next fires of a cron or interval without saving it", "schedules", 0), a.previewSchedule)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/schedules/{id}/preview", "preview-stored-schedule", "List a schedule's next fires", "schedules", 0), a.previewStoredSchedule)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/schedules/{id}/ledger", "schedule-ledger", "Account for every fire of a schedule in a period", "schedules", 0), a.scheduleLedger)

	// Hooks are authenticated by each schedule's own secret.
	huma.Register(h, reg(auth.PermPublic, http.MethodPost, "/hooks/{id}", "fire-hook", "Fire an event schedule: the body reaches the run as a file", "schedules", 0), a.fireHook)
	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/schedules/{id}/rotate-secret", "rotate-hook-secret", "Give an event schedule a new hook secret", "schedules", 0), a.rotateHookSecret)

	huma.Register(h, reg(auth.PermEdit, http.MethodPost, "/flows", "create-flow", "Create a flow: a DAG of jobs", "flows", http.StatusCreated), a.createFlow)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/flows/{id}", "get-flow", "Get a flow", "flows", 0), a.getFlow)
	huma.Register(h, reg(auth.PermEdit, http.MethodPut, "/flows/{id}", "replace-flow", "Replace a flow", "flows", 0), a.replaceFlow)
	huma.Register(h, reg(auth.PermEdit, http.MethodDelete, "/flows/{id}", "delete-flow", "Delete a flow with its runs", "flows", http.StatusNoContent), a.deleteFlow)
	huma.Register(h, reg(auth.PermOperate, http.MethodPost, "/flows/{id}/run", "run-flow", "Start a run of a flow", "flows", http.StatusCreated), a.runFlow)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/flows/query", "query-flows", "Query flows", "flows", 0), a.queryFlows)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/flow-runs/{id}", "get-flow-run", "Get a flow run with each node's task", "flows", 0), a.getFlowRun)
	huma.Register(h, reg(auth.PermOperate, http.MethodPost, "/flow-runs/{id}/cancel", "cancel-flow-run", "Cancel a flow run's unfinished nodes", "flows", 0), a.cancelFlowRun)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/flow-runs/query", "query-flow-runs", "Query flow runs", "flows", 0), a.queryFlowRuns)

	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/tasks/{id}", "get-task", "Get a task", "tasks", 0), a.getTask)
	huma.Register(h, reg(auth.PermOperate, http.MethodPost, "/tasks/{id}/cancel", "cancel-task", "Cancel a task that has not finished", "tasks", 0), a.cancelTask)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/tasks/query", "query-tasks", "Query tasks", "tasks", 0), a.queryTasks)

	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/task-instances/{id}", "get-task-instance", "Get a task instance", "task-instances", 0), a.getInstance)
	huma.Register(h, logOperation(reg(auth.PermOperate, http.MethodGet, "/task-instances/{id}/log", "get-task-instance-log", "Read a task instance's output: all, a byte range or the last lines", "task-instances", 0)), a.getInstanceLog)
	huma.Register(h, followOperation(reg(auth.PermOperate, http.MethodGet, "/task-instances/{id}/log/stream", "follow-task-instance-log", "Follow a task instance's output live (Server-Sent Events)", "task-instances", 0)), a.followInstanceLog)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/task-instances/query", "query-task-instances", "Query task instances", "task-instances", 0), a.queryInstances)

	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/agents/{id}", "get-agent", "Get an agent", "agents", 0), a.getAgent)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/agents/query", "query-agents", "Query agents", "agents", 0), a.queryAgents)
	huma.Register(h, reg(auth.PermAdmin, http.MethodPost, "/agents/{id}/drain", "drain-agent", "Drain an agent: no new work, runs finish within its grace, then it exits", "agents", http.StatusAccepted), a.drainAgent)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/servers/{id}", "get-server", "Get a server", "servers", 0), a.getServer)
	huma.Register(h, reg(auth.PermRead, http.MethodPost, "/servers/query", "query-servers", "Query servers", "servers", 0), a.queryServers)
	huma.Register(h, reg(auth.PermRead, http.MethodGet, "/cluster", "get-cluster", "Servers, leader and epoch, agents per server, queue depth and the oldest waiting task", "servers", 0), a.getCluster)

	a.accountRoutes(reg)
	a.agentAuthRoutes(reg)
	a.secretRoutes(reg)
	a.userRoutes(reg)
}
