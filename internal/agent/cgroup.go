package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hetuflow/hetuflow/internal/model"
)

// The cgroup v2 layout (doc.go, "Containment and limits"):
//
//	<own>/                  the agent's cgroup when it first started
//	├── agent/              the agent itself, moved here if <own> is not the
//	│                       root and must enable controllers for its
//	│                       children (no internal processes)
//	└── hetuflow-<pid>/     the runs of this agent process
//	    └── r<n>/           one run at a time: limits, cgroup.kill, accounting
//
// Runs are created inside the agent's own (delegated) cgroup, never beside
// it: a delegation covers a subtree, and its parent is not the agent's.
//
// The kernel serialises every cgroup mkdir, rmdir, cgroup.kill and
// CLONE_INTO_CGROUP fork on one global mutex, and Go serialises forks, so a
// run cgroup that is empty after its run goes back to a pool and serves the
// next run: only the fork takes the mutex. A run with a memory limit gets a
// fresh cgroup instead, removed after it, so that memory.peak and the OOM
// count are its own (a reused cgroup keeps page cache charged by earlier
// runs, and memory.peak cannot be reset before Linux 6.12).

// wantedControllers are the controllers that enforce a job's limits.
var wantedControllers = []string{"cpu", "memory", "pids"}

// cpuPeriod is the cpu.max period, in microseconds.
const cpuPeriod = 100_000

// maxPooled bounds the idle run cgroups kept for reuse.
const maxPooled = 64

// cgroupBase is the agent's delegated cgroup, found once per process.
type cgroupBase struct {
	dir string // absolute path of <own>
	rel string // <own> as /proc/<pid>/cgroup shows it
	// controllers are enabled in <own>'s cgroup.subtree_control.
	controllers map[string]bool
	// notes say why a wanted controller is missing.
	notes []string
}

// detectCgroup finds the cgroup v2 hierarchy in mountinfo (at
// /sys/fs/cgroup, or a hybrid layout's unified mount), checks it is one
// (statfs magic), finds the agent's cgroup in it and checks it is writable,
// then enables what it can of cpu, memory and pids for its children. An
// error says why cgroups cannot be used.
func detectCgroup() (*cgroupBase, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	mnt, mroot, ok := findCgroup2(mi)
	if !ok {
		return nil, errors.New("no cgroup v2 hierarchy is mounted")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", mnt, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%s is not a cgroup v2 file system", mnt)
	}
	pc, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroup: %w", err)
	}
	own, ok := ownCgroup(pc)
	if !ok {
		return nil, errors.New("the agent is in no cgroup v2 cgroup")
	}
	rel := own
	if mroot != "/" {
		switch {
		case own == mroot:
			rel = "/"
		case strings.HasPrefix(own, mroot+"/"):
			rel = strings.TrimPrefix(own, mroot)
		default:
			return nil, fmt.Errorf("cgroup %s is outside the mounted subtree %s", own, mroot)
		}
	}
	b := &cgroupBase{dir: filepath.Join(mnt, rel), rel: own, controllers: map[string]bool{}}
	if err := unix.Access(b.dir, unix.W_OK); err != nil {
		return nil, fmt.Errorf("cgroup %s is not writable (not delegated): %w", b.dir, err)
	}
	b.enableControllers()
	return b, nil
}

