package tasklog

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

// RelayChannel is the notifier channel on which servers tell each other
// about log output. Messages carry instance ids only; followers read the
// bytes from the database.
const RelayChannel = "hetuflow_log"

// DefaultRelayInterval is the least time between two notifications of one
// server: an instance is named at most once per interval, however many
// chunks arrive, so a chatty run costs a notification per interval.
const DefaultRelayInterval = 75 * time.Millisecond

// maxRelayPending bounds the instances waiting to be published; past it,
// wake-ups are dropped and remote followers find the output by polling.
const maxRelayPending = 100_000

// RelayConfig configures a [Relay].
type RelayConfig struct {
	// ServerID names this server in its messages, so it skips its own
	// (its followers were woken directly). Required.
	ServerID string
	// Interval is the least time between two notifications. Zero means
	// DefaultRelayInterval.
	Interval time.Duration
	// Peers, if set, reports whether other servers share the database;
	// alone, a server has nobody to tell and sends nothing.
	Peers func() bool
}

// RelayTestSignals lets tests wait for the relay.
type RelayTestSignals struct {
	Connected testsignal.Signal[struct{}] // the listener (re)connected
	Published testsignal.Signal[int]      // instances named in a flush
	Received  testsignal.Signal[int]      // instances named in another server's message
}

// Init enables the signals.
func (s *RelayTestSignals) Init() { s.Connected.Init(); s.Published.Init(); s.Received.Init() }

// relayMessage is one notification: who sent it, which instances' output
// grew, and which logs finished.
type relayMessage struct {
	Server   string      `json:"s"`
	Output   []uuid.UUID `json:"o,omitempty"`
	Finished []uuid.UUID `json:"f,omitempty"`
}

// Relay carries log wake-ups between servers sharing a database, so a
// follower on any server wakes when another server stores output: it
// publishes the ids of instances whose output this server stored or whose
// log it finished, coalesced (see RelayConfig.Interval), and feeds the
// ids other servers publish to the local [Broker]. When its listener
// (re)connects, it wakes every local follower, which re-reads from the
// database what it may have missed (a finish missed so is found at the
// follower's next heartbeat, from the finish mark in the database).
// Delivery is at most once: a lost message costs a follower latency (it
// polls), never bytes. On SQLite, the only server, messages stay in process
// and the relay hears only its own, which it skips.
type Relay struct {
	lifecycle.Base
	cfg      RelayConfig
	notifier store.Notifier
	broker   *Broker
	log      *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]bool // instance → its log finished
	dropped int
	kick    chan struct{} // buffered(1); senders never block

	TestSignals RelayTestSignals
}

// NewRelay returns a Relay for logs, which tells it about every write and
// finish from then on. Create at most one per Store, before it is used.
func NewRelay(cfg RelayConfig, n store.Notifier, logs *Store, logger *slog.Logger) *Relay {
	if n == nil || logs == nil || logger == nil || cfg.ServerID == "" {
		panic("tasklog: NewRelay needs a server id, a notifier, a log store and a logger")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRelayInterval
	}
	r := &Relay{cfg: cfg, notifier: n, broker: logs.broker, log: logger, pending: map[uuid.UUID]bool{}, kick: make(chan struct{}, 1)}
	logs.relay.Store(r)
	return r
}

// Start listens and publishes until ctx ends or Stop is called. On stop it
// publishes what is pending, with its own timeout, so the finishes of a
// draining results writer still reach other servers.
func (r *Relay) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := r.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		// Listen returns only when ctx ends; it reconnects by itself.
		err := r.notifier.Listen(ctx, RelayChannel, r.connected, func(payload string) { r.received(ctx, payload) })
		if err != nil && !lifecycle.IsStop(ctx, err) {
			r.log.ErrorContext(ctx, "log relay listener ended", "error", err)
		}
	})
	wg.Go(func() { r.publishLoop(ctx) })
	started()
	go func() {
		defer stopped()
		wg.Wait()
	}()
	return nil
}

// connected wakes every local follower: notifications sent while the
// listener was away are lost, so they re-read from the database.
func (r *Relay) connected() {
	r.broker.WakeAll()
	r.TestSignals.Connected.Signal(struct{}{})
}

func (r *Relay) received(ctx context.Context, payload string) {
	var m relayMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		r.log.WarnContext(ctx, "bad log relay message", "error", err)
		return
	}
	if m.Server == r.cfg.ServerID {
		return
	}
	for _, id := range m.Output {
		r.broker.Notify(id)
	}
	for _, id := range m.Finished {
		r.broker.Finish(id)
	}
	r.TestSignals.Received.Signal(len(m.Output) + len(m.Finished))
}

// publish queues an instance for the next notification. It never blocks.
func (r *Relay) publish(id uuid.UUID, finished bool) {
	r.mu.Lock()
	if _, ok := r.pending[id]; !ok && len(r.pending) >= maxRelayPending {
		r.dropped++
		r.mu.Unlock()
		return
	}
	r.pending[id] = r.pending[id] || finished
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Relay) publishLoop(ctx context.Context) {
	// At stop, what is pending still goes out, briefly.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		r.flush(sctx)
	}()
	t := time.NewTimer(r.cfg.Interval)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		if r.flush(ctx) == 0 {
			continue // a kick left from before a restart
		}
		// Whatever arrives in the next interval goes out together.
		t.Reset(r.cfg.Interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// flush publishes the pending instances, in as few messages as fit, and
// returns how many there were.
func (r *Relay) flush(ctx context.Context) int {
	r.mu.Lock()
	pending, dropped := r.pending, r.dropped
	r.pending, r.dropped = make(map[uuid.UUID]bool, len(pending)), 0
	r.mu.Unlock()
	if dropped > 0 {
		r.log.WarnContext(ctx, "log relay dropped wake-ups", "num_instances", dropped)
	}
	if len(pending) == 0 {
		return 0
	}
	if r.cfg.Peers != nil && !r.cfg.Peers() {
		return len(pending)
	}
	msgs, err := relayMessages(r.cfg.ServerID, pending)
	if err != nil {
		r.log.ErrorContext(ctx, "encode log relay message", "error", err)
		return len(pending)
	}
	for _, m := range msgs {
		// Not cut short by a stop: the ids left pending, so a message
		// cancelled now would be lost.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		err := r.notifier.Notify(nctx, RelayChannel, m)
		cancel()
		if err != nil {
			// Remote followers poll; the next output wakes them anyway.
			r.log.WarnContext(ctx, "publish log wake-ups", "num_instances", len(pending), "error", err)
		}
	}
	r.TestSignals.Published.Signal(len(pending))
	return len(pending)
}

// idBytes is what one id adds to a message: 36 characters, quotes, comma.
const idBytes = 39

// relayMessages encodes pending into payloads that fit a notification.
func relayMessages(server string, pending map[uuid.UUID]bool) ([]string, error) {
	perMessage := (store.MaxNotifyPayload - len(server) - 64) / idBytes
	if perMessage < 1 {
		return nil, fmt.Errorf("server id of %d bytes leaves no room for ids", len(server))
	}
	var out []string
	m := relayMessage{Server: server}
	emit := func() error {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		out = append(out, string(b))
		m = relayMessage{Server: server}
		return nil
	}
	for id, finished := range pending {
		if finished {
			m.Finished = append(m.Finished, id)
		} else {
			m.Output = append(m.Output, id)
		}
		if len(m.Output)+len(m.Finished) == perMessage {
			if err := emit(); err != nil {
				return nil, err
			}
		}
	}
	if len(m.Output)+len(m.Finished) > 0 {
		if err := emit(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
