// Package testsignal lets tests wait for events inside services without
// sleeping. A Signal is a no-op until a test calls Init, so production code
// pays one nil check per Signal call.
package testsignal

import "time"

// TB is the part of testing.TB that Wait needs; it keeps package testing out
// of production binaries.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// bufferSize bounds how many signals a test may leave unread; further signals
// are dropped rather than block the service.
const bufferSize = 10_000

// Signal carries values of type T from a service to a test.
type Signal[T any] struct {
	ch chan T
}

// Init enables the signal. Call it before the service starts.
func (s *Signal[T]) Init() { s.ch = make(chan T, bufferSize) }

// Signal sends v if the signal is enabled and never blocks.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
	}
}

// DefaultTimeout is how long Wait waits.
const DefaultTimeout = 10 * time.Second

// Wait returns the next value, failing the test after DefaultTimeout.
func (s *Signal[T]) Wait(t TB) T {
	t.Helper()
	if s.ch == nil {
		t.Fatalf("testsignal: Wait on a signal that was not initialised")
	}
	select {
	case v := <-s.ch:
		return v
	case <-time.After(DefaultTimeout):
		t.Fatalf("testsignal: no signal within %s", DefaultTimeout)
	}
	var zero T
	return zero
}

// Chan returns the channel values arrive on, for select; nil before Init.
func (s *Signal[T]) Chan() <-chan T { return s.ch }
