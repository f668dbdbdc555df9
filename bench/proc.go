package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
)

// process is a child process of the benchmark: a server or an agent. It is
// started in its own process group with a parent-death signal, so it dies
// with the benchmark even when the benchmark is killed.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFrom int64 // size of the log when the process started
	started time.Time

	done     chan struct{} // closed once the process has been reaped
	waitErr  error
	stopOnce sync.Once
}

// liveProcs holds every process not yet stopped, so main can kill them on
// the way out whatever happened.
var liveProcs = struct {
	sync.Mutex
	m map[*process]bool
}{m: map[*process]bool{}}

// startProcess runs bin with args in dir, with env added to a clean copy of
// the environment (no HETUFLOW_ variables of the caller), and its stdout and
// stderr appended to logPath.
func startProcess(name, bin string, args []string, dir string, env []string, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	if st, err := logf.Stat(); err == nil {
		p.logFrom = st.Size()
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	liveProcs.Lock()
	liveProcs.m[p] = true
	liveProcs.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// cleanEnv returns the environment without HETUFLOW_ variables, so a
// developer's settings do not leak into a measurement.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HETUFLOW_") {
			env = append(env, kv)
		}
	}
	return env
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL to its group after grace.
// It returns once the process is reaped. Safe to call more than once.
func (p *process) stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			t := time.NewTimer(grace)
			select {
			case <-p.done:
			case <-t.C:
				_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
				<-p.done
			}
			t.Stop()
		}
		liveProcs.Lock()
		delete(liveProcs.m, p)
		liveProcs.Unlock()
	})
}

// killAll kills every process still running, at once. main calls it on the
// way out.
func killAll() {
	liveProcs.Lock()
	procs := make([]*process, 0, len(liveProcs.m))
	for p := range liveProcs.m {
		procs = append(procs, p)
	}
	liveProcs.Unlock()
	for _, p := range procs {
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	}
	for _, p := range procs {
		p.stop(time.Second)
	}
}

// logTail returns the last n lines of the process's log, for error messages.
func (p *process) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitLogLine polls the process's JSON log until a line with msg appears
// (written by this process, not an earlier one with the same log) and
// returns it decoded. It fails if the process exits or ctx ends first.
func (p *process) waitLogLine(ctx context.Context, msg string, timeout time.Duration) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	needle := []byte(`"msg":"` + msg + `"`)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(p.logPath); err == nil && int64(len(b)) >= p.logFrom {
			sc := bufio.NewScanner(bytes.NewReader(b[p.logFrom:]))
			sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
			for sc.Scan() {
				if bytes.Contains(sc.Bytes(), needle) {
					var m map[string]any
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
						return nil, fmt.Errorf("decode %s log line: %w", p.name, err)
					}
					return m, nil
				}
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before logging %q: %v\n%s", p.name, msg, p.waitErr, p.logTail(20))
		case <-ctx.Done():
			return nil, fmt.Errorf("%s did not log %q within %s: %w\n%s", p.name, msg, timeout, ctx.Err(), p.logTail(20))
		case <-t.C:
		}
	}
}

// procUsage is a process's memory and CPU time at one instant, from /proc.
type procUsage struct {
	At  time.Time
	RSS int64         // VmRSS, bytes
	CPU time.Duration // utime + stime
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux this runs on.
const clockTicks = 100

// readUsage reads /proc/<pid>/status and /proc/<pid>/stat.
func readUsage(pid int) (procUsage, error) {
	u := procUsage{At: time.Now()}
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return u, fmt.Errorf("read status of %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				u.RSS = kb << 10
			}
		}
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return u, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name may hold spaces; fields count from after its ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return u, errors.New("short /proc stat")
	}
	// After ')': state(0) ppid … utime is field 14 of the full line, index 11 here.
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	return u, nil
}

// cpuPercent returns the CPU used between a and b as a percentage of one
// core.
func cpuPercent(a, b procUsage) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

// mib converts bytes to MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }
