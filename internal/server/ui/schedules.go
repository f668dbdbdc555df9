package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
)

// schedForm is the schedule editor's fields as typed.
type schedForm struct {
	ID, JobID, Name, Kind, Cron, TimeZone, Interval, IntervalMode string
	Start, End, MaxCount, Misfire, Threshold                      string
	Enabled                                                       bool
}

func schedFormFrom(s *model.Schedule) *schedForm {
	f := &schedForm{ID: s.ID.String(), JobID: s.JobID.String(), Name: s.Name, Kind: strconv.Itoa(int(s.Kind)), Cron: s.Cron, TimeZone: s.TimeZone,
		Interval: dur(s.Interval), IntervalMode: string(s.IntervalMode), MaxCount: num(s.MaxCount), Misfire: s.Misfire.Policy,
		Threshold: dur(s.Misfire.Threshold), Enabled: s.Status == model.ScheduleEnabled}
	if s.StartTime != nil {
		f.Start = s.StartTime.Format(time.RFC3339)
	}
	if s.EndTime != nil {
		f.End = s.EndTime.Format(time.RFC3339)
	}
	return f
}

func schedFormFromPost(v url.Values) *schedForm {
	g := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	return &schedForm{Name: g("name"), Kind: g("kind"), Cron: g("cron"), TimeZone: g("time_zone"), Interval: g("interval"), IntervalMode: g("interval_mode"),
		Start: g("start_time"), End: g("end_time"), MaxCount: g("max_count"), Misfire: g("misfire.policy"), Threshold: g("misfire.threshold"), Enabled: v.Get("enabled") == "1"}
}

func (f *schedForm) body(loc *time.Location) (api.ScheduleBody, map[string]string) {
	errs := map[string]string{}
	kind, _ := strconv.Atoi(f.Kind)
	if kind == 0 {
		kind = int(model.ScheduleCron)
	}
	b := api.ScheduleBody{JobID: f.JobID, ScheduleSpec: api.ScheduleSpec{Name: f.Name, Kind: model.ScheduleKind(kind), Cron: f.Cron, TimeZone: f.TimeZone,
		Interval: parseDur(f.Interval, "interval", errs), IntervalMode: model.IntervalMode(f.IntervalMode), MaxCount: parseInt(f.MaxCount, "max_count", errs),
		Misfire: model.MisfirePolicy{Policy: f.Misfire, Threshold: parseDur(f.Threshold, "misfire.threshold", errs)}, Status: model.ScheduleDisabled}}
	if f.Enabled {
		b.Status = model.ScheduleEnabled
	}
	b.StartTime = parseLocalTime(f.Start, "start_time", loc, errs)
	b.EndTime = parseLocalTime(f.End, "end_time", loc, errs)
	return b, errs
}

// parseLocalTime reads RFC 3339, or a datetime-local value in the person's
// zone.
func parseLocalTime(s, field string, loc *time.Location, errs map[string]string) *time.Time {
	if s == "" {
		return nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return &t
		}
	}
	errs[field] = "must be a time such as 2026-01-02T15:04"
	return nil
}

// jobDetailData is what the job page shows.
type jobDetailData struct {
	Job       *model.Job
	Schedules []*model.Schedule
	Runs      []*model.Task
	Instances map[uuid.UUID]*model.TaskInstance
	Ledger    *api.Ledger
	LedgerFor *model.Schedule
	NewSched  *schedForm
	Pager     pager
}

func (u *UI) jobDetail(w http.ResponseWriter, r *http.Request, p *page) {
	u.renderJobDetail(w, r, p, http.StatusOK, nil)
}

func (u *UI) renderJobDetail(w http.ResponseWriter, r *http.Request, p *page, status int, sf *schedForm) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	ctx := r.Context()
	p.Title = "title.job"
	d := &jobDetailData{Job: j, NewSched: sf, Instances: map[uuid.UUID]*model.TaskInstance{}}
	if d.NewSched == nil {
		d.NewSched = &schedForm{Kind: "1", Enabled: true, TimeZone: p.Zone.String()}
	}
	d.Schedules, err = u.deps.Store.ScheduleList(ctx, &store.ScheduleListParams{Filter: store.Filter{{Field: "job_id", Op: store.OpEq, Value: j.ID}}, Limit: 100, OrderBy: []store.Order{{Field: "created_at"}}})
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Pager = pager{Offset: pageOffset(r), Size: 20}
	f := store.Filter{{Field: "job_id", Op: store.OpEq, Value: j.ID}}
	// Newest planned first, over the (job_id, scheduled_at) index.
	d.Runs, err = u.deps.Store.TaskList(ctx, &store.TaskListParams{Filter: f, Limit: d.Pager.Size + 1, Offset: d.Pager.Offset, OrderBy: []store.Order{{Field: "scheduled_at", Desc: true}}})
	d.Runs = trim(&d.Pager, d.Runs)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	if err := u.latestInstances(r, d.Runs, d.Instances); err != nil {
		u.fail(w, r, p, err)
		return
	}
	// The ledger of the schedule asked for, else of the first one.
	for _, s := range d.Schedules {
		if r.URL.Query().Get("ledger") == s.ID.String() || (d.LedgerFor == nil && r.URL.Query().Get("ledger") == "") {
			d.LedgerFor = s
		}
	}
	if d.LedgerFor != nil {
		if l, err := u.deps.API.ScheduleLedger(ctx, d.LedgerFor.ID.String(), 50); err == nil {
			// Newest first reads better on a page.
			for i, k := 0, len(l.Entries)-1; i < k; i, k = i+1, k-1 {
				l.Entries[i], l.Entries[k] = l.Entries[k], l.Entries[i]
			}
			d.Ledger = l
		}
	}
	p.Data = d
	u.render(w, r, status, "job", p)
}

