package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// Connection timing.
const (
	dialTimeout    = 10 * time.Second
	welcomeTimeout = 10 * time.Second
	// closeTimeout bounds the close handshake at a graceful stop.
	closeTimeout = time.Second
	// defaultHeartbeatInterval is used until a welcome names one.
	defaultHeartbeatInterval = 5 * time.Second
	minHeartbeatInterval     = 10 * time.Millisecond
	// minIdleTimeout is the least time a connection may stay silent before
	// the agent gives it up; the server answers every heartbeat, so silence
	// means the connection is dead.
	minIdleTimeout = 3 * defaultHeartbeatInterval
)

// errIdle ends a connection on which nothing arrived for too long.
var errIdle = errors.New("agent: server silent for too long")

// connectLoop dials the servers in turn, forever, until ctx ends. Every
// ended connection, clean or not, is followed by another attempt after a
// jittered backoff; the backoff grows with consecutive failures and starts
// over after a connection that was welcomed.
func (a *Agent) connectLoop(ctx context.Context) {
	failures := 0
	for i := 0; ; i++ {
		url := a.urls[i%len(a.urls)]
		welcomed, err := a.session(ctx, url)
		if ctx.Err() != nil {
			return
		}
		if welcomed {
			failures = 0
			a.log.InfoContext(ctx, "disconnected", "url", url, "error", err)
		} else {
			failures++
			a.log.WarnContext(ctx, "connect failed", "url", url, "num_failures", failures, "error", err)
		}
		wait := a.backoff(failures)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff returns the wait before the next attempt after n consecutive
// failures: uniform in [0, min(max, min·2ⁿ)], and never more than a quarter
// of the server's heartbeat TTL, so a reconnecting agent is back before the
// server gives its work away.
func (a *Agent) backoff(n int) time.Duration {
	ceil := a.cfg.ReconnectMin
	for range n {
		if ceil >= a.cfg.ReconnectMax/2 {
			ceil = a.cfg.ReconnectMax
			break
		}
		ceil *= 2
	}
	ceil = min(ceil, a.cfg.ReconnectMax)
	a.mu.Lock()
	ttl := a.ttl
	a.mu.Unlock()
	if ttl > 0 {
		ceil = min(ceil, max(ttl/4, a.cfg.ReconnectMin))
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// session runs one connection: dial, hello, welcome, then reading and
// writing until the connection fails or ctx ends. welcomed reports whether
// the server welcomed the agent.
func (a *Agent) session(ctx context.Context, url string) (welcomed bool, err error) {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+a.cfg.Token)
	hdr.Set("Hetuflow-Agent-Id", a.cfg.ID)
	dialCtx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, resp, err := websocket.Dial(dialCtx, url, &websocket.DialOptions{HTTPClient: a.cfg.HTTPClient, HTTPHeader: hdr})
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial: %w%s", err, refusalReason(resp))
	}
	defer conn.CloseNow()
	conn.SetReadLimit(int64(a.cfg.MaxMessageBytes))

	sent := time.Now()
	w, err := a.handshake(ctx, conn)
	if err != nil {
		return false, err
	}
	a.applyWelcome(ctx, w, sent, time.Now())
	a.log.InfoContext(ctx, "connected", "url", url, "server_id", w.ServerID, "num_unacked", a.out.len())
	a.TestSignals.Connected.Signal(w.ServerID)
	defer func() {
		a.mu.Lock()
		a.connected, a.serverID = false, ""
		a.mu.Unlock()
		a.TestSignals.Disconnected.Signal(err)
	}()

	// The connection gets its own context so that a stop can close it with
	// a handshake rather than have the library drop it when ctx ends.
	connCtx, cancelConn := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelConn(nil)
	a.mu.Lock()
	idleTimeout, hbInterval := a.idleTimeout, a.hbInterval
	a.mu.Unlock()
	idle := time.AfterFunc(idleTimeout, func() { cancelConn(errIdle) })
	defer idle.Stop()
	ackWake := make(chan struct{}, 1)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		cancelConn(a.writeLoop(connCtx, conn, hbInterval, ackWake))
	}()
	go func() {
		defer wg.Done()
		cancelConn(a.readLoop(connCtx, conn, idle, idleTimeout, ackWake))
	}()

	select {
	case <-ctx.Done():
		a.mu.Lock()
		graceful := a.graceful
		a.mu.Unlock()
		if graceful {
			// Bound the handshake: ending connCtx makes the library drop the
			// connection if the server does not answer.
			t := time.AfterFunc(closeTimeout, func() { cancelConn(lifecycle.ErrStopped) })
			_ = conn.Close(websocket.StatusNormalClosure, "agent shutting down")
			t.Stop()
		}
		cancelConn(lifecycle.ErrStopped)
		err = lifecycle.ErrStopped
	case <-connCtx.Done():
		err = context.Cause(connCtx)
	}
	_ = conn.CloseNow()
	wg.Wait()
	return true, err
}

// handshake sends hello and waits for welcome.
func (a *Agent) handshake(ctx context.Context, conn *websocket.Conn) (*protocol.Welcome, error) {
	env, err := protocol.New(protocol.KindHello, a.hello())
	if err != nil {
		return nil, err
	}
	b, err := env.Encode()
	if err != nil {
		return nil, err
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, welcomeTimeout)
	defer cancel()
	_, b, err = conn.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for welcome: %w", err)
	}
	env, err = protocol.DecodeFromServer(b)
	if err != nil {
		return nil, fmt.Errorf("decode welcome: %w", err)
	}
	switch env.Head.Kind {
	case protocol.KindWelcome:
		var w protocol.Welcome
		if err := env.Decode(&w); err != nil {
			return nil, fmt.Errorf("decode welcome: %w", err)
		}
		return &w, nil
	case protocol.KindRefused:
		var r protocol.Refused
		if err := env.Decode(&r); err != nil {
			return nil, fmt.Errorf("decode refused: %w", err)
		}
		a.log.WarnContext(ctx, "server refused hello", "code", r.Code, "reason", r.Reason)
		return nil, fmt.Errorf("hello refused: %w", &protocol.Error{Code: r.Code, Reason: r.Reason})
	}
	return nil, fmt.Errorf("wait for welcome: got %q first", env.Head.Kind)
}