// findCgroup2 returns the mount point and mounted root of the cgroup v2
// hierarchy, preferring /sys/fs/cgroup.
func findCgroup2(mountinfo []byte) (mnt, root string, ok bool) {
	for _, line := range strings.Split(string(mountinfo), "\n") {
		pre, post, found := strings.Cut(line, " - ")
		if !found {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 || g[0] != "cgroup2" {
			continue
		}
		m, r := unescapeMount(f[4]), unescapeMount(f[3])
		if !ok || m == "/sys/fs/cgroup" {
			mnt, root, ok = m, r, true
		}
	}
	return mnt, root, ok
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// enableControllers enables cpu, memory and pids for the children of
// <own>. cgroup v2 refuses that (EBUSY) while <own> holds processes, so the
// agent first moves itself into <own>/agent, unless <own> is the root,
// which the rule exempts. Other processes in <own> keep it refusing; the
// runs then get no controllers, and limits fall back to rlimits.
func (b *cgroupBase) enableControllers() {
	var buf [512]byte
	avail := map[string]bool{}
	if out, err := readSmall(b.dir+"/cgroup.controllers", buf[:]); err == nil {
		for _, c := range strings.Fields(string(out)) {
			avail[c] = true
		}
	}
	if out, err := readSmall(b.dir+"/cgroup.subtree_control", buf[:]); err == nil {
		for _, c := range strings.Fields(string(out)) {
			b.controllers[c] = avail[c]
		}
	}
	moved := false
	for _, c := range wantedControllers {
		switch {
		case b.controllers[c]:
			continue
		case !avail[c]:
			b.notes = append(b.notes, fmt.Sprintf("controller %s is not available in %s", c, b.rel))
			continue
		}
		err := writeSmall(b.dir+"/cgroup.subtree_control", "+"+c)
		if errors.Is(err, unix.EBUSY) && !moved && fileExists(b.dir+"/cgroup.type") {
			moved = true
			if err = b.moveSelf(); err == nil {
				err = writeSmall(b.dir+"/cgroup.subtree_control", "+"+c)
			}
		}
		if err != nil {
			b.notes = append(b.notes, fmt.Sprintf("enable controller %s in %s: %v", c, b.rel, err))
			continue
		}
		b.controllers[c] = true
	}
}

// moveSelf moves the agent process into the leaf <own>/agent.
func (b *cgroupBase) moveSelf() error {
	leaf := b.dir + "/agent"
	if err := unix.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create cgroup %s: %w", leaf, err)
	}
	if err := writeSmall(leaf+"/cgroup.procs", strconv.Itoa(selfPID)); err != nil {
		return fmt.Errorf("move agent into %s: %w", leaf, err)
	}
	return nil
}

// cgroupRoot is <own>/hetuflow-<pid>, the parent of this process's runs.
type cgroupRoot struct {
	dir               string
	rel               string
	memory, cpu, pids bool
	memoryPeak        bool // memory.peak exists (Linux 5.19)

	mu    sync.Mutex
	seq   int          // names run cgroups
	pool  []*runCgroup // idle, empty, without limits
	stale []string     // run cgroups not removed yet
}

// open creates the runs' parent and enables the controllers in it. It
// removes the parents left by agent processes that no longer exist, with
// whatever still runs in them.
func (b *cgroupBase) open() (*cgroupRoot, error) {
	name := "hetuflow-" + strconv.Itoa(selfPID)
	c := &cgroupRoot{dir: b.dir + "/" + name, rel: path.Join(b.rel, name)}
	if err := unix.Mkdir(c.dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create cgroup %s: %w", c.dir, err)
	}
	if !fileExists(c.dir + "/cgroup.kill") {
		_ = unix.Rmdir(c.dir)
		return nil, errors.New("cgroup.kill is missing (Linux 5.14 or later is needed)")
	}
	for _, ctl := range wantedControllers {
		if !b.controllers[ctl] || writeSmall(c.dir+"/cgroup.subtree_control", "+"+ctl) != nil {
			continue
		}
		switch ctl {
		case "cpu":
			c.cpu = true
		case "memory":
			c.memory = true
			c.memoryPeak = fileExists(c.dir + "/memory.peak")
		case "pids":
			c.pids = true
		}
	}
	b.removeStale(name)
	return c, nil
}

// removeStale removes the runs' parents of dead agent processes.
func (b *cgroupBase) removeStale(keep string) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := strings.CutPrefix(e.Name(), "hetuflow-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || !e.IsDir() || e.Name() == keep || unix.Kill(n, 0) != unix.ESRCH {
			continue
		}
		removeCgroupTree(b.dir+"/"+e.Name(), time.Now().Add(sweepBudget))
	}
}

// close removes the runs' parent with its pool; every run of the process
// has ended.
func (c *cgroupRoot) close() {
	c.mu.Lock()
	pool := c.pool
	c.pool = nil
	c.mu.Unlock()
	for _, rc := range pool {
		rc.remove()
	}
	c.retryStale()
	if err := unix.Rmdir(c.dir); err != nil && !errors.Is(err, unix.ENOENT) {
		removeCgroupTree(c.dir, time.Now().Add(sweepBudget))
	}
}

// retryStale removes the run cgroups that could not be removed before.
func (c *cgroupRoot) retryStale() {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := c.stale[:0]
	for _, dir := range c.stale {
		if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
			keep = append(keep, dir)
		}
	}
	c.stale = keep
}

