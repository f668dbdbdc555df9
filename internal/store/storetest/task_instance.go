package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseTaskInstance(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("InsertManyAndGet", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		task := Task(ctx, t, bundle.exec, &TaskOpts{Namespace: ptr("team-a"), Status: ptr(model.TaskDoing)})
		dispatched := &store.TaskInstanceInsert{
			ID:             newID(),
			AgentID:        "agent-a",
			Attempt:        1,
			DispatchedAt:   &bundle.now,
			JobID:          task.JobID,
			LeaseExpiresAt: bundle.at(10 * time.Second),
			Namespace:      "team-a",
			PlannedAt:      *bundle.at(2 * time.Second),
			ServerID:       "server-a",
			Status:         model.InstanceDispatched,
			TaskID:         task.ID,
			Placement:      "broadcast: every matching agent",
			ShardIndex:     1,
			ShardTotal:     3,
		}
		pending := &store.TaskInstanceInsert{
			ID: newID(), Attempt: 2, JobID: task.JobID, Namespace: "team-a", PlannedAt: bundle.now, Status: model.InstancePending, TaskID: task.ID,
		}
		n, err := bundle.exec.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{
			Instances: []*store.TaskInstanceInsert{dispatched, pending},
			Now:       &bundle.now,
		})
		if err != nil {
			t.Fatalf("TaskInstanceInsertMany: %v", err)
		}
		checkCount(t, "TaskInstanceInsertMany", n, 2)
		checkTaskInstance(t, "TaskInstanceGetByID(dispatched)", getTaskInstance(ctx, t, bundle.exec, dispatched.ID), &model.TaskInstance{
			ID:             dispatched.ID,
			TaskID:         task.ID,
			JobID:          task.JobID,
			Namespace:      "team-a",
			Attempt:        1,
			AgentID:        "agent-a",
			ServerID:       "server-a",
			Status:         model.InstanceDispatched,
			PlannedAt:      *bundle.at(2 * time.Second),
			LeaseExpiresAt: bundle.at(10 * time.Second),
			DispatchedAt:   &bundle.now,
			Placement:      "broadcast: every matching agent",
			ShardIndex:     1,
			ShardTotal:     3,
			CreatedAt:      bundle.now,
			UpdatedAt:      bundle.now,
		})
		checkTaskInstance(t, "TaskInstanceGetByID(pending)", getTaskInstance(ctx, t, bundle.exec, pending.ID), &model.TaskInstance{
			ID:        pending.ID,
			TaskID:    task.ID,
			JobID:     task.JobID,
			Namespace: "team-a",
			Attempt:   2,
			Status:    model.InstancePending,
			PlannedAt: bundle.now,
			CreatedAt: bundle.now,
			UpdatedAt: bundle.now,
		})
	})

	t.Run("InsertManyStartsAttempts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		pending := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now})
		retry := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskWaitingRetry)})
		broadcast := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now})
		doing := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now, Status: ptr(model.TaskDoing)})
		untouched := Task(ctx, t, bundle.exec, &TaskOpts{Now: &bundle.now})
		instance := func(task *model.Task) *store.TaskInstanceInsert {
			return &store.TaskInstanceInsert{ID: newID(), Attempt: 1, JobID: task.JobID, Namespace: task.Namespace,
				PlannedAt: bundle.now, Status: model.InstanceDispatched, TaskID: task.ID, AgentID: "agent-a"}
		}
		later := bundle.at(time.Second)
		n, err := bundle.exec.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{
			Instances: []*store.TaskInstanceInsert{instance(pending), instance(retry), instance(broadcast), instance(broadcast), instance(doing)},
			Now:       later, StartAttempts: true,
		})
		if err != nil {
			t.Fatalf("TaskInstanceInsertMany: %v", err)
		}
		checkCount(t, "TaskInstanceInsertMany", n, 5)
		// Without StartAttempts the task stays as it was.
		if _, err := bundle.exec.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{
			Instances: []*store.TaskInstanceInsert{instance(untouched)}, Now: later,
		}); err != nil {
			t.Fatalf("TaskInstanceInsertMany without StartAttempts: %v", err)
		}
		for _, tt := range []struct {
			name    string
			task    *model.Task
			status  model.TaskStatus
			attempt int
			updated time.Time
		}{
			{"pending", pending, model.TaskDoing, 1, *later},
			{"waiting retry", retry, model.TaskDoing, 1, *later},
			{"two instances", broadcast, model.TaskDoing, 1, *later},
			{"already doing", doing, model.TaskDoing, doing.Attempt, bundle.now},
			{"no StartAttempts", untouched, model.TaskPending, 0, bundle.now},
		} {
			got := getTask(ctx, t, bundle.exec, tt.task.ID)
			if got.Status != tt.status || got.Attempt != tt.attempt || !sameTime(got.UpdatedAt, tt.updated) {
				t.Errorf("%s: Status, Attempt, UpdatedAt = %v, %d, %v, want %v, %d, %v",
					tt.name, got.Status, got.Attempt, got.UpdatedAt, tt.status, tt.attempt, tt.updated)
			}
		}
	})

	t.Run("InsertManyRequiresTask", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{Instances: []*store.TaskInstanceInsert{{
			ID: newID(), Attempt: 1, JobID: newID(), Namespace: "default", PlannedAt: bundle.now, Status: model.InstanceDispatched, TaskID: newID(),
		}}})
		if err == nil {
			t.Errorf("TaskInstanceInsertMany(unknown task) error = nil, want a foreign key error")
		}
	})

	t.Run("InsertManyDuplicateIDConflicts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		_, err := bundle.exec.TaskInstanceInsertMany(ctx, &store.TaskInstanceInsertManyParams{Instances: []*store.TaskInstanceInsert{{
			ID: ti.ID, Attempt: 2, JobID: ti.JobID, Namespace: ti.Namespace, PlannedAt: bundle.now, Status: model.InstanceDispatched, TaskID: ti.TaskID,
		}}})
		checkErrIs(t, "TaskInstanceInsertMany(same id)", err, store.ErrConflict)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: newID()})
		checkErrIs(t, "TaskInstanceGetByID(unknown)", err, store.ErrNotFound)
		ti := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{Namespace: ptr("team-a")})
		_, err = bundle.exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: ti.ID, Namespaces: []string{"team-b"}})
		checkErrIs(t, "TaskInstanceGetByID(other namespace)", err, store.ErrNotFound)
		if _, err := bundle.exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: ti.ID, Namespaces: []string{"team-a"}}); err != nil {
			t.Errorf("TaskInstanceGetByID(own namespace) error = %v, want nil", err)
		}
	})

	t.Run("AckManyMovesDispatchedHeldByAgent", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		mine := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: bundle.at(5 * time.Second), PlannedAt: bundle.at(30 * time.Second)})
		late := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: bundle.at(5 * time.Second), PlannedAt: bundle.at(-time.Minute)})
		theirs := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-b"), Now: &bundle.now, LeaseExpiresAt: bundle.at(5 * time.Second)})
		running := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.InstanceRunning)})
		n, err := bundle.exec.TaskInstanceAckMany(ctx, &store.TaskInstanceAckManyParams{
			AgentID:    "agent-a",
			IDs:        []uuid.UUID{mine.ID, late.ID, theirs.ID, running.ID, newID()},
			LeaseGrace: 10 * time.Second,
			Now:        bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("TaskInstanceAckMany: %v", err)
		}
		checkCount(t, "TaskInstanceAckMany", n, 2)
		want := *mine
		want.Status = model.InstanceAcked
		want.AckedAt = bundle.at(time.Second)
		want.LeaseExpiresAt = bundle.at(40 * time.Second) // planned + grace
		want.UpdatedAt = *bundle.at(time.Second)
		checkTaskInstance(t, "acked instance", getTaskInstance(ctx, t, bundle.exec, mine.ID), &want)
		wantLate := *late
		wantLate.Status = model.InstanceAcked
		wantLate.AckedAt = bundle.at(time.Second)
		wantLate.LeaseExpiresAt = bundle.at(11 * time.Second) // already due: now + grace
		wantLate.UpdatedAt = *bundle.at(time.Second)
		checkTaskInstance(t, "acked late instance", getTaskInstance(ctx, t, bundle.exec, late.ID), &wantLate)
		checkTaskInstance(t, "other agent's instance", getTaskInstance(ctx, t, bundle.exec, theirs.ID), theirs)
		checkTaskInstance(t, "running instance", getTaskInstance(ctx, t, bundle.exec, running.ID), running)

		n, err = bundle.exec.TaskInstanceAckMany(ctx, &store.TaskInstanceAckManyParams{
			AgentID: "agent-a", IDs: []uuid.UUID{mine.ID}, LeaseGrace: time.Hour, Now: bundle.at(time.Second),
		})
		if err != nil || n != 0 {
			t.Errorf("TaskInstanceAckMany(already acked) = %d, %v, want 0, nil", n, err)
		}
	})

	t.Run("StartManyMovesDispatchedOrAckedHeldByAgentAndAcksIt", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		lease := bundle.at(time.Minute)
		dispatched := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: lease})
		acked := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: lease, Status: ptr(model.InstanceAcked)})
		theirs := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-b"), Now: &bundle.now, LeaseExpiresAt: lease})
		failed := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.InstanceFailed)})
		startedAt := *bundle.at(3 * time.Second)
		n, err := bundle.exec.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{
			Items: []*store.TaskInstanceStart{
				{ID: dispatched.ID, AgentID: "agent-a", StartedAt: startedAt},
				{ID: acked.ID, AgentID: "agent-a", StartedAt: startedAt},
				{ID: theirs.ID, AgentID: "agent-a", StartedAt: startedAt},
				{ID: failed.ID, AgentID: "agent-a", StartedAt: startedAt},
			},
			Now: bundle.at(4 * time.Second),
		})
		if err != nil {
			t.Fatalf("TaskInstanceStartMany: %v", err)
		}
		checkCount(t, "TaskInstanceStartMany", n, 2)
		for _, ti := range []*model.TaskInstance{dispatched, acked} {
			want := *ti
			want.Status = model.InstanceRunning
			want.StartedAt = &startedAt
			want.LeaseExpiresAt = nil
			want.UpdatedAt = *bundle.at(4 * time.Second)
			if want.AckedAt == nil {
				// A start without an earlier ack acknowledges too.
				want.AckedAt = bundle.at(4 * time.Second)
			}
			checkTaskInstance(t, "started instance", getTaskInstance(ctx, t, bundle.exec, ti.ID), &want)
		}
		checkTaskInstance(t, "other agent's instance", getTaskInstance(ctx, t, bundle.exec, theirs.ID), theirs)
		checkTaskInstance(t, "failed instance", getTaskInstance(ctx, t, bundle.exec, failed.ID), failed)
	})

	t.Run("FinishManyFinishesLiveInstances", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		startedAt := *bundle.at(time.Second)
		running := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.InstanceRunning)})
		if n, err := bundle.exec.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{
			Items: []*store.TaskInstanceStart{{ID: running.ID, AgentID: "agent-a", StartedAt: startedAt}}, Now: &bundle.now,
		}); err != nil || n != 0 {
			t.Fatalf("TaskInstanceStartMany(running) = %d, %v, want 0, nil", n, err)
		}
		dispatched := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: bundle.at(time.Minute)})
		lost := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-b"), Now: &bundle.now, Status: ptr(model.InstanceAcked)})
		usage := &model.ResourceUsage{UserCPUMillis: 12, SystemCPUMillis: 3, PeakMemoryBytes: 4 << 20, StdoutBytes: 100, StderrBytes: 5, DroppedBytes: 1}
		got, err := bundle.exec.TaskInstanceFinishMany(ctx, &store.TaskInstanceFinishManyParams{
			Items: []*store.TaskInstanceFinish{
				{ID: running.ID, AgentID: "agent-a", ExitCode: ptr(0), FinishedAt: bundle.at(5 * time.Second), Status: model.InstanceSucceeded, Usage: usage},
				{ID: dispatched.ID, AgentID: "agent-a", Error: "exec: not found", ExitCode: ptr(-1), StartedAt: &startedAt, Status: model.InstanceFailed, Reason: "start_failed", OutputTail: "line 1\nline 2\n"},
				{ID: lost.ID, Error: "agent lost", Status: model.InstanceLost}, // no agent: the server's sweep
			},
			Now: bundle.at(6 * time.Second),
		})
		if err != nil {
			t.Fatalf("TaskInstanceFinishMany: %v", err)
		}
		checkIDSet(t, "TaskInstanceFinishMany", taskInstanceIDs(got), []uuid.UUID{running.ID, dispatched.ID, lost.ID})

		wantRunning := *running
		wantRunning.Status = model.InstanceSucceeded
		wantRunning.ExitCode = ptr(0)
		wantRunning.FinishedAt = bundle.at(5 * time.Second)
		wantRunning.Usage = usage
		wantRunning.UpdatedAt = *bundle.at(6 * time.Second)
		wantDispatched := *dispatched
		wantDispatched.Status = model.InstanceFailed
		wantDispatched.Error = "exec: not found"
		wantDispatched.Reason = "start_failed"
		wantDispatched.OutputTail = "line 1\nline 2\n"
		wantDispatched.ExitCode = ptr(-1)
		wantDispatched.StartedAt = &startedAt
		wantDispatched.FinishedAt = bundle.at(6 * time.Second)
		wantDispatched.LeaseExpiresAt = nil
		wantDispatched.UpdatedAt = *bundle.at(6 * time.Second)
		wantLost := *lost
		wantLost.Status = model.InstanceLost
		wantLost.Error = "agent lost"
		wantLost.FinishedAt = bundle.at(6 * time.Second)
		wantLost.UpdatedAt = *bundle.at(6 * time.Second)
		for _, want := range []*model.TaskInstance{&wantRunning, &wantDispatched, &wantLost} {
			for _, g := range got {
				if g.ID == want.ID {
					checkTaskInstance(t, "TaskInstanceFinishMany", g, want)
				}
			}
			checkTaskInstance(t, "TaskInstanceGetByID after finish", getTaskInstance(ctx, t, bundle.exec, want.ID), want)
		}
	})

	t.Run("FinishManyKeepsStartedAt", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now})
		startedAt := *bundle.at(time.Second)
		if n, err := bundle.exec.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{
			Items: []*store.TaskInstanceStart{{ID: ti.ID, AgentID: "agent-a", StartedAt: startedAt}}, Now: &bundle.now,
		}); err != nil || n != 1 {
			t.Fatalf("TaskInstanceStartMany = %d, %v, want 1, nil", n, err)
		}
		got, err := bundle.exec.TaskInstanceFinishMany(ctx, &store.TaskInstanceFinishManyParams{
			Items: []*store.TaskInstanceFinish{{ID: ti.ID, AgentID: "agent-a", ExitCode: ptr(1), StartedAt: bundle.at(time.Hour), Status: model.InstanceFailed}},
			Now:   bundle.at(2 * time.Second),
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("TaskInstanceFinishMany = %d instances, %v, want 1, nil", len(got), err)
		}
		if !sameTimePtr(got[0].StartedAt, &startedAt) || got[0].Usage != nil {
			t.Errorf("StartedAt, Usage = %s, %v, want %v, <nil>", fmtTime(got[0].StartedAt), got[0].Usage, startedAt)
		}
	})

	t.Run("FinishManyRecordsTheAckOfAnAckedItem", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		lease := bundle.at(time.Minute)
		agentEnded := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: lease})
		acked := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: lease})
		serverEnded := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, LeaseExpiresAt: lease})
		if n, err := bundle.exec.TaskInstanceAckMany(ctx, &store.TaskInstanceAckManyParams{
			AgentID: "agent-a", IDs: []uuid.UUID{acked.ID}, LeaseGrace: time.Second, Now: bundle.at(time.Second),
		}); err != nil || n != 1 {
			t.Fatalf("TaskInstanceAckMany = %d, %v, want 1, nil", n, err)
		}
		got, err := bundle.exec.TaskInstanceFinishMany(ctx, &store.TaskInstanceFinishManyParams{
			Items: []*store.TaskInstanceFinish{
				{ID: agentEnded.ID, AgentID: "agent-a", ExitCode: ptr(0), Status: model.InstanceSucceeded, Acked: true},
				{ID: acked.ID, AgentID: "agent-a", ExitCode: ptr(0), Status: model.InstanceSucceeded, Acked: true},
				{ID: serverEnded.ID, Error: "agent lost", Status: model.InstanceLost},
			},
			Now: bundle.at(2 * time.Second),
		})
		if err != nil || len(got) != 3 {
			t.Fatalf("TaskInstanceFinishMany = %d instances, %v, want 3, nil", len(got), err)
		}
		for _, c := range []struct {
			name string
			id   uuid.UUID
			want *time.Time
		}{
			{"never acked, finished by its agent", agentEnded.ID, bundle.at(2 * time.Second)},
			{"acked before", acked.ID, bundle.at(time.Second)},
			{"never acked, ended by the server", serverEnded.ID, nil},
		} {
			if g := getTaskInstance(ctx, t, bundle.exec, c.id); !sameTimePtr(g.AckedAt, c.want) {
				t.Errorf("%s: AckedAt = %s, want %s", c.name, fmtTime(g.AckedAt), fmtTime(c.want))
			}
		}
	})

	t.Run("FinishManyRefusesOtherAgentOrFinalInstance", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		theirs := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-b"), Now: &bundle.now, Status: ptr(model.InstanceRunning)})
		done := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.InstanceSucceeded)})
		timedOut := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.InstanceTimeout)})
		pending := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: ptr(model.InstancePending)})
		got, err := bundle.exec.TaskInstanceFinishMany(ctx, &store.TaskInstanceFinishManyParams{
			Items: []*store.TaskInstanceFinish{
				{ID: theirs.ID, AgentID: "agent-a", ExitCode: ptr(0), Status: model.InstanceSucceeded},
				{ID: done.ID, AgentID: "agent-a", ExitCode: ptr(1), Status: model.InstanceFailed},
				{ID: timedOut.ID, Status: model.InstanceFailed},
				{ID: pending.ID, Status: model.InstanceCancelled},
				{ID: newID(), Status: model.InstanceFailed},
			},
			Now: bundle.at(time.Second),
		})
		if err != nil {
			t.Fatalf("TaskInstanceFinishMany: %v", err)
		}
		checkIDs(t, "TaskInstanceFinishMany", taskInstanceIDs(got), nil)
		for _, ti := range []*model.TaskInstance{theirs, done, timedOut, pending} {
			checkTaskInstance(t, "instance after refused finish", getTaskInstance(ctx, t, bundle.exec, ti.ID), ti)
		}
	})

	t.Run("ListLeaseExpired", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		late := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: bundle.at(-time.Minute)})
		later := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: bundle.at(-time.Second), Status: ptr(model.InstanceAcked)})
		earliest := TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: bundle.at(-time.Hour)})
		TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: &bundle.now}) // not before Now
		TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: nil})
		TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: bundle.at(-time.Hour), Status: ptr(model.InstanceRunning)})
		TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{LeaseExpiresAt: bundle.at(-time.Hour), Status: ptr(model.InstanceLost)})
		got, err := bundle.exec.TaskInstanceListLeaseExpired(ctx, &store.TaskInstanceListLeaseExpiredParams{Now: &bundle.now})
		if err != nil {
			t.Fatalf("TaskInstanceListLeaseExpired: %v", err)
		}
		checkIDs(t, "TaskInstanceListLeaseExpired", taskInstanceIDs(got), []uuid.UUID{earliest.ID, late.ID, later.ID})
		got, err = bundle.exec.TaskInstanceListLeaseExpired(ctx, &store.TaskInstanceListLeaseExpiredParams{Now: &bundle.now, Limit: 1})
		if err != nil {
			t.Fatalf("TaskInstanceListLeaseExpired(limit 1): %v", err)
		}
		checkIDs(t, "TaskInstanceListLeaseExpired(limit 1)", taskInstanceIDs(got), []uuid.UUID{earliest.ID})
	})

	t.Run("ListLiveByAgent", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		var want []uuid.UUID
		for i, status := range []model.InstanceStatus{model.InstanceDispatched, model.InstanceAcked, model.InstanceRunning} {
			want = append(want, TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{
				AgentID: ptr("agent-a"), Now: bundle.at(time.Duration(i) * time.Second), Status: &status,
			}).ID)
		}
		for _, status := range []model.InstanceStatus{model.InstancePending, model.InstanceTimeout, model.InstanceFailed, model.InstanceLost, model.InstanceCancelled, model.InstanceSucceeded} {
			TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-a"), Now: &bundle.now, Status: &status})
		}
		TaskInstance(ctx, t, bundle.exec, &TaskInstanceOpts{AgentID: ptr("agent-b"), Now: &bundle.now})
		got, err := bundle.exec.TaskInstanceListLiveByAgent(ctx, &store.TaskInstanceListLiveByAgentParams{AgentID: "agent-a"})
		if err != nil {
			t.Fatalf("TaskInstanceListLiveByAgent: %v", err)
		}
		checkIDSet(t, "TaskInstanceListLiveByAgent", taskInstanceIDs(got), want)
	})
}

