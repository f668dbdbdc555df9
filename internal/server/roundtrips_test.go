package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestRoundTripsPerFire measures what a fired task costs PostgreSQL in
// statements (round trips) with 50 schedules firing every second, each
// fire alone in its 20 ms: planning, claiming and dispatching, the agent's
// ack, start, output and result, and the loops' fixed cost at production
// intervals. Fires that come together share statements, so this spread
// load is the dear case (11.3 on the 2026-11-28 Intel VM, since a
// transaction's BEGIN travels with its first statement and a dispatch
// writes its instances and starts their attempts in one statement sent with
// its COMMIT; 15.3 to 15.6 before, 16.0 to 16.6 when a claim took three
// statements; under load fewer). The bound catches a change that adds a
// statement to every fire.
func TestRoundTripsPerFire(t *testing.T) {
	t.Parallel()
	st := teststore.Postgres(t)
	counter, ok := st.(interface{ RoundTrips() uint64 })
	if !ok {
		t.Fatalf("the PostgreSQL store does not count round trips")
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(target.Close)
	// The production intervals: the loops' fixed cost per second is part
	// of the price of a fire.
	h := startApp(t, st, func(c *config.Config) { c.Scheduler = config.Default().Scheduler })
	h.startAgent("counter", nil)
	job := h.createJob("tick", model.JobConfig{Type: model.TaskHTTP, HTTP: &model.HTTPTask{URL: target.URL}})
	const schedules = 50
	base := time.Now().Truncate(time.Second).Add(time.Second)
	for i := range schedules {
		h.createSchedule(map[string]any{"job_id": job.ID, "kind": 2, "interval": "1s",
			"start_time": base.Add(time.Duration(i*1000/schedules) * time.Millisecond).UTC().Format(time.RFC3339Nano)})
	}
	succeeded := func() int {
		n, err := st.TaskCount(t.Context(), &store.TaskCountParams{Filter: store.Filter{{Field: "status", Op: store.OpEq, Value: int64(model.TaskSucceeded)}}})
		if err != nil {
			t.Fatalf("TaskCount: %v", err)
		}
		return n
	}
	// Measure a steady window, after the first plan and the agent's start.
	time.Sleep(3 * time.Second)
	trips0, done0 := counter.RoundTrips(), succeeded()
	time.Sleep(5 * time.Second)
	trips, done := counter.RoundTrips()-trips0, succeeded()-done0
	if done < 4*schedules {
		t.Fatalf("only %d runs finished in 5 s of %d schedules at 1/s", done, schedules)
	}
	perFire := float64(trips) / float64(done)
	t.Logf("%d statements for %d fires: %.2f round trips per fired task (one server, one agent, PostgreSQL)", trips, done, perFire)
	if perFire > 12.2 {
		t.Errorf("%.2f round trips per fired task, want at most 12.2", perFire)
	}
}
