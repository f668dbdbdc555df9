package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// pipeDrainTimeout bounds the wait for the output pipes to reach EOF after
// the process group is gone. Only a process that left the group (setsid)
// can still hold them; then the agent closes its ends and moves on.
const pipeDrainTimeout = time.Second

// run is one instance from the moment it fires until its result is in the
// outbox.
type run struct {
	a      *Agent
	d      *protocol.DispatchedInstance
	offset time.Duration // server − agent, fixed when the instance fired

	mu        sync.Mutex
	pid       int  // process group id; 0 until the process started
	exited    bool // the leader exited; the group must not be signalled again
	status    model.InstanceStatus
	reason    string // why the agent ended the run; empty if it did not
	hard      bool   // end with SIGKILL at once, not SIGTERM then SIGKILL
	killTimer *time.Timer

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
		go func() {
			defer a.runs.Done()
			a.finish(ctx, r, r.execute(ctx))
		}()
	}
}

// finish puts a run's result into the outbox, then forgets the run. The
// order matters: once nothing runs, the outbox holds every result.
func (a *Agent) finish(ctx context.Context, r *run, res *protocol.TaskDone) {
	if !r.dropped.Load() {
		a.enqueue(ctx, protocol.KindTaskDone, res, true)
	}
	a.mu.Lock()
	delete(a.running, r.d.InstanceID)
	a.recent.add(r.d.InstanceID)
	a.mu.Unlock()
	attrs := []any{"instance_id", r.d.InstanceID, "task_id", r.d.TaskID, "status", res.Status.String()}
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

// reportNotStarted reports an instance that ended before its process
// started.
func (a *Agent) reportNotStarted(ctx context.Context, d *protocol.DispatchedInstance, offset time.Duration, status model.InstanceStatus, reason string) {
	res := &protocol.TaskDone{
		InstanceID: d.InstanceID,
		Status:     status,
		Error:      reason,
		FinishedAt: time.Now().Add(offset).UTC(),
	}
	a.enqueue(ctx, protocol.KindTaskDone, res, true)
	a.TestSignals.Done.Signal(res)
	a.changed.Broadcast()
}

// enqueue adds a report to the outbox and reports whether it was kept.
func (a *Agent) enqueue(ctx context.Context, kind protocol.Kind, payload any, force bool) bool {
	ok, err := a.out.add(kind, payload, force)
	if err != nil {
		a.log.ErrorContext(ctx, "report not queued", "kind", string(kind), "error", err)
	}
	return ok
}

// terminate ends the run with status and reason: SIGTERM to the process
// group, then SIGKILL after the kill grace; with hard, SIGKILL at once. The
// first reason wins. Before the process starts it only records the reason
// (the run then never starts); after the process exited it does nothing.
func (r *run) terminate(status model.InstanceStatus, reason string, hard bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exited {
		return
	}
	if r.status == 0 {
		r.status, r.reason = status, reason
	}
	r.hard = r.hard || hard
	if r.pid != 0 {
		r.signalLocked()
	}
}

// drop kills the run without reporting it: the server gave it away.
func (r *run) drop() {
	r.dropped.Store(true)
	r.terminate(model.InstanceCancelled, "dropped by server", true)
}

// signalLocked signals the process group as r.hard says. r.mu is held and
// the leader has not been reaped, so the group id cannot have been reused.
func (r *run) signalLocked() {
	if r.hard {
		_ = syscall.Kill(-r.pid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(-r.pid, syscall.SIGTERM)
	if r.killTimer == nil {
		r.killTimer = time.AfterFunc(r.d.Config.EffectiveKillGrace(), func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if !r.exited {
				_ = syscall.Kill(-r.pid, syscall.SIGKILL)
			}
		})
	}
}

// serverNow returns the current time on the server's clock.
func (r *run) serverNow() time.Time { return time.Now().Add(r.offset).UTC() }

// execute runs the instance's process and returns its result.
func (r *run) execute(ctx context.Context) *protocol.TaskDone {
	a, d := r.a, r.d
	cfg := &d.Config
	res := &protocol.TaskDone{InstanceID: d.InstanceID}
	fail := func(msg string) *protocol.TaskDone {
		res.Status, res.Error, res.FinishedAt = model.InstanceFailed, msg, r.serverNow()
		return res
	}
	// A stop kills the group; registered first so a stop during the start
	// is not missed.
	stopOnStop := context.AfterFunc(ctx, func() { r.terminate(model.InstanceCancelled, "agent stopped", true) })
	defer stopOnStop()

	path, argv, err := commandLine(cfg)
	if err != nil {
		return fail(err.Error())
	}
	dir, cleanup, err := a.workDir(ctx, d)
	if err != nil {
		return fail(err.Error())
	}
	defer cleanup()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Sprintf("create stdout pipe: %v", err))
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return fail(fmt.Sprintf("create stderr pipe: %v", err))
	}
	defer errR.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         environ(d),
		Dir:         dir,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}

	r.mu.Lock()
	if r.status != 0 {
		status, reason := r.status, r.reason
		r.mu.Unlock()
		outW.Close()
		errW.Close()
		res.Status, res.Error, res.FinishedAt = status, reason, r.serverNow()
		return res
	}
	r.mu.Unlock()
	err = cmd.Start()
	// The child has its copies; ours must go, or the pipes never reach EOF.
	outW.Close()
	errW.Close()
	if err != nil {
		return fail(fmt.Sprintf("start %s: %v", argv[0], err))
	}
	started := time.Now()
	pid := cmd.Process.Pid
	res.StartedAt = started.Add(r.offset).UTC()
	if !r.dropped.Load() {
		a.enqueue(ctx, protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: d.InstanceID, StartedAt: res.StartedAt, PID: pid}, true)
	}
	a.TestSignals.Started.Signal(d.InstanceID)
	r.mu.Lock()
	r.pid = pid
	if r.status != 0 {
		r.signalLocked() // ended while it was starting
	}
	r.mu.Unlock()
	if t := cfg.Timeout.D(); t > 0 {
		timeout := time.AfterFunc(t, func() { r.terminate(model.InstanceTimeout, "timed out after "+t.String(), false) })
		defer timeout.Stop()
	}

	stdout := &pump{r: r, stream: model.Stdout, f: outR, limit: cfg.EffectiveOutputLimit()}
	stderr := &pump{r: r, stream: model.Stderr, f: errR, limit: cfg.EffectiveOutputLimit()}
	pumps := make(chan struct{}, 2)
	for _, p := range []*pump{stdout, stderr} {
		go func() {
			defer func() { pumps <- struct{}{} }()
			p.run(ctx)
		}()
	}

	// Wait for the leader to exit without reaping it: while it is a zombie
	// its pid, and so the group id, cannot be reused. Then kill whatever is
	// left of the group, and only then reap.
	if err := waitExited(pid); err != nil {
		a.log.WarnContext(ctx, "wait for process", "instance_id", d.InstanceID, "error", err)
	}
	r.mu.Lock()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	r.exited = true
	if r.killTimer != nil {
		r.killTimer.Stop()
	}
	status, reason := r.status, r.reason
	r.mu.Unlock()
	waitErr := cmd.Wait() // after a start, only a failed reap is an error not told by ProcessState
	finished := time.Now()

	drain := time.NewTimer(pipeDrainTimeout)
	for n := 0; n < 2; n++ {
		select {
		case <-pumps:
		case <-drain.C:
			// Something outside the group holds a pipe: stop reading.
			a.log.WarnContext(ctx, "output pipe held open after exit", "instance_id", d.InstanceID)
			outR.Close()
			errR.Close()
			<-pumps
		}
	}
	drain.Stop()

	res.FinishedAt = finished.Add(r.offset).UTC()
	if cmd.ProcessState == nil {
		res.Status, res.Error = model.InstanceFailed, fmt.Sprintf("wait for process: %v", waitErr)
		return res
	}
	res.Usage = usageOf(cmd.ProcessState, stdout, stderr)
	outcome(res, cmd.ProcessState, status, reason)
	return res
}

