package sched

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestHousekeeperPurgesOutput checks that a purge deletes the output of the
// runs it deletes, whichever backend holds it (files on SQLite, rows on
// PostgreSQL), and leaves the output of newer runs.
func TestHousekeeperPurgesOutput(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			ctx, st := t.Context(), o.Open(t)
			logs := newLogs(t, st)
			finished := func() *model.TaskInstance {
				task, in := doingTask(ctx, t, st, model.RetryPolicy{}, "agent-1", model.InstanceRunning, nil)
				for _, stream := range []model.LogStream{model.Stdout, model.Stderr} {
					if _, err := logs.Write(ctx, in.ID, stream, 0, []byte("output\n")); err != nil {
						t.Fatalf("Write: %v", err)
					}
				}
				if err := logs.Finish(ctx, in.ID); err != nil {
					t.Fatalf("Finish: %v", err)
				}
				if _, err := st.TaskFinishMany(ctx, &store.TaskFinishManyParams{Items: []*store.TaskFinish{{ID: task.ID, Attempt: task.Attempt, Status: model.TaskSucceeded}}}); err != nil {
					t.Fatalf("TaskFinishMany: %v", err)
				}
				return in
			}
			old := finished()
			h := NewHousekeeper(HousekeeperConfig{Interval: time.Second, HeartbeatTTL: 10 * time.Second, HistoryTTL: time.Hour}, st, &recordingForgetter{}, logs, Wakers{}, lifecycletest.WarnLogger(t))
			n, err := h.Purge(ctx, time.Now().Add(time.Hour+time.Minute))
			if err != nil || n != 1 {
				t.Fatalf("Purge = %d, %v; want 1 task", n, err)
			}
			kept := finished()
			if n, err := h.Purge(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
				t.Fatalf("second Purge = %d, %v; want nothing", n, err)
			}
			for _, c := range []struct {
				id   uuid.UUID
				want int64
			}{{old.ID, 0}, {kept.ID, 7}} {
				for _, stream := range []model.LogStream{model.Stdout, model.Stderr} {
					if got, err := logs.Size(ctx, c.id, stream); err != nil || got != c.want {
						t.Errorf("%s of %s: size %d, %v; want %d", stream, c.id, got, err, c.want)
					}
				}
			}
			if st.Dialect() == "postgres" {
				chunks, err := st.TaskLogChunkList(ctx, &store.TaskLogChunkListParams{InstanceID: old.ID, Stream: model.Stdout})
				if err != nil || len(chunks) != 0 {
					t.Errorf("chunks of the purged run = %d, %v; want none", len(chunks), err)
				}
			}
		})
	}
}
