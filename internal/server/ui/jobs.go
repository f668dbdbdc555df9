package ui

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
)

// pageSize is the rows per list page; lists are paged in the database.
const pageSize = 50

// jobRow is one line of the job list.
type jobRow struct {
	Job      *model.Job
	Last     *model.Task
	NextFire *model.Schedule
}

func pageOffset(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	if n < 0 {
		n = 0
	}
	return n
}

// pager is the paging state of a list. Lists of runs do not count their
// rows (a count of a million rows costs more than the page): Total is then
// -1, and More says whether a next page exists, found by reading one row
// past the page.
type pager struct {
	Offset, Total, Size, Shown int
	More                       bool
	// Query holds the list's filters for the paging links, encoded by
	// pageQuery.
	Query template.URL
}

// pageQuery encodes a list's filters for its paging links; empty values
// are left out.
func pageQuery(kv ...string) template.URL {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	// Encoded here, so the template may put it in a link as it is.
	return template.URL(v.Encode())
}

// Counted reports whether Total is known.
func (p pager) Counted() bool { return p.Total >= 0 }

// trim cuts a page read with one extra row back to the page size and
// records whether there is more.
func trim[T any](p *pager, rows []T) []T {
	p.Total = -1
	if len(rows) > p.Size {
		p.More = true
		rows = rows[:p.Size]
	}
	p.Shown = len(rows)
	return rows
}

// Prev and Next are the neighbouring offsets, or -1.
func (p pager) Prev() int {
	if p.Offset == 0 {
		return -1
	}
	return max(0, p.Offset-p.Size)
}

// Next is the next page's offset, or -1 at the end.
func (p pager) Next() int {
	if (p.Counted() && p.Offset+p.Size >= p.Total) || (!p.Counted() && !p.More) {
		return -1
	}
	return p.Offset + p.Size
}

// Last is the number of the last row shown.
func (p pager) Last() int {
	if !p.Counted() {
		return p.Offset + p.Shown
	}
	return min(p.Total, p.Offset+p.Size)
}

func (u *UI) jobList(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title = "title.jobs"
	q := r.URL.Query()
	var f store.Filter
	if s := strings.TrimSpace(q.Get("q")); s != "" {
		f = append(f, store.Cond{Field: "name", Op: store.OpContains, Value: s})
	}
	switch q.Get("status") {
	case "enabled":
		f = append(f, store.Cond{Field: "status", Op: store.OpEq, Value: int64(model.JobEnabled)})
	case "disabled":
		f = append(f, store.Cond{Field: "status", Op: store.OpNe, Value: int64(model.JobEnabled)})
	}
	ctx := r.Context()
	pg := pager{Offset: pageOffset(r), Size: pageSize}
	jobs, err := u.deps.Store.JobList(ctx, &store.JobListParams{Filter: f, Namespaces: p.namespaces(), Limit: pageSize, Offset: pg.Offset, OrderBy: []store.Order{{Field: "namespace"}, {Field: "name"}}})
	if err == nil {
		pg.Total, err = u.deps.Store.JobCount(ctx, &store.JobCountParams{Filter: f, Namespaces: p.namespaces()})
	}
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	rows := make([]*jobRow, len(jobs))
	ids := make([]any, len(jobs))
	byID := map[uuid.UUID]*jobRow{}
	for i, j := range jobs {
		rows[i] = &jobRow{Job: j}
		ids[i] = j.ID
		byID[j.ID] = rows[i]
	}
	if len(ids) > 0 {
		scheds, err := u.deps.Store.ScheduleList(ctx, &store.ScheduleListParams{Filter: store.Filter{
			{Field: "job_id", Op: store.OpIn, Value: ids}, {Field: "status", Op: store.OpEq, Value: int64(model.ScheduleEnabled)},
		}, Limit: store.MaxPageLimit, OrderBy: []store.Order{{Field: "next_fire_at"}}})
		if err != nil {
			u.fail(w, r, p, err)
			return
		}
		for _, s := range scheds {
			if row := byID[s.JobID]; row != nil && s.NextFireAt != nil && (row.NextFire == nil || s.NextFireAt.Before(*row.NextFire.NextFireAt)) {
				row.NextFire = s
			}
		}
		if err := u.lastRuns(ctx, rows); err != nil {
			u.fail(w, r, p, err)
			return
		}
	}
	pg.Query = pageQuery("q", q.Get("q"), "status", q.Get("status"))
	p.Data = struct {
		Rows   []*jobRow
		Pager  pager
		Q      string
		Status string
	}{rows, pg, q.Get("q"), q.Get("status")}
	u.render(w, r, http.StatusOK, "jobs", p)
}