// outcome sets the status, exit code and error of res from how the process
// ended and why the agent ended it (status 0: it did not).
func outcome(res *protocol.TaskDone, ps *os.ProcessState, status model.InstanceStatus, reason string) {
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if ws.Exited() {
		code := ws.ExitStatus()
		res.ExitCode = &code
	}
	switch {
	case status != 0:
		res.Status, res.Error = status, reason
	case ws.Exited() && ws.ExitStatus() == 0:
		res.Status = model.InstanceSucceeded
	case ws.Exited():
		res.Status, res.Error = model.InstanceFailed, fmt.Sprintf("exited with code %d", ws.ExitStatus())
	case ws.Signaled():
		res.Status, res.Error = model.InstanceFailed, "killed by signal "+signalName(ws.Signal())
	default:
		res.Status, res.Error = model.InstanceFailed, "ended without an exit status: "+ps.String()
	}
}

func usageOf(ps *os.ProcessState, stdout, stderr *pump) model.ResourceUsage {
	u := model.ResourceUsage{
		StdoutBytes:  stdout.total,
		StderrBytes:  stderr.total,
		DroppedBytes: stdout.dropped + stderr.dropped,
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && ru != nil {
		u.UserCPUMillis = ru.Utime.Nano() / int64(time.Millisecond)
		u.SystemCPUMillis = ru.Stime.Nano() / int64(time.Millisecond)
		u.PeakMemoryBytes = ru.Maxrss * 1024 // KiB on Linux
	}
	return u
}

// commandLine resolves the program to run: the command with its args, or
// the interpreter with the script. An error names the program and the OS
// error.
func commandLine(cfg *model.JobConfig) (path string, argv []string, err error) {
	switch {
	case cfg.Command != "":
		argv = make([]string, 0, 1+len(cfg.Args))
		argv = append(append(argv, cfg.Command), cfg.Args...)
	case cfg.Script != "":
		prefix, ok := model.InterpreterArgv(cfg.Interpreter)
		if !ok {
			return "", nil, fmt.Errorf("unknown interpreter %q", cfg.Interpreter)
		}
		argv = make([]string, 0, len(prefix)+1)
		argv = append(append(argv, prefix...), cfg.Script)
	default:
		return "", nil, errors.New("config has neither command nor script")
	}
	path, err = exec.LookPath(argv[0])
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		return "", nil, fmt.Errorf("command %q: %w", argv[0], err)
	}
	return path, argv, nil
}

