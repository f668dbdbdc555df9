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
//     acknowledges them. Sequences are never reused within the agent's RunID.
//   - Watermark: the highest server sequence the agent applied, from the
//     server run named by welcome.RunID; sent back in head.ack of every frame.
//   - Drain: take no new work. The server asks with drain when it is going
//     away (it lasts until the next connection); Shutdown drains for good.
//
// # Pipeline
//
//	              dispatch ──▶ timer heap ──(FireAt − offset)──▶ run goroutine
//	server ◀─WS─▶ reader                                         │ fork/exec, Setpgid
//	   ▲          cancel/drop ──▶ heap or process group           ▼
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
// of these is waited for by its owner.
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
//   - A process is started in its own process group. Timeout and cancel send
//     SIGTERM to the group, then SIGKILL after the job's kill grace. When the
//     leader exits, for whatever reason, the group is killed before the
//     leader is reaped, so nothing it started outlives the run; output pipes
//     still held open (by a process that left the group) are abandoned
//     after a second.
//   - Stop kills every process group; Shutdown lets them finish for the
//     grace period first and waits for the server to acknowledge the
//     results.
//
// # Promises kept here (DESIGN.md §2)
//
// 3. Nothing gets stuck: every run ends, by its timeout, a cancel, or the
// agent's stop; every wait on the network has a deadline (dial, welcome,
// server silence), and a held instance the agent no longer reports in hello
// or heartbeats is the server's to redispatch.
//
// 4. Nothing is lost: results and output produced while the agent is cut
// off wait in the outbox and reach the server after it reconnects, exactly
// once as the server sees them (sequence numbers, which the server
// deduplicates, and log offsets). Only output over the job's limit, or over
// the outbox bound, is dropped, and then counted and marked.
package agent
