package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

var errAuditDown = errors.New("audit log unwritable")

// auditDown is a store whose audit entries cannot be written, inside a
// transaction or outside one; every other write works.
type auditDown struct{ store.Store }

func (auditDown) AuditInsert(context.Context, *store.AuditInsertParams) (*model.AuditEntry, error) {
	return nil, errAuditDown
}

func (s auditDown) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return auditDownTx{tx}, nil
}

type auditDownTx struct{ store.Tx }

func (auditDownTx) AuditInsert(context.Context, *store.AuditInsertParams) (*model.AuditEntry, error) {
	return nil, errAuditDown
}

// TestChangesCommitWithTheirAuditEntry checks that the writes of jobs,
// schedules and runs are committed with their audit entry or not at all:
// with the audit log unwritable each is refused and changes nothing, and
// with it working each writes exactly one entry, about its object. On
// PostgreSQL the working entries go out with the commit (pgstore's tests
// check that path failing); the wrapper's transaction cannot do that, so
// the refusals there take the plain insert.
func TestChangesCommitWithTheirAuditEntry(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testChangesCommitWithTheirAuditEntry(t, o.Open(t))
		})
	}
}

func testChangesCommitWithTheirAuditEntry(t *testing.T, st store.Store) {
	ok := setupStore(t, st)
	down := setupStore(t, auditDown{st})

	jobID := ok.createJob(t)
	status, raw := ok.do(t, http.MethodPost, "/schedules", token, strings.NewReader(`{"job_id":"`+jobID+`","kind":1,"cron":"0 0 * * *"}`))
	if status != http.StatusCreated {
		t.Fatalf("create schedule = %d %s", status, raw)
	}
	schedID := decodeID(t, raw)
	entriesBefore := auditEntries(t, st)

	type request struct {
		action, method, path, body string
		object                     string // the entry's object id; "" for a new one
	}
	requests := []request{
		{"create-job", http.MethodPost, "/jobs", `{"name":"j2","config":{"command":"true"}}`, ""},
		{"create-job", http.MethodPost, "/jobs", `{"name":"j3","config":{"command":"true"},"schedules":[{"kind":1,"cron":"0 1 * * *"}]}`, ""},
		{"create-schedule", http.MethodPost, "/schedules", `{"job_id":"` + jobID + `","kind":1,"cron":"0 2 * * *"}`, ""},
		{"replace-schedule", http.MethodPut, "/schedules/" + schedID, `{"job_id":"` + jobID + `","kind":1,"cron":"0 3 * * *"}`, schedID},
		{"run-schedule", http.MethodPost, "/schedules/" + schedID + "/run", `{}`, schedID},
		{"disable-schedule", http.MethodPost, "/schedules/" + schedID + "/disable", ``, schedID},
		{"delete-schedule", http.MethodDelete, "/schedules/" + schedID, ``, schedID},
		{"replace-job", http.MethodPut, "/jobs/" + jobID, `{"name":"renamed","config":{"command":"true"}}`, jobID},
		{"run-job", http.MethodPost, "/jobs/" + jobID + "/run", `{}`, jobID},
		{"disable-job", http.MethodPost, "/jobs/" + jobID + "/disable", ``, jobID},
	}

	counts := ok.counts(t)
	for _, r := range requests {
		status, raw := down.do(t, r.method, r.path, token, strings.NewReader(r.body))
		if status != http.StatusInternalServerError {
			t.Errorf("%s with the audit log down = %d %s, want 500", r.action, status, raw)
		}
	}
	if got := ok.counts(t); got != counts {
		t.Errorf("jobs, schedules, tasks = %v after refused changes, want %v", got, counts)
	}
	if job, err := st.JobGetByID(t.Context(), &store.JobGetByIDParams{ID: mustParse(t, jobID)}); err != nil || job.Name != "j" || job.Status != model.JobEnabled {
		t.Errorf("job after refused changes = %+v, %v; want it unchanged", job, err)
	}

	for _, r := range requests {
		status, raw := ok.do(t, r.method, r.path, token, strings.NewReader(r.body))
		if status >= 300 {
			t.Fatalf("%s = %d %s", r.action, status, raw)
		}
		entries := auditEntries(t, st)
		if len(entries) != len(entriesBefore)+1 {
			t.Fatalf("%s wrote %d audit entries, want 1", r.action, len(entries)-len(entriesBefore))
		}
		e := entries[0]
		want := r.object
		if want == "" {
			want = decodeID(t, raw)
		}
		if e.Action != r.action || e.ObjectID != want {
			t.Errorf("%s wrote entry %s about %s, want it about %s", r.action, e.Action, e.ObjectID, want)
		}
		entriesBefore = entries
	}
}

// auditEntries lists the audit log, newest first.
func auditEntries(t *testing.T, st store.Store) []*model.AuditEntry {
	t.Helper()
	entries, err := st.AuditList(t.Context(), &store.AuditListParams{Limit: store.MaxAuditPage})
	if err != nil {
		t.Fatalf("AuditList: %v", err)
	}
	return entries
}

func decodeID(t *testing.T, raw []byte) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s: %v", raw, err)
	}
	return v.ID
}

func mustParse(t *testing.T, id string) uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatalf("parse %q: %v", id, err)
	}
	return u
}
