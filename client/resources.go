package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Health reports whether the server and its database answer. It needs no
// token.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	return &h, c.call(ctx, get("/health"), &h)
}

// CreateJob creates a job.
func (c *Client) CreateJob(ctx context.Context, spec *JobSpec) (*Job, error) {
	var j Job
	return &j, c.call(ctx, post("/jobs", spec), &j)
}

// GetJob returns a job by id.
func (c *Client) GetJob(ctx context.Context, id uuid.UUID) (*Job, error) {
	var j Job
	return &j, c.call(ctx, get("/jobs/"+id.String()), &j)
}

// ReplaceJob replaces a job's name, description, status and config.
func (c *Client) ReplaceJob(ctx context.Context, id uuid.UUID, spec *JobSpec) (*Job, error) {
	var j Job
	return &j, c.call(ctx, put("/jobs/"+id.String(), spec), &j)
}

// DeleteJob deletes a job with its schedules and history.
func (c *Client) DeleteJob(ctx context.Context, id uuid.UUID) error {
	return c.call(ctx, del("/jobs/"+id.String()), nil)
}

// EnableJob enables a job.
func (c *Client) EnableJob(ctx context.Context, id uuid.UUID) (*Job, error) {
	var j Job
	return &j, c.call(ctx, postQuery("/jobs/"+id.String()+"/enable", nil), &j)
}

// DisableJob disables a job.
func (c *Client) DisableJob(ctx context.Context, id uuid.UUID) (*Job, error) {
	var j Job
	return &j, c.call(ctx, postQuery("/jobs/"+id.String()+"/disable", nil), &j)
}

// RunJob runs a job now and returns its task; run may be nil. It is not
// retried.
func (c *Client) RunJob(ctx context.Context, id uuid.UUID, run *RunRequest) (*Task, error) {
	if run == nil {
		run = &RunRequest{}
	}
	var t Task
	return &t, c.call(ctx, post("/jobs/"+id.String()+"/run", run), &t)
}

// QueryJobs returns a page of jobs.
func (c *Client) QueryJobs(ctx context.Context, q *Query) (*QueryResult[*Job], error) {
	return query[*Job](ctx, c, "/jobs/query", q)
}