// hello describes the agent to a server: what it holds and runs, and how
// far each direction's sequences got.
func (a *Agent) hello() *protocol.Hello {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := &protocol.Hello{
		AgentID:         a.cfg.ID,
		Name:            a.cfg.Name,
		Version:         a.cfg.Version,
		ProtocolVersion: protocol.Version,
		Labels:          a.labels,
		Capacity:        a.cfg.Capacity,
		Held:            a.timers.ids(),
		Running:         a.runningIDsLocked(),
		RunID:           a.runID,
		OutboxSeq:       a.out.lastSeq(),
		ServerSeq:       a.serverSeq.Load(),
		ServerRunID:     a.serverRunID,
		Draining:        a.draining,
	}
	if a.box != nil {
		h.Limits, h.Warnings = a.box.limits, a.box.warnings
	}
	return h
}

func (a *Agent) runningIDsLocked() []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(a.running))
	for id := range a.running {
		ids = append(ids, id)
	}
	return ids
}

// applyWelcome reconciles with the server: it resets the server sequence
// watermark if the server's run changed, forgets the reports the server
// already applied (the writer resends the rest), and gives up the
// instances the server took back.
func (a *Agent) applyWelcome(ctx context.Context, w *protocol.Welcome, sent, recv time.Time) {
	a.clock.reset(w.ServerTime, sent, recv)
	a.timers.poke()
	a.ackOutbox(ctx, w.AgentSeq)
	a.mu.Lock()
	if w.RunID != a.serverRunID {
		a.serverSeq.Store(0)
		a.serverRunID = w.RunID
	}
	a.connected, a.serverID = true, w.ServerID
	// A server's drain means that server is going away; it ends with its
	// connection. Only the agent's own shutdown, or a drain asked to end in
	// its exit, outlives a reconnect.
	a.draining = a.shuttingDown || a.exitAsked
	a.hbInterval = max(w.HeartbeatInterval.D(), minHeartbeatInterval)
	if w.HeartbeatInterval <= 0 {
		a.hbInterval = defaultHeartbeatInterval
	}
	a.idleTimeout = max(w.HeartbeatTTL.D(), 3*a.hbInterval, minIdleTimeout)
	a.ttl, a.lastContact = w.HeartbeatTTL.D(), time.Now()
	var dropped []*run
	numHeld := 0
	for _, id := range w.Drop {
		if a.timers.remove(id) != nil {
			a.recent.add(id)
			numHeld++
		} else if r := a.running[id]; r != nil {
			dropped = append(dropped, r)
		}
	}
	a.mu.Unlock()
	// Held instances that waited while the agent was out of touch may
	// start now.
	a.timers.poke()
	for _, r := range dropped {
		r.drop()
	}
	if len(w.Drop) > 0 {
		a.log.InfoContext(ctx, "instances dropped by server", "num_held", numHeld, "num_running", len(dropped))
	}
}

