package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
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
// to DispatchNow inside the transaction that creates it, tells it the
// outcome, and wakes the dispatchers only for a task it did not place.
func TestRunNowDispatchesInItsTransaction(t *testing.T) {
	t.Parallel()
	for _, place := range []bool{true, false} {
		st := teststore.SQLite(t)
		logs, err := tasklog.New(t.TempDir())
		if err != nil {
			t.Fatalf("tasklog.New: %v", err)
		}
		sched := &dispatchingScheduler{place: place}
		a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokenAuth{}, Scheduler: sched, ServerID: "s1", Version: "test", Logger: lifecycletest.WarnLogger(t)})
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		b := &testBundle{store: st, srv: srv}
		jobID := b.createJob(t)
		status, raw := b.do(t, http.MethodPost, "/jobs/"+jobID+"/run", token, strings.NewReader(`{}`))
		if status != http.StatusCreated {
			t.Fatalf("run = %d %s", status, raw)
		}
		taskID := decodeID(t, raw)
		sched.mu.Lock()
		asked, committed, wakes := sched.asked, sched.committed, sched.wakes
		sched.mu.Unlock()
		if len(asked) != 1 || asked[0].String() != taskID || len(committed) != 1 || !committed[0] {
			t.Errorf("placing %v: DispatchNow asked for %v, told committed %v; want the run's task, committed once", place, asked, committed)
		}
		if want := map[bool]int{true: 0, false: 1}[place]; wakes != want {
			t.Errorf("placing %v: %d dispatcher wakes, want %d", place, wakes, want)
		}
	}
}
