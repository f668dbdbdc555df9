package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestSecretsEndToEnd stores a secret, checks the API never returns it,
// runs a job that gets it in its env and prints it in two pieces a chunk
// apart, and checks the stored output holds *** instead.
func TestSecretsEndToEnd(t *testing.T) {
	t.Parallel()
	const value = "sup3r-s3cret-v4lue"
	h := newHarness(t, teststore.SQLite, func(c *config.Config) { c.Server.SecretsKey = secrets.GenerateKey() })
	h.startAgent("agent-s", nil)

	raw := h.mustCall(http.MethodPut, "/secrets/default/db-password", map[string]any{"value": value}, nil, http.StatusOK)
	for _, path := range []string{"/secrets/default/db-password", "/secrets/default"} {
		got := string(h.mustCall(http.MethodGet, path, nil, nil, http.StatusOK))
		if strings.Contains(got, value) || !strings.Contains(got, "db-password") {
			t.Errorf("GET %s = %s: want the name and never the value", path, got)
		}
	}
	if strings.Contains(string(raw), value) {
		t.Errorf("PUT answered with the value: %s", raw)
	}

	script := `printf 'pw=%s' "$(printf %s "$DB_PASSWORD" | cut -c1-6)"; sleep 0.3; printf '%s\n' "$(printf %s "$DB_PASSWORD" | cut -c7-)"
[ ${#DB_PASSWORD} -eq 18 ] && echo env-ok
echo "dsn $DSN" >&2`
	job := h.createJob("uses-secret", model.JobConfig{Script: script, Env: map[string]string{
		"DB_PASSWORD": "${secret:db-password}", "DSN": "postgres://app:${secret:db-password}@db/app",
	}})
	task := h.waitTask(h.runJob(job, nil).ID, 15*time.Second)
	if task.Status != model.TaskSucceeded {
		t.Fatalf("task = %s", task.Status)
	}
	in := h.instances(map[string]any{"task_id": task.ID.String()})[0]
	if got := h.log(in.ID, model.Stdout); got != "pw=***\nenv-ok\n" {
		t.Errorf("stdout = %q, want the value redacted across the chunk boundary", got)
	}
	if got := h.log(in.ID, model.Stderr); got != "dsn postgres://app:***@db/app\n" {
		t.Errorf("stderr = %q", got)
	}
	if strings.Contains(in.OutputTail, value) {
		t.Errorf("output tail holds the value: %q", in.OutputTail)
	}
	// The job as stored keeps the reference, not the value.
	if got := string(h.mustCall(http.MethodGet, "/jobs/"+job.ID.String(), nil, nil, http.StatusOK)); strings.Contains(got, value) {
		t.Errorf("job holds the value: %s", got)
	}

	// A missing secret fails the run before it starts, saying which.
	bad := h.createJob("missing-secret", model.JobConfig{Script: "true", Env: map[string]string{"X": "${secret:nope}"}})
	task = h.waitTask(h.runJob(bad, nil).ID, 15*time.Second)
	in = h.instances(map[string]any{"task_id": task.ID.String()})[0]
	if task.Status != model.TaskFailed || in.Reason != "start_failed" || !strings.Contains(in.Error, `"nope" does not exist`) {
		t.Errorf("missing secret: task %s, instance %s %q", task.Status, in.Reason, in.Error)
	}
}

// TestSecretsWithoutKey checks a server without a key refuses secrets.
func TestSecretsWithoutKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, teststore.SQLite, nil)
	status, raw := h.call(http.MethodPut, "/secrets/default/x", map[string]any{"value": "v"}, nil)
	if status != http.StatusConflict || !strings.Contains(string(raw), "no secrets key") {
		t.Errorf("PUT without a key = %d %s, want 409 naming the missing key", status, raw)
	}
}