// workDir returns the run's working directory and a function that cleans it
// up: the configured one, which must exist, or a fresh one under DataDir
// that is removed after the run.
func (a *Agent) workDir(ctx context.Context, d *protocol.DispatchedInstance) (string, func(), error) {
	if wd := d.Config.WorkDir; wd != "" {
		fi, err := os.Stat(wd)
		if err != nil {
			return "", nil, fmt.Errorf("work dir: %w", err)
		}
		if !fi.IsDir() {
			return "", nil, fmt.Errorf("work dir %s is not a directory", wd)
		}
		return wd, func() {}, nil
	}
	dir := filepath.Join(a.cfg.DataDir, "runs", d.InstanceID.String())
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, fmt.Errorf("create work dir: %w", err)
	}
	return dir, func() {
		if err := os.RemoveAll(dir); err != nil {
			a.log.WarnContext(ctx, "remove work dir", "instance_id", d.InstanceID, "error", err)
		}
	}, nil
}

// environ returns the process environment: the agent's, then the job's
// env, then the HETUFLOW_* variables; a later value of a name wins.
func environ(d *protocol.DispatchedInstance) []string {
	base := os.Environ()
	env := make([]string, 0, len(base)+len(d.Config.Env)+6+len(d.Parameters))
	env = append(env, base...)
	for k, v := range d.Config.Env {
		env = append(env, k+"="+v)
	}
	env = append(env,
		"HETUFLOW_TASK_ID="+d.TaskID.String(),
		"HETUFLOW_INSTANCE_ID="+d.InstanceID.String(),
		"HETUFLOW_JOB_ID="+d.JobID.String(),
		"HETUFLOW_NAMESPACE="+d.Namespace,
		"HETUFLOW_ATTEMPT="+strconv.Itoa(d.Attempt),
		"HETUFLOW_SCHEDULED_AT="+d.ScheduledAt.UTC().Format(time.RFC3339Nano),
	)
	for k, v := range d.Parameters {
		env = append(env, "HETUFLOW_PARAM_"+paramEnvName(k)+"="+v)
	}
	return env
}

// paramEnvName upper-cases a parameter name and turns everything but ASCII
// letters and digits into '_'.
func paramEnvName(name string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z':
			return c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			return c
		}
		return '_'
	}, name)
}
