package agent

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Without a cgroup, a run is contained by its session and by a sweep of
// /proc when its leader exits (see doc.go, "Containment"). The agent is a
// child subreaper, so a process that leaves the run's tree (its parent
// exited) becomes the agent's child instead of init's; the sweep finds the
// run's processes, kills them, and reaps those that became the agent's
// children.
//
// The sweep reaps only processes it identified as the run's, and never a
// run leader: leaders are reaped by their exec.Cmd, and any other child of
// the process (another package's exec.Cmd) is left to its owner.

// Sweep bounds.
const (
	// sweepBudget bounds how long one sweep waits for the processes it
	// killed to die; one that has not (stuck in the kernel) is reaped by a
	// later sweep.
	sweepBudget = 2 * time.Second
	// maxSweepRounds bounds the kill-and-rescan rounds: each round kills
	// what it finds, and the children of what it killed are found in the
	// next one, as the agent's.
	maxSweepRounds = 16
	// maxProbe is the most pids a sweep probes one by one; past it, it
	// lists /proc instead.
	maxProbe = 1024
	// wrapSafe is how young a run must be for its processes to be sought
	// only among the pids allocated after its leader. Pids wrap at
	// pid_max (at least 32768); no system forks that often in a second.
	wrapSafe = time.Second
)

// subreaper records whether the process made itself a child subreaper. It
// is process-wide and never undone.
var subreaper struct {
	once sync.Once
	err  error
	on   atomic.Bool
}

// becomeSubreaper makes the process a child subreaper, once.
func becomeSubreaper() error {
	subreaper.once.Do(func() {
		subreaper.err = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		subreaper.on.Store(subreaper.err == nil)
	})
	return subreaper.err
}

// leaders holds the pids of the run leaders of every agent of the process,
// started and not yet reaped (0) or reaped less than wrapSafe ago (when, in
// Unix nanoseconds): a sweep skips them without reading /proc. A reaped
// leader's pid cannot have been reused that soon (see wrapSafe).
var leaders = struct {
	sync.Mutex
	m         map[int]int64
	numReaped int
}{m: map[int]int64{}}

func addLeader(pid int) {
	leaders.Lock()
	leaders.m[pid] = 0
	leaders.Unlock()
}

func removeLeader(pid int) {
	now := time.Now().UnixNano()
	leaders.Lock()
	defer leaders.Unlock()
	leaders.m[pid] = now
	leaders.numReaped++
	if leaders.numReaped < 1024 {
		return
	}
	leaders.numReaped = 0
	for p, when := range leaders.m {
		if when != 0 && now-when >= int64(wrapSafe) {
			delete(leaders.m, p)
		}
	}
}

// pendingReaps holds pidfds of killed children of the agent that had not
// died when their sweep gave up on them; every sweep tries them again.
var pendingReaps struct {
	sync.Mutex
	fds []int
}

// reapPending reaps the pending children that have died since.
func reapPending() {
	pendingReaps.Lock()
	defer pendingReaps.Unlock()
	keep := pendingReaps.fds[:0]
	for _, fd := range pendingReaps.fds {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
		if err == nil && info.Signo == 0 {
			keep = append(keep, fd) // still alive
			continue
		}
		unix.Close(fd)
	}
	pendingReaps.fds = keep
}

// procUsage sums the resource usage of processes the agent reaped.
type procUsage struct {
	userCPU, systemCPU time.Duration
	maxRSS             int64 // bytes
	numReaped          int
}

func (u *procUsage) add(ru *unix.Rusage) {
	u.userCPU += time.Duration(ru.Utime.Nano())
	u.systemCPU += time.Duration(ru.Stime.Nano())
	u.maxRSS = max(u.maxRSS, ru.Maxrss*1024)
	u.numReaped++
}

// sweep finds the processes of one run that outlived its leader, kills
// them and reaps those that are the agent's children. It runs after the
// leader exited and before it is reaped, so the leader's pid, which is the
// run's session and process group id, cannot have been reused.
type sweep struct {
	leader int
	since  time.Time // when the leader started
	// Identification. Without a cgroup: the session or process group of
	// the leader, or, for a process that left both, the environment entry
	// marker (HETUFLOW_INSTANCE_ID=<id>), which only a live process shows.
	// With a cgroup (the agent is a subreaper for another agent of the
	// process): membership of cgroup.
	marker string
	cgroup string
	// known holds the processes identified in earlier rounds (pid → start
	// time): once dead they no longer show the marker.
	known map[int]uint64

	usage     procUsage
	numKilled int
}

