package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/balance"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// AgentIDHeader carries the agent's id on the upgrade request.
const AgentIDHeader = "Hetuflow-Agent-Id"

// Limits on misbehaving agents.
const (
	MaxBadFrames   = 20
	BadFrameWindow = 10 * time.Second
	helloTimeout   = 10 * time.Second
	sendQueueSize  = 1024
	writeTimeout   = 10 * time.Second
)

// Authenticator checks an agent's credential on the upgrade request and
// says which agent it is.
type Authenticator interface {
	// IdentifyAgent returns who the agent presenting token is. claimedID
	// is the agent's own claim (header Hetuflow-Agent-Id); an
	// authenticator that knows the id from the token ignores it. The
	// error's text is sent to the agent.
	IdentifyAgent(ctx context.Context, token, claimedID string) (Identity, error)
}

// Identity is who an agent is, as its credential says.
type Identity struct {
	AgentID string
	// Labels, when not empty, must match the labels of the agent's every
	// hello: an enrolled agent cannot take labels its enrolment did not
	// allow.
	Labels model.Selector
}

// Reporter takes agent reports; sched.Results implements it.
type Reporter interface {
	Submit(ctx context.Context, rep *sched.Report) error
	Flush(ctx context.Context) error
}

// Config configures a [Gateway].
type Config struct {
	ServerID          string
	HeartbeatInterval time.Duration
	HeartbeatTTL      time.Duration
	// Metrics counts socket traffic; nil means NopMetrics.
	Metrics Metrics
	// MaxMessageBytes caps one message from an agent; a larger one closes
	// the socket with status 1009. Zero means protocol.MaxFrameBytes.
	MaxMessageBytes int
	// Prepare, when set, completes instances just before they are sent
	// (resolving secrets); it runs on every dispatch and resend.
	Prepare func(ctx context.Context, insts []*protocol.DispatchedInstance)
	// OnAgentEvent, when set, hears of every agent connection, refusal and
	// disconnection, for the audit log. It must not block for long.
	OnAgentEvent func(ctx context.Context, e AgentEvent)
	// OnSlotFreed, when set, is called instead of onWork when a run ends and
	// gives its slot back, the most frequent wake, which the dispatcher may
	// pace. It must not block.
	OnSlotFreed func()
}

// AgentEvent is something that happened to an agent's connection.
type AgentEvent struct {
	// Kind is "agent-connected", "agent-disconnected" or "agent-refused".
	Kind    string
	AgentID string
	// RemoteAddr is the agent's address as this server saw it.
	RemoteAddr string
	// Detail says why a connection was refused, or the agent's version.
	Detail string
}

func (g *Gateway) agentEvent(ctx context.Context, e AgentEvent) {
	if g.cfg.OnAgentEvent != nil {
		g.cfg.OnAgentEvent(context.WithoutCancel(ctx), e)
	}
}

// Metrics is what the gateway reports to the server's instrumentation
// (metrics.Metrics implements it). It must be safe for concurrent use and
// must not block.
type Metrics interface {
	// AckLatency observes the time from queueing a dispatch to its ack.
	AckLatency(d time.Duration)
	// MessageReceived counts a decoded message from an agent by kind.
	MessageReceived(kind string)
	// MessageSent counts a message written to an agent by kind.
	MessageSent(kind string)
	// Resent counts messages sent again to an agent (toAgent) or
	// received again from one.
	Resent(toAgent bool, n int)
}

// NopMetrics records nothing.
type NopMetrics struct{}

// AckLatency implements Metrics.
func (NopMetrics) AckLatency(time.Duration) {}

// MessageReceived implements Metrics.
func (NopMetrics) MessageReceived(string) {}

// MessageSent implements Metrics.
func (NopMetrics) MessageSent(string) {}

// Resent implements Metrics.
func (NopMetrics) Resent(bool, int) {}

// TestSignals lets tests wait for session events.
type TestSignals struct {
	Connected    testsignal.Signal[string] // agent id, after welcome
	Reconciled   testsignal.Signal[string] // agent id, after reconcile
	Disconnected testsignal.Signal[string] // agent id
	Refused      testsignal.Signal[string] // refusal code
}

// TestHooks let tests stop a session at a chosen point. Nil hooks are
// skipped; set them before the session starts.
type TestHooks struct {
	// BeforeReconcileRead runs in reconciliation after the snapshot of
	// what the agent holds and before the store is read.
	BeforeReconcileRead func(agentID string)
}

// Init enables the signals.
func (s *TestSignals) Init() {
	s.Connected.Init()
	s.Reconciled.Init()
	s.Disconnected.Init()
	s.Refused.Init()
}

// Gateway serves the agent socket and implements sched.AgentPool.
type Gateway struct {
	lifecycle.Base
	cfg     Config
	store   store.Store
	auth    Authenticator
	results Reporter
	onWork  func()
	log     *slog.Logger

	mu       sync.Mutex
	ctx      context.Context // lifetime of sessions; nil when stopped
	sessions map[string]*session
	agents   map[string]*agentState
	wg       sync.WaitGroup

	TestSignals TestSignals
	// TestHooks is for tests; see [TestHooks].
	TestHooks TestHooks
}

