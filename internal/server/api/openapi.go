package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Problem is the error body of every route: an RFC 9457 problem document
// with a stable, machine-readable code.
type Problem struct {
	*huma.ErrorModel
	// Code names the kind of error; clients branch on it, not on text.
	Code string `json:"code"`
}

// ProblemCodes lists every problem code, by the status that carries it.
var problemCodes = map[int]string{
	http.StatusBadRequest:                   "bad_request",
	http.StatusUnauthorized:                 "unauthorized",
	http.StatusForbidden:                    "forbidden",
	http.StatusNotFound:                     "not_found",
	http.StatusMethodNotAllowed:             "method_not_allowed",
	http.StatusNotAcceptable:                "not_acceptable",
	http.StatusConflict:                     "conflict",
	http.StatusRequestEntityTooLarge:        "body_too_large",
	http.StatusUnsupportedMediaType:         "unsupported_media_type",
	http.StatusRequestedRangeNotSatisfiable: "range_not_satisfiable",
	http.StatusUnprocessableEntity:          "validation_failed",
	http.StatusTooManyRequests:              "too_many_requests",
	http.StatusInternalServerError:          "internal",
	http.StatusServiceUnavailable:           "unavailable",
}

// ProblemCode is the code of a problem with status.
func ProblemCode(status int) string {
	if c, ok := problemCodes[status]; ok {
		return c
	}
	if status >= 500 {
		return "internal"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

// addProblemCode is a huma transformer giving every error body its code.
func addProblemCode(_ huma.Context, _ string, v any) (any, error) {
	if em, ok := v.(*huma.ErrorModel); ok {
		return &Problem{ErrorModel: em, Code: ProblemCode(em.Status)}, nil
	}
	return v, nil
}

// recordingAdapter remembers every route it serves, so a test can check
// that the OpenAPI document lists exactly the routes the mux serves.
type recordingAdapter struct {
	huma.Adapter
	mu     sync.Mutex
	routes []string
}

func (r *recordingAdapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	r.mu.Lock()
	r.routes = append(r.routes, op.Method+" "+op.Path)
	r.mu.Unlock()
	r.Adapter.Handle(op, handler)
}

// ServedRoutes returns "METHOD /path" of every route the API serves, sorted.
func (a *API) ServedRoutes() []string {
	a.adapter.mu.Lock()
	defer a.adapter.mu.Unlock()
	out := append([]string(nil), a.adapter.routes...)
	sort.Strings(out)
	return out
}

// descriptions says what each operation does, beyond its summary.
var descriptions = map[string]string{
	"health":                  "Liveness: answers 200 while the process serves HTTP, with the database check in `database`. Needs no token.",
	"create-job":              "Creates a job in its namespace. The name must be unique there; a clash is a 409. Nothing runs until a schedule or a manual run says so.",
	"get-job":                 "Returns one job by id.",
	"replace-job":             "Replaces a job's name, description, status and config. Planned runs keep the config they were planned with; new runs take the new one.",
	"delete-job":              "Deletes a job with its schedules, tasks, instances and logs. A job with runs in progress is a 409: cancel them or let them finish first.",
	"enable-job":              "Sets the job's status to enabled (100); its schedules plan runs again from now.",
	"disable-job":             "Sets the job's status to disabled (99); its schedules stop planning runs. Runs already planned still run.",
	"run-job":                 "Creates a task that runs now, with the given parameters and priority, and returns it. Not idempotent: each call is one more run.",
	"query-jobs":              "Lists jobs matching a filter, one page at a time, with the total count.",
	"create-schedule":         "Adds a schedule to a job. For an event schedule (kind 3) the answer holds the hook URL and secret, shown this once.",
	"get-schedule":            "Returns one schedule by id, with its cursor (next_fire_at, fired_count).",
	"replace-schedule":        "Replaces a schedule's timing and options; a change of timing plans from now.",
	"delete-schedule":         "Deletes a schedule. Its past tasks stay, with schedule_id kept for the record.",
	"enable-schedule":         "Enables a schedule, planning from now; fires missed while it was disabled are not made up.",
	"disable-schedule":        "Disables a schedule; it plans nothing until enabled again.",
	"run-schedule":            "Creates a task of the schedule's job that runs now, linked to the schedule. Not idempotent.",
	"query-schedules":         "Lists schedules matching a filter, one page at a time, with the total count.",
	"preview-schedule":        "Computes the next fire times of a cron expression or interval with the scheduler's own code, daylight-saving rules included, without saving anything.",
	"preview-stored-schedule": "Computes a stored schedule's next fire times.",
	"schedule-ledger":         "Accounts for every fire of a schedule in a period: each fire's task and status, fires with no task (gaps) and instants with more than one (duplicates).",
	"fire-hook":               "Fires an event schedule. Authenticated by the schedule's own secret (X-Hetuflow-Signature: sha256=<HMAC of the body>, or Authorization: Bearer <secret>), not by an admin token. The body reaches the run as a file.",
	"rotate-hook-secret":      "Gives an event schedule a new hook secret, shown this once; the old one stops working at once.",
	"create-flow":             "Creates a flow: jobs as nodes, and edges saying which node starts which on success, failure or end. Cycles are refused.",
	"get-flow":                "Returns one flow by id.",
	"replace-flow":            "Replaces a flow's name, description, status and spec. Runs in progress keep the spec they started with.",
	"delete-flow":             "Deletes a flow with its runs. A flow with runs in progress is a 409: cancel them first.",
	"run-flow":                "Starts a run of a flow: its root nodes run at once, the others as their edges allow. Not idempotent.",
	"query-flows":             "Lists flows matching a filter, one page at a time.",
	"get-flow-run":            "Returns a flow run with each node and its task, if the node has been decided.",
	"cancel-flow-run":         "Cancels a flow run's unfinished nodes; finished ones keep their result.",
	"query-flow-runs":         "Lists flow runs matching a filter, one page at a time.",
	"get-task":                "Returns one task (a planned or manual run) by id.",
	"cancel-task":             "Cancels a task that has not finished. A waiting task is cancelled at once; a running one is recorded cancelled and its agent stops the process group. A finished task is a 409.",
	"query-tasks":             "Lists tasks matching a filter, one page at a time. Status takes names (\"failed\") or numbers.",
	"get-task-instance":       "Returns one task instance (an attempt on one agent) by id.",
	"get-task-instance-log":   "Returns a task instance's stored output as bytes: all of it, from an offset, the last lines, or a standard byte range (206).",
	"query-task-instances":    "Lists task instances matching a filter, one page at a time.",
	"get-agent":               "Returns one agent by id, with its labels, capacity, load and status.",
	"query-agents":            "Lists agents matching a filter, one page at a time.",
	"drain-agent":             "Asks a connected agent to drain: it takes no new work, lets its runs finish within its grace period, then exits. An agent connected to another server is a 409.",
	"get-server":              "Returns one server by id.",
	"query-servers":           "Lists servers matching a filter, one page at a time.",
	"get-cluster":             "Returns the servers sharing the database, the leader and its epoch, agents per server and status, the queue depth and the oldest waiting task.",
}

// document completes the OpenAPI document once every route is registered:
// descriptions, error responses with the problem shape and code, examples
// for request and response bodies, and a few fixes for strict validators.
func (a *API) document() {
	oapi := a.huma.OpenAPI()
	oapi.Servers = []*huma.Server{{URL: "/", Description: "The server that serves this document."}}
	schemas := oapi.Components.Schemas.Map()
	if em := schemas["ErrorModel"]; em != nil {
		codes := make([]any, 0, len(problemCodes))
		seen := map[string]bool{}
		for _, c := range problemCodes {
			if !seen[c] {
				seen[c] = true
				codes = append(codes, c)
			}
		}
		sort.Slice(codes, func(i, j int) bool { return codes[i].(string) < codes[j].(string) })
		em.Properties["code"] = &huma.Schema{Type: huma.TypeString, Enum: codes, Examples: []any{"validation_failed"},
			Description: "Stable, machine-readable kind of error; one per status: " + codeTable() + "."}
		em.Required = append(em.Required, "code")
	}
	if n := schemas["FlowRunNode"]; n != nil && n.Properties["task"] != nil {
		// A node's task is null until the node is decided; huma cannot
		// mark a $ref nullable, so say it here.
		t := n.Properties["task"]
		n.Properties["task"] = &huma.Schema{Description: t.Description, OneOf: []*huma.Schema{{Ref: t.Ref}, {Type: "null"}}}
	}
	for _, s := range schemas {
		movePatternDescriptions(s, map[*huma.Schema]bool{})
	}
	examples := bodyExamples()
	for k, v := range a.examples {
		examples[k] = plainJSON(k, v)
	}
	// example finds a body's example by its schema's name, or by the
	// operation id when the body is not a named schema (a bare list).
	example := func(op *huma.Operation, s *huma.Schema) any {
		if s.Ref == "" {
			return examples[op.OperationID]
		}
		return examples[refName(s.Ref)]
	}
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Delete} {
			if op == nil {
				continue
			}
			if op.Description == "" {
				op.Description = descriptions[op.OperationID]
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Content {
					if ct == "application/json" && mt.Schema != nil {
						mt.Example = example(op, mt.Schema)
					}
				}
			}
			for key, r := range op.Responses {
				for ct, mt := range r.Content {
					switch {
					case ct == "application/problem+json" && mt.Example == nil:
						status := http.StatusInternalServerError
						if _, err := fmt.Sscanf(key, "%d", &status); err != nil {
							status = http.StatusInternalServerError
						}
						mt.Example = &Problem{ErrorModel: &huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: "internal error: database is closed"}, Code: ProblemCode(status)}
					case ct == "application/json" && mt.Schema != nil:
						mt.Example = example(op, mt.Schema)
					case ct == "text/plain":
						mt.Example = "line 1\nline 2\n"
					case ct == "text/event-stream":
						mt.Example = "event: stdout\nid: 7\ndata: {\"offset\":0,\"data\":\"aGVsbG8K\"}\n\nevent: end\ndata: {\"status\":\"succeeded\",\"exit_code\":0,\"size\":7,\"dropped_bytes\":0}\n\n"
					}
				}
			}
			addErrorResponses(op)
		}
	}
}