// latestInstances fills m with the latest instance of each task, in one
// query.
func (u *UI) latestInstances(r *http.Request, tasks []*model.Task, m map[uuid.UUID]*model.TaskInstance) error {
	if len(tasks) == 0 {
		return nil
	}
	ids := make([]any, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	ins, err := u.deps.Store.TaskInstanceList(r.Context(), &store.TaskInstanceListParams{Filter: store.Filter{{Field: "task_id", Op: store.OpIn, Value: ids}},
		Limit: store.MaxPageLimit, OrderBy: []store.Order{{Field: "created_at"}}})
	if err != nil {
		return err
	}
	for _, in := range ins {
		m[in.TaskID] = in
	}
	return nil
}

func (u *UI) scheduleCreate(w http.ResponseWriter, r *http.Request, p *page) {
	j, err := u.getJob(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	_ = r.ParseForm()
	f := schedFormFromPost(r.PostForm)
	f.JobID = j.ID.String()
	if !p.CanEdit(j.Namespace) {
		flash(w, "error", "flash.forbidden")
		http.Redirect(w, r, "/jobs/"+j.ID.String(), http.StatusSeeOther)
		return
	}
	body, errs := f.body(p.Zone)
	if len(errs) == 0 {
		if _, err := u.deps.API.CreateSchedule(r.Context(), body); err != nil {
			u.problem(r, p, err)
		} else {
			flash(w, "ok", "flash.schedule_created", j.Name)
			http.Redirect(w, r, "/jobs/"+j.ID.String(), http.StatusSeeOther)
			return
		}
	} else {
		p.Errors, p.Flash, p.FlashKind = errs, p.T("problem.422"), "error"
	}
	u.renderJobDetail(w, r, p, http.StatusUnprocessableEntity, f)
}

// getSchedule reads a schedule the identity may see.
func (u *UI) getSchedule(r *http.Request, p *page) (*model.Schedule, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, errNotFound
	}
	return u.deps.Store.ScheduleGetByID(r.Context(), &store.ScheduleGetByIDParams{ID: id, Namespaces: p.readable()})
}

func (u *UI) scheduleEdit(w http.ResponseWriter, r *http.Request, p *page) {
	s, err := u.getSchedule(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	p.Title = "title.schedule_edit"
	p.Data = schedFormFrom(s)
	u.render(w, r, http.StatusOK, "schedform", p)
}

func (u *UI) scheduleUpdate(w http.ResponseWriter, r *http.Request, p *page) {
	s, err := u.getSchedule(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	_ = r.ParseForm()
	f := schedFormFromPost(r.PostForm)
	f.ID, f.JobID = s.ID.String(), s.JobID.String()
	p.Title, p.Data = "title.schedule_edit", f
	if !p.CanEdit(s.Namespace) {
		p.Flash, p.FlashKind = p.T("problem.403"), "error"
		u.render(w, r, http.StatusForbidden, "schedform", p)
		return
	}
	body, errs := f.body(p.Zone)
	if len(errs) > 0 {
		p.Errors, p.Flash, p.FlashKind = errs, p.T("problem.422"), "error"
		u.render(w, r, http.StatusUnprocessableEntity, "schedform", p)
		return
	}
	if _, err := u.deps.API.ReplaceSchedule(r.Context(), s.ID.String(), body); err != nil {
		u.problem(r, p, err)
		u.render(w, r, http.StatusUnprocessableEntity, "schedform", p)
		return
	}
	flash(w, "ok", "flash.schedule_saved", s.Name)
	http.Redirect(w, r, "/jobs/"+s.JobID.String(), http.StatusSeeOther)
}

func (u *UI) scheduleAction(w http.ResponseWriter, r *http.Request, p *page, role Role, confirmKey string, do func(s *model.Schedule) (string, error)) {
	s, err := u.getSchedule(r, p)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	to := "/jobs/" + s.JobID.String()
	if !p.Ident.Can(s.Namespace, role) {
		flash(w, "error", "flash.forbidden")
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	if confirmKey != "" && !u.confirmed(w, r, p, p.T(confirmKey, s.Name)) {
		return
	}
	key, err := do(s)
	if err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", key, s.Name)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (u *UI) scheduleEnable(w http.ResponseWriter, r *http.Request, p *page) {
	u.scheduleAction(w, r, p, RoleOperator, "", func(s *model.Schedule) (string, error) {
		_, err := u.deps.API.SetScheduleStatus(r.Context(), s.ID.String(), model.ScheduleEnabled)
		return "flash.schedule_enabled", err
	})
}

func (u *UI) scheduleDisable(w http.ResponseWriter, r *http.Request, p *page) {
	u.scheduleAction(w, r, p, RoleOperator, "", func(s *model.Schedule) (string, error) {
		_, err := u.deps.API.SetScheduleStatus(r.Context(), s.ID.String(), model.ScheduleDisabled)
		return "flash.schedule_disabled", err
	})
}

func (u *UI) scheduleDelete(w http.ResponseWriter, r *http.Request, p *page) {
	u.scheduleAction(w, r, p, RoleEditor, "confirm.delete_schedule", func(s *model.Schedule) (string, error) {
		return "flash.schedule_deleted", u.deps.API.DeleteSchedule(r.Context(), s.ID.String())
	})
}
