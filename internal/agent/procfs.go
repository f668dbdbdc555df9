package agent

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// selfPID is the agent's process id.
var selfPID = os.Getpid()

// readSmall reads a small pseudo-file (procfs, cgroupfs) into buf with raw
// system calls: no *os.File, so no poller registration and no allocation
// beyond the path. It returns at most len(buf) bytes.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, err
		case m == 0:
			return buf[:n], nil
		}
		n += m
	}
	return buf[:n], nil
}

// writeSmall writes s to a pseudo-file in one write, as cgroupfs wants.
func writeSmall(path, s string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(s))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// procInfo is what the agent needs to know of a process from
// /proc/<pid>/stat. It is readable for zombies too.
type procInfo struct {
	pid, ppid int
	pgrp, sid int
	state     byte   // 'R', 'S', 'Z', …
	start     uint64 // start time in clock ticks after boot: with pid, names one process
}

// alive reports whether the process has not exited yet.
func (p *procInfo) alive() bool { return p.state != 'Z' && p.state != 'X' }

// readProcInfo reads /proc/<pid>/stat. The pid may name a thread; false
// means the process is gone or unreadable.
func readProcInfo(pid int) (procInfo, bool) {
	var buf [512]byte
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if err != nil {
		return procInfo{}, false
	}
	return parseProcStat(pid, b)
}

// parseProcStat parses the fields of a stat line after the command name,
// which is in parentheses and may itself contain spaces and parentheses.
func parseProcStat(pid int, b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, state: b[i+2]}
	// Fields after the state, counted from 0: ppid, pgrp, session, …,
	// starttime at 18 (field 22 of proc(5)).
	rest := b[i+3:]
	for f := 0; f <= 18; f++ {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		field := rest[:end]
		rest = rest[end:]
		switch f {
		case 0, 1, 2:
			n, err := strconv.Atoi(string(field))
			if err != nil {
				return procInfo{}, false
			}
			switch f {
			case 0:
				p.ppid = n
			case 1:
				p.pgrp = n
			case 2:
				p.sid = n
			}
		case 18:
			n, err := strconv.ParseUint(string(bytes.TrimSpace(field)), 10, 64)
			if err != nil {
				return procInfo{}, false
			}
			p.start = n
			return p, true
		}
	}
	return procInfo{}, false
}

// lastPID returns the pid most recently allocated in the agent's pid
// namespace, from the last field of /proc/loadavg.
func lastPID() (int, bool) {
	var buf [128]byte
	b, err := readSmall("/proc/loadavg", buf[:])
	if err != nil {
		return 0, false
	}
	b = bytes.TrimSpace(b)
	n, err := strconv.Atoi(string(b[bytes.LastIndexByte(b, ' ')+1:]))
	return n, err == nil
}

// allPIDs lists the processes (thread group leaders) in /proc.
func allPIDs() ([]int, error) {
	f, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if n, err := strconv.Atoi(name); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// envBufPool recycles the buffers hasEnv reads environments into.
var envBufPool = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// hasEnv reports whether the environment of pid, as it was at its last
// execve, holds the entry kv exactly. A zombie's environment is empty.
func hasEnv(pid int, kv string) bool {
	bp := envBufPool.Get().(*[]byte)
	defer envBufPool.Put(bp)
	path := "/proc/" + strconv.Itoa(pid) + "/environ"
	b, err := readSmall(path, *bp)
	if err == nil && len(b) == len(*bp) { // larger than the buffer
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return false
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if string(b[:i]) == kv {
			return true
		}
		b = b[min(i+1, len(b)):]
	}
	return false
}

// cgroupOf returns the cgroup v2 path of pid as /proc/<pid>/cgroup shows
// it ("/a/b", with " (deleted)" once the cgroup was removed); it works for
// zombies.
func cgroupOf(pid int) (string, bool) {
	var buf [1024]byte
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/cgroup", buf[:])
	if err != nil {
		return "", false
	}
	return ownCgroup(b)
}

// ownCgroup finds the cgroup v2 line ("0::<path>") of a /proc/<pid>/cgroup
// file.
func ownCgroup(b []byte) (string, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if p, ok := bytes.CutPrefix(line, []byte("0::")); ok {
			return string(p), true
		}
	}
	return "", false
}