// readLoop reads frames until the connection fails. Every frame counts as
// a sign of life; head.ack on any frame frees outbox entries.
func (a *Agent) readLoop(ctx context.Context, conn *websocket.Conn, idle *time.Timer, idleTimeout time.Duration, ackWake chan<- struct{}) error {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		idle.Reset(idleTimeout)
		a.mu.Lock()
		a.lastContact = time.Now()
		a.mu.Unlock()
		env, err := protocol.DecodeFromServer(b)
		if err != nil {
			a.log.WarnContext(ctx, "bad frame from server", "error", err)
			continue
		}
		if env.Head.Ack > 0 {
			a.ackOutbox(ctx, env.Head.Ack)
		}
		a.handle(ctx, env)
		if env.Head.Kind.Sequenced() {
			select {
			case ackWake <- struct{}{}:
			default:
			}
		}
	}
}

// ackOutbox frees the outbox entries the server acknowledged.
func (a *Agent) ackOutbox(ctx context.Context, upTo uint64) {
	n, err := a.out.ack(upTo)
	if err != nil {
		a.log.ErrorContext(ctx, "outbox on disk failed", "error", err)
	}
	if n > 0 {
		a.changed.Broadcast()
	}
}

// handle applies one server frame. A sequenced frame at or below the
// watermark was applied before and is skipped; it is still acknowledged.
func (a *Agent) handle(ctx context.Context, env *protocol.Envelope) {
	kind := env.Head.Kind
	if kind.Sequenced() {
		if env.Head.Seq <= a.serverSeq.Load() {
			return
		}
		// Advance only after applying, so an ack never claims more than
		// was applied. A payload that does not decode is skipped for good:
		// a resend would not decode either.
		defer a.serverSeq.Store(env.Head.Seq)
	}
	switch kind {
	case protocol.KindDispatch:
		var d protocol.Dispatch
		if err := env.Decode(&d); err != nil {
			a.log.ErrorContext(ctx, "bad dispatch from server", "error", err)
			return
		}
		a.applyDispatch(ctx, d.Instances)
	case protocol.KindCancel:
		var c protocol.Cancel
		if err := env.Decode(&c); err != nil {
			a.log.ErrorContext(ctx, "bad cancel from server", "error", err)
			return
		}
		a.applyCancel(ctx, &c)
	case protocol.KindDrain:
		var d protocol.Drain
		_ = env.Decode(&d) // a payload that does not decode is a plain drain
		a.mu.Lock()
		a.draining = true
		a.exitAsked = a.exitAsked || d.Exit
		a.mu.Unlock()
		if d.Exit {
			// The agent's owner runs Shutdown (see ExitRequested); until it
			// does, held instances fire as planned.
			a.log.InfoContext(ctx, "server asked to drain and exit", "reason", d.Reason)
			a.exitOnce.Do(func() { close(a.exitReq) })
		} else {
			// Held instances stay and fire as planned; the server takes
			// their results until it goes, and a reconnect reconciles the
			// rest.
			a.log.InfoContext(ctx, "server asked to drain", "reason", d.Reason)
		}
		a.requestHeartbeat()
	case protocol.KindAck:
		var ack protocol.Ack
		if len(env.Payload) > 0 && env.Decode(&ack) == nil && ack.EchoTS > 0 {
			if a.clock.sample(time.UnixMilli(ack.EchoTS), time.UnixMilli(env.Head.TS), time.Now()) {
				a.timers.poke()
			}
		}
	case protocol.KindRefused:
		var r protocol.Refused
		_ = env.Decode(&r)
		a.log.WarnContext(ctx, "server refused a message", "code", r.Code, "reason", r.Reason, "ref_id", r.RefID)
	default:
		a.log.DebugContext(ctx, "unexpected frame from server", "kind", string(kind))
	}
}

