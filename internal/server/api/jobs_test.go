package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// TestCreateJobWithSchedules creates a job with two schedules in one
// request: both exist, belong to the job, come back in the response (the
// event schedule with its webhook secret, shown once), and the request's
// audit entry lists them without that secret.
func TestCreateJobWithSchedules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"name":"backup","config":{"command":"true"},"schedules":[
		{"name":"nightly","kind":1,"cron":"0 2 * * *","time_zone":"Europe/London"},
		{"kind":3}]}`
	status, raw := b.do(t, http.MethodPost, "/jobs", token, strings.NewReader(body))
	if status != http.StatusCreated {
		t.Fatalf("create job with schedules = %d %s", status, raw)
	}
	var got struct {
		ID        uuid.UUID `json:"id"`
		Name      string    `json:"name"`
		Schedules []struct {
			ID         uuid.UUID          `json:"id"`
			JobID      uuid.UUID          `json:"job_id"`
			Kind       model.ScheduleKind `json:"kind"`
			Cron       string             `json:"cron"`
			NextFireAt *string            `json:"next_fire_at"`
			HookSecret string             `json:"hook_secret"`
		} `json:"schedules"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	if got.Name != "backup" || len(got.Schedules) != 2 {
		t.Fatalf("created %s; want the job and its two schedules", raw)
	}
	cron, event := got.Schedules[0], got.Schedules[1]
	if cron.Kind != model.ScheduleCron || cron.Cron != "0 2 * * *" || cron.NextFireAt == nil || event.Kind != model.ScheduleEvent || event.HookSecret == "" {
		t.Errorf("schedules in the response = %s; want the cron one with its next fire, then the event one with its secret", raw)
	}
	for _, s := range got.Schedules {
		stored, err := b.store.ScheduleGetByID(t.Context(), &store.ScheduleGetByIDParams{ID: s.ID})
		if err != nil || stored.JobID != got.ID || s.JobID != got.ID {
			t.Errorf("schedule %s: stored %+v, %v; want it stored for job %s", s.ID, stored, err, got.ID)
		}
	}
	if n := b.counts(t); n[0] != 1 || n[1] != 2 {
		t.Errorf("jobs and schedules = %v, want 1 and 2", n)
	}
	entries, err := b.store.AuditList(t.Context(), &store.AuditListParams{Action: "create-job"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries of create-job = %d, %v; want 1", len(entries), err)
	}
	diff := string(entries[0].Diff)
	if !strings.Contains(diff, cron.ID.String()) || !strings.Contains(diff, event.ID.String()) || strings.Contains(diff, event.HookSecret) {
		t.Errorf("audit diff %s; want both schedules and not the webhook secret", diff)
	}
}
