package agent

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// Reasons are the stable codes of TaskDone.Reason (model.TaskInstance.Reason
// lists them); success has none. "lost" is the server's.
const (
	reasonExitCode    = "exit_code"    // the process exited with a code other than 0
	reasonSignal      = "signal"       // a signal the agent did not send killed it
	reasonTimeout     = "timeout"      // the run outlasted its timeout
	reasonCancelled   = "cancelled"    // a cancel, a drop, or the agent stopping
	reasonOOM         = "oom"          // the kernel killed it at its memory limit
	reasonStartFailed = "start_failed" // it could not start: command, work dir, user, limits
	reasonHTTPStatus  = "http_status"  // an http task got a status it did not expect
	reasonHTTPError   = "http_error"   // an http task's request failed
	// reasonRefused (guard.go): the agent's guard refused the run.
	// The agent's own life: a run it lost by dying (Lost, reported at its
	// next start), one it gave back unstarted while draining (Lost, with no
	// start, so the server dispatches it again), and one still running when
	// the drain's grace ended (Cancelled).
	reasonAgentRestarted = "agent_restarted"
	reasonAgentDraining  = "agent_draining"
	reasonDrainTimeout   = "agent_drain_timeout"
)

// pipeDrainTimeout bounds the wait for the output pipes to reach EOF after
// every process of the run was killed. Only a process the agent could not
// attribute to the run (see doc.go) can still hold them; then the agent
// closes its ends and moves on.
const pipeDrainTimeout = time.Second

// run is one instance from the moment it fires until its result is in the
// outbox.
type run struct {
	a      *Agent
	d      *protocol.DispatchedInstance
	offset time.Duration // server − agent, fixed when the instance fired

	mu        sync.Mutex
	pid       int     // the leader: session and process group id; 0 until it started
	box       *runBox // set with pid
	cancelReq func()  // ends an http task's request; nil until it started
	exited    bool    // the run is over; nothing must be signalled again
	status    model.InstanceStatus
	reason    string // why the agent ended the run; empty if it did not
	code      string // the reason code for status, when not reasonFor's
	hard      bool   // end with SIGKILL at once, not SIGTERM then SIGKILL
	killTimer *time.Timer
	// startOver, set for a fired process run, is called once its start is
	// over, whatever the outcome (startGate).
	startOver func()

	// tail keeps the end of the output for TaskDone.OutputTail.
	tail outputTail

	// dropped is set when the server gave the instance away: nothing more
	// is reported for it.
	dropped atomic.Bool
	// overflow is set when the outbox refused one of its log chunks: all
	// its later chunks are dropped too, so the stored output has no holes.
	overflow atomic.Bool
}

// fireLocked starts the due instances, one goroutine each, so that no start
// waits behind another's fork/exec. It is the timer loop's fire function and
// runs with a.mu held.
func (a *Agent) fireLocked(ctx context.Context, due []*protocol.DispatchedInstance, offset time.Duration) {
	for _, d := range due {
		r := &run{a: a, d: d, offset: offset}
		a.running[d.InstanceID] = r
		a.runs.Add(1)
		if d.Config.Type != model.TaskHTTP {
			a.starts.firing()
			r.startOver = sync.OnceFunc(a.starts.started)
		}
		go func() {
			defer a.runs.Done()
			a.markRun(ctx, d.InstanceID)
			a.finish(ctx, r, r.execute(ctx))
		}()
	}
}

// execute runs the instance and returns its result.
func (r *run) execute(ctx context.Context) *protocol.TaskDone {
	if r.startOver != nil {
		defer r.startOver() // a no-op once the process started
	}
	if why := r.a.cfg.Guard.check(r.d, r.a.euid); why != nil {
		return r.refuse(&protocol.TaskDone{InstanceID: r.d.InstanceID}, why)
	}
	if r.d.SecretError != "" {
		return r.failStart(&protocol.TaskDone{InstanceID: r.d.InstanceID}, "secrets: "+r.d.SecretError)
	}
	if r.d.Config.Type == model.TaskHTTP {
		return r.executeHTTP(ctx)
	}
	return r.executeProcess(ctx)
}

// finish puts a run's result into the outbox, then forgets the run. The
// order matters: once nothing runs, the outbox holds every result.
func (a *Agent) finish(ctx context.Context, r *run, res *protocol.TaskDone) {
	r.mu.Lock()
	if r.code != "" && res.Status == r.status {
		// The agent ended the run for a reason of its own (a drain's
		// timeout): its code says more than the status's.
		res.Reason = r.code
	}
	r.mu.Unlock()
	if !r.dropped.Load() {
		a.enqueue(ctx, protocol.KindTaskDone, res, true)
	}
	// The result is on disk now, so a restart need not report the run.
	a.unmarkRun(ctx, r.d.InstanceID)
	a.mu.Lock()
	delete(a.running, r.d.InstanceID)
	a.recent.add(r.d.InstanceID)
	a.mu.Unlock()
	attrs := []any{"instance_id", r.d.InstanceID, "task_id", r.d.TaskID, "status", res.Status.String()}
	if res.Reason != "" {
		attrs = append(attrs, "reason", res.Reason)
	}
	if res.ExitCode != nil {
		attrs = append(attrs, "exit_code", *res.ExitCode)
	}
	if res.Error != "" {
		attrs = append(attrs, "error", res.Error)
	}
	a.log.InfoContext(ctx, "instance finished", attrs...)
	a.TestSignals.Done.Signal(res)
	a.changed.Broadcast()
}

