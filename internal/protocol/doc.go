// Package protocol defines the agent ↔ server wire format (DESIGN.md §6): one
// JSON envelope per WebSocket text frame,
//
//	{"head":{"id":"<uuid>","ts":<unix ms>,"kind":"<kind>","seq":<n>,"ack":<n>},"payload":{…}}
//
// # Reliability
//
// Messages that matter (task.running, task.log, task.done from the agent;
// dispatch, cancel and drain from the server) carry a sequence number, one
// counter per direction that only grows for the life of the sender. The
// receiver acknowledges the highest sequence it has applied in head.ack of
// any message it sends, or in a bare ack message. The sender keeps what is
// not yet acknowledged and resends it after a reconnect; the receiver drops
// anything at or below what it already applied. hello, welcome, heartbeat and
// ack carry no sequence and are never resent.
//
// Applying a message is also idempotent on the server (guarded writes, log
// offsets), so a message that arrives twice across a server restart does no
// harm either.
//
// # Versions
//
// hello carries the agent's protocol version; a server refuses a major
// version it does not speak, naming both. Unknown fields are ignored, so a
// minor version may add fields; an unknown kind is refused with a reason.
//
// # Promises kept here (DESIGN.md §2)
//
// 4. Nothing is lost: the sequence/ack scheme and the log offsets let the
// agent's outbox resend safely after any disconnect.
package protocol