func codeTable() string {
	statuses := make([]int, 0, len(problemCodes))
	for s := range problemCodes {
		statuses = append(statuses, s)
	}
	sort.Ints(statuses)
	parts := make([]string, len(statuses))
	for i, s := range statuses {
		parts[i] = fmt.Sprintf("%d `%s`", s, problemCodes[s])
	}
	return strings.Join(parts, ", ")
}

func refName(ref string) string { return strings.TrimPrefix(ref, "#/components/schemas/") }

// movePatternDescriptions turns huma's patternDescription keyword, which
// JSON Schema does not have, into the extension x-pattern-description.
// Validation messages were computed from it at registration.
func movePatternDescriptions(s *huma.Schema, seen map[*huma.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.PatternDescription != "" {
		if s.Extensions == nil {
			s.Extensions = map[string]any{}
		}
		s.Extensions["x-pattern-description"] = s.PatternDescription
		s.PatternDescription = ""
	}
	for _, p := range s.Properties {
		movePatternDescriptions(p, seen)
	}
	movePatternDescriptions(s.Items, seen)
	for _, x := range append(append(append([]*huma.Schema{}, s.OneOf...), s.AnyOf...), s.AllOf...) {
		movePatternDescriptions(x, seen)
	}
	if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
		movePatternDescriptions(ap, seen)
	}
}