// fail shows an error page for an unexpected error.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, p *page, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, errNotFound) || errors.Is(err, store.ErrNotFound) {
		status = http.StatusNotFound
		p.Flash = p.T("problem.404")
	} else {
		u.deps.Logger.ErrorContext(r.Context(), "ui page", "path", r.URL.Path, "error", err)
		p.Flash = p.T("problem.500")
	}
	p.Title, p.FlashKind = "title.error", "error"
	u.render(w, r, status, "error", p)
}

// getJob reads a job the identity may see.
func (u *UI) getJob(r *http.Request, p *page) (*model.Job, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, errNotFound
	}
	return u.deps.Store.JobGetByID(r.Context(), &store.JobGetByIDParams{ID: id, Namespaces: p.readable()})
}

// jobFormData is what the job editor template gets.
type jobFormData struct {
	Form                                                                     *jobForm
	New                                                                      bool
	Types, Interpreters, Backoffs, Overlaps, Routings, Successes, Namespaces []string
}

func (u *UI) renderJobForm(w http.ResponseWriter, r *http.Request, p *page, status int, f *jobForm, isNew bool) {
	if isNew {
		p.Title = "title.job_new"
	} else {
		p.Title = "title.job_edit"
	}
	p.Data = &jobFormData{Form: f, New: isNew, Types: taskTypes, Interpreters: interpreters, Backoffs: backoffs, Overlaps: overlaps, Routings: routings, Successes: successes, Namespaces: p.NSChoices}
	u.render(w, r, status, "jobform", p)
}

func (u *UI) jobNew(w http.ResponseWriter, r *http.Request, p *page) {
	ns := p.NS
	if ns == "" {
		ns = model.DefaultNamespace
	}
	u.renderJobForm(w, r, p, http.StatusOK, &jobForm{Namespace: ns, Enabled: true, Type: "process"}, true)
}

func (u *UI) jobClone(w http.ResponseWriter, r *http.Request, p *page) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	f := formFromJob(j)
	f.ID, f.Name = "", j.Name+"-copy"
	u.renderJobForm(w, r, p, http.StatusOK, f, true)
}

func (u *UI) jobEdit(w http.ResponseWriter, r *http.Request, p *page) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	u.renderJobForm(w, r, p, http.StatusOK, formFromJob(j), false)
}

func (u *UI) jobCreate(w http.ResponseWriter, r *http.Request, p *page) {
	_ = r.ParseForm()
	f := formFromPost(r.PostForm)
	if f.Namespace == "" {
		f.Namespace = model.DefaultNamespace
	}
	if !p.CanEdit(f.Namespace) {
		p.Errors = map[string]string{"namespace": p.T("problem.403")}
		u.renderJobForm(w, r, p, http.StatusForbidden, f, true)
		return
	}
	body, errs := f.body()
	if len(errs) > 0 {
		p.Errors, p.Flash, p.FlashKind = errs, p.T("problem.422"), "error"
		u.renderJobForm(w, r, p, http.StatusUnprocessableEntity, f, true)
		return
	}
	job, err := u.deps.API.CreateJob(r.Context(), body)
	if err != nil {
		u.problem(r, p, err)
		u.renderJobForm(w, r, p, http.StatusUnprocessableEntity, f, true)
		return
	}
	flash(w, "ok", "flash.job_created", job.Name)
	http.Redirect(w, r, "/jobs/"+job.ID.String(), http.StatusSeeOther)
}

func (u *UI) jobUpdate(w http.ResponseWriter, r *http.Request, p *page) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	_ = r.ParseForm()
	f := formFromPost(r.PostForm)
	f.ID, f.Namespace = j.ID.String(), j.Namespace
	if !p.CanEdit(j.Namespace) {
		p.Flash, p.FlashKind = p.T("problem.403"), "error"
		u.renderJobForm(w, r, p, http.StatusForbidden, f, false)
		return
	}
	body, errs := f.body()
	if len(errs) > 0 {
		p.Errors, p.Flash, p.FlashKind = errs, p.T("problem.422"), "error"
		u.renderJobForm(w, r, p, http.StatusUnprocessableEntity, f, false)
		return
	}
	if _, err := u.deps.API.ReplaceJob(r.Context(), j.ID.String(), body); err != nil {
		u.problem(r, p, err)
		u.renderJobForm(w, r, p, http.StatusUnprocessableEntity, f, false)
		return
	}
	flash(w, "ok", "flash.job_saved", body.Name)
	http.Redirect(w, r, "/jobs/"+j.ID.String(), http.StatusSeeOther)
}

