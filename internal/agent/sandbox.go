package agent

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// Limit enforcement, as reported in hello (protocol.LimitSupport).
const (
	enforcedCgroup = "cgroup"
	enforcedRlimit = "rlimit"
	enforcedNone   = "none"
)

// sandbox is how an agent contains and limits its runs: a cgroup v2 per
// run when the agent has a delegated cgroup; otherwise the run's session,
// a sweep of /proc with the agent as child subreaper, and rlimits.
type sandbox struct {
	cg       *cgroupRoot // nil without cgroups
	limits   protocol.LimitSupport
	warnings []string
}

// cgroups is the process-wide cgroup state. Detection runs once per process
// (it may move the process into a leaf); the runs' parent exists while an
// agent of the process uses it.
var cgroups struct {
	mu       sync.Mutex
	detected bool
	base     *cgroupBase
	err      error
	root     *cgroupRoot
	refs     int
}

// acquireSandbox returns the sandbox for an agent that starts; release it
// when the agent has stopped. noCgroup forces the fallback.
func acquireSandbox(noCgroup bool) *sandbox {
	why := "disabled"
	if !noCgroup {
		sb, err := acquireCgroupSandbox()
		if err == nil {
			return sb
		}
		why = err.Error()
	}
	sb := &sandbox{limits: protocol.LimitSupport{Memory: enforcedRlimit, CPU: enforcedNone, Pids: enforcedNone}}
	sb.warnings = append(sb.warnings, "no delegated cgroup v2 ("+why+"): runs are contained by their session "+
		"and a sweep of /proc, memory limits use RLIMIT_DATA, CPU and pids limits are not enforced")
	if err := becomeSubreaper(); err != nil {
		sb.warnings = append(sb.warnings, fmt.Sprintf("cannot become a child subreaper (%v): "+
			"a process that leaves its run's session may outlive the run", err))
	}
	return sb
}

func acquireCgroupSandbox() (*sandbox, error) {
	cgroups.mu.Lock()
	defer cgroups.mu.Unlock()
	if !cgroups.detected {
		cgroups.base, cgroups.err = detectCgroup()
		cgroups.detected = true
	}
	if cgroups.err != nil {
		return nil, cgroups.err
	}
	if cgroups.root == nil {
		root, err := cgroups.base.open()
		if err != nil {
			return nil, err
		}
		cgroups.root = root
	}
	cgroups.refs++
	c := cgroups.root
	sb := &sandbox{cg: c, limits: protocol.LimitSupport{Memory: enforcedCgroup, CPU: enforcedCgroup, Pids: enforcedCgroup}}
	var lacking []string
	if !c.memory {
		sb.limits.Memory = enforcedRlimit
		lacking = append(lacking, "memory limits use RLIMIT_DATA")
	}
	if !c.cpu {
		sb.limits.CPU = enforcedNone
		lacking = append(lacking, "CPU limits are not enforced")
	}
	if !c.pids {
		sb.limits.Pids = enforcedNone
		lacking = append(lacking, "pids limits are not enforced")
	}
	if len(lacking) > 0 {
		why := "controllers missing"
		if len(cgroups.base.notes) > 0 {
			why = strings.Join(cgroups.base.notes, "; ")
		}
		sb.warnings = append(sb.warnings, "cgroup v2 in "+c.rel+" ("+why+"): "+strings.Join(lacking, ", "))
	}
	return sb, nil
}

// release gives the sandbox back; the last cgroup user removes the runs'
// parent.
func (sb *sandbox) release() {
	if sb.cg == nil {
		return
	}
	cgroups.mu.Lock()
	defer cgroups.mu.Unlock()
	cgroups.refs--
	if cgroups.refs == 0 && cgroups.root != nil {
		cgroups.root.close()
		cgroups.root = nil
	}
}

// runBox contains one run from before its start until it is cleaned up.
type runBox struct {
	sb     *sandbox
	cg     *runCgroup // nil without cgroups, and once removed
	lim    model.ResourceLimits
	marker string // HETUFLOW_INSTANCE_ID=<id>, which every process of the run inherits
	leader int
	since  time.Time
	// rlimitMemory is set when memory is limited by RLIMIT_DATA.
	rlimitMemory bool
	orphans      procUsage // processes the sweep reaped
	numKilled    int       // processes that outlived the leader
}

