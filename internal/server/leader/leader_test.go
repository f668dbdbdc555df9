package leader

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// probe is a leader service that counts how many of it run.
type probe struct {
	lifecycle.Base
	running *atomic.Int32
}

func (p *probe) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := p.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	p.running.Add(1)
	go func() {
		started()
		defer stopped()
		<-ctx.Done()
		p.running.Add(-1)
	}()
	return nil
}

const ttl = 600 * time.Millisecond

func newElector(t *testing.T, st store.Store, id string, eligible bool, running *atomic.Int32) *Elector {
	e := New(Config{ServerID: id, TTL: ttl, Eligible: eligible}, st, []lifecycle.Service{&probe{running: running}}, nil, lifecycletest.WarnLogger(t))
	e.TestSignals.Init()
	return e
}

func TestElector(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Both() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testElector(t, o.Open)
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testElector(t *testing.T, open func(testing.TB) store.Store) {
	t.Run("OneLeadsAndStopHandsOver", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		// Each server counts its own services: once the leader stops, the
		// other may take over at any moment, so only the stopped one's
		// count says its services ended.
		var runA, runB, runW atomic.Int32
		a := newElector(t, st, "a", true, &runA)
		b := newElector(t, st, "b", true, &runB)
		watcher := newElector(t, st, "w", false, &runW)
		running := func() int32 { return runA.Load() + runB.Load() + runW.Load() }
		for _, e := range []*Elector{a, b, watcher} {
			if err := e.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(e.Stop)
		}
		waitFor(t, "a leader", func() bool { return a.Leading() != 0 || b.Leading() != 0 })
		// Several renewals later there is still exactly one leader, one
		// set of services, and the watcher never led.
		time.Sleep(2 * ttl)
		first, second, firstRunning := a, b, &runA
		if b.Leading() != 0 {
			first, second, firstRunning = b, a, &runB
		}
		if second.Leading() != 0 || watcher.Leading() != 0 || running() != 1 {
			t.Fatalf("leading: a=%d b=%d watcher=%d, %d services running; want one leader and one service", a.Leading(), b.Leading(), watcher.Leading(), running())
		}
		epoch := first.Leading()
		first.Stop()
		if n := firstRunning.Load(); n != 0 {
			t.Errorf("%d services of the stopped leader still running", n)
		}
		// The lease was released: the other takes it at its next
		// campaign, without waiting for expiry, at a higher epoch.
		second.Wake()
		waitFor(t, "the other server to lead", func() bool { return second.Leading() != 0 })
		if got := second.Leading(); got <= epoch {
			t.Errorf("new epoch %d, want above %d", got, epoch)
		}
		if running() != 1 {
			t.Errorf("%d services running after takeover, want 1", running())
		}
		if watcher.Leading() != 0 {
			t.Errorf("the ineligible server leads")
		}
	})

	t.Run("DeposedLeaderStopsAndIsFenced", func(t *testing.T) {
		t.Parallel()
		ctx, st := t.Context(), open(t)
		var running atomic.Int32
		a := newElector(t, st, "a", true, &running)
		if err := a.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(a.Stop)
		epoch := a.TestSignals.Elected.Wait(t)
		if err := store.InTx(ctx, st, func(ex store.Executor) error { return a.Fence(ctx, ex) }); err != nil {
			t.Fatalf("Fence while leading: %v", err)
		}
		// Another server takes the lease behind a's back (as after a's
		// lease expired while it was cut off from the database).
		if _, err := st.LeaderRelease(ctx, &store.LeaderReleaseParams{Name: LeaseName, Holder: "a", Epoch: epoch}); err != nil {
			t.Fatalf("release: %v", err)
		}
		if _, err := st.LeaderAcquire(ctx, &store.LeaderAcquireParams{Name: LeaseName, Holder: "usurper", TTL: time.Hour}); err != nil {
			t.Fatalf("acquire: %v", err)
		}
		// Until a notices, its writes are refused by the fence.
		a.mu.Lock()
		stillThinksItLeads := a.epoch == epoch
		a.mu.Unlock()
		if stillThinksItLeads {
			err := store.InTx(ctx, st, func(ex store.Executor) error { return a.Fence(ctx, ex) })
			if !errors.Is(err, ErrNotLeader) {
				t.Errorf("Fence after the takeover = %v, want ErrNotLeader", err)
			}
		}
		if got := a.TestSignals.Deposed.Wait(t); got != epoch {
			t.Errorf("deposed at epoch %d, want %d", got, epoch)
		}
		if running.Load() != 0 || a.Leading() != 0 {
			t.Errorf("after losing the lease: %d services running, leading %d", running.Load(), a.Leading())
		}
		if err := store.InTx(ctx, st, func(ex store.Executor) error { return a.Fence(ctx, ex) }); !errors.Is(err, ErrNotLeader) {
			t.Errorf("Fence after stepping down = %v, want ErrNotLeader", err)
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		var running atomic.Int32
		lifecycletest.Stress(t.Context(), t, newElector(t, st, "s", true, &running))
		lifecycletest.StopsImmediately(t.Context(), t, newElector(t, st, "s", true, &running))
		lifecycletest.CanRestart(t.Context(), t, newElector(t, st, "s", true, &running))
	})
}
