package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/server/ui"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// perfEnv turns on TestPagePerformance, which seeds a large PostgreSQL
// database and takes minutes.
const perfEnv = "HETUFLOW_UI_PERF"

// seedSQL fills a schema with 10 000 jobs in 20 namespaces, a cron schedule
// each, 1 000 000 finished tasks over the last 12 days (one in 20 failed)
// and an instance per task, with generate_series.
var seedSQL = []string{
	`INSERT INTO sched_job (id, namespace, name, status, config, created_at, updated_at)
	 SELECT gen_random_uuid(), 'ns-' || (i % 20), 'job-' || i, 100, '{"command":"true"}', now(), now() FROM generate_series(1, 10000) i`,
	`INSERT INTO sched_schedule (id, job_id, namespace, kind, cron, status, next_fire_at, created_at, updated_at, spec_changed_at)
	 SELECT gen_random_uuid(), id, namespace, 1, '0 * * * * *', 100, now() + (random() * interval '1 hour'), now(), now(), now() FROM sched_job`,
	`CREATE TEMP TABLE perf_jobs AS SELECT id, namespace, row_number() OVER (ORDER BY id) AS rn FROM sched_job`,
	`INSERT INTO sched_task (id, job_id, namespace, scheduled_at, run_at, parameters, config, attempt, status, created_at, updated_at, finished_at)
	 SELECT gen_random_uuid(), j.id, j.namespace, now() - i * interval '1 second', now() - i * interval '1 second', '{}', '{"command":"true"}', 1,
	        CASE WHEN i % 20 = 0 THEN 90 ELSE 100 END, now() - i * interval '1 second', now() - i * interval '1 second' + interval '2 seconds',
	        now() - i * interval '1 second' + interval '2 seconds'
	 FROM generate_series(1, 1000000) i JOIN perf_jobs j ON j.rn = (i % 10000) + 1`,
	`INSERT INTO sched_task_instance (id, task_id, job_id, namespace, attempt, agent_id, server_id, status, planned_at, dispatched_at, acked_at, started_at, finished_at, exit_code, created_at, updated_at)
	 SELECT gen_random_uuid(), t.id, t.job_id, t.namespace, 1, 'agent-' || (abs(hashtext(t.id::text)) % 50), 's1', t.status, t.scheduled_at, t.scheduled_at,
	        t.scheduled_at + interval '5 ms', t.scheduled_at + interval '10 ms', t.finished_at, CASE WHEN t.status = 90 THEN 1 ELSE 0 END, t.created_at, t.updated_at
	 FROM sched_task t`,
	// What autovacuum does to a table that has settled: statistics, and
	// the visibility map that index-only scans read.
	`VACUUM ANALYZE sched_task`,
	`VACUUM ANALYZE sched_task_instance`,
	`ANALYZE`,
}

// TestPagePerformance measures every page's server time with 10 000 jobs
// and 1 000 000 task instances in PostgreSQL: the median of five requests
// must stay under 100 ms. Set HETUFLOW_UI_PERF=1 and HETUFLOW_TEST_PG_URL.
func TestPagePerformance(t *testing.T) {
	if os.Getenv(perfEnv) == "" {
		t.Skip("set " + perfEnv + "=1 (and HETUFLOW_TEST_PG_URL) to seed 10 000 jobs and 1 000 000 instances and time the pages")
	}
	ctx := context.WithoutCancel(t.Context())
	url := teststore.SchemaURL(t)
	// HETUFLOW_UI_PERF_SCHEMA keeps the seeded data in that schema between
	// runs, to time changes without seeding again.
	if keep := os.Getenv("HETUFLOW_UI_PERF_SCHEMA"); keep != "" {
		base := teststore.PGURL(t)
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{keep}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		url = base + sep + "search_path=" + keep
	}
	st, err := pgstore.Open(ctx, pgstore.Config{URL: url, Migrate: true, MaxConns: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	start := time.Now()
	var seeded int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM sched_job").Scan(&seeded); err != nil {
		t.Fatal(err)
	}
	for _, q := range seedSQL {
		if seeded > 0 {
			break
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("seed: %v\n%s", err, q)
		}
	}
	t.Logf("seeded in %s", time.Since(start).Round(time.Second))
	var jobID, taskID, instID string
	if err := conn.QueryRow(ctx, `SELECT i.job_id::text, i.task_id::text, i.id::text FROM sched_task_instance i ORDER BY i.created_at DESC LIMIT 1`).Scan(&jobID, &taskID, &instID); err != nil {
		t.Fatal(err)
	}

	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokens{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
	u := ui.New(ui.Deps{Store: st, API: a, Auth: &ui.TokenAuth{Tokens: tokens{}, Extra: map[string]ui.Identity{
		viewerTok: {Name: "viewer", Roles: map[string]ui.Role{"ns-3": ui.RoleViewer}},
	}}, Version: "test", Logger: lifecycletest.WarnLogger(t)})
	pages := []string{"/", "/jobs", "/jobs?q=job-4242", "/jobs?status=disabled", "/jobs?offset=5000", "/jobs/" + jobID, "/jobs/" + jobID + "/edit",
		"/runs", "/runs?status=failed", "/runs?view=instances", "/runs?agent=agent-7", "/runs?job=" + jobID, "/runs?offset=2000",
		"/tasks/" + taskID, "/instances/" + instID, "/agents", "/cluster", "/ui/live"}
	var report strings.Builder
	for _, who := range []string{adminTok, viewerTok} {
		for _, p := range pages {
			var times []time.Duration
			for range 5 {
				req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, p, nil)
				req.AddCookie(&http.Cookie{Name: "hetuflow_session", Value: who})
				rec := httptest.NewRecorder()
				t0 := time.Now()
				u.ServeHTTP(rec, req)
				times = append(times, time.Since(t0))
				if rec.Code != http.StatusOK && !(who == viewerTok && rec.Code == http.StatusNotFound) {
					t.Fatalf("%s: %d", p, rec.Code)
				}
			}
			slices.Sort(times)
			med := times[len(times)/2]
			role := "admin"
			if who == viewerTok {
				role = "viewer"
			}
			fmt.Fprintf(&report, "%-7s %-60s median %7.1f ms  max %7.1f ms\n", role, p, float64(med.Microseconds())/1000, float64(times[len(times)-1].Microseconds())/1000)
			if med > 100*time.Millisecond {
				t.Errorf("%s %s: median %s, over 100 ms", role, p, med)
			}
		}
	}
	t.Logf("page server times, 10 000 jobs, 1 000 000 tasks and instances:\n%s", report.String())
}