// runCgroup is the cgroup of one run.
type runCgroup struct {
	root *cgroupRoot
	dir  string
	rel  string
	fd   int // the directory, for SysProcAttr.CgroupFD; -1 once closed
	// fresh is set for a cgroup made for one run (with a memory limit) and
	// removed after it; the others go back to the pool.
	fresh bool
	// limited is set when cpu.max or pids.max was written: they are reset
	// before the cgroup goes back to the pool.
	limited bool
	// killed is set from a cgroup.kill until the cgroup is empty again.
	killed bool
	// poisoned is set by any cgroup.kill: the cgroup must not be reused.
	// Linux 6.14 and later (at least to 6.18) kill every process later
	// started in such a cgroup with CLONE_INTO_CGROUP, as cgroup_post_fork
	// compares the kill count of the forking process's cgroup, not the
	// target's, with the target's.
	poisoned bool
	// user and system are cpu.stat at the end of the previous run, in µs:
	// an idle cgroup's counters do not move, so a run's CPU is the
	// difference.
	user, system int64
}

// get returns a cgroup for a run with the given limits: from the pool, or
// a new one; a limit whose controller is missing is left to the caller.
// The caller must put it back.
func (c *cgroupRoot) get(lim *model.ResourceLimits) (*runCgroup, error) {
	fresh := lim.MemoryMB > 0 && c.memory
	var rc *runCgroup
	c.mu.Lock()
	if n := len(c.pool); n > 0 && !fresh {
		rc, c.pool = c.pool[n-1], c.pool[:n-1]
	}
	stale := len(c.stale) > 0
	c.mu.Unlock()
	if stale {
		c.retryStale()
	}
	if rc == nil {
		var err error
		if rc, err = c.create(fresh); err != nil {
			return nil, err
		}
	}
	if err := rc.limit(lim); err != nil {
		rc.remove()
		return nil, err
	}
	return rc, nil
}

// create makes a new run cgroup and opens it for CLONE_INTO_CGROUP.
func (c *cgroupRoot) create(fresh bool) (*runCgroup, error) {
	c.mu.Lock()
	c.seq++
	name := "r" + strconv.Itoa(c.seq)
	c.mu.Unlock()
	rc := &runCgroup{root: c, dir: c.dir + "/" + name, rel: c.rel + "/" + name, fd: -1, fresh: fresh}
	if err := unix.Mkdir(rc.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", rc.dir, err)
	}
	fd, err := unix.Open(rc.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		rc.remove()
		return nil, fmt.Errorf("open cgroup %s: %w", rc.dir, err)
	}
	rc.fd = fd
	return rc, nil
}

// warm fills the pool up to n cgroups (at most maxPooled), so that the
// first runs, a burst on a fresh agent above all, do not each create one
// at their start: the kernel serialises cgroup creation with every fork
// into a cgroup.
func (c *cgroupRoot) warm(n int) error {
	n = min(n, maxPooled)
	for {
		c.mu.Lock()
		have := len(c.pool)
		c.mu.Unlock()
		if have >= n {
			return nil
		}
		rc, err := c.create(false)
		if err != nil {
			return err
		}
		rc.put()
	}
}

// limit writes the limits whose controllers the runs have. Without swap
// and with memory.oom.group, exceeding memory.max kills the whole run.
func (rc *runCgroup) limit(lim *model.ResourceLimits) error {
	c := rc.root
	if lim.MemoryMB > 0 && c.memory {
		if err := writeSmall(rc.dir+"/memory.max", strconv.FormatInt(lim.MemoryMB<<20, 10)); err != nil {
			return fmt.Errorf("set memory.max: %w", err)
		}
		_ = writeSmall(rc.dir+"/memory.swap.max", "0") // absent without swap accounting
		_ = writeSmall(rc.dir+"/memory.oom.group", "1")
	}
	if lim.CPU > 0 && c.cpu {
		rc.limited = true
		quota := max(int64(lim.CPU*cpuPeriod), 1000)
		if err := writeSmall(rc.dir+"/cpu.max", fmt.Sprintf("%d %d", quota, cpuPeriod)); err != nil {
			return fmt.Errorf("set cpu.max: %w", err)
		}
	}
	if lim.Pids > 0 && c.pids {
		rc.limited = true
		if err := writeSmall(rc.dir+"/pids.max", strconv.Itoa(lim.Pids)); err != nil {
			return fmt.Errorf("set pids.max: %w", err)
		}
	}
	return nil
}

// kill kills every process in the cgroup, whatever its session.
func (rc *runCgroup) kill() error {
	rc.killed, rc.poisoned = true, true
	return writeSmall(rc.dir+"/cgroup.kill", "1")
}

// end kills what is left in the cgroup once the leader exited; an empty
// cgroup is only looked at.
func (rc *runCgroup) end() error {
	if !populated(rc.dir) {
		return nil
	}
	return rc.kill()
}

