package sched

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/balance"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
)

// countingStore records when the loops call it and returns nothing to do;
// any other method panics (nopStore).
type countingStore struct {
	nopStore
	mu    sync.Mutex
	calls map[string][]time.Time
	// beginFailures makes the first Begin calls fail.
	beginFailures int
}

func newCountingStore() *countingStore { return &countingStore{calls: map[string][]time.Time{}} }

func (s *countingStore) note(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name] = append(s.calls[name], time.Now())
}

func (s *countingStore) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls[name])
}

func (s *countingStore) ScheduleListDue(context.Context, *store.ScheduleListDueParams) ([]*model.Schedule, error) {
	s.note("ScheduleListDue")
	return nil, nil
}

func (s *countingStore) TaskInstanceListLeaseExpired(context.Context, *store.TaskInstanceListLeaseExpiredParams) ([]*model.TaskInstance, error) {
	s.note("TaskInstanceListLeaseExpired")
	return nil, nil
}

func (s *countingStore) AgentListStale(context.Context, *store.AgentListStaleParams) ([]*model.Agent, error) {
	s.note("AgentListStale")
	return nil, nil
}

func (s *countingStore) TaskList(_ context.Context, p *store.TaskListParams) ([]*model.Task, error) {
	// The unplaceable sweep filters on run_at, the purge on finished_at.
	name := "TaskList(" + p.Filter[len(p.Filter)-1].Field + ")"
	s.note(name)
	return nil, nil
}

func (s *countingStore) ServerSetInactive(context.Context, *store.ServerSetInactiveParams) (int, error) {
	s.note("ServerSetInactive")
	return 0, nil
}

func (s *countingStore) Begin(context.Context) (store.Tx, error) {
	s.mu.Lock()
	fail := s.beginFailures > 0
	if fail {
		s.beginFailures--
	}
	s.mu.Unlock()
	s.note("Begin")
	if fail {
		return nil, errors.New("database unreachable")
	}
	return nopTx{}, nil
}

type nopTx struct{ store.Tx }

func (nopTx) AgentHeartbeat(context.Context, *store.AgentHeartbeatParams) (int, error) { return 1, nil }

func (nopTx) Commit(context.Context) error   { return nil }
func (nopTx) Rollback(context.Context) error { return nil }

// emptyPool has no agents, or one that never takes a reservation (free),
// and records its passes.
type emptyPool struct {
	mu     sync.Mutex
	passes int
	// free, when set, makes it one agent with that many free slots that
	// never takes a reservation.
	free int
	// at are the instants of the passes.
	at []time.Time
}

func (p *emptyPool) Candidates() []*balance.Candidate {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.passes++
	p.at = append(p.at, time.Now())
	if p.free > 0 {
		return []*balance.Candidate{{ID: "agent-1", Free: p.free}}
	}
	return nil
}

// passTimes returns when the passes began.
func (p *emptyPool) passTimes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...)
}
func (p *emptyPool) Dispatch(context.Context, string, []*protocol.DispatchedInstance) error {
	return nil
}
func (p *emptyPool) Cancel(string, uuid.UUID, string) {}
func (p *emptyPool) Reserve(string) bool              { return false }
func (p *emptyPool) Release(string, int)              {}

func TestLoopsUnderSynctest(t *testing.T) {
	t.Parallel()

	t.Run("GeneratorPassesEveryIntervalAndWhenWoken", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			st := newCountingStore()
			g := NewGenerator(GeneratorConfig{Window: time.Minute, Interval: time.Second}, st, nil, lifecycletest.WarnLogger(t))
			if err := g.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			time.Sleep(10*time.Second + time.Millisecond)
			synctest.Wait()
			if n := st.count("ScheduleListDue"); n != 11 {
				t.Errorf("passes in 10s = %d, want 11 (one at start, one per second)", n)
			}
			g.Wake()
			synctest.Wait()
			if n := st.count("ScheduleListDue"); n != 12 {
				t.Errorf("passes after Wake = %d, want 12", n)
			}
			g.Stop()
		})
	})

	t.Run("DispatcherPassesEveryIntervalAndWhenWoken", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pool := &emptyPool{}
			d := NewDispatcher(DispatcherConfig{Horizon: 5 * time.Second, Interval: 250 * time.Millisecond, Batch: 10, AckTimeout: time.Second}, newCountingStore(), pool, nil, lifecycletest.WarnLogger(t))
			if err := d.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			time.Sleep(time.Second + time.Millisecond)
			synctest.Wait()
			pool.mu.Lock()
			passes := pool.passes
			pool.mu.Unlock()
			if passes != 5 {
				t.Errorf("passes in 1s = %d, want 5", passes)
			}
			for range 3 {
				d.Wake()
				synctest.Wait()
			}
			pool.mu.Lock()
			passes = pool.passes
			pool.mu.Unlock()
			if passes != 8 {
				t.Errorf("passes after three wakes = %d, want 8", passes)
			}
			d.Stop()
		})
	})

	t.Run("HousekeeperRunsSlowSweepsLessOften", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			st := newCountingStore()
			h := NewHousekeeper(HousekeeperConfig{Interval: time.Second, HeartbeatTTL: 10 * time.Second, HistoryTTL: time.Hour}, st, &recordingForgetter{}, nopLogs{}, Wakers{}, lifecycletest.WarnLogger(t))
			if err := h.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			time.Sleep(60*time.Second + time.Millisecond)
			synctest.Wait()
			h.Stop()
			if n := st.count("TaskInstanceListLeaseExpired"); n != 61 {
				t.Errorf("lease sweeps in 60s = %d, want 61", n)
			}
			if n := st.count("TaskList(run_at)"); n != 13 {
				t.Errorf("unplaceable sweeps in 60s = %d, want 13 (every 5s)", n)
			}
			if n := st.count("TaskList(finished_at)"); n != 2 {
				t.Errorf("purges in 60s = %d, want 2 (every minute)", n)
			}
		})
	})

	t.Run("ResultsRetryWithBackoffAndAckOnlyAfterCommit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			st := newCountingStore()
			st.beginFailures = 3
			logs, err := tasklog.New(filepath.Join(t.TempDir(), "logs"))
			if err != nil {
				t.Fatalf("tasklog.New: %v", err)
			}
			r := NewResults(ResultsConfig{AckTimeout: time.Second}, st, logs, Wakers{}, lifecycletest.WarnLogger(t))
			// Two heartbeats of two agents: two statements, so one
			// transaction (a batch of one statement needs none).
			start := time.Now()
			applied := make(chan error, 1)
			if err := r.Submit(t.Context(), &Report{AgentID: "a", Heartbeat: &HeartbeatReport{}}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if err := r.Submit(t.Context(), &Report{AgentID: "b", Heartbeat: &HeartbeatReport{}, Applied: func(err error) { applied <- err }}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if err := r.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			synctest.Wait()
			select {
			case <-applied:
				t.Fatalf("acknowledged before the transaction committed")
			default:
			}
			if err := <-applied; err != nil {
				t.Errorf("Applied(%v), want nil after the retries", err)
			}
			// Backoffs of 50, 100 and 200 ms, each plus up to half again.
			if elapsed := time.Since(start); elapsed < 350*time.Millisecond || elapsed > 525*time.Millisecond {
				t.Errorf("applied after %v, want 350-525ms of backoff", elapsed)
			}
			if n := st.count("Begin"); n != 4 {
				t.Errorf("Begin calls = %d, want 4", n)
			}
			r.Stop()
		})
	})
}
