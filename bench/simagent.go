package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// swarmDialers is how many simulated agents connect at once.
const swarmDialers = 64

// swarm is a crowd of simulated agents in the benchmark process: each
// holds a WebSocket to the server, says hello, heartbeats at the interval
// the server asks for, and acknowledges the server's sequenced messages.
// They offer no capacity, so nothing is dispatched to them.
type swarm struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hc     *http.Client

	heartbeats atomic.Int64
	failures   atomic.Int64 // connections that ended before stop
}

// startSwarm connects n simulated agents to the server at addr and returns
// once all of them were welcomed. stop must be called, also on error.
func startSwarm(ctx context.Context, addr string, n int) (*swarm, error) {
	life, cancel := context.WithCancel(context.Background())
	s := &swarm{
		cancel: cancel,
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConnsPerHost: -1, // every socket is hijacked; nothing to pool
		}},
	}
	err := forEach(ctx, n, swarmDialers, func(ctx context.Context, i int) error {
		a, err := dialSimAgent(ctx, s, addr, fmt.Sprintf("sim-%05d", i))
		if err != nil {
			return fmt.Errorf("simulated agent %d: %w", i, err)
		}
		s.wg.Go(func() { a.run(life) })
		return nil
	})
	return s, err
}

// stop closes every connection and waits for the agents' goroutines.
func (s *swarm) stop() {
	s.cancel()
	s.wg.Wait()
}

// simAgent is one simulated agent.
type simAgent struct {
	s        *swarm
	id       string
	conn     *websocket.Conn
	interval time.Duration
	lastSeq  atomic.Uint64 // highest server sequence received
}

// dialSimAgent connects, says hello and waits for welcome.
func dialSimAgent(ctx context.Context, s *swarm, addr, id string) (*simAgent, error) {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+agentToken)
	hdr.Set("Hetuflow-Agent-Id", id)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws://"+addr+"/api/v1/agents/ws", &websocket.DialOptions{HTTPClient: s.hc, HTTPHeader: hdr})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(protocol.MaxFrameBytes)
	a := &simAgent{s: s, id: id, conn: conn}
	hello := &protocol.Hello{
		AgentID: id, Name: id, Version: "bench", ProtocolVersion: protocol.Version,
		Labels: map[string]string{"bench": "sim"}, Capacity: 0, RunID: uuid.NewString(),
	}
	if err := a.send(dctx, protocol.KindHello, hello); err != nil {
		conn.CloseNow()
		return nil, err
	}
	_, b, err := conn.Read(dctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("wait for welcome: %w", err)
	}
	env, err := protocol.DecodeFromServer(b)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("decode welcome: %w", err)
	}
	var w protocol.Welcome
	if env.Head.Kind != protocol.KindWelcome || env.Decode(&w) != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("expected welcome, got %s: %s", env.Head.Kind, env.Payload)
	}
	a.interval = w.HeartbeatInterval.D()
	if a.interval <= 0 {
		a.interval = 5 * time.Second
	}
	return a, nil
}

// send writes one frame, acknowledging what was received.
func (a *simAgent) send(ctx context.Context, kind protocol.Kind, payload any) error {
	env, err := protocol.New(kind, payload)
	if err != nil {
		return err
	}
	env.Head.Ack = a.lastSeq.Load()
	b, err := env.Encode()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.conn.Write(wctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send %s: %w", kind, err)
	}
	return nil
}

// run reads and heartbeats until ctx ends or the connection fails.
func (a *simAgent) run(ctx context.Context) {
	defer a.conn.CloseNow()
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel below, which ends the reader's Read
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		defer cancel()
		for {
			_, b, err := a.conn.Read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					a.s.failures.Add(1)
				}
				return
			}
			env, err := protocol.DecodeFromServer(b)
			if err != nil || !env.Head.Kind.Sequenced() {
				continue
			}
			if env.Head.Seq > a.lastSeq.Load() {
				a.lastSeq.Store(env.Head.Seq)
			}
			if a.send(ctx, protocol.KindAck, &protocol.Ack{}) != nil {
				return
			}
		}
	})
	// Spread the first heartbeat over the interval, as many agents started
	// at different times would.
	first := time.NewTimer(rand.N(a.interval))
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		if err := a.send(ctx, protocol.KindHeartbeat, &protocol.Heartbeat{Running: []uuid.UUID{}}); err != nil {
			if ctx.Err() == nil {
				a.s.failures.Add(1)
			}
			return
		}
		a.s.heartbeats.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
