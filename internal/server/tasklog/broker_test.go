package tasklog

import (
	"testing"
	"testing/synctest"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

func TestBroker(t *testing.T) {
	t.Parallel()

	woken := func(s *Subscription) bool {
		select {
		case <-s.Wake():
			return true
		default:
			return false
		}
	}

	t.Run("WakesOnlyFollowersOfTheInstance", func(t *testing.T) {
		t.Parallel()
		b := NewBroker()
		id, other := uuid.New(), uuid.New()
		s1, s2, s3 := b.Subscribe(id), b.Subscribe(id), b.Subscribe(other)
		defer s1.Close()
		defer s2.Close()
		defer s3.Close()
		b.Notify(id)
		if !woken(s1) || !woken(s2) {
			t.Errorf("followers of %s not woken", id)
		}
		if woken(s3) {
			t.Errorf("follower of another instance woken")
		}
	})

	t.Run("CoalescesWithoutBlocking", func(t *testing.T) {
		t.Parallel()
		b := NewBroker()
		id := uuid.New()
		s := b.Subscribe(id)
		defer s.Close()
		for range 100 { // nobody reads: must not block
			b.Notify(id)
		}
		if !woken(s) {
			t.Fatalf("not woken")
		}
		if woken(s) {
			t.Errorf("woken twice for writes nobody read in between")
		}
		if s.Finished() {
			t.Errorf("Finished before Finish")
		}
		b.Finish(id)
		if !woken(s) || !s.Finished() {
			t.Errorf("Finish: woken and finished, want both")
		}
	})

	t.Run("CloseUnsubscribes", func(t *testing.T) {
		t.Parallel()
		b := NewBroker()
		id := uuid.New()
		s1, s2 := b.Subscribe(id), b.Subscribe(id)
		s1.Close()
		s1.Close()
		b.Notify(id)
		if woken(s1) {
			t.Errorf("closed subscription woken")
		}
		s2.Close()
		if n := b.len(); n != 0 {
			t.Errorf("broker holds %d instances after every follower closed, want 0", n)
		}
	})

	// A follower blocked on its subscription wakes once per write it has
	// not seen yet, and for the finish.
	t.Run("StoreWakesBlockedFollower", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := setup(t).store
			id := uuid.New()
			sub := s.Broker().Subscribe(id)
			defer sub.Close()
			var wakes int
			finished := make(chan struct{})
			go func() {
				for range sub.Wake() {
					wakes++
					if sub.Finished() {
						close(finished)
						return
					}
				}
			}()
			synctest.Wait()
			if wakes != 0 {
				t.Fatalf("woken %d times before any write", wakes)
			}
			mustWrite(t, s, id, model.Stdout, 0, "one\n")
			synctest.Wait()
			if wakes != 1 {
				t.Errorf("woken %d times after one write, want 1", wakes)
			}
			mustWrite(t, s, uuid.New(), model.Stdout, 0, "someone else\n")
			synctest.Wait()
			if wakes != 1 {
				t.Errorf("woken by another instance's write")
			}
			if _, err := s.Write(t.Context(), id, model.Stdout, 4, nil); err != nil {
				t.Fatalf("empty Write: %v", err)
			}
			synctest.Wait()
			if wakes != 1 {
				t.Errorf("woken by a write of no bytes")
			}
			mustFinish(t, s, id)
			<-finished
			if wakes != 2 {
				t.Errorf("woken %d times after a write and the finish, want 2", wakes)
			}
		})
	})
}
