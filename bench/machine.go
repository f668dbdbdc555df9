package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Commit    string `json:"commit"`
	// Dirty is set when the work tree had uncommitted changes.
	Dirty bool `json:"dirty"`
	// LoadAvg is /proc/loadavg when the run began: other work on the
	// machine skews every figure.
	LoadAvg string `json:"load_avg"`
	// PostgreSQL is the server version, when a scenario used it.
	PostgreSQL string `json:"postgresql,omitempty"`
}

// machineInfo gathers what describes this machine and checkout. Anything it
// cannot read is left empty.
func machineInfo(ctx context.Context, goCmd string) Machine {
	m := Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryMiB = kb >> 10
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	m.GoVersion = runtime.Version()
	if out, err := exec.CommandContext(ctx, goCmd, "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		m.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	return m
}

// cpuMark is a reading of the machine's CPU time and of the CPU time the
// benchmark, its reaped children (servers, agents, their processes) and
// PostgreSQL used, so that the CPU others used in between can be told
// apart.
type cpuMark struct {
	at   time.Time
	busy time.Duration // all CPUs, from /proc/stat
	ours time.Duration // this process and its waited-for descendants
}

// markCPU reads the CPU counters.
func markCPU() cpuMark {
	m := cpuMark{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		// cpu user nice system idle iowait irq softirq steal …
		if len(f) >= 9 && f[0] == "cpu" {
			var ticks int64
			for _, i := range []int{1, 2, 3, 6, 7, 8} {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				ticks += v
			}
			m.busy = time.Duration(ticks) * time.Second / clockTicks
		}
	}
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			m.ours += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	m.ours += postgresCPU()
	return m
}

// postgresCPU returns the CPU time of every PostgreSQL process, including
// the backends that have exited (their time is in the postmaster's cutime
// and cstime). The benchmark counts it as its own: the servers it runs do
// their database work there.
func postgresCPU() time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+1:])
		// After ')': utime, stime, cutime, cstime are indexes 11 to 14.
		if len(f) < 15 {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// othersCPU returns the CPU used between a and z by processes that are not
// the benchmark's, as a percentage of one core. Processes of the benchmark
// still running at z are not counted as its own, so call it after they
// are stopped.
func othersCPU(a, z cpuMark) float64 {
	wall := z.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	others := (z.busy - a.busy) - (z.ours - a.ours)
	return max(0, 100*float64(others)/float64(wall))
}

// waitQuiet waits until other processes use less than threshold % of a
// core over a one-second sample, for at most maxWait. It returns the last
// sample.
func waitQuiet(ctx context.Context, threshold float64, maxWait time.Duration) (float64, error) {
	deadline := time.Now().Add(maxWait)
	for {
		a := markCPU()
		if err := sleepUntil(ctx, time.Now().Add(time.Second)); err != nil {
			return 0, err
		}
		busy := othersCPU(a, markCPU())
		if busy < threshold || time.Now().After(deadline) {
			return busy, nil
		}
	}
}
