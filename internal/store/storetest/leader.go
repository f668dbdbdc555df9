package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseLeader(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("OneHolderAtATimeAndEpochsRise", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		acquire := func(holder string, at time.Duration) (int64, error) {
			l, err := bundle.exec.LeaderAcquire(ctx, &store.LeaderAcquireParams{Name: "scheduler", Holder: holder, TTL: 10 * time.Second, Now: bundle.at(at)})
			if err != nil {
				return 0, err
			}
			if l.Holder != holder || !l.ExpiresAt.Equal(*bundle.at(at + 10*time.Second)) {
				t.Errorf("lease = %+v, want held by %s for 10s", l, holder)
			}
			return l.Epoch, nil
		}
		e1, err := acquire("a", 0)
		if err != nil || e1 != 1 {
			t.Fatalf("first acquire = %d, %v; want epoch 1", e1, err)
		}
		if _, err := acquire("b", 5*time.Second); !isNotFound(err) {
			t.Fatalf("acquire of a live lease = %v, want ErrNotFound", err)
		}
		// The holder renews; a renewal at a stale epoch or by another
		// holder fails.
		if _, err := bundle.exec.LeaderRenew(ctx, &store.LeaderRenewParams{Name: "scheduler", Holder: "a", Epoch: 1, TTL: 10 * time.Second, Now: bundle.at(9 * time.Second)}); err != nil {
			t.Fatalf("renew: %v", err)
		}
		for _, p := range []store.LeaderRenewParams{{Holder: "b", Epoch: 1}, {Holder: "a", Epoch: 2}} {
			p.Name, p.TTL, p.Now = "scheduler", time.Second, bundle.at(10*time.Second)
			if _, err := bundle.exec.LeaderRenew(ctx, &p); !isNotFound(err) {
				t.Errorf("renew by %s at epoch %d = %v, want ErrNotFound", p.Holder, p.Epoch, err)
			}
		}
		// Renewed to 19 s: still a's at 18 s, free at 19 s.
		if _, err := acquire("b", 18*time.Second); !isNotFound(err) {
			t.Fatalf("acquire before the renewed expiry = %v, want ErrNotFound", err)
		}
		e2, err := acquire("b", 19*time.Second)
		if err != nil || e2 != 2 {
			t.Fatalf("acquire after expiry = %d, %v; want epoch 2", e2, err)
		}
		// The deposed holder can neither renew, nor fence, nor release.
		if _, err := bundle.exec.LeaderRenew(ctx, &store.LeaderRenewParams{Name: "scheduler", Holder: "a", Epoch: 1, TTL: time.Second, Now: bundle.at(19 * time.Second)}); !isNotFound(err) {
			t.Errorf("renew by the deposed holder = %v, want ErrNotFound", err)
		}
		if err := bundle.exec.LeaderFence(ctx, &store.LeaderFenceParams{Name: "scheduler", Holder: "a", Epoch: 1, Now: bundle.at(19 * time.Second)}); !isNotFound(err) {
			t.Errorf("fence of the deposed holder = %v, want ErrNotFound", err)
		}
		if n, err := bundle.exec.LeaderRelease(ctx, &store.LeaderReleaseParams{Name: "scheduler", Holder: "a", Epoch: 1, Now: bundle.at(19 * time.Second)}); err != nil || n != 0 {
			t.Errorf("release by the deposed holder = %d, %v, want 0", n, err)
		}
		if err := bundle.exec.LeaderFence(ctx, &store.LeaderFenceParams{Name: "scheduler", Holder: "b", Epoch: 2, Now: bundle.at(20 * time.Second)}); err != nil {
			t.Errorf("fence of the holder: %v", err)
		}
		// A release frees the lease at once.
		if n, err := bundle.exec.LeaderRelease(ctx, &store.LeaderReleaseParams{Name: "scheduler", Holder: "b", Epoch: 2, Now: bundle.at(20 * time.Second)}); err != nil || n != 1 {
			t.Fatalf("release = %d, %v, want 1", n, err)
		}
		if e3, err := acquire("c", 20*time.Second); err != nil || e3 != 3 {
			t.Errorf("acquire after release = %d, %v; want epoch 3", e3, err)
		}
		got, err := bundle.exec.LeaderGet(ctx, &store.LeaderGetParams{Name: "scheduler"})
		if err != nil || got.Holder != "c" || got.Epoch != 3 {
			t.Errorf("LeaderGet = %+v, %v; want c at epoch 3", got, err)
		}
		if _, err := bundle.exec.LeaderGet(ctx, &store.LeaderGetParams{Name: "other"}); !isNotFound(err) {
			t.Errorf("LeaderGet(other) = %v, want ErrNotFound", err)
		}
	})

	t.Run("RacingAcquirersGetOneLease", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		var mu sync.Mutex
		winners := 0
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := bundle.exec.LeaderAcquire(ctx, &store.LeaderAcquireParams{Name: "scheduler", Holder: string(rune('a' + i)), TTL: time.Minute, Now: &bundle.now})
				switch {
				case err == nil:
					mu.Lock()
					winners++
					mu.Unlock()
				case !isNotFound(err):
					t.Errorf("acquire: %v", err)
				}
			}()
		}
		wg.Wait()
		if winners != 1 {
			t.Errorf("%d acquirers won, want exactly 1", winners)
		}
	})

	t.Run("FenceHoldsTheLeaseForItsTransaction", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if _, err := bundle.exec.LeaderAcquire(ctx, &store.LeaderAcquireParams{Name: "scheduler", Holder: "a", TTL: time.Minute, Now: &bundle.now}); err != nil {
			t.Fatalf("acquire: %v", err)
		}
		tx, err := bundle.exec.Begin(ctx)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		defer tx.Rollback(ctx)
		if err := tx.LeaderFence(ctx, &store.LeaderFenceParams{Name: "scheduler", Holder: "a", Epoch: 1, Now: &bundle.now}); err != nil {
			t.Fatalf("fence: %v", err)
		}
		// A takeover (after expiry) waits for the fenced transaction.
		took := make(chan error, 1)
		go func() {
			_, err := bundle.exec.LeaderAcquire(ctx, &store.LeaderAcquireParams{Name: "scheduler", Holder: "b", TTL: time.Minute, Now: bundle.at(2 * time.Minute)})
			took <- err
		}()
		select {
		case err := <-took:
			t.Fatalf("takeover finished while the leader's transaction was open: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := <-took; err != nil {
			t.Errorf("takeover after the commit: %v", err)
		}
	})
}

func exerciseNotify(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("ListenersGetNotificationsInOrder", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ctx, cancel := context.WithCancel(ctx)
		connected := make(chan struct{}, 1)
		got := make(chan string, 10)
		done := make(chan error, 1)
		go func() {
			done <- bundle.exec.Listen(ctx, "hetuflow_test", func() { connected <- struct{}{} }, func(p string) { got <- p })
		}()
		select {
		case <-connected:
		case <-time.After(10 * time.Second):
			t.Fatal("listener did not connect")
		}
		for _, p := range []string{"one", "two", "three"} {
			if err := bundle.exec.Notify(ctx, "hetuflow_test", p); err != nil {
				t.Fatalf("Notify: %v", err)
			}
		}
		if err := bundle.exec.Notify(ctx, "other_channel", "not for us"); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		for _, want := range []string{"one", "two", "three"} {
			select {
			case p := <-got:
				if p != want {
					t.Errorf("got %q, want %q", p, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no notification %q", want)
			}
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Listen = %v, want context.Canceled", err)
		}
	})
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
