package agent

import (
	"context"
	"sync/atomic"
	"time"
)

// maxReportHold bounds how long the writer holds reports back while fired
// runs are starting.
const maxReportHold = 250 * time.Millisecond

// startGate lets the connection writer hold reports back while fired
// process runs are still starting. A burst of runs on the same instant is
// a race for the machine's cores between the forks and everything the
// first runs cause: their reports make the server write results and logs
// (on a small machine, often the same cores). Sending those reports a few
// milliseconds later, once the burst has started, lets the later runs
// start sooner (bench, 100 runs on the same second, two cores: excess over
// the fork/exec floor p99 ≈ 60–100 → 33–40 ms). Nothing waits longer than
// maxReportHold, and a hold is taken once per spell of pending starts, so a
// steady stream of starts delays reports once, not forever.
type startGate struct {
	pending atomic.Int64
	// done is poked (buffered(1)) when pending reaches zero.
	done chan struct{}
}

func newStartGate() *startGate {
	return &startGate{done: make(chan struct{}, 1)}
}

// firing counts a run that fired and has not started yet.
func (g *startGate) firing() { g.pending.Add(1) }

// started counts off a run whose start is over, whether or not its process
// started.
func (g *startGate) started() {
	if g.pending.Add(-1) == 0 {
		select {
		case g.done <- struct{}{}:
		default:
		}
	}
}

// hold waits while runs are starting, until they all have or until the
// hold that began with the current spell of pending starts is over. spell
// is the writer's: the end of that hold, zero between spells. It returns
// ctx's cause if ctx ends.
func (g *startGate) hold(ctx context.Context, spell *time.Time) error {
	if g.pending.Load() == 0 {
		*spell = time.Time{}
		return nil
	}
	if spell.IsZero() {
		*spell = time.Now().Add(maxReportHold)
	}
	wait := time.Until(*spell)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for g.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
			return nil
		case <-g.done:
		}
	}
	*spell = time.Time{}
	return nil
}