// newBox prepares the containment of a run and sets attr to start its
// leader inside it: in its own session, and in its cgroup if there is one
// (clone3 with CLONE_INTO_CGROUP, so no instant outside it). Close the box
// if the run never starts.
func (sb *sandbox) newBox(d *protocol.DispatchedInstance, attr *syscall.SysProcAttr) (*runBox, error) {
	b := &runBox{sb: sb, marker: "HETUFLOW_INSTANCE_ID=" + d.InstanceID.String()}
	if d.Config.Limits != nil {
		b.lim = *d.Config.Limits
	}
	attr.Setsid = true
	if sb.cg != nil {
		cg, err := sb.cg.get(&b.lim)
		if err != nil {
			return nil, err
		}
		b.cg = cg
		attr.UseCgroupFD, attr.CgroupFD = true, cg.fd
	}
	return b, nil
}

// started records the leader and applies the limits only an rlimit can
// enforce. prlimit(2) acts on the running child, so the leader runs for a
// few microseconds (between its execve and this call) without them, and a
// process it forks in that window escapes them; exec.Cmd has no hook
// between fork and exec, and re-executing the agent as a helper would
// double the cost of every start.
func (b *runBox) started(pid int) error {
	b.leader, b.since = pid, time.Now()
	addLeader(pid)
	if b.lim.MemoryMB > 0 && (b.cg == nil || !b.sb.cg.memory) {
		n := uint64(b.lim.MemoryMB) << 20
		if err := unix.Prlimit(pid, unix.RLIMIT_DATA, &unix.Rlimit{Cur: n, Max: n}, nil); err != nil {
			return fmt.Errorf("set RLIMIT_DATA: %w", err)
		}
		b.rlimitMemory = true
	}
	return nil
}

// kill sends SIGKILL to every process of the run: the cgroup, else the
// session's process group and the leader. The leader must not have been
// reaped.
func (b *runBox) kill() {
	if b.cg != nil && b.cg.kill() == nil {
		return
	}
	_ = syscall.Kill(-b.leader, syscall.SIGKILL)
	_ = syscall.Kill(b.leader, syscall.SIGKILL)
}

// collect ends whatever of the run outlived its leader, which has exited
// and is not reaped yet. With a cgroup, cgroup.kill gets everything; when
// the process is a subreaper (for another agent of the process), the
// run's orphans are the agent's children and are reaped here too. Without
// one, the sweep finds, kills and reaps them.
func (b *runBox) collect() {
	s := &sweep{leader: b.leader, since: b.since, marker: b.marker}
	switch {
	case b.cg == nil:
		b.kill()
	case b.cg.end() != nil:
		b.kill()
		fallthrough
	default:
		// Orphans are init's to reap, unless the agent is init or a
		// subreaper (for another agent of the process, in tests).
		if !subreaper.on.Load() && selfPID != 1 {
			return
		}
		b.cg.settle()
		s.cgroup = b.cg.rel
	}
	s.run()
	b.orphans, b.numKilled = s.usage, s.numKilled
}

// reaped records that the leader was reaped: its pid may be reused now.
func (b *runBox) reaped() { removeLeader(b.leader) }

// finish adds what the box accounted to u, removes the cgroup, and reports
// whether the kernel killed the run for exceeding its memory limit.
func (b *runBox) finish(u *model.ResourceUsage) (oom bool) {
	u.UserCPUMillis += b.orphans.userCPU.Milliseconds()
	u.SystemCPUMillis += b.orphans.systemCPU.Milliseconds()
	u.PeakMemoryBytes = max(u.PeakMemoryBytes, b.orphans.maxRSS)
	if b.cg == nil {
		return false
	}
	b.cg.settle() // killed processes add their last CPU time
	oom = b.cg.accounting(u) > 0
	b.close()
	return oom
}

// close gives the run's cgroup back, if it still has it.
func (b *runBox) close() {
	if b.cg != nil {
		b.cg.put()
		b.cg = nil
	}
}
