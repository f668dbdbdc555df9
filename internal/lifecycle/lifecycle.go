// Package lifecycle is the start/stop contract shared by every service that
// owns goroutines, in the server and in the agent.
//
// Start sets up synchronously and returns setup errors, then runs in the
// background. Stop blocks until every goroutine the service started has
// returned; it is idempotent and safe before Start. A deliberate stop cancels
// the service's context with the cause [ErrStopped], so loops can tell it from
// an outside cancellation and stay quiet about it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrStopped is the cancel cause of a service's context after Stop.
var ErrStopped = errors.New("lifecycle: service stopped")

// Service is anything that owns goroutines.
type Service interface {
	// Start sets up synchronously, then runs in the background until ctx is
	// cancelled or Stop is called.
	Start(ctx context.Context) error
	// Started is closed once the service runs, or once a failed start gave up.
	Started() <-chan struct{}
	// Stop returns only after every goroutine the service started has
	// returned.
	Stop()
}

// Base implements Started and Stop for a service that embeds it and writes
// only Start. The zero value is ready to use.
type Base struct {
	mu            sync.Mutex
	cancel        context.CancelCauseFunc
	started       chan struct{}
	startedClosed bool
	stopped       chan struct{}
}

// StartInit begins a start. It returns the service's lifetime context and
// shouldStart=false when the service is already running. Otherwise the caller
// must call started once its goroutines run (or its setup failed) and stopped
// when the last of them returns; with several goroutines, use a WaitGroup and
// call stopped after Wait.
func (b *Base) StartInit(ctx context.Context) (svcCtx context.Context, shouldStart bool, started, stopped func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel != nil {
		return ctx, false, func() {}, func() {}
	}
	svcCtx, cancel := context.WithCancelCause(ctx)
	b.cancel = cancel
	// Reuse a Started channel handed out before this Start, so a caller that
	// asked early still sees it close.
	startedCh := b.started
	if startedCh == nil || b.startedClosed {
		startedCh = make(chan struct{})
	}
	stoppedCh := make(chan struct{})
	b.started, b.stopped, b.startedClosed = startedCh, stoppedCh, false
	var startOnce, stopOnce sync.Once
	started = func() {
		startOnce.Do(func() {
			b.mu.Lock()
			if b.started == startedCh {
				b.startedClosed = true
			}
			b.mu.Unlock()
			close(startedCh)
		})
	}
	stopped = func() {
		stopOnce.Do(func() {
			// A run that stops before it signalled started still closes
			// Started, so waiters wake and the next Start gets a fresh one.
			started()
			close(stoppedCh)
			b.mu.Lock()
			// A later Start may run again once this run has fully stopped.
			if b.stopped == stoppedCh {
				b.cancel(ErrStopped)
				b.cancel = nil
			}
			b.mu.Unlock()
		})
	}
	return svcCtx, true, started, stopped
}

// Started returns a channel closed once the service runs. Before the first
// Start it returns a channel that is never closed.
func (b *Base) Started() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started == nil {
		b.started = make(chan struct{})
	}
	return b.started
}

// Stop cancels the service's context with ErrStopped and waits until its
// goroutines have returned. It is safe to call more than once, and before
// Start.
func (b *Base) Stop() {
	b.mu.Lock()
	cancel, stopped := b.cancel, b.stopped
	b.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel(ErrStopped)
	<-stopped
}

// StartAll starts services in order. If one fails, those already started are
// stopped in reverse order and the error is returned.
func StartAll(ctx context.Context, services ...Service) error {
	for i, s := range services {
		if err := s.Start(ctx); err != nil {
			StopAll(services[:i]...)
			return fmt.Errorf("start %T: %w", s, err)
		}
	}
	return nil
}

// StopAll stops services in reverse order.
func StopAll(services ...Service) {
	for i := len(services) - 1; i >= 0; i-- {
		services[i].Stop()
	}
}

// IsStop reports whether err or ctx's cause is a deliberate stop or a
// cancellation, which loops should not log as failures.
func IsStop(ctx context.Context, err error) bool {
	if errors.Is(err, ErrStopped) || errors.Is(context.Cause(ctx), ErrStopped) {
		return true
	}
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