// agentState survives an agent's reconnects to this server process.
type agentState struct {
	mu       sync.Mutex
	runID    string // the agent's sequence run
	received uint64 // highest agent seq taken from the socket
	applied  uint64 // highest agent seq whose report is durable
	changed  chan struct{}
}

func (st *agentState) setApplied(seq uint64) {
	st.mu.Lock()
	if seq > st.applied {
		st.applied = seq
		close(st.changed)
		st.changed = make(chan struct{})
	}
	st.mu.Unlock()
}

func (st *agentState) appliedSeq() (uint64, <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.applied, st.changed
}

// New returns a Gateway. onWork is called when capacity appears (an agent
// connects or is reconciled, a cancel frees a slot), to wake the
// dispatcher; a run that ends calls Config.OnSlotFreed when set, onWork
// otherwise.
func New(cfg Config, st store.Store, auth Authenticator, results Reporter, onWork func(), logger *slog.Logger) *Gateway {
	if st == nil || auth == nil || results == nil || logger == nil {
		panic("gateway: New needs a store, an authenticator, a reporter and a logger")
	}
	if cfg.HeartbeatInterval <= 0 || cfg.HeartbeatTTL <= 0 || cfg.ServerID == "" {
		panic(fmt.Sprintf("gateway: bad config %+v", cfg))
	}
	if cfg.MaxMessageBytes <= 0 || cfg.MaxMessageBytes > protocol.MaxFrameBytes {
		cfg.MaxMessageBytes = protocol.MaxFrameBytes
	}
	if onWork == nil {
		onWork = func() {}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	return &Gateway{cfg: cfg, store: st, auth: auth, results: results, onWork: onWork, log: logger,
		sessions: map[string]*session{}, agents: map[string]*agentState{}}
}

// Start makes the gateway accept sessions until ctx ends or Stop is called.
func (g *Gateway) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := g.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	g.mu.Lock()
	g.ctx = ctx
	g.mu.Unlock()
	go func() {
		started()
		defer stopped()
		t := time.NewTicker(finishedSweepEvery)
		defer t.Stop()
	sweep:
		for {
			select {
			case <-ctx.Done():
				break sweep
			case <-t.C:
				if err := g.CancelFinished(ctx); err != nil && !lifecycle.IsStop(ctx, err) {
					g.log.WarnContext(ctx, "sweep finished runs", "error", err)
				}
			}
		}
		g.mu.Lock()
		g.ctx = nil
		for _, s := range g.sessions {
			s.close(websocket.StatusGoingAway, "server stopping; reconnect")
		}
		g.mu.Unlock()
		g.wg.Wait()
	}()
	return nil
}

// ServeHTTP upgrades an authenticated request to an agent session and runs
// it until it ends. Without a valid token it answers 401 and reads nothing.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		http.Error(w, "agent token required: Authorization: Bearer <token>", http.StatusUnauthorized)
		return
	}
	id, err := g.auth.IdentifyAgent(r.Context(), token, r.Header.Get(AgentIDHeader))
	if err != nil {
		g.log.InfoContext(r.Context(), "agent refused", "remote", r.RemoteAddr, "error", err)
		g.agentEvent(r.Context(), AgentEvent{Kind: "agent-refused", AgentID: r.Header.Get(AgentIDHeader), RemoteAddr: r.RemoteAddr, Detail: err.Error()})
		http.Error(w, "agent refused: "+err.Error(), http.StatusUnauthorized)
		return
	}
	agentID := id.AgentID
	g.mu.Lock()
	ctx := g.ctx
	if ctx == nil {
		g.mu.Unlock()
		http.Error(w, "server stopping", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover})
	if err != nil {
		g.log.WarnContext(r.Context(), "agent upgrade failed", "agent_id", agentID, "error", err)
		return
	}
	conn.SetReadLimit(int64(g.cfg.MaxMessageBytes))
	s := newSession(g, agentID, conn)
	s.labels = id.Labels
	s.remote = r.RemoteAddr
	s.run(ctx)
}

// state returns the agent's persistent state, creating it.
func (g *Gateway) state(agentID string) *agentState {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.agents[agentID]
	if st == nil {
		st = &agentState{changed: make(chan struct{})}
		g.agents[agentID] = st
	}
	return st
}

// attach makes s the agent's session and closes an older one, which it
// returns.
func (g *Gateway) attach(s *session) *session {
	g.mu.Lock()
	old := g.sessions[s.agentID]
	g.sessions[s.agentID] = s
	g.mu.Unlock()
	if old != nil {
		old.close(websocket.StatusPolicyViolation, "replaced by a newer connection of the same agent")
	}
	return old
}

// detach removes s if it is still the agent's session.
func (g *Gateway) detach(s *session) {
	g.mu.Lock()
	if g.sessions[s.agentID] == s {
		delete(g.sessions, s.agentID)
	}
	g.mu.Unlock()
}