// jobAction runs an action on a job the identity may act on with role,
// then flashes its result and goes back.
func (u *UI) jobAction(w http.ResponseWriter, r *http.Request, p *page, role Role, do func(j *model.Job) (string, error)) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	if !p.Ident.Can(j.Namespace, role) {
		flash(w, "error", "flash.forbidden")
		back(w, r, "/jobs/"+j.ID.String())
		return
	}
	key, err := do(j)
	if err != nil {
		u.actionError(w, r, err)
	} else if key != "" {
		flash(w, "ok", key, j.Name)
	} else {
		return // do rendered a page itself
	}
	back(w, r, "/jobs/"+j.ID.String())
}

// actionError flashes a failed action's localized problem and the API's
// English detail.
func (u *UI) actionError(w http.ResponseWriter, _ *http.Request, err error) {
	detail := err.Error()
	if em := api.ErrorModel(err); em != nil {
		detail = em.Detail
		for _, d := range em.Errors {
			detail += ": " + d.Location + " " + d.Message
		}
		flash(w, "error", "flash.failed", strconv.Itoa(em.Status), detail)
		return
	}
	flash(w, "error", "flash.failed", "500", detail)
}

func (u *UI) jobEnable(w http.ResponseWriter, r *http.Request, p *page) {
	u.jobAction(w, r, p, RoleOperator, func(j *model.Job) (string, error) {
		_, err := u.deps.API.SetJobStatus(r.Context(), j.ID.String(), model.JobEnabled)
		return "flash.job_enabled", err
	})
}

func (u *UI) jobDisable(w http.ResponseWriter, r *http.Request, p *page) {
	u.jobAction(w, r, p, RoleOperator, func(j *model.Job) (string, error) {
		_, err := u.deps.API.SetJobStatus(r.Context(), j.ID.String(), model.JobDisabled)
		return "flash.job_disabled", err
	})
}

func (u *UI) jobRun(w http.ResponseWriter, r *http.Request, p *page) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	if !p.CanOperate(j.Namespace) {
		flash(w, "error", "flash.forbidden")
		back(w, r, "/jobs/"+j.ID.String())
		return
	}
	params := map[string]string{}
	for k, v := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "param."); ok && len(v) > 0 && v[0] != "" {
			params[name] = v[0]
		}
	}
	body := api.RunBody{Parameters: params}
	if pr := r.PostFormValue("priority"); pr != "" {
		body.Priority, _ = strconv.Atoi(pr)
	}
	t, err := u.deps.API.RunJob(r.Context(), j.ID.String(), body)
	if err != nil {
		u.actionError(w, r, err)
		back(w, r, "/jobs/"+j.ID.String())
		return
	}
	flash(w, "ok", "flash.job_run", j.Name)
	http.Redirect(w, r, "/tasks/"+t.ID.String(), http.StatusSeeOther)
}

func (u *UI) jobDelete(w http.ResponseWriter, r *http.Request, p *page) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	if !p.CanEdit(j.Namespace) {
		flash(w, "error", "flash.forbidden")
		back(w, r, "/jobs/"+j.ID.String())
		return
	}
	if !u.confirmed(w, r, p, p.T("confirm.delete_job", j.Name)) {
		return
	}
	if err := u.deps.API.DeleteJob(r.Context(), j.ID.String()); err != nil {
		u.actionError(w, r, err)
		http.Redirect(w, r, "/jobs/"+j.ID.String(), http.StatusSeeOther)
		return
	}
	flash(w, "ok", "flash.job_deleted", j.Name)
	http.Redirect(w, r, "/jobs", http.StatusSeeOther)
}

// lastRunWorkers bounds the queries lastRuns runs at once.
const lastRunWorkers = 4

// lastRuns finds the latest run of each job on the page: one query per row
// over the (job_id, scheduled_at) index, a few at a time, so a page of 50
// costs a handful of round trips rather than 50 in a row.
func (u *UI) lastRuns(ctx context.Context, rows []*jobRow) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		next = make(chan *jobRow)
	)
	for range min(lastRunWorkers, len(rows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for row := range next {
				ts, err := u.deps.Store.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{{Field: "job_id", Op: store.OpEq, Value: row.Job.ID}},
					Limit: 1, OrderBy: []store.Order{{Field: "scheduled_at", Desc: true}}})
				if err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					continue
				}
				if len(ts) > 0 {
					row.Last = ts[0]
				}
			}
		}()
	}
	for _, row := range rows {
		next <- row
	}
	close(next)
	wg.Wait()
	return ferr
}
