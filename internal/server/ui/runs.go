package ui

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// runsData is what the runs page shows.
type runsData struct {
	View                         string
	Tasks                        []*model.Task
	Instances                    []*model.TaskInstance
	Latest                       map[uuid.UUID]*model.TaskInstance
	Jobs                         map[uuid.UUID]string
	Pager                        pager
	Status, Job, Agent, From, To string
	Statuses                     []string
}

var taskStatuses = []string{"pending", "doing", "waiting_retry", "failed", "skipped", "cancelled", "succeeded"}
var instanceStatuses = []string{"dispatched", "acked", "running", "timeout", "failed", "lost", "cancelled", "succeeded"}

func (u *UI) runList(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title = "title.runs"
	q := r.URL.Query()
	d := &runsData{View: q.Get("view"), Status: q.Get("status"), Job: q.Get("job"), Agent: strings.TrimSpace(q.Get("agent")), From: q.Get("from"), To: q.Get("to"),
		Latest: map[uuid.UUID]*model.TaskInstance{}, Jobs: map[uuid.UUID]string{}}
	if d.Agent != "" {
		d.View = "instances"
	}
	if d.View != "instances" {
		d.View = "tasks"
	}
	d.Statuses = taskStatuses
	if d.View == "instances" {
		d.Statuses = instanceStatuses
	}
	var f store.Filter
	res := store.TaskResource()
	if d.View == "instances" {
		res = store.TaskInstanceResource()
	}
	if n, ok := enumValue(res, "status", d.Status); ok {
		f = append(f, store.Cond{Field: "status", Op: store.OpEq, Value: n})
	}
	if id, err := uuid.Parse(d.Job); err == nil {
		f = append(f, store.Cond{Field: "job_id", Op: store.OpEq, Value: id})
	}
	if d.Agent != "" {
		f = append(f, store.Cond{Field: "agent_id", Op: store.OpEq, Value: d.Agent})
	}
	errs := map[string]string{}
	if t := parseLocalTime(d.From, "from", p.Zone, errs); t != nil {
		f = append(f, store.Cond{Field: "created_at", Op: store.OpGte, Value: *t})
	}
	if t := parseLocalTime(d.To, "to", p.Zone, errs); t != nil {
		f = append(f, store.Cond{Field: "created_at", Op: store.OpLt, Value: *t})
	}
	p.Errors = errs
	ctx := r.Context()
	d.Pager = pager{Offset: pageOffset(r), Size: pageSize}
	order := []store.Order{{Field: "created_at", Desc: true}}
	var err error
	if d.View == "instances" {
		d.Instances, err = u.deps.Store.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: f, Namespaces: p.namespaces(), Limit: pageSize + 1, Offset: d.Pager.Offset, OrderBy: order})
		d.Instances = trim(&d.Pager, d.Instances)
	} else {
		d.Tasks, err = u.deps.Store.TaskList(ctx, &store.TaskListParams{Filter: f, Namespaces: p.namespaces(), Limit: pageSize + 1, Offset: d.Pager.Offset, OrderBy: order})
		d.Tasks = trim(&d.Pager, d.Tasks)
		if err == nil {
			err = u.latestInstances(r, d.Tasks, d.Latest)
		}
	}
	if err == nil {
		var ids []uuid.UUID
		for _, t := range d.Tasks {
			ids = append(ids, t.JobID)
		}
		for _, in := range d.Instances {
			ids = append(ids, in.JobID)
		}
		err = u.jobNames(r, ids, d.Jobs)
	}
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Pager.Query = pageQuery("view", d.View, "status", d.Status, "job", d.Job, "agent", d.Agent, "from", d.From, "to", d.To)
	p.Data = d
	u.render(w, r, http.StatusOK, "runs", p)
}

// jobNames fills m with the names of the jobs, in one query.
func (u *UI) jobNames(r *http.Request, ids []uuid.UUID, m map[uuid.UUID]string) error {
	seen := map[uuid.UUID]bool{}
	var vals []any
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			vals = append(vals, id)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	jobs, err := u.deps.Store.JobList(r.Context(), &store.JobListParams{Filter: store.Filter{{Field: "id", Op: store.OpIn, Value: vals}}, Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		m[j.ID] = j.Namespace + "/" + j.Name
	}
	return nil
}

// runBulk retries or cancels the tasks ticked on the runs page.
func (u *UI) runBulk(w http.ResponseWriter, r *http.Request, p *page) {
	_ = r.ParseForm()
	action := r.PostFormValue("action")
	ids := r.PostForm["id"]
	if len(ids) == 0 || (action != "retry" && action != "cancel") {
		flash(w, "error", "flash.bulk_none")
		back(w, r, "/runs")
		return
	}
	if action == "cancel" && !u.confirmed(w, r, p, p.T("confirm.bulk_cancel", len(ids))) {
		return
	}
	ok, failed := 0, 0
	for _, s := range ids {
		id, err := uuid.Parse(s)
		if err != nil {
			failed++
			continue
		}
		t, err := u.deps.Store.TaskGetByID(r.Context(), &store.TaskGetByIDParams{ID: id, Namespaces: p.readable()})
		if err != nil || !p.CanOperate(t.Namespace) {
			failed++
			continue
		}
		if action == "retry" {
			_, err = u.deps.API.RetryTask(r.Context(), t)
		} else {
			_, err = u.deps.API.CancelTask(r.Context(), t.ID.String(), "from the web console by "+p.Ident.Name)
		}
		if err != nil {
			failed++
		} else {
			ok++
		}
	}
	kind := "ok"
	if failed > 0 {
		kind = "error"
	}
	flash(w, kind, "flash.bulk_"+action, itoa(ok), itoa(failed))
	back(w, r, "/runs")
}

// taskData is what the task page shows.
type taskData struct {
	Task      *model.Task
	Job       *model.Job
	Instances []*model.TaskInstance
}

func (u *UI) taskDetail(w http.ResponseWriter, r *http.Request, p *page) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		u.fail(w, r, p, errNotFound)
		return
	}
	ctx := r.Context()
	t, err := u.deps.Store.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: id, Namespaces: p.readable()})
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d := &taskData{Task: t}
	d.Job, _ = u.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: t.JobID})
	d.Instances, err = u.deps.Store.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{{Field: "task_id", Op: store.OpEq, Value: t.ID}}, Limit: 100, OrderBy: []store.Order{{Field: "created_at", Desc: true}}})
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	p.Title, p.Data = "title.task", d
	u.render(w, r, http.StatusOK, "task", p)
}