func (g *Gateway) session(agentID string) *session {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[agentID]
}

// Candidates returns the connected agents that take work, with free slots.
func (g *Gateway) Candidates() []*balance.Candidate {
	g.mu.Lock()
	sessions := make([]*session, 0, len(g.sessions))
	for _, s := range g.sessions {
		sessions = append(sessions, s)
	}
	g.mu.Unlock()
	out := make([]*balance.Candidate, 0, len(sessions))
	for _, s := range sessions {
		if c := s.candidate(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Reserve takes a free slot of a connected agent for a dispatch being
// written; see sched.AgentPool.
func (g *Gateway) Reserve(agentID string) bool {
	s := g.session(agentID)
	return s != nil && s.reserve()
}

// Release gives back reserved slots.
func (g *Gateway) Release(agentID string, n int) {
	if s := g.session(agentID); s != nil {
		s.release(n)
	}
}

// ErrNotConnected is returned by Dispatch when the agent has no session here.
var ErrNotConnected = errors.New("gateway: agent not connected")

// Dispatch sends instances to a connected agent.
func (g *Gateway) Dispatch(ctx context.Context, agentID string, instances []*protocol.DispatchedInstance) error {
	s := g.session(agentID)
	if s == nil {
		return ErrNotConnected
	}
	if err := s.dispatch(ctx, instances); err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(instances))
	for i, in := range instances {
		ids[i] = in.InstanceID
	}
	// Tell the writer who holds them, so the agent's reports need no owner
	// lookup; losing this only costs that lookup.
	_ = g.results.Submit(ctx, &sched.Report{AgentID: agentID, Owned: ids})
	return nil
}

// Forget frees the slots of instances and, if the agent is connected, tells
// it to drop or stop them.
func (g *Gateway) Forget(agentID string, ids []uuid.UUID, reason string) {
	if s := g.session(agentID); s != nil {
		for _, id := range ids {
			s.cancel(id, reason)
		}
	}
}

// Cancel asks the agent holding an instance to stop it. It does nothing when
// the agent is not connected here; reconciliation tells it later.
func (g *Gateway) Cancel(agentID string, id uuid.UUID, reason string) {
	if s := g.session(agentID); s != nil {
		s.cancel(id, reason)
	}
}

// Drain asks a connected agent to drain and exit: it takes no new work,
// lets its runs finish within its shutdown grace, reports them and exits
// (protocol.Drain with Exit). The agent stops being a dispatch candidate at
// once; its stored status turns Draining with its next heartbeat, which it
// sends at once. Drain returns ErrNotConnected when the agent has no
// session here.
func (g *Gateway) Drain(ctx context.Context, agentID, reason string) error {
	s := g.session(agentID)
	if s == nil {
		return ErrNotConnected
	}
	return s.drain(ctx, reason)
}

// CloseAll ends every agent session with reason, so the agents reconnect,
// to another server if they know one.
func (g *Gateway) CloseAll(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		s.close(websocket.StatusTryAgainLater, reason)
	}
}

// Holds reports whether the agent has a session here.
func (g *Gateway) Holds(agentID string) bool { return g.session(agentID) != nil }

// finishedSweepEvery is how often the gateway looks for runs its agents
// hold that ended elsewhere (a cancel whose notification was lost).
const finishedSweepEvery = 5 * time.Second

// CancelFinished tells connected agents to stop runs that are already final
// in the store: cancelled or given up by another server, whose message to
// this one was lost. It is the catch-up of the cluster bus.
func (g *Gateway) CancelFinished(ctx context.Context) error {
	g.mu.Lock()
	sessions := make([]*session, 0, len(g.sessions))
	for _, s := range g.sessions {
		sessions = append(sessions, s)
	}
	g.mu.Unlock()
	owner := map[uuid.UUID]*session{}
	var ids []any
	for _, s := range sessions {
		for _, id := range s.liveIDs() {
			owner[id] = s
			ids = append(ids, id)
		}
	}
	for len(ids) > 0 {
		page := ids[:min(len(ids), store.MaxPageLimit)]
		ids = ids[len(page):]
		final, err := g.store.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{
			{Field: "id", Op: store.OpIn, Value: page},
			{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceTimeout), int64(model.InstanceFailed), int64(model.InstanceLost), int64(model.InstanceCancelled), int64(model.InstanceSucceeded)}},
		}, Limit: store.MaxPageLimit})
		if err != nil {
			return fmt.Errorf("load finished runs: %w", err)
		}
		for _, in := range final {
			if s := owner[in.ID]; s != nil && s.agentID == in.AgentID {
				s.cancel(in.ID, "the run already ended: "+in.Status.String())
			}
		}
	}
	return nil
}

// Connected returns the ids of the agents with a session here.
func (g *Gateway) Connected() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.sessions))
	for id := range g.sessions {
		ids = append(ids, id)
	}
	return ids
}
