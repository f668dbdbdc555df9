package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// dispatchingScheduler places every task DispatchNow is given (placed) or
// none, and records what it was asked.
type dispatchingScheduler struct {
	nopScheduler
	place     bool
	mu        sync.Mutex
	asked     []uuid.UUID
	committed []bool
	wakes     int
}

func (s *dispatchingScheduler) DispatchNow(_ context.Context, ex store.Executor, tasks []*model.Task) (func(bool), int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, inTx := ex.(store.Tx); !inTx {
		return nil, 0, errors.New("DispatchNow outside the task's transaction")
	}
	for _, t := range tasks {
		s.asked = append(s.asked, t.ID)
	}
	placed := 0
	if s.place {
		placed = len(tasks)
	}
	return func(ok bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.committed = append(s.committed, ok)
	}, placed, nil
}

func (s *dispatchingScheduler) WakeDispatcher() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakes++
}

// TestRunNowDispatchesInItsTransaction checks that a run now hands its task
// to DispatchNow inside the transaction that creates it, tells it whether
// that committed, answers with the task as committed, and wakes the
// dispatchers only for a task it did not place.
func TestRunNowDispatchesInItsTransaction(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		place     bool
		auditDown bool // the transaction fails at its audit entry
	}{
		{"Placed", true, false},
		{"NotPlaced", false, false},
		{"RolledBack", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := teststore.SQLite(t)
			sched := &dispatchingScheduler{place: c.place}
			b := setupWith(t, st, sched)
			jobID := b.createJob(t)
			if c.auditDown {
				b = setupWith(t, auditDown{st}, sched)
			}
			status, raw := b.do(t, http.MethodPost, "/jobs/"+jobID+"/run", token, strings.NewReader(`{}`))
			sched.mu.Lock()
			asked, committed, wakes := sched.asked, sched.committed, sched.wakes
			sched.mu.Unlock()
			if len(asked) != 1 || len(committed) != 1 || committed[0] == c.auditDown {
				t.Fatalf("DispatchNow asked for %v, told committed %v; want one task, committed %v", asked, committed, !c.auditDown)
			}
			if c.auditDown {
				if status != http.StatusInternalServerError {
					t.Errorf("run with the audit log down = %d %s, want 500", status, raw)
				}
				return
			}
			if status != http.StatusCreated {
				t.Fatalf("run = %d %s", status, raw)
			}
			var task model.Task
			if err := json.Unmarshal(raw, &task); err != nil || task.ID != asked[0] {
				t.Fatalf("run answered %s (%v), want the task handed over", raw, err)
			}
			if want := map[bool]model.TaskStatus{true: model.TaskDoing, false: model.TaskPending}[c.place]; task.Status != want {
				t.Errorf("run answered status %s, want %s", task.Status, want)
			}
			if want := map[bool]int{true: 0, false: 1}[c.place]; wakes != want {
				t.Errorf("%d dispatcher wakes, want %d", wakes, want)
			}
		})
	}
}
