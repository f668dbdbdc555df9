package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// ackDelay is how long an acknowledgement may wait for an outgoing frame to
// ride on before it goes out alone as a bare ack.
const ackDelay = 10 * time.Millisecond

// writeLoop is the only writer of a connection. It sends the outbox in
// sequence order (everything not yet acknowledged, starting over on each
// connection), heartbeats every interval or when asked, and a bare ack when
// the server sequence watermark moved and nothing else went out within
// ackDelay. Every frame carries the watermark in head.ack. While fired runs
// are starting it holds everything back for a moment (startGate).
func (a *Agent) writeLoop(ctx context.Context, conn *websocket.Conn, interval time.Duration, ackWake <-chan struct{}) error {
	var (
		sent     uint64 // highest outbox sequence written on this connection
		ackSent  uint64 // highest watermark written on this connection
		buf      = make([]byte, 0, 64<<10)
		ackArmed bool
	)
	write := func(id string, kind protocol.Kind, seq uint64, payload []byte) error {
		ack := a.serverSeq.Load()
		buf = appendFrame(buf[:0], id, time.Now().UnixMilli(), kind, seq, ack, payload)
		if err := conn.Write(ctx, websocket.MessageText, buf); err != nil {
			return fmt.Errorf("write %s: %w", kind, err)
		}
		ackSent = max(ackSent, ack)
		if cap(buf) > 1<<20 {
			buf = make([]byte, 0, 64<<10) // don't keep a huge frame's buffer
		}
		return nil
	}
	heartbeat := func() error {
		b, err := json.Marshal(a.heartbeat())
		if err != nil {
			return fmt.Errorf("encode heartbeat: %w", err)
		}
		return write(uuid.NewString(), protocol.KindHeartbeat, 0, b)
	}
	hb := time.NewTicker(interval)
	defer hb.Stop()
	ackTimer := time.NewTimer(ackDelay)
	ackTimer.Stop()
	defer ackTimer.Stop()

	// The first heartbeat goes out at once: it starts the clock estimate and
	// tells the server the free slots.
	if err := heartbeat(); err != nil {
		return err
	}
	var spell time.Time // the end of the current hold (startGate)
	for {
		if err := a.starts.hold(ctx, &spell); err != nil {
			return err
		}
		// Log chunks go out only once on disk; one sync covers them all.
		if err := a.out.sync(); err != nil {
			a.log.ErrorContext(ctx, "outbox on disk failed", "error", err)
		}
		for {
			m, ok := a.out.next(sent)
			if !ok {
				break
			}
			if err := write(m.id, m.kind, m.seq, m.payload); err != nil {
				return err
			}
			sent = m.seq
		}
		if !ackArmed && a.serverSeq.Load() > ackSent {
			ackTimer.Reset(ackDelay)
			ackArmed = true
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-a.out.notify:
		case <-ackWake:
		case <-ackTimer.C:
			ackArmed = false
			if a.serverSeq.Load() > ackSent {
				if err := write(uuid.NewString(), protocol.KindAck, 0, []byte("{}")); err != nil {
					return err
				}
			}
		case <-hb.C:
			if err := heartbeat(); err != nil {
				return err
			}
		case <-a.hbNow:
			if err := heartbeat(); err != nil {
				return err
			}
		}
	}
}

// appendFrame appends the envelope of one frame to b. The head is written by
// hand: id is a UUID and kind a constant, neither needs escaping, and
// payload is already JSON.
func appendFrame(b []byte, id string, ts int64, kind protocol.Kind, seq, ack uint64, payload []byte) []byte {
	b = append(b, `{"head":{"id":"`...)
	b = append(b, id...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"kind":"`...)
	b = append(b, kind...)
	b = append(b, '"')
	if seq > 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, seq, 10)
	}
	if ack > 0 {
		b = append(b, `,"ack":`...)
		b = strconv.AppendUint(b, ack, 10)
	}
	b = append(b, `},"payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// heartbeat builds the heartbeat payload from the agent's state.
func (a *Agent) heartbeat() *protocol.Heartbeat {
	a.mu.Lock()
	h := &protocol.Heartbeat{
		FreeSlots: max(0, a.cfg.Capacity-len(a.running)-a.timers.len()),
		Running:   a.runningIDsLocked(),
		Draining:  a.draining,
	}
	a.mu.Unlock()
	h.Load = loadAverage()
	h.ClockOffsetMillis = a.clock.Offset().Milliseconds()
	return h
}

// loadAverage returns the one-minute load average, or 0 if it cannot be
// read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0
	}
	return v
}
