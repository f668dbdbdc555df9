package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// client talks to one server's HTTP API with the admin token. It is safe
// for concurrent use.
type client struct {
	base  string
	token string
	hc    *http.Client
}

func newClient(base, token string) *client {
	tr := &http.Transport{
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// close drops idle connections.
func (c *client) close() { c.hc.CloseIdleConnections() }

// apiError is a non-2xx answer.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// do sends in as JSON (unless nil) and decodes a 2xx answer into out
// (unless nil).
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s body: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &apiError{Method: method, Path: path, Status: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// waitHealthy polls GET /api/v1/health every 2 ms until it answers 200.
func (c *client) waitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/health", nil)
		if err != nil {
			return err
		}
		resp, err := c.hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health answered %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// jobBody is the body of POST /api/v1/jobs.
type jobBody struct {
	Name      string          `json:"name"`
	Config    model.JobConfig `json:"config"`
	Schedules []*scheduleBody `json:"schedules,omitempty"`
}

// createJob creates a job, with schedules created in the same request
// (their job_id left empty), and returns its id.
func (c *client) createJob(ctx context.Context, name string, cfg model.JobConfig, schedules ...*scheduleBody) (uuid.UUID, error) {
	var j model.Job
	if err := c.do(ctx, http.MethodPost, "/api/v1/jobs", &jobBody{Name: name, Config: cfg, Schedules: schedules}, &j); err != nil {
		return uuid.Nil, err
	}
	return j.ID, nil
}

// scheduleBody is the body of POST /api/v1/schedules.
type scheduleBody struct {
	JobID     uuid.UUID  `json:"job_id,omitzero"`
	Kind      int        `json:"kind"`
	Cron      string     `json:"cron,omitempty"`
	TimeZone  string     `json:"time_zone,omitempty"`
	Interval  string     `json:"interval,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	EndTime   *time.Time `json:"end_time,omitempty"`
}

// Schedule kinds, as the API numbers them.
const (
	kindCron     = 1
	kindInterval = 2
)

// createSchedule creates a schedule and returns its id.
func (c *client) createSchedule(ctx context.Context, s *scheduleBody) (uuid.UUID, error) {
	var out model.Schedule
	if err := c.do(ctx, http.MethodPost, "/api/v1/schedules", s, &out); err != nil {
		return uuid.Nil, err
	}
	return out.ID, nil
}

// runJob asks for a run now and returns the new task's id.
func (c *client) runJob(ctx context.Context, jobID uuid.UUID) (uuid.UUID, error) {
	var t model.Task
	if err := c.do(ctx, http.MethodPost, "/api/v1/jobs/"+jobID.String()+"/run", struct{}{}, &t); err != nil {
		return uuid.Nil, err
	}
	return t.ID, nil
}

// getTask reads one task.
func (c *client) getTask(ctx context.Context, id uuid.UUID) (*model.Task, error) {
	var t model.Task
	if err := c.do(ctx, http.MethodGet, "/api/v1/tasks/"+id.String(), nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// instanceLog reads an instance's stdout.
func (c *client) instanceLog(ctx context.Context, id uuid.UUID) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/task-instances/"+id.String()+"/log?stream=stdout", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("get log of %s: %w", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read log of %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &apiError{Method: http.MethodGet, Path: "log of " + id.String(), Status: resp.StatusCode, Body: string(b)}
	}
	return string(b), nil
}

// filter is a query filter in the API's shape: field → {"$op": value}.
type filter map[string]any

// queryPage is a query body.
type queryPage struct {
	Filter filter `json:"filter,omitempty"`
	Page   struct {
		Page     int      `json:"page,omitempty"`
		Limit    int      `json:"limit,omitempty"`
		OrderBys []string `json:"order_bys,omitempty"`
	} `json:"page"`
}

// queryResult is a query answer with raw rows.
type queryResult[T any] struct {
	Page struct {
		Total   int  `json:"total"`
		HasMore bool `json:"has_more"`
	} `json:"page"`
	Result []T `json:"result"`
}

// count returns how many rows of resource match f.
func (c *client) count(ctx context.Context, resource string, f filter) (int, error) {
	q := queryPage{Filter: f}
	q.Page.Limit = 1
	var res queryResult[json.RawMessage]
	if err := c.do(ctx, http.MethodPost, "/api/v1/"+resource+"/query", &q, &res); err != nil {
		return 0, err
	}
	return res.Page.Total, nil
}

// queryAll returns every row of resource matching f, paging by id (ids are
// UUIDv7, so this is creation order) 1000 rows at a time.
func queryAll[T any](ctx context.Context, c *client, resource string, f filter, idOf func(T) uuid.UUID) ([]T, error) {
	var all []T
	var after uuid.UUID
	for {
		q := queryPage{Filter: filter{}}
		for k, v := range f {
			q.Filter[k] = v
		}
		if after != uuid.Nil {
			q.Filter["id"] = map[string]any{"$gt": after}
		}
		q.Page.Limit = 1000
		q.Page.OrderBys = []string{"id"}
		var res queryResult[T]
		if err := c.do(ctx, http.MethodPost, "/api/v1/"+resource+"/query", &q, &res); err != nil {
			return nil, err
		}
		all = append(all, res.Result...)
		if len(res.Result) < q.Page.Limit {
			return all, nil
		}
		after = idOf(res.Result[len(res.Result)-1])
	}
}

// instancesPlanned returns the task instances planned in [from, to).
func (c *client) instancesPlanned(ctx context.Context, from, to time.Time) ([]*model.TaskInstance, error) {
	return queryAll(ctx, c, "task-instances", filter{"planned_at": map[string]any{"$gte": from, "$lt": to}},
		func(in *model.TaskInstance) uuid.UUID { return in.ID })
}

// instancesOf returns the task instances of tasks, asking for a few hundred
// tasks at a time. Judging a throughput step reads them while the next step
// runs, so it asks for exactly these: a window of planned_at wide enough to
// catch retries read several times as many instances, and the server's work
// answering weighed on the step being measured.
func (c *client) instancesOf(ctx context.Context, tasks []*model.Task) ([]*model.TaskInstance, error) {
	const perQuery = 500
	var all []*model.TaskInstance
	for chunk := range slices.Chunk(tasks, perQuery) {
		ids := make([]uuid.UUID, len(chunk))
		for i, t := range chunk {
			ids[i] = t.ID
		}
		insts, err := queryAll(ctx, c, "task-instances", filter{"task_id": map[string]any{"$in": ids}},
			func(in *model.TaskInstance) uuid.UUID { return in.ID })
		if err != nil {
			return nil, err
		}
		all = append(all, insts...)
	}
	return all, nil
}

// tasksScheduled returns the tasks scheduled in [from, to).
func (c *client) tasksScheduled(ctx context.Context, from, to time.Time) ([]*model.Task, error) {
	return queryAll(ctx, c, "tasks", filter{"scheduled_at": map[string]any{"$gte": from, "$lt": to}},
		func(t *model.Task) uuid.UUID { return t.ID })
}