// FindJob returns the job named name in namespace (default "default"), or
// an error for which [IsNotFound] is true.
func (c *Client) FindJob(ctx context.Context, namespace, name string) (*Job, error) {
	if namespace == "" {
		namespace = "default"
	}
	res, err := c.QueryJobs(ctx, &Query{Filter: map[string]any{"namespace": namespace, "name": name}, Page: Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(res.Result) == 0 {
		return nil, &APIError{Status: 404, Code: "not_found", Detail: "job " + namespace + "/" + name + " not found", Method: "POST", Path: "/jobs/query"}
	}
	return res.Result[0], nil
}

// CreateSchedule creates a schedule; for kind event the answer holds the
// hook URL and secret, shown this once.
func (c *Client) CreateSchedule(ctx context.Context, spec *ScheduleSpec) (*ScheduleWithHook, error) {
	var s ScheduleWithHook
	return &s, c.call(ctx, post("/schedules", spec), &s)
}

// GetSchedule returns a schedule by id.
func (c *Client) GetSchedule(ctx context.Context, id uuid.UUID) (*Schedule, error) {
	var s Schedule
	return &s, c.call(ctx, get("/schedules/"+id.String()), &s)
}

// ReplaceSchedule replaces a schedule.
func (c *Client) ReplaceSchedule(ctx context.Context, id uuid.UUID, spec *ScheduleSpec) (*Schedule, error) {
	var s Schedule
	return &s, c.call(ctx, put("/schedules/"+id.String(), spec), &s)
}

// DeleteSchedule deletes a schedule; its past tasks stay.
func (c *Client) DeleteSchedule(ctx context.Context, id uuid.UUID) error {
	return c.call(ctx, del("/schedules/"+id.String()), nil)
}

// EnableSchedule enables a schedule, planning from now.
func (c *Client) EnableSchedule(ctx context.Context, id uuid.UUID) (*Schedule, error) {
	var s Schedule
	return &s, c.call(ctx, postQuery("/schedules/"+id.String()+"/enable", nil), &s)
}

// DisableSchedule disables a schedule.
func (c *Client) DisableSchedule(ctx context.Context, id uuid.UUID) (*Schedule, error) {
	var s Schedule
	return &s, c.call(ctx, postQuery("/schedules/"+id.String()+"/disable", nil), &s)
}

// RunSchedule runs a schedule's job now. It is not retried.
func (c *Client) RunSchedule(ctx context.Context, id uuid.UUID, run *RunRequest) (*Task, error) {
	if run == nil {
		run = &RunRequest{}
	}
	var t Task
	return &t, c.call(ctx, post("/schedules/"+id.String()+"/run", run), &t)
}

// RotateHookSecret gives an event schedule a new hook secret.
func (c *Client) RotateHookSecret(ctx context.Context, id uuid.UUID) (*ScheduleWithHook, error) {
	var s ScheduleWithHook
	return &s, c.call(ctx, post("/schedules/"+id.String()+"/rotate-secret", nil), &s)
}

// HookResult says whether a webhook call fired its event schedule.
type HookResult struct {
	Fired  bool       `json:"fired"`
	TaskID *uuid.UUID `json:"task_id,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// FireHook fires an event schedule with body, as a webhook sender would:
// authenticated by the schedule's hook secret, not by the client's token.
// It is not retried.
func (c *Client) FireHook(ctx context.Context, id uuid.UUID, secret string, body []byte) (*HookResult, error) {
	r := post("/hooks/"+id.String(), nil)
	r.raw = body
	if r.raw == nil {
		r.raw = []byte("{}")
	}
	r.header = http.Header{"Authorization": {"Bearer " + secret}, "Content-Type": {"application/json"}}
	var out HookResult
	return &out, c.call(ctx, r, &out)
}

// QuerySchedules returns a page of schedules.
func (c *Client) QuerySchedules(ctx context.Context, q *Query) (*QueryResult[*Schedule], error) {
	return query[*Schedule](ctx, c, "/schedules/query", q)
}

// PreviewSchedule lists the next fires of a cron expression or interval
// without saving it.
func (c *Client) PreviewSchedule(ctx context.Context, p *PreviewRequest) (*Preview, error) {
	v := url.Values{}
	setNonEmpty(v, "cron", p.Cron)
	setNonEmpty(v, "tz", p.TimeZone)
	if p.Interval > 0 {
		v.Set("interval", p.Interval.String())
	}
	setTime(v, "start_time", p.StartTime)
	setTime(v, "end_time", p.EndTime)
	if !p.From.IsZero() {
		v.Set("from", p.From.Format(time.RFC3339Nano))
	}
	if p.N > 0 {
		v.Set("n", strconv.Itoa(p.N))
	}
	var out Preview
	return &out, c.call(ctx, get("/schedules/preview?"+v.Encode()), &out)
}

// PreviewStoredSchedule lists a stored schedule's next n fires after from
// (zero: now; n 0: 10).
func (c *Client) PreviewStoredSchedule(ctx context.Context, id uuid.UUID, from time.Time, n int) (*Preview, error) {
	v := url.Values{}
	if !from.IsZero() {
		v.Set("from", from.Format(time.RFC3339Nano))
	}
	if n > 0 {
		v.Set("n", strconv.Itoa(n))
	}
	var out Preview
	return &out, c.call(ctx, get("/schedules/"+id.String()+"/preview?"+v.Encode()), &out)
}

// ScheduleLedger accounts for every fire of a schedule between from and to
// (zero values: the server's defaults), at most limit entries (0: 1000).
func (c *Client) ScheduleLedger(ctx context.Context, id uuid.UUID, from, to time.Time, limit int) (*Ledger, error) {
	v := url.Values{}
	if !from.IsZero() {
		v.Set("from", from.Format(time.RFC3339Nano))
	}
	if !to.IsZero() {
		v.Set("to", to.Format(time.RFC3339Nano))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out Ledger
	return &out, c.call(ctx, get("/schedules/"+id.String()+"/ledger?"+v.Encode()), &out)
}

// CreateFlow creates a flow.
func (c *Client) CreateFlow(ctx context.Context, spec *FlowSpecBody) (*Flow, error) {
	var f Flow
	return &f, c.call(ctx, post("/flows", spec), &f)
}

// GetFlow returns a flow by id.
func (c *Client) GetFlow(ctx context.Context, id uuid.UUID) (*Flow, error) {
	var f Flow
	return &f, c.call(ctx, get("/flows/"+id.String()), &f)
}

// ReplaceFlow replaces a flow.
func (c *Client) ReplaceFlow(ctx context.Context, id uuid.UUID, spec *FlowSpecBody) (*Flow, error) {
	var f Flow
	return &f, c.call(ctx, put("/flows/"+id.String(), spec), &f)
}

// DeleteFlow deletes a flow with its runs.
func (c *Client) DeleteFlow(ctx context.Context, id uuid.UUID) error {
	return c.call(ctx, del("/flows/"+id.String()), nil)
}

// RunFlow starts a run of a flow. It is not retried.
func (c *Client) RunFlow(ctx context.Context, id uuid.UUID, run *RunRequest) (*FlowRunView, error) {
	if run == nil {
		run = &RunRequest{}
	}
	var r FlowRunView
	return &r, c.call(ctx, post("/flows/"+id.String()+"/run", run), &r)
}

// QueryFlows returns a page of flows.
func (c *Client) QueryFlows(ctx context.Context, q *Query) (*QueryResult[*Flow], error) {
	return query[*Flow](ctx, c, "/flows/query", q)
}

// GetFlowRun returns a flow run with each node's task.
func (c *Client) GetFlowRun(ctx context.Context, id uuid.UUID) (*FlowRunView, error) {
	var r FlowRunView
	return &r, c.call(ctx, get("/flow-runs/"+id.String()), &r)
}

// CancelFlowRun cancels a flow run's unfinished nodes.
func (c *Client) CancelFlowRun(ctx context.Context, id uuid.UUID) (*FlowRunView, error) {
	var r FlowRunView
	return &r, c.call(ctx, post("/flow-runs/"+id.String()+"/cancel", nil), &r)
}

// QueryFlowRuns returns a page of flow runs.
func (c *Client) QueryFlowRuns(ctx context.Context, q *Query) (*QueryResult[*FlowRun], error) {
	return query[*FlowRun](ctx, c, "/flow-runs/query", q)
}

// GetTask returns a task by id.
func (c *Client) GetTask(ctx context.Context, id uuid.UUID) (*Task, error) {
	var t Task
	return &t, c.call(ctx, get("/tasks/"+id.String()), &t)
}

// CancelTask cancels a task that has not finished; reason is recorded.
func (c *Client) CancelTask(ctx context.Context, id uuid.UUID, reason string) (*Task, error) {
	var t Task
	return &t, c.call(ctx, post("/tasks/"+id.String()+"/cancel", map[string]string{"reason": reason}), &t)
}

// QueryTasks returns a page of tasks.
func (c *Client) QueryTasks(ctx context.Context, q *Query) (*QueryResult[*Task], error) {
	return query[*Task](ctx, c, "/tasks/query", q)
}

// GetInstance returns a task instance by id.
func (c *Client) GetInstance(ctx context.Context, id uuid.UUID) (*TaskInstance, error) {
	var ti TaskInstance
	return &ti, c.call(ctx, get("/task-instances/"+id.String()), &ti)
}

// QueryInstances returns a page of task instances.
func (c *Client) QueryInstances(ctx context.Context, q *Query) (*QueryResult[*TaskInstance], error) {
	return query[*TaskInstance](ctx, c, "/task-instances/query", q)
}

// GetAgent returns an agent by id.
func (c *Client) GetAgent(ctx context.Context, id string) (*Agent, error) {
	var a Agent
	return &a, c.call(ctx, get("/agents/"+esc(id)), &a)
}

// QueryAgents returns a page of agents.
func (c *Client) QueryAgents(ctx context.Context, q *Query) (*QueryResult[*Agent], error) {
	return query[*Agent](ctx, c, "/agents/query", q)
}

// DrainAgent asks an agent to drain: no new work, runs finish within its
// grace, then it exits. It is not retried.
func (c *Client) DrainAgent(ctx context.Context, id string) (*Agent, error) {
	var a Agent
	return &a, c.call(ctx, post("/agents/"+esc(id)+"/drain", nil), &a)
}

// GetServer returns a server by id.
func (c *Client) GetServer(ctx context.Context, id string) (*Server, error) {
	var s Server
	return &s, c.call(ctx, get("/servers/"+esc(id)), &s)
}

// QueryServers returns a page of servers.
func (c *Client) QueryServers(ctx context.Context, q *Query) (*QueryResult[*Server], error) {
	return query[*Server](ctx, c, "/servers/query", q)
}

// Cluster returns the servers, the leader, agents per server and the queue.
func (c *Client) Cluster(ctx context.Context) (*ClusterStatus, error) {
	var st ClusterStatus
	return &st, c.call(ctx, get("/cluster"), &st)
}

func query[T any](ctx context.Context, c *Client, path string, q *Query) (*QueryResult[T], error) {
	if q == nil {
		q = &Query{}
	}
	var out QueryResult[T]
	return &out, c.call(ctx, postQuery(path, q), &out)
}

func setNonEmpty(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func setTime(v url.Values, k string, t *time.Time) {
	if t != nil {
		v.Set(k, t.Format(time.RFC3339Nano))
	}
}