// run sweeps until a round finds nothing more to kill or reap.
func (s *sweep) run() {
	reapPending()
	deadline := time.Now().Add(sweepBudget)
	for range maxSweepRounds {
		if time.Now().After(deadline) {
			return
		}
		ours := s.identify(s.candidates())
		progress := false
		var children []int
		for i := range ours {
			p := &ours[i]
			if _, seen := s.known[p.pid]; !seen {
				if s.known == nil {
					s.known = map[int]uint64{}
				}
				s.known[p.pid] = p.start
				if p.alive() {
					s.numKilled++
				}
			}
			if p.alive() {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				progress = true
			}
			if p.ppid == selfPID {
				children = append(children, p.pid)
			}
		}
		for _, pid := range children {
			if s.reap(pid, deadline) {
				progress = true
			}
		}
		if !progress {
			return
		}
	}
}

// candidates returns the processes that may belong to the run: those
// created after its leader, except the run leaders. When the pid range
// since the leader is short and cannot have wrapped, only it is probed;
// otherwise every process in /proc is read.
func (s *sweep) candidates() []procInfo {
	var pids []int
	if last, ok := lastPID(); ok && last >= s.leader && last-s.leader <= maxProbe && time.Since(s.since) < wrapSafe {
		pids = make([]int, 0, last-s.leader)
		for pid := s.leader + 1; pid <= last; pid++ {
			pids = append(pids, pid)
		}
	} else {
		var err error
		if pids, err = allPIDs(); err != nil {
			return nil
		}
	}
	now := time.Now().UnixNano()
	leaders.Lock()
	n := 0
	for _, pid := range pids {
		when, ok := leaders.m[pid]
		if (!ok || (when != 0 && now-when >= int64(wrapSafe))) && pid != s.leader && pid != selfPID {
			pids[n] = pid
			n++
		}
	}
	leaders.Unlock()
	procs := make([]procInfo, 0, n)
	for _, pid := range pids[:n] {
		if p, ok := readProcInfo(pid); ok {
			procs = append(procs, p)
		}
	}
	return procs
}

// identify returns the candidates that belong to the run, with their
// descendants among the candidates.
func (s *sweep) identify(procs []procInfo) []procInfo {
	ours := make(map[int]bool)
	for i := range procs {
		p := &procs[i]
		if start, ok := s.known[p.pid]; ok && start == p.start {
			ours[p.pid] = true
			continue
		}
		if s.cgroup != "" {
			// Everything of the run is dead by now, and each of its
			// zombies was handed to the agent when its parent died.
			if p.ppid == selfPID {
				cg, ok := cgroupOf(p.pid)
				ours[p.pid] = ok && (cg == s.cgroup || cg == s.cgroup+" (deleted)")
			}
			continue
		}
		switch {
		case p.sid == s.leader || p.pgrp == s.leader:
			ours[p.pid] = true
		case p.alive() && (p.ppid == selfPID || !subreaper.on.Load()):
			// Left the session and lost its parent (which made it the
			// agent's, or init's if the agent is no subreaper): the
			// marker tells.
			ours[p.pid] = hasEnv(p.pid, s.marker)
		}
	}
	// Descendants: a parent of the run makes its children the run's.
	for changed := true; changed; {
		changed = false
		for i := range procs {
			p := &procs[i]
			if !ours[p.pid] && ours[p.ppid] {
				ours[p.pid], changed = true, true
			}
		}
	}
	var out []procInfo
	for _, p := range procs {
		if ours[p.pid] {
			out = append(out, p)
		}
	}
	return out
}

// reap waits until the agent's child pid has exited, at the latest until
// deadline, and reaps it, adding its usage. It reports whether it reaped
// it. pid cannot be reused meanwhile: it is the agent's unreaped child. A
// pid that names a thread, not a process, is skipped.
func (s *sweep) reap(pid int, deadline time.Time) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false // a thread (EINVAL), or gone
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		wait := max(time.Until(deadline), 0)
		_, err = unix.Poll(fds, int(wait.Milliseconds()))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	var info unix.Siginfo
	var ru unix.Rusage
	err = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, &ru)
	switch {
	case err == nil && info.Signo != 0:
		unix.Close(fd)
		s.usage.add(&ru)
		return true
	case err == nil:
		// Killed but not dead yet: a later sweep reaps it.
		pendingReaps.Lock()
		pendingReaps.fds = append(pendingReaps.fds, fd)
		pendingReaps.Unlock()
		return false
	default:
		unix.Close(fd)
		return false
	}
}