// reportNotStarted reports an instance that ended before it started, with
// reason code code (reasonFor(status) when empty).
func (a *Agent) reportNotStarted(ctx context.Context, d *protocol.DispatchedInstance, offset time.Duration, status model.InstanceStatus, code, reason string) {
	if code == "" {
		code = reasonFor(status)
	}
	res := &protocol.TaskDone{
		InstanceID: d.InstanceID,
		Status:     status,
		Reason:     code,
		Error:      reason,
		FinishedAt: time.Now().Add(offset).UTC(),
	}
	a.enqueue(ctx, protocol.KindTaskDone, res, true)
	a.TestSignals.Done.Signal(res)
	a.changed.Broadcast()
}

// reasonFor returns the reason of a run the agent ended with status.
func reasonFor(status model.InstanceStatus) string {
	if status == model.InstanceTimeout {
		return reasonTimeout
	}
	return reasonCancelled
}

// enqueue adds a report to the outbox and reports whether it was kept.
func (a *Agent) enqueue(ctx context.Context, kind protocol.Kind, payload any, force bool) bool {
	ok, err := a.out.add(kind, payload, force)
	switch {
	case err != nil && ok:
		a.log.ErrorContext(ctx, "outbox on disk failed", "kind", string(kind), "error", err)
	case err != nil:
		a.log.ErrorContext(ctx, "report not queued", "kind", string(kind), "error", err)
	}
	return ok
}

// terminate ends the run with status (Timeout or Cancelled) and reason: a
// process run gets SIGTERM, then SIGKILL for everything in it after the
// kill grace; with hard, SIGKILL at once. An http run's request is
// cancelled. The first reason wins. Before the run starts it only records
// the reason (the run then never starts); after the run is over it does
// nothing.
func (r *run) terminate(status model.InstanceStatus, reason string, hard bool) {
	r.terminateAs(status, "", reason, hard)
}

// terminateAs is terminate with a reason code other than reasonFor(status)
// (empty means that one).
func (r *run) terminateAs(status model.InstanceStatus, code, reason string, hard bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exited {
		return
	}
	if r.status == 0 {
		r.status, r.reason, r.code = status, reason, code
	}
	r.hard = r.hard || hard
	switch {
	case r.pid != 0:
		r.signalLocked()
	case r.cancelReq != nil:
		r.cancelReq()
	}
}

// drop kills the run without reporting it: the server gave it away.
func (r *run) drop() {
	r.dropped.Store(true)
	r.terminate(model.InstanceCancelled, "dropped by server", true)
}

// signalLocked signals the run as r.hard says. r.mu is held and the leader
// has not been reaped, so its pid and group id cannot have been reused.
// SIGTERM goes to the leader's process group, and to the leader itself if
// it left the group; SIGKILL goes to everything in the run.
func (r *run) signalLocked() {
	if r.hard {
		r.box.kill()
		return
	}
	_ = syscall.Kill(-r.pid, syscall.SIGTERM)
	if pg, err := syscall.Getpgid(r.pid); err == nil && pg != r.pid {
		_ = syscall.Kill(r.pid, syscall.SIGTERM)
	}
	if r.killTimer == nil {
		r.killTimer = time.AfterFunc(r.d.Config.EffectiveKillGrace(), func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if !r.exited {
				r.box.kill()
			}
		})
	}
}

// serverNow returns the current time on the server's clock.
func (r *run) serverNow() time.Time { return time.Now().Add(r.offset).UTC() }

// failStart returns res as a run that could not start.
func (r *run) failStart(res *protocol.TaskDone, msg string) *protocol.TaskDone {
	res.Status, res.Reason, res.Error, res.FinishedAt = model.InstanceFailed, reasonStartFailed, msg, r.serverNow()
	return res
}

// endedBeforeStart returns res as a run the agent ended before it started,
// or nil if it did not.
func (r *run) endedBeforeStart(res *protocol.TaskDone) *protocol.TaskDone {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == 0 {
		return nil
	}
	res.Status, res.Reason, res.Error, res.FinishedAt = r.status, reasonFor(r.status), r.reason, r.serverNow()
	return res
}

// outcome sets the status, reason, exit code and error of res from how the
// process ended, why the agent ended it (status 0: it did not), and
// whether the kernel killed it at its memory limit.
func outcome(res *protocol.TaskDone, ps *os.ProcessState, status model.InstanceStatus, reason string, oom bool, lim *model.ResourceLimits, rlimitMemory bool) {
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if ws.Exited() {
		code := ws.ExitStatus()
		res.ExitCode = &code
	}
	// An rlimit makes allocations fail rather than kill, so a failure
	// under one may or may not be for memory: say the limit, not "oom".
	note := ""
	if rlimitMemory {
		note = fmt.Sprintf(" (memory was limited to %d MiB by RLIMIT_DATA)", lim.MemoryMB)
	}
	switch {
	case status != 0:
		res.Status, res.Reason, res.Error = status, reasonFor(status), reason
	case oom:
		res.Status, res.Reason = model.InstanceFailed, reasonOOM
		res.Error = fmt.Sprintf("killed by the kernel at its memory limit of %d MiB", lim.MemoryMB)
	case ws.Exited() && ws.ExitStatus() == 0:
		res.Status = model.InstanceSucceeded
	case ws.Exited():
		res.Status, res.Reason = model.InstanceFailed, reasonExitCode
		res.Error = fmt.Sprintf("exited with code %d", ws.ExitStatus()) + note
	case ws.Signaled():
		res.Status, res.Reason = model.InstanceFailed, reasonSignal
		res.Error = "killed by signal " + signalName(ws.Signal()) + note
	default:
		res.Status, res.Reason = model.InstanceFailed, reasonSignal
		res.Error = "ended without an exit status: " + ps.String()
	}
}
