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
	"syscall"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// executeProcess runs the instance's process and returns its result.
func (r *run) executeProcess(ctx context.Context) *protocol.TaskDone {
	a, d := r.a, r.d
	cfg := &d.Config
	res := &protocol.TaskDone{InstanceID: d.InstanceID}
	// A stop kills the run; registered first so a stop during the start
	// is not missed.
	stopOnStop := context.AfterFunc(ctx, func() { r.terminate(model.InstanceCancelled, "agent stopped", true) })
	defer stopOnStop()

	path, argv, err := commandLine(cfg)
	if err != nil {
		return r.failStart(res, err.Error())
	}
	user, err := a.runUser(cfg.User)
	if err != nil {
		return r.failStart(res, err.Error())
	}
	dir, cleanup, err := a.workDir(ctx, d, user)
	if err != nil {
		return r.failStart(res, err.Error())
	}
	defer cleanup()
	eventFile, removeEvent, err := a.eventFile(d, user)
	if err != nil {
		return r.failStart(res, err.Error())
	}
	defer removeEvent()
	outR, outW, err := os.Pipe()
	if err != nil {
		return r.failStart(res, fmt.Sprintf("create stdout pipe: %v", err))
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return r.failStart(res, fmt.Sprintf("create stderr pipe: %v", err))
	}
	defer errR.Close()
	attr := &syscall.SysProcAttr{}
	if user != nil {
		attr.Credential = user.cred
	}
	box, err := a.box.newBox(d, attr)
	if err != nil {
		outW.Close()
		errW.Close()
		return r.failStart(res, err.Error())
	}
	defer box.close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         environ(d, user, eventFile),
		Dir:         dir,
		Stdin:       a.devNull,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: attr,
	}

	if ended := r.endedBeforeStart(res); ended != nil {
		outW.Close()
		errW.Close()
		return ended
	}
	err = cmd.Start()
	if r.startOver != nil {
		r.startOver()
	}
	// The child has its copies; ours must go, or the pipes never reach EOF.
	outW.Close()
	errW.Close()
	if err != nil {
		return r.failStart(res, fmt.Sprintf("start %s: %v", argv[0], err))
	}
	pid := cmd.Process.Pid
	if err := box.started(pid); err != nil {
		// A limit that cannot be applied must not be run without.
		box.kill()
		_ = cmd.Wait()
		box.reaped()
		return r.failStart(res, err.Error())
	}
	started := time.Now()
	res.StartedAt = started.Add(r.offset).UTC()
	if !r.dropped.Load() {
		a.enqueue(ctx, protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: d.InstanceID, StartedAt: res.StartedAt, PID: pid}, true)
	}
	a.TestSignals.Started.Signal(d.InstanceID)
	r.mu.Lock()
	r.pid, r.box = pid, box
	if r.status != 0 {
		r.signalLocked() // ended while it was starting
	}
	r.mu.Unlock()
	if t := cfg.Timeout.D(); t > 0 {
		timeout := time.AfterFunc(t, func() { r.terminate(model.InstanceTimeout, "timed out after "+t.String(), false) })
		defer timeout.Stop()
	}

	limit := cfg.EffectiveOutputLimit()
	stdout := &pump{outStream: outStream{r: r, stream: model.Stdout, limit: limit}, f: r.outputPipe(outR)}
	stderr := &pump{outStream: outStream{r: r, stream: model.Stderr, limit: limit}, f: r.outputPipe(errR)}
	pumps := make(chan struct{}, 2)
	for _, p := range []*pump{stdout, stderr} {
		go func() {
			defer func() { pumps <- struct{}{} }()
			p.run(ctx)
		}()
	}

	// Wait for the leader to exit without reaping it: while it is a zombie
	// its pid, and so the run's session and group id, cannot be reused.
	// Then end whatever is left of the run, and only then reap.
	if err := waitExited(pid); err != nil {
		a.log.WarnContext(ctx, "wait for process", "instance_id", d.InstanceID, "error", err)
	}
	r.mu.Lock()
	r.exited = true
	if r.killTimer != nil {
		r.killTimer.Stop()
	}
	status, reason := r.status, r.reason
	r.mu.Unlock()
	box.collect()
	waitErr := cmd.Wait() // after a start, only a failed reap is an error not told by ProcessState
	box.reaped()
	finished := time.Now()
	if box.numKilled > 0 {
		a.log.InfoContext(ctx, "killed processes that outlived their run", "instance_id", d.InstanceID, "num_processes", box.numKilled)
	}

	drain := time.NewTimer(pipeDrainTimeout)
	for n := 0; n < 2; n++ {
		select {
		case <-pumps:
		case <-drain.C:
			// Something outside the run holds a pipe: stop reading.
			a.log.WarnContext(ctx, "output pipe held open after exit", "instance_id", d.InstanceID)
			outR.Close()
			errR.Close()
			<-pumps
		}
	}
	drain.Stop()

	res.FinishedAt = finished.Add(r.offset).UTC()
	res.OutputTail = r.tail.String()
	if cmd.ProcessState == nil {
		res.Status, res.Reason, res.Error = model.InstanceFailed, reasonSignal, fmt.Sprintf("wait for process: %v", waitErr)
		return res
	}
	res.Usage = usageOf(cmd.ProcessState, stdout, stderr)
	oom := box.finish(&res.Usage)
	outcome(res, cmd.ProcessState, status, reason, oom, &box.lim, box.rlimitMemory)
	return res
}

