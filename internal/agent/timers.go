package agent

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// heldInstance is a dispatched instance waiting for its fire instant.
type heldInstance struct {
	d     *protocol.DispatchedInstance
	index int // position in the heap
}

// timerHeap is a min-heap of held instances by FireAt (server time).
type timerHeap []*heldInstance

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].d.FireAt.Before(h[j].d.FireAt) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	hi := x.(*heldInstance)
	hi.index = len(*h)
	*h = append(*h, hi)
}
func (h *timerHeap) Pop() any {
	old := *h
	hi := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	hi.index = -1
	return hi
}

// timers is the agent's local timer: a heap of held instances and one
// goroutine with a single time.Timer armed for the earliest. Fire instants
// are in server time; the loop converts with the clock offset each time it
// arms, and is woken when the offset changes. Its state is guarded by the
// agent's lock (mu), so that moving an instance from held to running is one
// step with respect to dispatch, cancel and drop.
type timers struct {
	mu     *sync.Mutex
	h      timerHeap
	byID   map[uuid.UUID]*heldInstance
	wake   chan struct{} // buffered(1); senders never block
	offset func() time.Duration
	// fire starts the due instances. It is called with mu held and must not
	// block; offset is the one the instances were found due with.
	fire func(ctx context.Context, due []*protocol.DispatchedInstance, offset time.Duration)
	// paused, called with mu held, says whether to start nothing now; the
	// loop is poked when that changes.
	paused func(now time.Time) bool
	// sleep sleeps the last stretch before an instant (sleepPrecisely;
	// tests in a synctest bubble use time.Sleep).
	sleep func(time.Duration)
}

func newTimers(mu *sync.Mutex, offset func() time.Duration, fire func(context.Context, []*protocol.DispatchedInstance, time.Duration), paused func(time.Time) bool) *timers {
	if paused == nil {
		paused = func(time.Time) bool { return false }
	}
	return &timers{mu: mu, byID: map[uuid.UUID]*heldInstance{}, wake: make(chan struct{}, 1), offset: offset, fire: fire, paused: paused,
		sleep: sleepPrecisely}
}

// fineWait is the last stretch before a fire instant that the loop sleeps
// with sleepPrecisely instead of a runtime timer. The runtime's timers wake
// up to a millisecond late in an idle process (its poller sleeps in whole
// milliseconds: 0.6 ms late at the median on the benchmark machine), which
// every run would add to its start lag.
const fineWait = 2 * time.Millisecond

// sleepPrecisely sleeps d in a nanosleep(2) of the calling thread, which
// the kernel ends within its timer slack (50 µs by default). It holds the
// thread, so it is only for short stretches. Where nanosleep is refused (a
// seccomp profile), it sleeps on a runtime timer rather than not at all,
// which would make the timer loop spin.
func sleepPrecisely(d time.Duration) {
	req := unix.NsecToTimespec(d.Nanoseconds())
	for {
		var rem unix.Timespec
		err := unix.Nanosleep(&req, &rem)
		switch {
		case err == nil:
			return
		case errors.Is(err, unix.EINTR):
			req = rem
		default:
			time.Sleep(time.Duration(req.Nano()))
			return
		}
	}
}

// poke makes the loop look at the heap again.
func (t *timers) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// add holds d until its fire instant. It reports false if d's instance is
// already held. The caller holds mu.
func (t *timers) add(d *protocol.DispatchedInstance) bool {
	if _, ok := t.byID[d.InstanceID]; ok {
		return false
	}
	hi := &heldInstance{d: d}
	heap.Push(&t.h, hi)
	t.byID[d.InstanceID] = hi
	if hi.index == 0 {
		t.poke() // a new earliest instant
	}
	return true
}

// has reports whether id is held. The caller holds mu.
func (t *timers) has(id uuid.UUID) bool {
	_, ok := t.byID[id]
	return ok
}

// remove takes id out of the heap and returns it, or nil if it is not held.
// The caller holds mu.
func (t *timers) remove(id uuid.UUID) *protocol.DispatchedInstance {
	hi, ok := t.byID[id]
	if !ok {
		return nil
	}
	heap.Remove(&t.h, hi.index)
	delete(t.byID, id)
	return hi.d
}

// removeAll empties the heap and returns what it held. The caller holds mu.
func (t *timers) removeAll() []*protocol.DispatchedInstance {
	out := make([]*protocol.DispatchedInstance, 0, len(t.h))
	for _, hi := range t.h {
		out = append(out, hi.d)
	}
	clear(t.h)
	t.h = t.h[:0]
	clear(t.byID)
	return out
}

// ids returns the held instance ids. The caller holds mu.
func (t *timers) ids() []uuid.UUID {
	out := make([]uuid.UUID, 0, len(t.h))
	for _, hi := range t.h {
		out = append(out, hi.d.InstanceID)
	}
	return out
}

// len returns the number of held instances. The caller holds mu.
func (t *timers) len() int { return len(t.h) }

// run fires instances as they come due until ctx ends. An instance is due
// when its FireAt is not after now + offset, so it never starts before its
// instant as the agent's clock estimate sees it; one whose instant has
// passed starts at once.
func (t *timers) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due []*protocol.DispatchedInstance // reused between passes
	for {
		t.mu.Lock()
		off := t.offset()
		now := time.Now().Add(off) // server time
		for len(t.h) > 0 && !t.h[0].d.FireAt.After(now) && !t.paused(time.Now()) {
			hi := heap.Pop(&t.h).(*heldInstance)
			delete(t.byID, hi.d.InstanceID)
			due = append(due, hi.d)
		}
		wait := time.Duration(-1)
		if len(t.h) > 0 {
			wait = t.h[0].d.FireAt.Sub(now)
			if t.paused(time.Now()) {
				// Look again now and then; a welcome also pokes the loop.
				wait = max(wait, time.Second)
			}
		}
		if len(due) > 0 {
			t.fire(ctx, due, off)
		}
		t.mu.Unlock()
		clear(due)
		due = due[:0]

		switch {
		case wait < 0:
			timer.Stop()
		case wait <= fineWait:
			// Pokes wait this stretch out (the next pass looks at the heap
			// again); a stop is looked at after it, before anything fires.
			t.sleep(wait)
			if ctx.Err() != nil {
				return
			}
			continue
		default:
			timer.Reset(wait - fineWait)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-t.wake:
		}
	}
}
