package sched

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func ptr[T any](v T) *T { return &v }

func newTestGenerator(t *testing.T, st store.Store) *Generator {
	return NewGenerator(GeneratorConfig{Window: time.Minute, Interval: time.Second, Horizon: 5 * time.Second}, st, nil, lifecycletest.WarnLogger(t))
}

// intervalSchedule inserts an enabled interval schedule anchored at anchor
// with its cursor at cursor.
func intervalSchedule(ctx context.Context, t *testing.T, st store.Store, every time.Duration, anchor, cursor time.Time, maxCount int64) *model.Schedule {
	t.Helper()
	job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
	return storetest.Schedule(ctx, t, st, &storetest.ScheduleOpts{
		JobID: &job.ID, Kind: ptr(model.ScheduleInterval), Interval: &every, StartTime: &anchor,
		NextFireAt: &cursor, MaxCount: &maxCount, Cron: ptr(""),
	})
}

func scheduleTasks(ctx context.Context, t *testing.T, st store.Store, id uuid.UUID) []*model.Task {
	t.Helper()
	tasks, err := st.TaskList(ctx, &store.TaskListParams{Filter: store.Filter{{Field: "schedule_id", Op: store.OpEq, Value: id}}, Limit: store.MaxPageLimit, OrderBy: []store.Order{{Field: "scheduled_at"}}})
	if err != nil {
		t.Fatalf("TaskList: %v", err)
	}
	return tasks
}

func TestGenerator(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testGenerator(t, o.Open)
		})
	}
}

