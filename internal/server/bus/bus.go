// Package bus carries small messages between the servers sharing a
// database: PostgreSQL LISTEN/NOTIFY through [store.Notifier], in process on
// SQLite. Messages name things by id only; the receiver reads the rest from
// the store. Delivery is at most once, so every use has a catch-up: handlers
// registered with OnConnect run each time the listener (re)connects, and
// periodic sweeps cover a message lost in between.
package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// Channel is the notification channel of the bus.
const Channel = "hetuflow_bus"

// Kind names what a message asks.
type Kind string

// Message kinds.
const (
	// Work: due work appeared or could not be placed here; dispatchers
	// wake.
	Work Kind = "work"
	// Cancel: the server holding AgentID tells it to stop InstanceID.
	Cancel Kind = "cancel"
	// Drain: the server holding AgentID asks it to drain and exit.
	Drain Kind = "drain"
	// Plan: schedules changed; the leader's generator plans now.
	Plan Kind = "plan"
	// LeaderReleased: the leader gave up its lease; electors campaign now.
	LeaderReleased Kind = "leader_released"
	// Revoke: AgentID's credential was revoked; the server holding it
	// disconnects it at once.
	Revoke Kind = "revoke"
)

// Message is one notification.
type Message struct {
	Kind       Kind      `json:"k"`
	From       string    `json:"f"`
	AgentID    string    `json:"a,omitempty"`
	InstanceID uuid.UUID `json:"i,omitzero"`
	Reason     string    `json:"r,omitempty"`
}

// TestSignals lets tests wait for the listener.
type TestSignals struct {
	Connected testsignal.Signal[struct{}]
	Received  testsignal.Signal[Message]
}

// Init enables the signals.
func (s *TestSignals) Init() { s.Connected.Init(); s.Received.Init() }

// Bus publishes messages and dispatches received ones to handlers.
type Bus struct {
	lifecycle.Base
	notifier store.Notifier
	serverID string
	log      *slog.Logger

	mu        sync.Mutex
	handlers  map[Kind]func(context.Context, Message)
	onConnect []func(context.Context)
	lastWork  time.Time
	workTimer *time.Timer // a trailing Work message after a coalesced burst

	TestSignals TestSignals
}

// New returns a Bus for this server.
func New(n store.Notifier, serverID string, logger *slog.Logger) *Bus {
	if n == nil || logger == nil || serverID == "" {
		panic("bus: New needs a notifier, a server id and a logger")
	}
	return &Bus{notifier: n, serverID: serverID, log: logger, handlers: map[Kind]func(context.Context, Message){}}
}

// Handle sets the handler of a kind. Handlers run one at a time on the
// listener goroutine and must not block for long. Messages this server sent
// are not handed back to it: it acted on them before sending.
func (b *Bus) Handle(kind Kind, fn func(context.Context, Message)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[kind] = fn
}

// OnConnect adds a catch-up that runs each time the listener (re)connects.
func (b *Bus) OnConnect(fn func(context.Context)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onConnect = append(b.onConnect, fn)
}

// workEvery coalesces Work messages: dispatchers elsewhere also poll, so a
// burst of new work needs one wake-up, not one per task.
const workEvery = 20 * time.Millisecond

// Publish sends m to the other servers. Work messages go at most once per
// workEvery: one within it is folded into a single trailing message.
func (b *Bus) Publish(ctx context.Context, m Message) error {
	if m.Kind == Work {
		b.mu.Lock()
		wait := workEvery - time.Since(b.lastWork)
		if wait > 0 {
			if b.workTimer == nil {
				b.workTimer = time.AfterFunc(wait, b.trailingWork)
			}
			b.mu.Unlock()
			return nil
		}
		b.lastWork = time.Now()
		b.mu.Unlock()
	}
	return b.send(ctx, m)
}

func (b *Bus) trailingWork() {
	b.mu.Lock()
	b.workTimer = nil
	b.lastWork = time.Now()
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.send(ctx, Message{Kind: Work}); err != nil {
		b.log.WarnContext(ctx, "publish work", "error", err)
	}
}

func (b *Bus) send(ctx context.Context, m Message) error {
	m.From = b.serverID
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Kind, err)
	}
	if err := b.notifier.Notify(ctx, Channel, string(payload)); err != nil {
		return fmt.Errorf("publish %s: %w", m.Kind, err)
	}
	return nil
}

// Start listens until ctx ends or Stop is called.
func (b *Bus) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := b.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		_ = b.notifier.Listen(ctx, Channel, func() { b.connected(ctx) }, func(p string) { b.receive(ctx, p) })
		b.mu.Lock()
		if b.workTimer != nil && b.workTimer.Stop() {
			b.workTimer = nil
		}
		b.mu.Unlock()
	}()
	return nil
}

func (b *Bus) connected(ctx context.Context) {
	b.mu.Lock()
	fns := append([]func(context.Context){}, b.onConnect...)
	b.mu.Unlock()
	for _, fn := range fns {
		fn(ctx)
	}
	b.TestSignals.Connected.Signal(struct{}{})
}

func (b *Bus) receive(ctx context.Context, payload string) {
	var m Message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		b.log.WarnContext(ctx, "bad bus message", "error", err)
		return
	}
	if m.From == b.serverID {
		return
	}
	b.mu.Lock()
	fn := b.handlers[m.Kind]
	b.mu.Unlock()
	if fn != nil {
		fn(ctx, m)
	}
	b.TestSignals.Received.Signal(m)
}