// addErrorResponses documents the errors an operation can answer, each
// with the problem shape and an example.
func addErrorResponses(op *huma.Operation) {
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	add := func(status int, detail string, errs ...*huma.ErrorDetail) {
		key := fmt.Sprint(status)
		if _, ok := op.Responses[key]; ok {
			return
		}
		ex := &Problem{ErrorModel: &huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}, Code: ProblemCode(status)}
		op.Responses[key] = &huma.Response{
			Description: http.StatusText(status),
			Content: map[string]*huma.MediaType{"application/problem+json": {
				Schema:  &huma.Schema{Ref: "#/components/schemas/ErrorModel"},
				Example: ex,
			}},
		}
	}
	public := op.Security != nil && len(op.Security) == 0
	if !public {
		add(http.StatusUnauthorized, "authorization required: send Authorization: Bearer <admin token>")
	}
	if public && op.RequestBody == nil && len(op.Parameters) == 0 {
		// Content negotiation is the one way such a route can refuse.
		add(http.StatusNotAcceptable, "no acceptable content type: ask for application/json")
	}
	if op.OperationID == "fire-hook" {
		add(http.StatusUnauthorized, "bad or missing hook signature")
	}
	if strings.Contains(op.Path, "{id}") {
		add(http.StatusNotFound, "job 01a21d48-4789-79bc-908c-3353e7e04c2a not found")
	}
	if op.RequestBody != nil || len(op.Parameters) > 0 {
		add(http.StatusUnprocessableEntity, "validation failed", &huma.ErrorDetail{Location: "body.config.timeout", Message: "must be a duration such as 30s", Value: "soon"})
	}
	if op.RequestBody != nil {
		add(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
	}
	if strings.Contains(op.Path, "{namespace}") {
		add(http.StatusNotFound, "secret DB_PASSWORD not found")
	}
	switch op.OperationID {
	case "create-job", "replace-job", "create-flow", "replace-flow", "cancel-task", "drain-agent", "run-flow", "delete-job", "delete-flow":
		add(http.StatusConflict, "job conflicts with an existing one")
	case "put-secret":
		add(http.StatusConflict, "secrets: this server has no secrets key; set [server] secrets_key or secrets_key_file")
	case "login":
		add(http.StatusUnauthorized, "wrong user name or password")
		add(http.StatusTooManyRequests, "too many sign-in attempts; retry in 30 s")
	case "enroll-agent":
		add(http.StatusUnauthorized, "enrolment token is invalid, expired, revoked or already used")
		add(http.StatusTooManyRequests, "too many enrolment attempts; wait and try again")
	case "test-alert-rule":
		add(http.StatusServiceUnavailable, "alerts are not configured on this server")
	case "reload-config":
		add(http.StatusServiceUnavailable, "this server was started without a configuration file to reload")
	}
}