// checkTaskInstance compares two instances, times to the microsecond, and
// checks that the times are UTC.
func checkTaskInstance(t *testing.T, what string, got, want *model.TaskInstance) {
	t.Helper()
	checkUTC(t, what, &got.PlannedAt, got.LeaseExpiresAt, got.DispatchedAt, got.AckedAt, got.StartedAt, got.FinishedAt, &got.CreatedAt, &got.UpdatedAt)
	g, w := *got, *want
	gt := []*time.Time{&g.PlannedAt, g.LeaseExpiresAt, g.DispatchedAt, g.AckedAt, g.StartedAt, g.FinishedAt, &g.CreatedAt, &g.UpdatedAt}
	wt := []*time.Time{&w.PlannedAt, w.LeaseExpiresAt, w.DispatchedAt, w.AckedAt, w.StartedAt, w.FinishedAt, &w.CreatedAt, &w.UpdatedAt}
	names := []string{"PlannedAt", "LeaseExpiresAt", "DispatchedAt", "AckedAt", "StartedAt", "FinishedAt", "CreatedAt", "UpdatedAt"}
	for i := range gt {
		if !sameTimePtr(gt[i], wt[i]) {
			t.Errorf("%s: %s = %s, want %s", what, names[i], fmtTime(gt[i]), fmtTime(wt[i]))
		}
	}
	g.PlannedAt, g.CreatedAt, g.UpdatedAt, w.PlannedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	g.LeaseExpiresAt, g.DispatchedAt, g.AckedAt, g.StartedAt, g.FinishedAt = nil, nil, nil, nil, nil
	w.LeaseExpiresAt, w.DispatchedAt, w.AckedAt, w.StartedAt, w.FinishedAt = nil, nil, nil, nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v, want %+v", what, g, w)
	}
}

func getTaskInstance(ctx context.Context, t *testing.T, exec store.Executor, id uuid.UUID) *model.TaskInstance {
	t.Helper()
	ti, err := exec.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: id})
	if err != nil {
		t.Fatalf("TaskInstanceGetByID(%s): %v", id, err)
	}
	return ti
}

func taskInstanceIDs(tis []*model.TaskInstance) []uuid.UUID {
	ids := make([]uuid.UUID, len(tis))
	for i, ti := range tis {
		ids[i] = ti.ID
	}
	return ids
}
