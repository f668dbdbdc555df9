// Package gateway holds the WebSocket sessions of the agents connected to
// this server (the seed's GatewaySvc and ConnectionManager). It speaks the
// protocol of package protocol, authenticates the upgrade, keeps one session
// per agent, counts each agent's slots for the dispatcher, and feeds agent
// reports to the results writer, acknowledging each only once it is durable.
//
//	agent ──upgrade (Bearer token)──▶ Gateway.ServeHTTP ──▶ session
//	         hello ─────────────────▶ upsert agent, welcome{agent_seq}
//	         resent outbox ──────────▶ results (in order) ──commit──▶ ack
//	                                   reconcile: cancel strays, resend held, mark lost
//	         task.* ─────────────────▶ results ──commit──▶ ack
//	         heartbeat ──────────────▶ ack{echo_ts}   (clock offset)
//	dispatcher ──Dispatch──▶ session ──dispatch{seq}──▶ agent ──ack──▶ Acked
//	API drain ──Drain──▶ session ──drain{exit}──▶ agent: no new work, then exits
//
// # Glossary
//
//   - Session: one WebSocket connection of one agent. A newer connection of
//     the same agent replaces the older one.
//   - Applied: the highest agent sequence whose report is committed; sent to
//     the agent as head.ack and in welcome, so it drops what is safe.
//   - Live set: instances the agent holds or runs, as this server knows
//     them; its size against the agent's capacity gives free slots.
//
// # Promises kept here (DESIGN.md §2)
//
//  2. Reports are applied by the store only for the instance's owner.
//  3. A silent agent's session closes after the heartbeat TTL; its work is
//     then given up by the housekeeper.
//  4. Nothing is lost: acks follow commits; after a reconnect the agent's
//     outbox is applied before the server reconciles what the agent holds.
//  6. The upgrade needs a valid token; nothing is read from a socket before.
//
// # Failure handling
//
// A malformed frame is refused with a reason and the session stays; more
// than MaxBadFrames within BadFrameWindow closes it. A slow agent whose send
// queue fills is disconnected rather than allowed to stall the dispatcher.
package gateway
