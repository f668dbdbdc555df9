// Package sched turns schedules into tasks, hands tasks to agents, and
// records what agents report. It is the seed's TaskGenerationSvc, TaskPoller,
// SchedulerSvc and LoadBalancer.
//
//	schedules ──Generator──▶ tasks (Pending) ──Dispatcher──▶ instance (Dispatched) ──▶ agent
//	    ▲ cursor                  ▲ retry, requeue               │ ack, lease             │ timer
//	    │                         │                              ▼                        ▼
//	    └──── Housekeeper ────────┴───────── Results ◀── reports (ack, running, log, done)
//
// # Glossary
//
//   - Task: one planned run of a job (a fire of a schedule, or a manual run).
//   - Instance: one attempt at a task on one agent.
//   - Cursor: a schedule's next fire not yet turned into a task, advanced in
//     the same transaction as the task inserts.
//   - Horizon: how far ahead of its start a task is dispatched; the agent
//     then fires it on its own clock.
//   - Lease: how long a dispatched or held instance may go without starting
//     before the task is dispatched again.
//   - Misfire: a fire that was due while no server ran.
//
// # Services
//
// [Generator] plans tasks for every due schedule up to the generate window.
// [Dispatcher] claims due tasks, picks an agent for each, writes instances
// and pushes them through an [AgentPool]. [Results] applies agent reports in
// batches, one transaction each, and tells the reporter once its report is
// durable so the agent can drop it from its outbox. [Housekeeper] gives up
// expired leases and silent agents.
//
// # Promises kept here (DESIGN.md §2)
//
//  1. Exactly one task per fire: the generator inserts only for schedules
//     whose cursor it moved (guarded by revision), and the store skips
//     duplicate (schedule_id, scheduled_at).
//  2. At most one live attempt: dispatch moves a task to Doing before its
//     instance exists; reports apply only to the live instance of its owner.
//  3. Nothing gets stuck: every dispatched instance has a lease, every agent
//     a heartbeat TTL; the Housekeeper acts when they pass.
//  4. Nothing is lost: a report is acknowledged to the agent only after the
//     transaction that applies it commits.
//
// # Failure handling
//
// A schedule that cannot be planned (bad expression, unknown zone) is marked
// with its error and skipped; it never blocks the others. A failed results
// transaction is retried with backoff until it commits, holding back acks,
// so reports wait in agents' outboxes rather than vanish.
//
// Leader-only work (generator, housekeeper) is safe to run on several
// servers at once because every write it makes is guarded; leader election
// narrows it to one server.
package sched
