package tasklog

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// Broker wakes the followers of instances' output: the [Store] calls
// Notify after each write and Finish when a log is complete. It carries no
// data, only wake-ups; a follower reads what is new from the store, so a
// wake-up that is merged with another, or missed, costs a read, never bytes.
//
// Producers never block: each subscription holds at most one pending
// wake-up. A [Relay] feeds it other servers' writes and finishes too;
// followers do not tell them apart. Broker is safe for concurrent use;
// create it with [NewBroker].
type Broker struct {
	mu   sync.Mutex
	subs map[uuid.UUID]map[*Subscription]struct{}
}

// NewBroker returns a Broker with no subscriptions.
func NewBroker() *Broker {
	return &Broker{subs: map[uuid.UUID]map[*Subscription]struct{}{}}
}

// Subscription is one follower's interest in one instance. Close it when
// done.
type Subscription struct {
	b        *Broker
	id       uuid.UUID
	wake     chan struct{}
	finished atomic.Bool
	once     sync.Once
}

// Subscribe starts following id. Anything written or finished after it
// returns wakes the subscription, so a follower subscribes first and reads
// what is stored second.
func (b *Broker) Subscribe(id uuid.UUID) *Subscription {
	s := &Subscription{b: b, id: id, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.subs[id]
	if set == nil {
		set = map[*Subscription]struct{}{}
		b.subs[id] = set
	}
	set[s] = struct{}{}
	return s
}

// Notify wakes the followers of id: its output grew.
func (b *Broker) Notify(id uuid.UUID) { b.wakeAll(id, false) }

// Finish wakes the followers of id for the last time: its log is complete.
func (b *Broker) Finish(id uuid.UUID) { b.wakeAll(id, true) }

// WakeAll wakes every follower of every instance, so each re-reads what is
// stored: after a gap in which wake-ups may have been lost.
func (b *Broker) WakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range b.subs {
		for s := range set {
			s.poke()
		}
	}
}

func (b *Broker) wakeAll(id uuid.UUID, finished bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[id] {
		if finished {
			s.finished.Store(true)
		}
		s.poke()
	}
}

// len returns how many instances have followers, for tests.
func (b *Broker) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (s *Subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is pending already; it covers this one
	}
}

// Wake returns a channel that receives a value after the instance's output
// grew or its log finished. Several events may come as one value.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

// Finished reports whether the instance's log finished since Subscribe.
func (s *Subscription) Finished() bool { return s.finished.Load() }

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.b.mu.Lock()
		defer s.b.mu.Unlock()
		set := s.b.subs[s.id]
		delete(set, s)
		if len(set) == 0 {
			delete(s.b.subs, s.id)
		}
	})
}