func testGenerator(t *testing.T, open func(testing.TB) store.Store) {
	now := time.Now().UTC().Truncate(time.Second)

	// Plans decides whether a changed schedule is worth a wake: it must say
	// yes exactly when a pass at that moment would plan the next fire.
	t.Run("PlansMatchesWhatAPassPlans", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		g := newTestGenerator(t, st)
		edge := now.Add(time.Minute) // the window's end
		beyond := intervalSchedule(ctx, t, st, time.Hour, edge.Add(time.Millisecond), edge.Add(time.Millisecond), 0)
		within := intervalSchedule(ctx, t, st, time.Hour, edge, edge, 0)
		if g.Plans(*beyond.NextFireAt, now) || !g.Plans(*within.NextFireAt, now) {
			t.Fatalf("Plans(window end + 1ms) = %v, Plans(window end) = %v; want false, true",
				g.Plans(*beyond.NextFireAt, now), g.Plans(*within.NextFireAt, now))
		}
		if _, err := g.RunOnce(ctx, now); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if n := len(scheduleTasks(ctx, t, st, beyond.ID)); n != 0 {
			t.Errorf("a pass planned %d tasks of the schedule beyond the window, want 0", n)
		}
		if n := len(scheduleTasks(ctx, t, st, within.ID)); n != 1 {
			t.Errorf("a pass planned %d tasks of the schedule at the window's end, want 1", n)
		}
	})

	t.Run("PlansWindowAndAdvancesCursor", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		s := intervalSchedule(ctx, t, st, 10*time.Second, now, now, 0)
		res, err := newTestGenerator(t, st).RunOnce(ctx, now)
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		tasks := scheduleTasks(ctx, t, st, s.ID)
		// now, +10s … +60s: 7 fires in a one-minute window, inclusive.
		if res.Planned != 7 || len(tasks) != 7 {
			t.Fatalf("planned %d, stored %d tasks, want 7", res.Planned, len(tasks))
		}
		for i, task := range tasks {
			if want := now.Add(time.Duration(i) * 10 * time.Second); !task.ScheduledAt.Equal(want) || !task.RunAt.Equal(want) || task.Config.Command != "true" {
				t.Errorf("task %d at %v (run %v, command %q), want %v with the job's config", i, task.ScheduledAt, task.RunAt, task.Config.Command, want)
			}
		}
		got, err := st.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: s.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		if want := now.Add(70 * time.Second); got.NextFireAt == nil || !got.NextFireAt.Equal(want) || got.FiredCount != 7 {
			t.Errorf("cursor = %v, fired %d; want %v, 7", got.NextFireAt, got.FiredCount, want)
		}
		// A second pass at the same instant plans nothing more.
		if res, err := newTestGenerator(t, st).RunOnce(ctx, now); err != nil || res.Planned != 0 {
			t.Errorf("second RunOnce = %+v, %v; want nothing planned", res, err)
		}
	})

	t.Run("RacingGeneratorsCreateEachFireOnce", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		var scheds []*model.Schedule
		for range 20 {
			scheds = append(scheds, intervalSchedule(ctx, t, st, time.Second, now, now, 0))
		}
		gens := []*Generator{newTestGenerator(t, st), newTestGenerator(t, st), newTestGenerator(t, st)}
		var wg sync.WaitGroup
		for _, g := range gens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Passes at advancing instants, as real generators would run.
				for i := range 10 {
					if _, err := g.RunOnce(ctx, now.Add(time.Duration(i)*time.Second)); err != nil {
						t.Errorf("RunOnce: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		// Window 1m, last pass at +9s: fires at now … now+69s, 70 each.
		for _, s := range scheds {
			tasks := scheduleTasks(ctx, t, st, s.ID)
			seen := map[time.Time]bool{}
			for _, task := range tasks {
				if seen[task.ScheduledAt] {
					t.Errorf("schedule %s has two tasks at %v", s.ID, task.ScheduledAt)
				}
				seen[task.ScheduledAt] = true
			}
			if len(tasks) != 70 {
				t.Errorf("schedule %s has %d tasks, want 70 (one per fire)", s.ID, len(tasks))
			}
			got, _ := st.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: s.ID})
			if got.FiredCount != 70 {
				t.Errorf("schedule %s fired count = %d, want 70", s.ID, got.FiredCount)
			}
		}
	})

	t.Run("BadScheduleIsRecordedAndSkipped", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		job := storetest.Job(ctx, t, st, &storetest.JobOpts{Config: &model.JobConfig{Command: "true"}})
		bad := storetest.Schedule(ctx, t, st, &storetest.ScheduleOpts{JobID: &job.ID, Cron: ptr("0 0 30 2 *"), NextFireAt: &now})
		good := intervalSchedule(ctx, t, st, 10*time.Second, now, now, 0)
		res, err := newTestGenerator(t, st).RunOnce(ctx, now)
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if res.Failed != 1 || len(scheduleTasks(ctx, t, st, good.ID)) != 7 || len(scheduleTasks(ctx, t, st, bad.ID)) != 0 {
			t.Errorf("result %+v; the good schedule must be planned and the bad one not", res)
		}
		got, _ := st.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: bad.ID})
		if !strings.Contains(got.LastError, "cron") {
			t.Errorf("bad schedule's last_error = %q, want the parse error", got.LastError)
		}
		// It is not retried every pass (it would starve the others).
		if res, err := newTestGenerator(t, st).RunOnce(ctx, now); err != nil || res.Failed != 0 {
			t.Errorf("second RunOnce = %+v, %v; want the bad schedule left alone", res, err)
		}
	})

	t.Run("MissedFiresAreSkippedButTheLatestRuns", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		// The cursor is a minute behind: no server ran for a minute.
		s := intervalSchedule(ctx, t, st, 10*time.Second, now.Add(-time.Minute), now.Add(-time.Minute), 0)
		if _, err := newTestGenerator(t, st).RunOnce(ctx, now); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		var skipped, late, onTime int
		for _, task := range scheduleTasks(ctx, t, st, s.ID) {
			switch {
			case task.Status == model.TaskSkipped:
				skipped++
				if !strings.Contains(task.Reason, "missed") || !task.ScheduledAt.Before(now.Add(-10*time.Second)) {
					t.Errorf("skipped task at %v: %q", task.ScheduledAt, task.Reason)
				}
			case task.ScheduledAt.Before(now.Add(-5 * time.Second)):
				late++
				if !task.RunAt.Equal(now) || !strings.Contains(task.Reason, "ran late") {
					t.Errorf("late task at %v runs at %v with %q, want now and a reason", task.ScheduledAt, task.RunAt, task.Reason)
				}
			default:
				onTime++
			}
		}
		// -60s … -20s skipped (5), -10s runs late (1), 0s … +60s on time (7).
		if skipped != 5 || late != 1 || onTime != 7 {
			t.Errorf("skipped %d, late %d, on time %d; want 5, 1, 7", skipped, late, onTime)
		}
	})

	t.Run("MaxCountExpiresTheSchedule", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		s := intervalSchedule(ctx, t, st, 10*time.Second, now, now, 3)
		if _, err := newTestGenerator(t, st).RunOnce(ctx, now); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		got, _ := st.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: s.ID})
		if n := len(scheduleTasks(ctx, t, st, s.ID)); n != 3 || got.Status != model.ScheduleExpired || got.NextFireAt != nil {
			t.Errorf("%d tasks, status %s, cursor %v; want 3, expired, nil", n, got.Status, got.NextFireAt)
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		lifecycletest.Stress(t.Context(), t, newTestGenerator(t, st))
		lifecycletest.StopsImmediately(t.Context(), t, newTestGenerator(t, st))
		lifecycletest.RespectsContextCancellation(t.Context(), t, newTestGenerator(t, st))
		lifecycletest.CanRestart(t.Context(), t, newTestGenerator(t, st))
	})
}