// applyDispatch holds each new instance until its fire instant. Instances
// already held, running or recently finished are ignored; while shutting
// down, new ones are given back at once (Lost, never started, so the server
// dispatches them again).
func (a *Agent) applyDispatch(ctx context.Context, ins []*protocol.DispatchedInstance) {
	var refused []*protocol.DispatchedInstance
	numHeld := 0
	a.mu.Lock()
	for _, d := range ins {
		id := d.InstanceID
		if a.timers.has(id) || a.running[id] != nil || a.recent.has(id) {
			a.log.DebugContext(ctx, "duplicate dispatch ignored", "instance_id", id)
			continue
		}
		if a.shuttingDown {
			a.recent.add(id)
			refused = append(refused, d)
			continue
		}
		a.timers.add(d)
		numHeld++
		a.TestSignals.Dispatched.Signal(id)
	}
	a.mu.Unlock()
	if numHeld > 0 {
		a.log.DebugContext(ctx, "instances dispatched", "num_instances", numHeld)
	}
	for _, d := range refused {
		a.reportNotStarted(ctx, d, a.clock.Offset(), model.InstanceLost, reasonAgentDraining, errGivenBack)
	}
}

// applyCancel drops a held instance, reporting it Cancelled, or ends a
// running one's process group. A cancel for an unknown instance is ignored:
// it finished already, and its result is in the outbox or delivered.
func (a *Agent) applyCancel(ctx context.Context, c *protocol.Cancel) {
	reason := c.Reason
	if reason == "" {
		reason = "cancelled by server"
	}
	a.mu.Lock()
	if d := a.timers.remove(c.InstanceID); d != nil {
		a.recent.add(c.InstanceID)
		a.mu.Unlock()
		a.log.InfoContext(ctx, "held instance cancelled", "instance_id", c.InstanceID, "task_id", d.TaskID)
		a.reportNotStarted(ctx, d, a.clock.Offset(), model.InstanceCancelled, "", reason)
		return
	}
	r := a.running[c.InstanceID]
	a.mu.Unlock()
	if r == nil {
		a.log.DebugContext(ctx, "cancel for unknown instance", "instance_id", c.InstanceID)
		return
	}
	a.log.InfoContext(ctx, "running instance cancelled", "instance_id", c.InstanceID, "task_id", r.d.TaskID)
	r.terminate(model.InstanceCancelled, reason, false)
}

// refusalReason returns the reason a server gave for refusing the upgrade
// (such as a revoked credential), from the start of its answer's body, as
// ": <reason>", or "".
func refusalReason(resp *http.Response) string {
	if resp == nil || resp.Body == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if msg := strings.TrimSpace(string(b)); msg != "" {
		return ": " + msg
	}
	return ""
}