// usageOf returns the leader's resource usage, which includes what it
// reaped, and the output counts.
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
	path, err = lookPath(argv[0])
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		return "", nil, fmt.Errorf("command %q: %w", argv[0], err)
	}
	return path, argv, nil
}

// lookPathTTL bounds how long a resolved command is reused: resolving
// "sh" stats every $PATH entry before /usr/bin, at every run.
const lookPathTTL = 10 * time.Second

// lookPaths caches lookPath's successes.
var lookPaths struct {
	sync.Mutex
	m map[string]lookPathEntry
}

type lookPathEntry struct {
	path    string
	expires time.Time
}

// lookPath is exec.LookPath for the agent's $PATH, remembering successes
// for lookPathTTL. A name with a slash is not looked up in $PATH and not
// cached.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	now := time.Now()
	lookPaths.Lock()
	e, ok := lookPaths.m[name]
	lookPaths.Unlock()
	if ok && now.Before(e.expires) {
		return e.path, nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	lookPaths.Lock()
	if lookPaths.m == nil || len(lookPaths.m) > 1024 {
		lookPaths.m = map[string]lookPathEntry{}
	}
	lookPaths.m[name] = lookPathEntry{path: path, expires: now.Add(lookPathTTL)}
	lookPaths.Unlock()
	return path, nil
}

// environ returns the process environment: the agent's, then the user's
// HOME, USER and LOGNAME, then the job's env, then the HETUFLOW_*
// variables; a later value of a name wins. HETUFLOW_INSTANCE_ID also marks
// the run's processes for the sweep (doc.go, "Containment and limits").
func environ(d *protocol.DispatchedInstance, user *runUser, eventFile string) []string {
	base := os.Environ()
	env := make([]string, 0, len(base)+3+len(d.Config.Env)+6+len(d.Parameters))
	env = append(env, base...)
	if user != nil {
		env = append(env, user.env()...)
	}
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
	if d.ShardTotal > 0 {
		env = append(env, "HETUFLOW_SHARD_INDEX="+strconv.Itoa(d.ShardIndex), "HETUFLOW_SHARD_TOTAL="+strconv.Itoa(d.ShardTotal))
	}
	if eventFile != "" {
		env = append(env, "HETUFLOW_EVENT_FILE="+eventFile)
	}
	return env
}

// eventFile writes the webhook body that started the run to a file of its
// own (not in the working directory, which a fixed workdir shares between
// runs) and returns its path, or "" when the run has no event. The returned
// function removes it.
func (a *Agent) eventFile(d *protocol.DispatchedInstance, user *runUser) (string, func(), error) {
	if len(d.Event) == 0 {
		return "", func() {}, nil
	}
	dir := filepath.Join(a.cfg.DataDir, "events")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create event dir: %w", err)
	}
	path := filepath.Join(dir, d.InstanceID.String()+".json")
	if err := os.WriteFile(path, d.Event, 0o600); err != nil {
		return "", nil, fmt.Errorf("write event file: %w", err)
	}
	if user != nil && user.cred != nil {
		if err := os.Chown(path, user.uid, user.gid); err != nil {
			os.Remove(path)
			return "", nil, fmt.Errorf("give event file to %s: %w", user.name, err)
		}
	}
	return path, func() { os.Remove(path) }, nil
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
