// Package agent is the hetuflow agent: it dials a server over WebSocket,
// receives dispatched task instances, fires each at its planned instant from
// a local timer, runs the process, streams its output and reports the
// result, without losing a report across reconnects (DESIGN.md §4, §6).
//
// # Glossary
//
//   - Instance: one attempt at a task, dispatched to this agent with a fire
//     instant (FireAt, server clock) and a snapshot of the job's config.
//   - Held: dispatched, waiting in the timer heap. Running: fired; its
//     process is starting or running.
//   - Clock offset: the estimate of server − agent time, from heartbeat
//     round trips (the lowest-latency of the last eight) or, before the
//     first, from welcome.ServerTime.
//   - Outbox: the agent→server messages that carry a sequence number
//     (task.running, task.log, task.done), kept until the server
//     acknowledges them, in memory and on disk (DataDir/outbox). Sequences
//     are never reused within the agent's RunID, which is kept there too.
//   - Watermark: the highest server sequence the agent applied, from the
//     server run named by welcome.RunID; sent back in head.ack of every frame.
//   - Drain: take no new work. The server asks with drain when it is going
//     away (it lasts until the next connection). Shutdown drains for good:
//     on SIGTERM, or when a server's drain asks the agent to exit
//     (POST /api/v1/agents/{id}/drain; see ExitRequested).
//   - Labels: the configured ones plus the automatic os, arch, hostname and
//     hetuflow_version, sent in hello; configuration may not set those.
//   - Leader: the process a run starts (its command, or the interpreter of
//     its script), in a session of its own: its pid is the run's session
//     and process group id.
//   - Reason: the stable code in task.done saying why a run ended
//     (exit_code, signal, timeout, cancelled, oom, start_failed,
//     http_status, http_error; none for success).
//
// # Pipeline
//
//	              dispatch ──▶ timer heap ──(FireAt − offset)──▶ run goroutine
//	server ◀─WS─▶ reader                                         │ fork/exec (Setsid, into its
//	   ▲          cancel/drop ──▶ heap or run                     │ cgroup), or an http request
//	   │                                                          ▼
//	   │                                              stdout/stderr pumps
//	   │                                                          │ task.running/log/done
//	   └──── writer (single) ◀── outbox (seq, until acked) ◀──────┘
//	         + heartbeats, bare acks
//
// One goroutine dials the servers in turn (capped exponential backoff with
// full jitter), sends hello, waits for welcome, then runs a reader and the
// single writer until the connection ends, and dials again, forever, until
// Stop or Shutdown. One goroutine owns the timer heap and fires due
// instances; each run has its own goroutine (so no start waits behind
// another's fork/exec) and two pump goroutines for its output, and every one
// of these is waited for by its owner. An http task makes its request from
// the run goroutine itself, through one shared client (keep-alive, many idle
// connections per host): no fork, no pumps.
//
// # Runs
//
// A run gets a work dir DataDir/runs/<instance id>, removed after it unless
// the job keeps it (keep_workdir), or the job's fixed workdir, which must
// exist. Empty work dirs are renamed into DataDir/runs/.pool and back for
// later runs, which costs a fifth of a mkdir and an rmdir. A job's user is
// switched to (uid, gid, supplementary groups, HOME, USER, LOGNAME) only by
// an agent running as root; any other agent fails such a run (start_failed)
// unless the user is its own. Stdout gets an http task's status line and
// the first 64 KiB of its body; task.done carries the last lines of the
// combined output (at most 2 KiB) as OutputTail.
//
// # Containment and limits
//
// Nothing a run starts outlives it, a daemonised grandchild included.
//
// With a delegated cgroup v2 (found at start: the cgroup2 mount from
// mountinfo, checked by statfs, the agent's cgroup from /proc/self/cgroup,
// writable, and cgroup.kill, Linux 5.14), each run has a cgroup and its
// leader is started inside it atomically (clone3 with CLONE_INTO_CGROUP):
//
//	<own>/                  the agent's cgroup when it first started
//	├── agent/              the agent, moved here if <own> is not the root and
//	│                       must enable controllers (no internal processes)
//	└── hetuflow-<pid>/     this agent process's runs; cpu, memory, pids
//	    └── r<n>/           enabled as far as <own> has them; one run at a time
//
// A run's end, however it comes, is cgroup.kill, which reaches every
// descendant whatever its session; the agent waits (inotify on
// cgroup.events) until the cgroup is empty. memory.max (with no swap and
// memory.oom.group), cpu.max and pids.max carry the job's limits; an OOM
// kill (memory.events) ends the run Failed with reason oom. CPU time comes
// from cpu.stat, peak memory from memory.peak. The kernel serialises cgroup
// mkdir, rmdir, cgroup.kill and every CLONE_INTO_CGROUP fork on one mutex,
// so a run cgroup that ends empty goes back to a pool; a run with a memory
// limit gets a fresh one, so memory.peak and the OOM count are its own
// (other runs report the peak RSS of their processes), and a cgroup that
// needed cgroup.kill is never reused (Linux 6.14+ kills every process later
// cloned into it). The runs' parents of agent processes that died are
// killed and removed at the next start. Orphans of a run go to init, as
// under any service manager, unless the agent is init.
//
// Without one (no cgroup2 mount, not writable, an old kernel, or disabled),
// the agent is a child subreaper, so a process that loses its parent
// becomes the agent's child rather than init's. When a leader exits, before
// it is reaped (so its pid, the run's session id, cannot be reused), a
// sweep of /proc finds the run's other processes, by session or process
// group, by descent, or, for a process that left both and was orphaned, by
// the HETUFLOW_INSTANCE_ID=<id> entry of its environment; it kills them,
// and reaps those that are the agent's children, adding their usage. It
// looks only at pids allocated after the leader while that range is short
// and cannot have wrapped, and it never reaps a run leader (reaped by its
// exec.Cmd) or any process it did not identify (another exec.Cmd's).
// Limits: memory by RLIMIT_DATA (an allocation fails; the run fails as its
// program does, and the error names the limit), set with prlimit right
// after the start, so the leader runs for a few microseconds without it and
// a process it forks in that window escapes it (exec.Cmd has no hook
// between fork and exec, and re-executing the agent as a helper would
// double every start's cost); CPU and pids are not enforced (RLIMIT_NPROC
// counts per user, not per run). Gaps: a process that leaves the session,
// clears its environment and is orphaned escapes the sweep; one that leaves
// the session and exits after being orphaned but before the run ends stays
// a zombie of the agent (it holds only a pid).
//
// hello and Status report, per resource, how limits are enforced (cgroup,
// rlimit or none), with a warning for each that is not a cgroup's.
//
// # Outbox on disk
//
// The outbox is journaled in DataDir/outbox (journal.go): segment files of
// length-prefixed records with a CRC-32C each, one per message and one per
// ack that advanced, named after the first sequence they may hold, a new
// one past 4 MiB. The run id lives in DataDir/outbox/run-id; an flock on
// DataDir/outbox/lock keeps a second agent process out. Fsync policy:
// every message is written at once and fsynced before it counts as sent.
// task.done is fsynced before it is added (so before its run is
// forgotten); task.running and log chunks are fsynced in batches, by the
// writer just before it sends them (one fsync for all pending), at segment
// rotation and at close, which keeps fsync off a run's start. So nothing the
// server may have seen is lost by a crash, even of the machine, and no
// sequence it saw is reused. A crash of the agent process loses nothing
// written before it (every record is one write(2)); a crash of the machine
// can lose log chunks not yet sent. A last record torn by either is
// detected by its checksum at the next start: it is dropped and the segment
// cut before it. Acks remove whole segments once all their messages are
// acknowledged, so the disk holds at most a segment more than the outbox
// bound. If the disk fails, the outbox goes on in memory, and the journal
// is abandoned (its run id removed), so the next start begins a new run
// rather than reuse sequences.
//
// At start the agent loads the journal: the unacknowledged messages, the
// sequence counter (the highest record, or the last segment's name) and
// the run id, which hello sends; the server's dedup by (run id, sequence)
// keeps working and welcome.AgentSeq says where to resend from. A run in
// flight has a mark in DataDir/outbox/running.marks (runmarks.go), from
// its fire until its result is in the outbox. A mark found at start is a run the
// previous process died with: its process cannot be reattached, so the
// agent reports it Lost, reason agent_restarted, with the start time of
// its task.running if still in the outbox (the server keeps the one it has
// otherwise). Held instances need no record: the server resends what it
// dispatched and the agent no longer lists in hello.
//
// # Drain
//
// Shutdown takes no new work (dispatches are given back at once), gives
// held instances back to the server (task.done Lost, reason agent_draining,
// never started, so the server dispatches them again elsewhere), lets
// running ones finish within ShutdownGrace, kills what is left (Cancelled,
// reason agent_drain_timeout), waits for the acks (at most 5s with the
// outbox on disk, where unacknowledged reports wait for the next start) and
// stops. hello and heartbeats say draining meanwhile, so the server shows
// the agent Draining and offers it no work.
//
// # Failure handling
//
//   - Connection lost or closed by the server, even cleanly: dial again. On
//     welcome the agent drops the outbox entries at or below
//     welcome.AgentSeq and resends the rest in order; a new welcome.RunID (a
//     restarted server) resets the watermark. Server messages at or below
//     the watermark are acknowledged but not applied again.
//   - welcome.Drop: held instances are forgotten; running ones are killed
//     without a report, as the server gave them away.
//   - A server silent for longer than the heartbeat TTL (at least three
//     heartbeats) is given up and redialled.
//   - Outbox full (50,000 messages or 64 MiB): further log chunks of the
//     instance that hit the bound are dropped, counted in its
//     usage.DroppedBytes, and its output ends with a truncation marker;
//     task.running and task.done are always kept.
//   - Timeout and cancel send SIGTERM to the leader's process group (and to
//     the leader if it left it), then SIGKILL to the whole run (above) after
//     the job's kill grace. When the leader exits, for whatever reason,
//     whatever is left of the run is killed before the leader is reaped;
//     output pipes still held open (by a process the sweep could not
//     attribute) are abandoned after a second.
//   - A run that cannot start (command not found, work dir missing, user
//     unknown or not switchable, a limit that cannot be set) ends Failed with
//     reason start_failed and no task.running. An http task fails with
//     http_error on a network error and http_status on an unexpected
//     status; its timeout is the job's, or 30s.
//   - Stop kills every process group; Shutdown lets them finish for the
//     grace period first and waits for the server to acknowledge the
//     results.
//   - The agent process dies (SIGKILL, a crash): its next start on the same
//     data dir resends the outbox and reports the runs it lost (above).
//     With a cgroup, their processes were killed at that start; without,
//     an orphaned run lives on, as any orphan would.
//
// # Promises kept here (DESIGN.md §2)
//
// 3. Nothing gets stuck: every run ends, by its timeout, a cancel, or the
// agent's stop, and leaves no process behind; every wait on the network has
// a deadline (dial, welcome, server silence, an http task's timeout), every
// wait for killed processes too (2s, after which they are reaped later),
// and a held instance the agent no longer reports in hello or heartbeats is
// the server's to redispatch.
//
// 4. Nothing is lost: results and output produced while the agent is cut
// off wait in the outbox, on disk, and reach the server after it
// reconnects, even after an agent restart, exactly once as the server sees
// them (sequence numbers under a persistent run id, which the server
// deduplicates, and log offsets). Only output over the job's limit, or over
// the outbox bound, is dropped, and then counted and marked.
package agent
