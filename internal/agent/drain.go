package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// ExitRequested returns a channel closed once a server asked the agent to
// drain and exit (POST /api/v1/agents/{id}/drain). From then on the agent
// takes no new work, across reconnects; its owner should call
// [Agent.Shutdown] and then exit. The channel is closed at most once in the
// life of the Agent value.
func (a *Agent) ExitRequested() <-chan struct{} { return a.exitReq }

// Shutdown stops the agent gracefully: it drains. It tells the server it is
// draining, takes no new work, gives held instances back to the server
// (reported Lost with reason agent_draining and no start, so the server
// dispatches them again elsewhere), lets running instances finish for up to
// ShutdownGrace or until ctx ends, kills those still running (reported
// Cancelled, reason agent_drain_timeout), waits for the server to
// acknowledge every report, and closes the socket.
//
// The acknowledgement wait is bounded by ctx and by ShutdownGrace; with the
// outbox on disk by diskFlushWait too, since unacknowledged reports then
// wait on disk for the next start. Shutdown returns ctx.Err() if ctx ended
// first, an error wrapping context.DeadlineExceeded if reports remained
// unacknowledged in an outbox kept only in memory, and nil otherwise; the
// agent is stopped in every case. It returns nil at once if the agent is
// not running.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	svcCtx := a.svcCtx
	if svcCtx == nil {
		a.mu.Unlock()
		return nil
	}
	// 1. Take no new work, tell the server, and give back what has not
	// started: another agent can run it now.
	a.draining, a.shuttingDown, a.graceful = true, true, true
	held := a.timers.removeAll()
	for _, d := range held {
		a.recent.add(d.InstanceID)
	}
	a.mu.Unlock()
	a.log.InfoContext(ctx, "agent draining", "num_held", len(held), "grace", a.cfg.ShutdownGrace)
	for _, d := range held {
		a.reportNotStarted(ctx, d, a.clock.Offset(), model.InstanceLost, reasonAgentDraining, errGivenBack)
	}
	a.requestHeartbeat()

	// 2. Let running instances finish within the grace period.
	graceCtx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownGrace)
	err := a.waitUntil(graceCtx, svcCtx, a.noneRunning)
	cancel()

	// 3. Kill what is still running and wait for its results.
	if err != nil {
		a.mu.Lock()
		runs := make([]*run, 0, len(a.running))
		for _, r := range a.running {
			runs = append(runs, r)
		}
		a.mu.Unlock()
		if len(runs) > 0 {
			a.log.WarnContext(ctx, "killing instances still running", "num_instances", len(runs))
		}
		for _, r := range runs {
			r.terminateAs(model.InstanceCancelled, reasonDrainTimeout, errDrainTimeout, true)
		}
		// Killed runs end within the pipe drain bound; svcCtx bounds the rest.
		_ = a.waitUntil(context.WithoutCancel(ctx), svcCtx, a.noneRunning)
	}

	// 4. Flush the outbox: wait until the server acknowledged every report.
	persistent := a.out.persistent()
	wait := a.cfg.ShutdownGrace
	if persistent {
		wait = min(wait, diskFlushWait)
	}
	flushCtx, cancelFlush := context.WithTimeout(ctx, wait)
	defer cancelFlush()
	flushErr := a.waitUntil(flushCtx, svcCtx, func() bool { return a.out.len() == 0 })

	// 5. Close the socket and stop every goroutine.
	a.Stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if flushErr != nil {
		if persistent {
			a.log.WarnContext(ctx, "reports unacknowledged at shutdown, kept on disk for the next start", "num_unacked", a.out.len())
			return nil
		}
		return fmt.Errorf("flush outbox: %d reports unacknowledged: %w", a.out.len(), context.DeadlineExceeded)
	}
	return nil
}

// Errors of the instances Shutdown ends: held ones it gives back, and
// running ones still running when the grace period ended.
const (
	errGivenBack    = "agent shutting down; given back to be dispatched again"
	errDrainTimeout = "agent shutting down; still running at the end of the drain grace period"
)

// diskFlushWait bounds Shutdown's wait for acknowledgements when the outbox
// is on disk: the reports are safe there, the wait only delivers them sooner.
const diskFlushWait = 5 * time.Second

func (a *Agent) noneRunning() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.running) == 0
}

// waitUntil waits until cond holds, re-checking whenever a run ends or the
// outbox shrinks. It returns ctx's error if ctx ends first, and nil if the
// service stops (there is nothing left to wait for then).
func (a *Agent) waitUntil(ctx, svcCtx context.Context, cond func() bool) error {
	for {
		ch := a.changed.C()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-svcCtx.Done():
			return nil
		case <-ch:
		}
	}
}

// broadcaster wakes every waiter when something changed.
type broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel closed at the next Broadcast.
func (b *broadcaster) C() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Broadcast wakes the waiters.
func (b *broadcaster) Broadcast() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
