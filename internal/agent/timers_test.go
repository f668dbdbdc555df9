package agent

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// firing records one instance the timer loop fired.
type firing struct {
	id     uuid.UUID
	at     time.Time // agent clock
	offset time.Duration
}

type timersBundle struct {
	paused bool // read under mu by the timers
	mu     sync.Mutex
	offset time.Duration
	fired  []firing
	// fineSleeps are the last stretches the loop slept before instants.
	fineSleeps []time.Duration
	// stopInFineSleep stops the loop while it sleeps a last stretch.
	stopInFineSleep bool
	tm              *timers
	start           time.Time
}

// setupTimers runs a timer loop inside the current synctest bubble, stopped
// at the end of the test.
func setupTimers(t *testing.T) *timersBundle {
	t.Helper()
	b := &timersBundle{start: time.Now()}
	b.tm = newTimers(&b.mu, func() time.Duration { return b.offset }, func(_ context.Context, due []*protocol.DispatchedInstance, off time.Duration) {
		for _, d := range due {
			b.fired = append(b.fired, firing{id: d.InstanceID, at: time.Now(), offset: off})
		}
	}, func(time.Time) bool { return b.paused })
	ctx, cancel := context.WithCancel(t.Context())
	b.tm.sleep = func(d time.Duration) {
		b.mu.Lock()
		b.fineSleeps = append(b.fineSleeps, d)
		stop := b.stopInFineSleep
		b.mu.Unlock()
		if stop {
			cancel()
		}
		time.Sleep(d)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.tm.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return b
}

// add holds an instance firing at start+at on the server clock.
func (b *timersBundle) add(at time.Duration) uuid.UUID {
	d := &protocol.DispatchedInstance{InstanceID: uuid.New(), FireAt: b.start.Add(at)}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tm.add(d)
	return d.InstanceID
}

func (b *timersBundle) firings() []firing {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]firing(nil), b.fired...)
}

