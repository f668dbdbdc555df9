package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseSchedule(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("InsertAndGet", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		job := Job(ctx, t, bundle.exec, &JobOpts{Namespace: ptr("team-a")})
		params := &store.ScheduleInsertParams{
			ID:         newID(),
			Cron:       "*/5 * * * * *",
			EndTime:    bundle.at(24 * time.Hour),
			Interval:   90 * time.Second,
			JobID:      job.ID,
			Kind:       model.ScheduleInterval,
			MaxCount:   10,
			Name:       "every-90s",
			Namespace:  "team-a",
			NextFireAt: bundle.at(time.Minute),
			Now:        &bundle.now,
			Options: model.ScheduleOptions{IntervalMode: model.FixedDelay, Misfire: model.MisfirePolicy{
				Policy: model.MisfireFireAll, Threshold: model.Duration(30 * time.Second), Limit: 7,
			}},
			StartTime: bundle.at(-time.Hour),
			Status:    model.ScheduleEnabled,
			TimeZone:  "Asia/Shanghai",
		}
		inserted, err := bundle.exec.ScheduleInsert(ctx, params)
		if err != nil {
			t.Fatalf("ScheduleInsert: %v", err)
		}
		want := &model.Schedule{
			ID:         params.ID,
			JobID:      job.ID,
			Namespace:  "team-a",
			Name:       "every-90s",
			Kind:       model.ScheduleInterval,
			Cron:       "*/5 * * * * *",
			TimeZone:   "Asia/Shanghai",
			Interval:   model.Duration(90 * time.Second),
			StartTime:  params.StartTime,
			EndTime:    params.EndTime,
			MaxCount:   10,
			Status:     model.ScheduleEnabled,
			NextFireAt: params.NextFireAt,
			Revision:   1,
			CreatedAt:  bundle.now,
			UpdatedAt:  bundle.now,
		}
		want.SetOptions(params.Options)
		want.SpecChangedAt = bundle.now
		checkSchedule(t, "ScheduleInsert", inserted, want)
		got, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: params.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		checkSchedule(t, "ScheduleGetByID", got, want)
	})

	t.Run("InsertKeepsNullTimes", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, nil)
		if sched.StartTime != nil || sched.EndTime != nil || sched.NextFireAt != nil {
			t.Errorf("StartTime, EndTime, NextFireAt = %s, %s, %s, want all nil",
				fmtTime(sched.StartTime), fmtTime(sched.EndTime), fmtTime(sched.NextFireAt))
		}
	})

	t.Run("InsertRequiresJob", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.ScheduleInsert(ctx, &store.ScheduleInsertParams{
			ID: newID(), JobID: newID(), Kind: model.ScheduleCron, Namespace: "default", Status: model.ScheduleEnabled,
		})
		if err == nil {
			t.Errorf("ScheduleInsert(unknown job) error = nil, want a foreign key error")
		}
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: newID()})
		checkErrIs(t, "ScheduleGetByID(unknown)", err, store.ErrNotFound)
	})

	t.Run("GetRestrictedByNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Namespace: ptr("team-a")})
		_, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID, Namespaces: []string{"team-b"}})
		checkErrIs(t, "ScheduleGetByID(other namespace)", err, store.ErrNotFound)
		if _, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID, Namespaces: []string{"team-a"}}); err != nil {
			t.Errorf("ScheduleGetByID(own namespace) error = %v, want nil", err)
		}
	})

	t.Run("UpdateChangesOnlyMarkedFieldsAndBumpsRevision", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now, NextFireAt: bundle.at(time.Minute)})
		got, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{
			ID:           sched.ID,
			Cron:         "0 0 * * * *",
			CronDoUpdate: true,
			EndTime:      bundle.at(time.Hour), // not marked: ignored
			Name:         "ignored",
			NextFireAt:   nil, // not marked: ignored
			Now:          bundle.at(time.Second),
			Status:       model.ScheduleDisabled,
		})
		if err != nil {
			t.Fatalf("ScheduleUpdate: %v", err)
		}
		want := *sched
		want.Cron = "0 0 * * * *"
		want.Revision = 2
		want.UpdatedAt = *bundle.at(time.Second)
		checkSchedule(t, "ScheduleUpdate", got, &want)
	})

	t.Run("UpdateChangesEveryMarkedField", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{
			Now: &bundle.now, NextFireAt: bundle.at(time.Minute), StartTime: bundle.at(-time.Hour), EndTime: bundle.at(time.Hour),
		})
		got, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{
			ID:                 sched.ID,
			Cron:               "",
			CronDoUpdate:       true,
			EndTime:            nil,
			EndTimeDoUpdate:    true,
			Interval:           time.Hour,
			IntervalDoUpdate:   true,
			MaxCount:           7,
			MaxCountDoUpdate:   true,
			Name:               "renamed",
			NameDoUpdate:       true,
			NextFireAt:         nil,
			NextFireAtDoUpdate: true,
			Now:                bundle.at(time.Second),
			StartTime:          bundle.at(2 * time.Hour),
			StartTimeDoUpdate:  true,
			Status:             model.ScheduleDisabled,
			StatusDoUpdate:     true,
			TimeZone:           "Europe/Paris",
			TimeZoneDoUpdate:   true,
		})
		if err != nil {
			t.Fatalf("ScheduleUpdate: %v", err)
		}
		want := *sched
		want.Cron = ""
		want.EndTime = nil
		want.Interval = model.Duration(time.Hour)
		want.MaxCount = 7
		want.Name = "renamed"
		want.NextFireAt = nil
		want.StartTime = bundle.at(2 * time.Hour)
		want.Status = model.ScheduleDisabled
		want.TimeZone = "Europe/Paris"
		want.Revision = 2
		want.UpdatedAt = *bundle.at(time.Second)
		checkSchedule(t, "ScheduleUpdate", got, &want)
	})

	t.Run("UpdateNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: newID(), Name: "x", NameDoUpdate: true})
		checkErrIs(t, "ScheduleUpdate(unknown)", err, store.ErrNotFound)
	})

	t.Run("UpdateRestrictedByNamespaces", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Namespace: ptr("team-a")})
		_, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{
			ID: sched.ID, Name: "x", NameDoUpdate: true, Namespaces: []string{"team-b"},
		})
		checkErrIs(t, "ScheduleUpdate(other namespace)", err, store.ErrNotFound)
		got, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		if got.Revision != sched.Revision || got.Name != sched.Name {
			t.Errorf("Revision, Name after refused update = %d, %q, want %d, %q", got.Revision, got.Name, sched.Revision, sched.Name)
		}
	})

	t.Run("DeleteReturnsScheduleAndKeepsTasks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now})
		task := Task(ctx, t, bundle.exec, &TaskOpts{JobID: &sched.JobID, ScheduleID: &sched.ID})
		got, err := bundle.exec.ScheduleDelete(ctx, &store.ScheduleDeleteParams{ID: sched.ID})
		if err != nil {
			t.Fatalf("ScheduleDelete: %v", err)
		}
		checkSchedule(t, "ScheduleDelete", got, sched)
		_, err = bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		checkErrIs(t, "ScheduleGetByID(deleted)", err, store.ErrNotFound)
		kept, err := bundle.exec.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: task.ID})
		if err != nil {
			t.Fatalf("TaskGetByID(task of deleted schedule): %v", err)
		}
		if kept.ScheduleID == nil || *kept.ScheduleID != sched.ID {
			t.Errorf("ScheduleID of kept task = %v, want %v", kept.ScheduleID, sched.ID)
		}
	})

	t.Run("DeleteNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Namespace: ptr("team-a")})
		_, err := bundle.exec.ScheduleDelete(ctx, &store.ScheduleDeleteParams{ID: newID()})
		checkErrIs(t, "ScheduleDelete(unknown)", err, store.ErrNotFound)
		_, err = bundle.exec.ScheduleDelete(ctx, &store.ScheduleDeleteParams{ID: sched.ID, Namespaces: []string{"team-b"}})
		checkErrIs(t, "ScheduleDelete(other namespace)", err, store.ErrNotFound)
	})

	t.Run("ListDueReturnsEnabledSchedulesOfEnabledJobsUpToHorizon", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		horizon := bundle.now
		disabledJob := Job(ctx, t, bundle.exec, &JobOpts{Status: ptr(model.JobDisabled)})
		early := Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Hour)})
		atHorizon := Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: &horizon})
		mid := Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Minute)})
		Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(time.Microsecond)})
		Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: nil})
		Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Hour), Status: ptr(model.ScheduleDisabled)})
		Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Hour), Status: ptr(model.ScheduleExpired)})
		Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Hour), JobID: &disabledJob.ID})
		broken := Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Hour)})
		if n, err := bundle.exec.ScheduleSetErrorIf(ctx, &store.ScheduleSetErrorIfParams{ID: broken.ID, ExpectRevision: broken.Revision, LastError: "bad cron"}); err != nil || n != 1 {
			t.Fatalf("ScheduleSetErrorIf = %d, %v", n, err)
		}

		got, err := bundle.exec.ScheduleListDue(ctx, &store.ScheduleListDueParams{Horizon: horizon})
		if err != nil {
			t.Fatalf("ScheduleListDue: %v", err)
		}
		checkIDs(t, "ScheduleListDue", scheduleIDs(got), []uuid.UUID{early.ID, mid.ID, atHorizon.ID})

		got, err = bundle.exec.ScheduleListDue(ctx, &store.ScheduleListDueParams{Horizon: horizon, Limit: 2})
		if err != nil {
			t.Fatalf("ScheduleListDue(limit 2): %v", err)
		}
		checkIDs(t, "ScheduleListDue(limit 2)", scheduleIDs(got), []uuid.UUID{early.ID, mid.ID})
	})

	t.Run("ListParkedReturnsEnabledIntervalAndDaemonSchedulesWithoutCursor", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		interval, daemon := ptr(model.ScheduleInterval), ptr(model.ScheduleDaemon)
		every := ptr(time.Minute)
		parked := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Kind: interval, Interval: every})
		parkedDaemon := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Kind: daemon, Interval: every})
		var others []uuid.UUID
		for _, o := range []*ScheduleOpts{
			{Kind: interval, Interval: every, NextFireAt: bundle.at(time.Minute)},  // armed
			{Kind: daemon, Interval: every, NextFireAt: bundle.at(time.Minute)},    // armed
			{Kind: interval, Interval: every, Status: ptr(model.ScheduleDisabled)}, // disabled
			{Kind: interval, Interval: every, Status: ptr(model.ScheduleExpired)},  // expired
			{},                              // cron
			{Kind: ptr(model.ScheduleOnce)}, // once
		} {
			others = append(others, Schedule(ctx, t, bundle.exec, o).ID)
		}
		unlisted := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Kind: interval, Interval: every})

		ids := append([]uuid.UUID{parked.ID, newID(), parkedDaemon.ID}, others...)
		got, err := bundle.exec.ScheduleListParked(ctx, &store.ScheduleListParkedParams{IDs: ids})
		if err != nil {
			t.Fatalf("ScheduleListParked: %v", err)
		}
		checkIDSet(t, "ScheduleListParked", scheduleIDs(got), []uuid.UUID{parked.ID, parkedDaemon.ID})
		for _, s := range got {
			if s.ID == parked.ID && !reflect.DeepEqual(s, parked) {
				t.Errorf("ScheduleListParked row = %+v, want %+v", s, parked)
			}
		}
		if got, err := bundle.exec.ScheduleListParked(ctx, &store.ScheduleListParkedParams{IDs: []uuid.UUID{unlisted.ID}}); err != nil || len(got) != 1 {
			t.Errorf("ScheduleListParked(one id) = %d schedules, %v; want 1", len(got), err)
		}
		if got, err := bundle.exec.ScheduleListParked(ctx, &store.ScheduleListParkedParams{}); err != nil || len(got) != 0 {
			t.Errorf("ScheduleListParked(no ids) = %d schedules, %v; want none", len(got), err)
		}
	})

	t.Run("AdvanceCursorMovesCursor", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now, NextFireAt: bundle.at(-time.Minute)})
		if n, err := bundle.exec.ScheduleSetErrorIf(ctx, &store.ScheduleSetErrorIfParams{
			ID: sched.ID, ExpectRevision: 1, LastError: "boom", Now: &bundle.now,
		}); err != nil || n != 1 {
			t.Fatalf("ScheduleSetErrorIf = %d, %v, want 1, nil", n, err)
		}
		got, err := bundle.exec.ScheduleAdvanceCursorMany(ctx, &store.ScheduleAdvanceCursorManyParams{
			Items: []*store.ScheduleCursorAdvance{{ID: sched.ID, ExpectRevision: 1, FiredCountDelta: 3, NextFireAt: bundle.at(2 * time.Minute)}},
			Now:   bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("ScheduleAdvanceCursorMany: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("ScheduleAdvanceCursorMany returned %d schedules, want 1", len(got))
		}
		want := *sched
		want.NextFireAt = bundle.at(2 * time.Minute)
		want.FiredCount = 3
		want.Revision = 2
		want.UpdatedAt = *bundle.at(time.Second)
		checkSchedule(t, "ScheduleAdvanceCursorMany", got[0], &want)
		stored, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		checkSchedule(t, "ScheduleGetByID after advance", stored, &want)
	})

	t.Run("AdvanceCursorCanEndSchedule", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{NextFireAt: bundle.at(-time.Minute)})
		got, err := bundle.exec.ScheduleAdvanceCursorMany(ctx, &store.ScheduleAdvanceCursorManyParams{
			Items: []*store.ScheduleCursorAdvance{{ID: sched.ID, ExpectRevision: sched.Revision, FiredCountDelta: 1, NextFireAt: nil, Status: model.ScheduleExpired}},
			Now:   &bundle.now,
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("ScheduleAdvanceCursorMany = %d schedules, %v, want 1, nil", len(got), err)
		}
		if got[0].NextFireAt != nil || got[0].Status != model.ScheduleExpired || got[0].FiredCount != 1 {
			t.Errorf("NextFireAt, Status, FiredCount = %s, %v, %d, want <nil>, expired, 1",
				fmtTime(got[0].NextFireAt), got[0].Status, got[0].FiredCount)
		}
	})

	t.Run("AdvanceCursorRefusesStaleRevision", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		stale := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now, NextFireAt: bundle.at(-time.Minute)})
		fresh := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now, NextFireAt: bundle.at(-time.Minute)})
		// Someone edits the schedule after the generator read it.
		edited, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: stale.ID, Cron: "0 0 * * * *", CronDoUpdate: true, Now: &bundle.now})
		if err != nil {
			t.Fatalf("ScheduleUpdate: %v", err)
		}
		got, err := bundle.exec.ScheduleAdvanceCursorMany(ctx, &store.ScheduleAdvanceCursorManyParams{
			Items: []*store.ScheduleCursorAdvance{
				{ID: stale.ID, ExpectRevision: stale.Revision, FiredCountDelta: 1, NextFireAt: bundle.at(time.Minute)},
				{ID: fresh.ID, ExpectRevision: fresh.Revision, FiredCountDelta: 1, NextFireAt: bundle.at(time.Minute)},
			},
			Now: bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("ScheduleAdvanceCursorMany: %v", err)
		}
		checkIDs(t, "ScheduleAdvanceCursorMany", scheduleIDs(got), []uuid.UUID{fresh.ID})
		stored, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: stale.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		checkSchedule(t, "stale schedule after refused advance", stored, edited)
	})

	t.Run("AdvanceCursorWithNoItems", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		got, err := bundle.exec.ScheduleAdvanceCursorMany(ctx, &store.ScheduleAdvanceCursorManyParams{})
		if err != nil || len(got) != 0 {
			t.Errorf("ScheduleAdvanceCursorMany(no items) = %d schedules, %v, want 0, nil", len(got), err)
		}
	})

	t.Run("SetErrorIfKeepsRevision", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now})
		n, err := bundle.exec.ScheduleSetErrorIf(ctx, &store.ScheduleSetErrorIfParams{
			ID: sched.ID, ExpectRevision: sched.Revision, LastError: "bad cron", Now: bundle.at(time.Second),
		})
		if err != nil || n != 1 {
			t.Fatalf("ScheduleSetErrorIf = %d, %v, want 1, nil", n, err)
		}
		got, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		want := *sched
		want.LastError = "bad cron"
		want.UpdatedAt = *bundle.at(time.Second)
		checkSchedule(t, "ScheduleGetByID after SetErrorIf", got, &want)
	})

	t.Run("UpdateOptionsAndSpecChangedAt", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now})
		opts := model.ScheduleOptions{Misfire: model.MisfirePolicy{Policy: model.MisfireSkip}}
		got, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: sched.ID, Options: opts, OptionsDoUpdate: true, Now: bundle.at(time.Minute)})
		if err != nil {
			t.Fatalf("ScheduleUpdate(options): %v", err)
		}
		if got.Misfire.Policy != model.MisfireSkip || !sameTime(got.SpecChangedAt, sched.SpecChangedAt) {
			t.Errorf("after options update: misfire %+v, spec changed %v; want skip and unchanged %v", got.Misfire, got.SpecChangedAt, sched.SpecChangedAt)
		}
		got, err = bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: sched.ID, SpecChanged: true, Now: bundle.at(2 * time.Minute)})
		if err != nil {
			t.Fatalf("ScheduleUpdate(spec changed): %v", err)
		}
		if !sameTime(got.SpecChangedAt, *bundle.at(2 * time.Minute)) || got.Misfire.Policy != model.MisfireSkip {
			t.Errorf("after spec change: spec changed %v, misfire %+v; want %v and options kept", got.SpecChangedAt, got.Misfire, *bundle.at(2 * time.Minute))
		}
	})

	t.Run("UpdateClearsLastError", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now, NextFireAt: bundle.at(-time.Minute)})
		if n, err := bundle.exec.ScheduleSetErrorIf(ctx, &store.ScheduleSetErrorIfParams{ID: sched.ID, ExpectRevision: sched.Revision, LastError: "bad cron"}); err != nil || n != 1 {
			t.Fatalf("ScheduleSetErrorIf = %d, %v", n, err)
		}
		got, err := bundle.exec.ScheduleUpdate(ctx, &store.ScheduleUpdateParams{ID: sched.ID, Cron: "0 * * * * *", CronDoUpdate: true})
		if err != nil {
			t.Fatalf("ScheduleUpdate: %v", err)
		}
		if got.LastError != "" {
			t.Errorf("LastError after update = %q, want empty", got.LastError)
		}
		due, err := bundle.exec.ScheduleListDue(ctx, &store.ScheduleListDueParams{Horizon: bundle.now})
		if err != nil {
			t.Fatalf("ScheduleListDue: %v", err)
		}
		checkIDs(t, "ScheduleListDue after update", scheduleIDs(due), []uuid.UUID{sched.ID})
	})

	t.Run("SetErrorIfRefusesStaleRevision", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		sched := Schedule(ctx, t, bundle.exec, &ScheduleOpts{Now: &bundle.now})
		n, err := bundle.exec.ScheduleSetErrorIf(ctx, &store.ScheduleSetErrorIfParams{
			ID: sched.ID, ExpectRevision: sched.Revision + 1, LastError: "bad cron", Now: bundle.at(time.Second),
		})
		if err != nil || n != 0 {
			t.Fatalf("ScheduleSetErrorIf(stale) = %d, %v, want 0, nil", n, err)
		}
		got, err := bundle.exec.ScheduleGetByID(ctx, &store.ScheduleGetByIDParams{ID: sched.ID})
		if err != nil {
			t.Fatalf("ScheduleGetByID: %v", err)
		}
		checkSchedule(t, "ScheduleGetByID after refused SetErrorIf", got, sched)
	})
}