// settle waits until killed processes are gone, at most sweepBudget, and
// reports whether they are.
func (rc *runCgroup) settle() bool {
	if rc.killed && waitUnpopulated(rc.dir, time.Now().Add(sweepBudget)) {
		rc.killed = false
	}
	return !rc.killed
}

// accounting reads the run's CPU time, and for a fresh cgroup its peak
// memory and OOM kills, into u. Fields it cannot read keep their values
// (the leader's rusage).
func (rc *runCgroup) accounting(u *model.ResourceUsage) (oomKills int64) {
	var buf [1024]byte
	if b, err := readSmall(rc.dir+"/cpu.stat", buf[:]); err == nil {
		user, system := statField(b, "user_usec"), statField(b, "system_usec")
		u.UserCPUMillis = (user - rc.user) / 1000
		u.SystemCPUMillis = (system - rc.system) / 1000
		rc.user, rc.system = user, system
	}
	if !rc.fresh {
		return 0
	}
	if rc.root.memoryPeak {
		if b, err := readSmall(rc.dir+"/memory.peak", buf[:]); err == nil {
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil {
				u.PeakMemoryBytes = n
			}
		}
	}
	if b, err := readSmall(rc.dir+"/memory.events", buf[:]); err == nil {
		oomKills = statField(b, "oom_kill")
	}
	return oomKills
}

// put ends the cgroup's use by a run: once empty and with its limits
// reset it goes back to the pool; a fresh or killed one, or one that does
// not empty or reset, is removed.
func (rc *runCgroup) put() {
	if !rc.settle() || rc.fresh || rc.poisoned || (rc.limited && !rc.resetLimits()) {
		rc.remove()
		return
	}
	c := rc.root
	c.mu.Lock()
	if len(c.pool) < maxPooled {
		c.pool = append(c.pool, rc)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	rc.remove()
}

// resetLimits lifts the CPU and pids limits a run set.
func (rc *runCgroup) resetLimits() bool {
	if rc.root.cpu && writeSmall(rc.dir+"/cpu.max", "max") != nil {
		return false
	}
	if rc.root.pids && writeSmall(rc.dir+"/pids.max", "max") != nil {
		return false
	}
	rc.limited = false
	return true
}

// remove closes the cgroup's descriptor and removes it, waiting for
// killed processes to finish dying; one it cannot remove yet is retried
// at the next run's start and when the agent stops.
func (rc *runCgroup) remove() {
	if rc.fd >= 0 {
		unix.Close(rc.fd)
		rc.fd = -1
	}
	err := unix.Rmdir(rc.dir)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return
	}
	if !removeCgroupTree(rc.dir, time.Now().Add(sweepBudget)) {
		rc.root.mu.Lock()
		rc.root.stale = append(rc.root.stale, rc.dir)
		rc.root.mu.Unlock()
	}
}

// removeCgroupTree kills everything in dir and below, waits for it to die
// (at the latest until deadline) and removes the cgroups, deepest first.
func removeCgroupTree(dir string, deadline time.Time) bool {
	_ = writeSmall(dir+"/cgroup.kill", "1")
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				removeCgroupTree(dir+"/"+e.Name(), deadline)
			}
		}
	}
	waitUnpopulated(dir, deadline)
	err := unix.Rmdir(dir)
	return err == nil || errors.Is(err, unix.ENOENT)
}

// populated reports whether processes live in dir or below.
func populated(dir string) bool {
	var buf [128]byte
	b, err := readSmall(dir+"/cgroup.events", buf[:])
	return err == nil && statField(b, "populated") != 0
}

// waitUnpopulated waits until no process lives in dir or below, at the
// latest until deadline, and reports whether it got there. The kernel
// signals each change of cgroup.events to inotify, so this waits without
// polling.
func waitUnpopulated(dir string, deadline time.Time) bool {
	if !populated(dir) {
		return true
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir+"/cgroup.events", unix.IN_MODIFY); err != nil {
		return false
	}
	var buf [512]byte
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		// Checked after arming the watch, so no change goes unnoticed.
		if !populated(dir) {
			return true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return false
		}
		if n, _ := unix.Poll(fds, int(wait.Milliseconds())+1); n > 0 {
			_, _ = unix.Read(fd, buf[:])
		}
	}
}

// statField returns the value of key in a flat-keyed cgroup file ("key
// value" lines), or 0.
func statField(b []byte, key string) int64 {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(line, []byte(" "))
		if ok && string(k) == key {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

func fileExists(name string) bool {
	return unix.Access(name, unix.F_OK) == nil
}