func (u *UI) taskCancel(w http.ResponseWriter, r *http.Request, p *page) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		u.fail(w, r, p, errNotFound)
		return
	}
	t, err := u.deps.Store.TaskGetByID(r.Context(), &store.TaskGetByIDParams{ID: id, Namespaces: p.readable()})
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	if !p.CanOperate(t.Namespace) {
		flash(w, "error", "flash.forbidden")
		back(w, r, "/tasks/"+t.ID.String())
		return
	}
	if !u.confirmed(w, r, p, p.T("confirm.cancel_task")) {
		return
	}
	if _, err := u.deps.API.CancelTask(r.Context(), t.ID.String(), "from the web console by "+p.Ident.Name); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.task_cancelled")
	}
	back(w, r, "/tasks/"+t.ID.String())
}

// instanceData is what the instance page shows.
type instanceData struct {
	In    *model.TaskInstance
	Task  *model.Task
	Job   *model.Job
	Steps []step
	Live  bool
	Log   *model.TaskLog
}

// step is one point of an instance's timeline.
type step struct {
	Key  string
	At   *time.Time
	Gap  string
	Done bool
}

func (u *UI) getInstance(r *http.Request, p *page) (*model.TaskInstance, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, errNotFound
	}
	in, err := u.deps.Store.TaskInstanceGetByID(r.Context(), &store.TaskInstanceGetByIDParams{ID: id})
	if err != nil {
		return nil, err
	}
	if !p.Ident.Can(in.Namespace, RoleViewer) {
		return nil, errNotFound
	}
	return in, nil
}

func (u *UI) instanceDetail(w http.ResponseWriter, r *http.Request, p *page) {
	in, err := u.getInstance(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	ctx := r.Context()
	d := &instanceData{In: in}
	d.Task, _ = u.deps.Store.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: in.TaskID})
	d.Job, _ = u.deps.Store.JobGetByID(ctx, &store.JobGetByIDParams{ID: in.JobID})
	d.Log, _ = u.deps.Store.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: in.ID})
	planned := in.PlannedAt
	pts := []struct {
		key string
		at  *time.Time
	}{{"step.planned", &planned}, {"step.dispatched", in.DispatchedAt}, {"step.acked", in.AckedAt}, {"step.started", in.StartedAt}, {"step.finished", in.FinishedAt}}
	var prev *time.Time
	for _, s := range pts {
		st := step{Key: s.key, At: s.at, Done: s.at != nil}
		if s.at != nil && prev != nil {
			// Agent and server clocks differ a little, so a step may
			// seem to come before the one it follows.
			gap := s.at.Sub(*prev)
			st.Gap = Printer{Lang: p.Lang}.Dur(gap)
			if gap >= 0 {
				st.Gap = "+" + st.Gap
			}
		}
		if s.at != nil {
			prev = s.at
		}
		d.Steps = append(d.Steps, st)
	}
	d.Live = in.FinishedAt == nil
	p.Title, p.Data = "title.instance", d
	u.render(w, r, http.StatusOK, "instance", p)
}

// instanceLog serves an instance's output (a download, or the live
// follow) through the API's own handlers, as the signed-in principal: the
// API checks again that it may read the run.
func (u *UI) instanceLog(w http.ResponseWriter, r *http.Request, p *page) {
	in, err := u.getInstance(r, p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/api/v1/task-instances/" + in.ID.String() + strings.TrimPrefix(r.URL.Path, "/instances/"+r.PathValue("id"))
	r2.URL.RawPath = ""
	if r.URL.Query().Get("download") == "1" {
		stream := r.URL.Query().Get("stream")
		if stream != "stderr" {
			stream = "stdout"
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+in.ID.String()+"."+stream+`.log"`)
	}
	u.deps.API.ServeAs(w, r2)
}

func itoa(n int) string {
	return strconv.Itoa(n)
}

// enumValue maps a status name to its number for a filter on res.
func enumValue(res *store.Resource, field, name string) (int64, bool) {
	if name == "" {
		return 0, false
	}
	for _, f := range res.Fields {
		if f.Name == field {
			n, ok := f.Enum[name]
			return n, ok
		}
	}
	return 0, false
}