// checkSchedule compares two schedules, times to the microsecond, and
// checks that the times are UTC.
func checkSchedule(t *testing.T, what string, got, want *model.Schedule) {
	t.Helper()
	checkUTC(t, what, &got.CreatedAt, &got.UpdatedAt, &got.SpecChangedAt, got.StartTime, got.EndTime, got.NextFireAt)
	g, w := *got, *want
	if !sameTime(g.SpecChangedAt, w.SpecChangedAt) {
		t.Errorf("%s: SpecChangedAt = %v, want %v", what, g.SpecChangedAt, w.SpecChangedAt)
	}
	g.SpecChangedAt, w.SpecChangedAt = time.Time{}, time.Time{}
	if !sameTime(g.CreatedAt, w.CreatedAt) || !sameTime(g.UpdatedAt, w.UpdatedAt) ||
		!sameTimePtr(g.StartTime, w.StartTime) || !sameTimePtr(g.EndTime, w.EndTime) || !sameTimePtr(g.NextFireAt, w.NextFireAt) {
		t.Errorf("%s: CreatedAt, UpdatedAt, StartTime, EndTime, NextFireAt = %v, %v, %s, %s, %s, want %v, %v, %s, %s, %s", what,
			g.CreatedAt, g.UpdatedAt, fmtTime(g.StartTime), fmtTime(g.EndTime), fmtTime(g.NextFireAt),
			w.CreatedAt, w.UpdatedAt, fmtTime(w.StartTime), fmtTime(w.EndTime), fmtTime(w.NextFireAt))
	}
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	g.StartTime, g.EndTime, g.NextFireAt, w.StartTime, w.EndTime, w.NextFireAt = nil, nil, nil, nil, nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", what, g, w)
	}
}

func scheduleIDs(scheds []*model.Schedule) []uuid.UUID {
	ids := make([]uuid.UUID, len(scheds))
	for i, s := range scheds {
		ids[i] = s.ID
	}
	return ids
}

// checkIDs compares two lists of ids, in order.
func checkIDs(t *testing.T, what string, got, want []uuid.UUID) {
	t.Helper()
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s ids = %v, want %v", what, got, want)
	}
}

// checkIDSet compares two lists of ids, ignoring order.
func checkIDSet(t *testing.T, what string, got, want []uuid.UUID) {
	t.Helper()
	set := make(map[uuid.UUID]int, len(want))
	for _, id := range want {
		set[id]++
	}
	for _, id := range got {
		set[id]--
	}
	for _, n := range set {
		if n != 0 {
			t.Errorf("%s ids = %v, want %v in any order", what, got, want)
			return
		}
	}
}