// bodyExamples holds an example value per schema name, for request and
// response bodies.
func bodyExamples() map[string]any {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	t1 := t0.Add(30 * time.Second)
	next := t0.Add(24 * time.Hour)
	jobID := uuid.MustParse("01a21d48-4789-79bc-908c-3353e7e04c2a")
	schedID := uuid.MustParse("01a21d48-478c-7a58-9c64-07121501b61b")
	taskID := uuid.MustParse("01a21d48-47e8-7df7-b1e5-245440ca0170")
	insID := uuid.MustParse("01a21d48-47f0-7a11-8c2e-2f4a7d3c9b10")
	flowID := uuid.MustParse("01a21d48-4801-7c55-9d01-6b2f0a1e3c44")
	runID := uuid.MustParse("01a21d48-4810-7e66-8f12-7c3a1b2d4e55")
	code := 0
	cfg := model.JobConfig{Command: "pg_dump", Args: []string{"--format=custom", "app"}, Timeout: model.Duration(30 * time.Minute),
		Retry: model.RetryPolicy{MaxAttempts: 3, Backoff: "exponential", Delay: model.Duration(10 * time.Second)}, Labels: map[string]string{"role": "db"}}
	job := &model.Job{ID: jobID, Namespace: "default", Name: "nightly-backup", Description: "Back up the app database", Status: model.JobEnabled,
		Config: cfg, CreatedAt: t0, CreatedBy: "admin", UpdatedAt: t0, UpdatedBy: "admin"}
	sched := &model.Schedule{ID: schedID, JobID: jobID, Namespace: "default", Name: "nightly", Kind: model.ScheduleCron, Cron: "0 0 2 * * *",
		TimeZone: "Europe/London", Misfire: model.MisfirePolicy{Policy: "fire_once"}, Status: model.ScheduleEnabled, NextFireAt: &next, FiredCount: 41,
		SpecChangedAt: t0, Revision: 3, CreatedAt: t0, UpdatedAt: t0}
	task := &model.Task{ID: taskID, JobID: jobID, ScheduleID: &schedID, Namespace: "default", ScheduledAt: t0, RunAt: t0, Parameters: map[string]string{},
		Config: cfg, Attempt: 1, Status: model.TaskSucceeded, CreatedAt: t0, UpdatedAt: t1, FinishedAt: &t1}
	ins := &model.TaskInstance{ID: insID, TaskID: taskID, JobID: jobID, Namespace: "default", Attempt: 1, AgentID: "agent-1", ServerID: "server-1",
		Status: model.InstanceSucceeded, PlannedAt: t0, DispatchedAt: &t0, AckedAt: &t0, StartedAt: &t0, FinishedAt: &t1, ExitCode: &code,
		Usage: &model.ResourceUsage{UserCPUMillis: 1200, SystemCPUMillis: 300, PeakMemoryBytes: 52 << 20, StdoutBytes: 2048}, CreatedAt: t0, UpdatedAt: t1}
	agent := &model.Agent{ID: "agent-1", Name: "db-host-1", Labels: map[string]string{"role": "db"}, Capacity: 8, Status: model.AgentOnline,
		ServerID: "server-1", Version: "1.0.0", Load: 0.4, Running: 1, LastHeartbeatAt: t1, ConnectedAt: t0, CreatedAt: t0, UpdatedAt: t1}
	server := &model.Server{ID: "server-1", Address: "10.0.0.5:9500", Status: model.ServerActive, Version: "1.0.0", StartedAt: t0, LastHeartbeatAt: t1, CreatedAt: t0}
	spec := model.FlowSpec{Nodes: []model.FlowNode{{Name: "extract", JobID: jobID}, {Name: "load", JobID: jobID}}, Edges: []model.FlowEdge{{From: "extract", To: "load", On: "success"}}}
	flow := &model.Flow{ID: flowID, Namespace: "default", Name: "etl", Description: "Extract, then load", Status: model.JobEnabled, Spec: spec, CreatedAt: t0, UpdatedAt: t0}
	flowRun := &model.FlowRun{ID: runID, FlowID: flowID, Namespace: "default", Status: model.TaskDoing, Spec: spec, Parameters: map[string]string{}, CreatedAt: t0, UpdatedAt: t1}
	page := PageInfo{Total: 1, HasMore: false}
	ex := map[string]any{
		"JobBody": &JobBody{Name: "nightly-backup", Description: "Back up the app database", Config: cfg,
			Schedules: []ScheduleSpec{{Name: "nightly", Kind: model.ScheduleCron, Cron: "0 0 2 * * *", TimeZone: "Europe/London"}}},
		"JobWithSchedules": &JobWithSchedules{Job: job, Schedules: []*ScheduleWithHook{{Schedule: sched}}},
		"ScheduleBody":     map[string]any{"job_id": jobID, "name": "nightly", "kind": 1, "cron": "0 0 2 * * *", "time_zone": "Europe/London"},
		"FlowBody":         &FlowBody{Name: "etl", Description: "Extract, then load", Spec: spec},
		"RunBody":          &RunBody{Parameters: map[string]string{"date": "2026-03-01"}, Priority: 10},
		"CancelBody":       &CancelBody{Reason: "wrong parameters"},
		"QueryBody":        map[string]any{"filter": map[string]any{"status": map[string]any{"$in": []any{90, 99}}}, "page": map[string]any{"page": 1, "limit": 20, "order_bys": []string{"!created_at"}}},
		"Job":              job,
		"Schedule":         sched,
		"ScheduleWithHook": &ScheduleWithHook{Schedule: sched},
		"Task":             task,
		"TaskInstance":     ins,
		"Agent":            agent,
		"Server":           server,
		"Flow":             flow,
		"FlowRunView":      &FlowRunView{FlowRun: flowRun, Nodes: []FlowRunNode{{Name: "extract", JobID: jobID, Upstream: []string{}, Task: task}, {Name: "load", JobID: jobID, Upstream: []string{"extract"}}}},
		"Health":           &Health{Status: "ok", Version: "1.0.0", ServerID: "server-1", Database: "ok"},
		"HookResult":       &HookResult{Fired: true, TaskID: &taskID},
		"Preview":          &Preview{TimeZone: "Europe/London", Fires: []string{"2026-03-02T02:00:00Z", "2026-03-03T02:00:00Z"}, Description: "at 02:00:00 every day"},
		"Ledger":           &Ledger{ScheduleID: schedID, From: t0, To: next, Entries: []LedgerEntry{{ScheduledAt: t0, TaskID: taskID, Status: model.TaskSucceeded, Attempt: 1}}, Gaps: []time.Time{}, Duplicates: []time.Time{}},
		"ClusterStatus": &ClusterStatus{Leader: &model.Leader{Name: LeaseName, Holder: "server-1", Epoch: 7, ExpiresAt: t1, UpdatedAt: t0}, LeaderLive: true,
			Servers: []*ClusterServer{{Server: *server, Leader: true, Agents: 1}}, AgentsByStatus: map[string]int{"online": 1}, QueueDepth: 0, Time: t1},
		"QueryResultJob":          &QueryResult[*model.Job]{Page: page, Result: []*model.Job{job}},
		"QueryResultSchedule":     &QueryResult[*model.Schedule]{Page: page, Result: []*model.Schedule{sched}},
		"QueryResultTask":         &QueryResult[*model.Task]{Page: page, Result: []*model.Task{task}},
		"QueryResultTaskInstance": &QueryResult[*model.TaskInstance]{Page: page, Result: []*model.TaskInstance{ins}},
		"QueryResultAgent":        &QueryResult[*model.Agent]{Page: page, Result: []*model.Agent{agent}},
		"QueryResultServer":       &QueryResult[*model.Server]{Page: page, Result: []*model.Server{server}},
		"QueryResultFlow":         &QueryResult[*model.Flow]{Page: page, Result: []*model.Flow{flow}},
		"QueryResultFlowRun":      &QueryResult[*model.FlowRun]{Page: page, Result: []*model.FlowRun{flowRun}},
	}
	for k, v := range ex {
		ex[k] = plainJSON(k, v)
	}
	return ex
}

// plainJSON returns v as a plain JSON value, as a document reader sees it.
func plainJSON(name string, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("api: example %s: %v", name, err))
	}
	var plain any
	_ = json.Unmarshal(b, &plain)
	return plain
}

// example registers v as the example of the schema called name (or, for a
// body that is not a named schema, of the operation with that id). Route
// files call it next to their types; document merges them.
func (a *API) example(name string, v any) {
	if a.examples == nil {
		a.examples = map[string]any{}
	}
	a.examples[name] = v
}

// describe gives an operation its description: what it does, who may call
// it, what it never returns, whether it is idempotent.
func describe(op huma.Operation, text string) huma.Operation {
	op.Description = text
	return op
}