// Inside a synctest bubble time.Sleep advances the fake clock at once; it is
// how these tests move time, not how they wait for goroutines.
func TestTimers(t *testing.T) {
	t.Parallel()

	t.Run("StartsNothingWhileOutOfTouch", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			b.mu.Lock()
			b.paused = true
			b.mu.Unlock()
			id := b.add(100 * time.Millisecond)
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if f := b.firings(); len(f) != 0 {
				t.Fatalf("fired %d instances while out of touch, want none", len(f))
			}
			b.mu.Lock()
			b.paused = false
			b.mu.Unlock()
			b.tm.poke()
			synctest.Wait()
			if f := b.firings(); len(f) != 1 || f[0].id != id {
				t.Fatalf("after contact returned: fired %v, want the held instance at once", f)
			}
		})
	})

	t.Run("FiresInOrderAtFireAt", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			c := b.add(300 * time.Millisecond)
			a := b.add(100 * time.Millisecond)
			bb := b.add(200 * time.Millisecond)
			time.Sleep(150 * time.Millisecond)
			synctest.Wait()
			if got := b.firings(); len(got) != 1 || got[0].id != a {
				t.Fatalf("fired by 150ms: %v, want only the 100ms one", got)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			got := b.firings()
			want := []struct {
				id uuid.UUID
				at time.Duration
			}{{a, 100 * time.Millisecond}, {bb, 200 * time.Millisecond}, {c, 300 * time.Millisecond}}
			if len(got) != len(want) {
				t.Fatalf("fired %d, want %d", len(got), len(want))
			}
			for i, w := range want {
				if got[i].id != w.id || got[i].at.Sub(b.start) != w.at {
					t.Errorf("firing %d = %s at +%v, want %s at +%v", i, got[i].id, got[i].at.Sub(b.start), w.id, w.at)
				}
			}
		})
	})

	t.Run("SleepsTheLastStretchFinely", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			far := b.add(100 * time.Millisecond)
			time.Sleep(time.Second)
			synctest.Wait()
			near := b.add(time.Second + time.Millisecond)
			time.Sleep(time.Second)
			synctest.Wait()
			got := b.firings()
			if len(got) != 2 || got[0].id != far || got[0].at.Sub(b.start) != 100*time.Millisecond ||
				got[1].id != near || got[1].at.Sub(b.start) != time.Second+time.Millisecond {
				t.Fatalf("firings %v, want %s at +100ms and %s at +1.001s", got, far, near)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			// The runtime timer wakes the loop fineWait early; an instant
			// nearer than that is slept for at once.
			if want := []time.Duration{fineWait, time.Millisecond}; !slices.Equal(b.fineSleeps, want) {
				t.Errorf("fine sleeps %v, want %v", b.fineSleeps, want)
			}
		})
	})

	t.Run("StopInTheLastStretchFiresNothing", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			b.mu.Lock()
			b.stopInFineSleep = true
			b.mu.Unlock()
			b.add(time.Millisecond)
			b.add(2 * time.Millisecond)
			time.Sleep(time.Second)
			synctest.Wait()
			if f := b.firings(); len(f) != 0 {
				t.Errorf("fired %v after a stop in the last stretch, want nothing (held runs are given up at a stop)", f)
			}
		})
	})

	t.Run("PastInstantFiresAtOnce", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			id := b.add(-time.Hour)
			synctest.Wait()
			if got := b.firings(); len(got) != 1 || got[0].id != id || !got[0].at.Equal(b.start) {
				t.Fatalf("fired %v, want %s at once", got, id)
			}
		})
	})

	t.Run("AppliesClockOffset", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			b.mu.Lock()
			b.offset = 400 * time.Millisecond // the server is ahead
			b.mu.Unlock()
			b.add(time.Second)
			time.Sleep(2 * time.Second)
			synctest.Wait()
			got := b.firings()
			if len(got) != 1 || got[0].at.Sub(b.start) != 600*time.Millisecond || got[0].offset != 400*time.Millisecond {
				t.Fatalf("fired %v, want one at +600ms local with offset 400ms", got)
			}
		})
	})

	t.Run("OffsetChangeRearms", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			b.add(time.Second)
			time.Sleep(100 * time.Millisecond)
			b.mu.Lock()
			b.offset = -500 * time.Millisecond // the server is behind: fire later
			b.mu.Unlock()
			b.tm.poke()
			time.Sleep(1200 * time.Millisecond)
			synctest.Wait()
			if got := b.firings(); len(got) != 0 {
				t.Fatalf("fired at +%v, before the corrected instant +1.5s", got[0].at.Sub(b.start))
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if got := b.firings(); len(got) != 1 || got[0].at.Sub(b.start) != 1500*time.Millisecond {
				t.Fatalf("fired %v, want one at +1.5s", got)
			}
		})
	})

	t.Run("RemovedNeverFires", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			gone := b.add(100 * time.Millisecond)
			kept := b.add(200 * time.Millisecond)
			b.mu.Lock()
			if d := b.tm.remove(gone); d == nil || d.InstanceID != gone {
				t.Errorf("remove = %v, want the instance", d)
			}
			if b.tm.add(&protocol.DispatchedInstance{InstanceID: kept}) {
				t.Errorf("add of a held instance = true, want false")
			}
			b.mu.Unlock()
			time.Sleep(time.Second)
			synctest.Wait()
			if got := b.firings(); len(got) != 1 || got[0].id != kept {
				t.Fatalf("fired %v, want only %s", got, kept)
			}
		})
	})

	t.Run("ManyAtOneInstant", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupTimers(t)
			for range 1000 {
				b.add(time.Second)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			got := b.firings()
			if len(got) != 1000 {
				t.Fatalf("fired %d, want 1000", len(got))
			}
			for _, f := range got {
				if f.at.Sub(b.start) != time.Second {
					t.Fatalf("fired at +%v, want +1s", f.at.Sub(b.start))
				}
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.tm.len() != 0 || len(b.tm.byID) != 0 {
				t.Errorf("heap still holds %d (%d by id)", b.tm.len(), len(b.tm.byID))
			}
		})
	})
}

// TestSleepPrecisely checks the one promise that holds on any machine: it
// never returns early. How late it returns is measured by the benchmarks
// (bench/, spread and burst), not asserted here.
func TestSleepPrecisely(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 1500 * time.Microsecond} {
		start := time.Now()
		sleepPrecisely(d)
		if slept := time.Since(start); slept < d {
			t.Errorf("sleepPrecisely(%v) returned after %v", d, slept)
		}
	}
}
