package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/store"
)

// session is one agent connection.
type session struct {
	// labels is the selector the agent's hello labels must match; empty
	// means any.
	labels model.Selector
	remote string // the agent's address, for the audit log

	g       *Gateway
	agentID string
	conn    *websocket.Conn
	state   *agentState
	runID   string // names this session's server→agent sequence

	out     chan *protocol.Envelope
	ackKick chan struct{}
	done    chan struct{} // closed when the session is told to end
	ended   chan struct{} // closed when run has returned
	closeMu sync.Once
	// closeCode and closeReason are set once, before done is closed.
	closeCode   websocket.StatusCode
	closeReason string

	// handleMu is held while a message is applied; a session replaced by a
	// newer one sets stopped under it, so nothing it read is applied after
	// the newer session announces what was applied.
	handleMu sync.Mutex
	stopped  bool

	mu        sync.Mutex
	hello     *protocol.Hello
	seq       uint64                 // last server→agent sequence
	pending   map[uint64][]uuid.UUID // dispatch seq → instances, until acked
	sentAt    map[uint64]time.Time   // dispatch seq → when queued, until acked
	live      map[uuid.UUID]struct{}
	reserved  int                    // slots promised to a dispatch being written
	finished  map[uuid.UUID]struct{} // done reports seen since hello
	load      float64
	draining  bool
	exitAsked bool // sent a drain that ends in the agent's exit: draining for good
	ready     bool // hello handled; counts as a candidate
	lastAcked uint64
	bad       []time.Time
}

func newSession(g *Gateway, agentID string, conn *websocket.Conn) *session {
	return &session{
		g: g, agentID: agentID, conn: conn, state: g.state(agentID), runID: uuid.NewString(),
		out: make(chan *protocol.Envelope, sendQueueSize), ackKick: make(chan struct{}, 1), done: make(chan struct{}), ended: make(chan struct{}),
		pending: map[uint64][]uuid.UUID{}, sentAt: map[uint64]time.Time{}, live: map[uuid.UUID]struct{}{}, finished: map[uuid.UUID]struct{}{},
	}
}

// close asks the session to end with a close frame carrying code and
// reason; the session's closer sends it. Safe to call many times and from
// any goroutine; the first call wins.
func (s *session) close(code websocket.StatusCode, reason string) {
	s.closeMu.Do(func() {
		s.closeCode, s.closeReason = code, reason
		close(s.done)
	})
}

// run serves the session until the connection ends.
func (s *session) run(ctx context.Context) {
	log := s.g.log.With("agent_id", s.agentID)
	defer close(s.ended)
	defer s.conn.CloseNow()
	hello, err := s.readHello(ctx)
	if err != nil {
		log.WarnContext(ctx, "agent hello refused", "error", err)
		var pe *protocol.Error
		if errors.As(err, &pe) {
			_ = s.conn.Close(websocket.StatusPolicyViolation, truncate(pe.Reason, 120))
		}
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sessCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The closer: on request, a close handshake (the library bounds it),
	// then everything else of the session ends.
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-s.done:
			_ = s.conn.Close(s.closeCode, s.closeReason)
		case <-sessCtx.Done():
		}
		cancel()
		s.conn.CloseNow()
	}()
	wg.Add(1)
	go func() { defer wg.Done(); s.writeLoop(sessCtx) }()

	// Replace an older session of the agent and stop it applying messages,
	// so nothing it read is applied after the welcome below announces what
	// was applied. Its socket may take a while to close; that is not waited
	// for.
	if old := s.g.attach(s); old != nil {
		old.stopHandling()
	}
	if err := s.welcome(sessCtx, hello); err != nil {
		s.g.detach(s)
		log.WarnContext(ctx, "agent welcome failed", "error", err)
		return
	}
	defer func() {
		s.g.detach(s)
		s.g.TestSignals.Disconnected.Signal(s.agentID)
		log.InfoContext(context.WithoutCancel(ctx), "agent disconnected")
		s.g.agentEvent(ctx, AgentEvent{Kind: "agent-disconnected", AgentID: s.agentID, RemoteAddr: s.remote})
	}()
	log.InfoContext(ctx, "agent connected", "name", hello.Name, "version", hello.Version, "capacity", hello.Capacity, "num_held", len(hello.Held), "num_running", len(hello.Running))
	s.g.agentEvent(ctx, AgentEvent{Kind: "agent-connected", AgentID: s.agentID, RemoteAddr: s.remote, Detail: hello.Version})
	s.g.TestSignals.Connected.Signal(s.agentID)
	s.g.onWork()

	wg.Add(1)
	go func() { defer wg.Done(); s.reconcile(sessCtx, hello) }()

	s.readLoop(sessCtx)
}

func (s *session) readHello(ctx context.Context) (*protocol.Hello, error) {
	rctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	_, data, err := s.conn.Read(rctx)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	env, err := protocol.DecodeFromAgent(data)
	if err != nil {
		return nil, err
	}
	if env.Head.Kind != protocol.KindHello {
		return nil, &protocol.Error{Code: protocol.CodeBadFrame, Reason: fmt.Sprintf("first message must be hello, not %s", env.Head.Kind)}
	}
	var h protocol.Hello
	if err := env.Decode(&h); err != nil {
		return nil, err
	}
	if h.AgentID != s.agentID {
		return nil, &protocol.Error{Code: protocol.CodeBadPayload, Reason: fmt.Sprintf("hello agent_id %q differs from the connection's %q", h.AgentID, s.agentID)}
	}
	if major, _, _ := strings.Cut(h.ProtocolVersion, "."); major != fmt.Sprint(protocol.Major) {
		return nil, &protocol.Error{Code: protocol.CodeVersion, Reason: fmt.Sprintf("agent speaks protocol %s, this server speaks %s", h.ProtocolVersion, protocol.Version)}
	}
	if err := model.ValidateLabels("labels", h.Labels); err != nil {
		return nil, &protocol.Error{Code: protocol.CodeBadPayload, Reason: err.Error()}
	}
	if len(s.labels) > 0 && !s.labels.Matches(h.Labels) {
		return nil, &protocol.Error{Code: protocol.CodeBadPayload, Reason: fmt.Sprintf("labels not allowed by the agent's enrolment (it requires %s)", s.labels)}
	}
	return &h, nil
}

// welcome records the agent and answers hello with the sequence the server
// has applied, so the agent resends only the rest.
func (s *session) welcome(ctx context.Context, h *protocol.Hello) error {
	st := s.state
	st.mu.Lock()
	if st.runID != h.RunID {
		st.runID, st.received, st.applied = h.RunID, 0, 0
	}
	st.mu.Unlock()
	// Reports an older session took from the socket must be durable before
	// the applied sequence is announced.
	if err := s.g.results.Flush(ctx); err != nil {
		return fmt.Errorf("flush reports: %w", err)
	}
	st.mu.Lock()
	st.received = st.applied
	applied := st.applied
	st.mu.Unlock()
	status := model.AgentOnline
	if h.Draining {
		status = model.AgentDraining
	}
	if _, err := s.g.store.AgentUpsert(ctx, &store.AgentUpsertParams{
		ID: s.agentID, Capacity: h.Capacity, Labels: h.Labels, Name: h.Name, ServerID: s.g.cfg.ServerID, Version: h.Version,
		Status: status, Info: model.AgentInfo{Limits: h.Limits, Warnings: h.Warnings},
	}); err != nil {
		return fmt.Errorf("record agent: %w", err)
	}
	s.mu.Lock()
	s.hello = h
	s.draining = h.Draining
	for _, id := range h.Held {
		s.live[id] = struct{}{}
	}
	for _, id := range h.Running {
		s.live[id] = struct{}{}
	}
	s.ready = true
	s.mu.Unlock()
	return s.send(ctx, protocol.KindWelcome, &protocol.Welcome{
		ServerID:          s.g.cfg.ServerID,
		RunID:             s.runID,
		ServerTime:        time.Now(),
		HeartbeatInterval: model.Duration(s.g.cfg.HeartbeatInterval),
		HeartbeatTTL:      model.Duration(s.g.cfg.HeartbeatTTL),
		AgentSeq:          applied,
	})
}

// reconcile waits until the agent's resent outbox is applied, then compares
// what the agent holds with what the store says it should: strays are
// cancelled, held instances it lost are sent again, and running ones it lost
// are marked lost.
func (s *session) reconcile(ctx context.Context, h *protocol.Hello) {
	log := s.g.log.With("agent_id", s.agentID)
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	for {
		applied, changed := s.state.appliedSeq()
		if applied >= h.OutboxSeq {
			break
		}
		select {
		case <-changed:
			continue
		case <-wait.Done():
		}
		break
	}
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err := s.g.results.Flush(ctx); err != nil {
		return
	}
	// Snapshot what the agent holds before reading the store: an instance
	// dispatched in between is in the store and maybe in the live set, and
	// must not look like a stray. (It may be sent twice; the agent ignores
	// an instance it already has.)
	s.mu.Lock()
	held := make(map[uuid.UUID]struct{}, len(s.live))
	for id := range s.live {
		held[id] = struct{}{}
	}
	s.mu.Unlock()
	if hook := s.g.TestHooks.BeforeReconcileRead; hook != nil {
		hook(s.agentID)
	}
	dbLive, err := s.g.store.TaskInstanceListLiveByAgent(ctx, &store.TaskInstanceListLiveByAgentParams{AgentID: s.agentID})
	if err != nil {
		log.WarnContext(ctx, "reconcile agent", "error", err)
		return
	}
	inDB := make(map[uuid.UUID]*model.TaskInstance, len(dbLive))
	for _, in := range dbLive {
		inDB[in.ID] = in
	}
	var strays []uuid.UUID
	var resend, lost []*model.TaskInstance
	for id := range held {
		if inDB[id] == nil {
			strays = append(strays, id)
		}
	}
	s.mu.Lock()
	for _, in := range dbLive {
		if _, ok := held[in.ID]; ok {
			continue
		}
		if _, ok := s.live[in.ID]; ok {
			// Dispatched on this session after the snapshot, and maybe
			// started and recorded running before the read above: the
			// agent has it (seen in CI: a run marked lost at once).
			continue
		}
		if _, ok := s.finished[in.ID]; ok {
			continue
		}
		if in.Status == model.InstanceRunning {
			lost = append(lost, in)
		} else {
			resend = append(resend, in)
		}
	}
	s.mu.Unlock()
	for _, id := range strays {
		s.cancel(id, "not assigned to this agent any more")
	}
	if len(lost) > 0 {
		ids := make([]uuid.UUID, len(lost))
		for i, in := range lost {
			ids[i] = in.ID
		}
		if err := s.g.results.Submit(ctx, &sched.Report{AgentID: s.agentID, Lost: ids}); err != nil {
			return
		}
	}
	if len(resend) > 0 {
		insts := make([]*protocol.DispatchedInstance, 0, len(resend))
		for _, in := range resend {
			t, err := s.g.store.TaskGetByID(ctx, &store.TaskGetByIDParams{ID: in.TaskID})
			if err != nil {
				log.WarnContext(ctx, "reconcile: load task", "task_id", in.TaskID, "error", err)
				continue
			}
			insts = append(insts, &protocol.DispatchedInstance{
				InstanceID: in.ID, TaskID: t.ID, JobID: t.JobID, Namespace: t.Namespace, Attempt: in.Attempt,
				ScheduledAt: t.ScheduledAt, FireAt: in.PlannedAt, Config: t.Config, Parameters: t.Parameters, Event: t.Event,
			})
		}
		if len(insts) > 0 {
			if err := s.dispatch(ctx, insts); err != nil {
				log.WarnContext(ctx, "reconcile: resend", "error", err)
			} else {
				s.g.cfg.Metrics.Resent(true, len(insts))
			}
		}
	}
	if len(strays)+len(lost)+len(resend) > 0 {
		log.InfoContext(ctx, "agent reconciled", "num_cancelled", len(strays), "num_lost", len(lost), "num_resent", len(resend))
	}
	s.g.TestSignals.Reconciled.Signal(s.agentID)
	s.g.onWork()
}

func (s *session) readLoop(ctx context.Context) {
	log := s.g.log.With("agent_id", s.agentID)
	for {
		rctx, cancel := context.WithTimeout(ctx, s.g.cfg.HeartbeatTTL)
		typ, data, err := s.conn.Read(rctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && websocket.CloseStatus(err) == -1 {
				log.DebugContext(ctx, "agent read ended", "error", err)
			}
			return
		}
		if typ != websocket.MessageText {
			s.refuse(ctx, "", &protocol.Error{Code: protocol.CodeBadFrame, Reason: "frames must be text"})
			continue
		}
		env, err := protocol.DecodeFromAgent(data)
		if err != nil {
			s.refuse(ctx, "", err)
			continue
		}
		s.g.cfg.Metrics.MessageReceived(string(env.Head.Kind))
		s.handleMu.Lock()
		if s.stopped {
			s.handleMu.Unlock()
			return
		}
		s.handleAck(ctx, env.Head.Ack)
		err = s.handle(ctx, env)
		s.handleMu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.refuse(ctx, env.Head.ID, err)
		}
	}
}

// stopHandling makes the session apply no further message, waiting for one
// being applied to finish.
func (s *session) stopHandling() {
	s.handleMu.Lock()
	s.stopped = true
	s.handleMu.Unlock()
}

// handle applies one message. Sequenced messages are taken once, in order,
// and acknowledged after their report is durable.
func (s *session) handle(ctx context.Context, env *protocol.Envelope) error {
	switch env.Head.Kind {
	case protocol.KindAck:
		return nil
	case protocol.KindHello:
		return &protocol.Error{Code: protocol.CodeBadFrame, Reason: "hello was already received"}
	case protocol.KindHeartbeat:
		var hb protocol.Heartbeat
		if err := env.Decode(&hb); err != nil {
			return err
		}
		s.mu.Lock()
		s.load, s.draining = hb.Load, hb.Draining || s.exitAsked
		s.mu.Unlock()
		if err := s.send(ctx, protocol.KindAck, &protocol.Ack{EchoTS: env.Head.TS}); err != nil {
			return err
		}
		return s.g.results.Submit(ctx, &sched.Report{AgentID: s.agentID, Heartbeat: &sched.HeartbeatReport{
			Load: hb.Load, Running: len(hb.Running), ClockOffsetMillis: hb.ClockOffsetMillis, Draining: hb.Draining}})
	}
	seq := env.Head.Seq
	st := s.state
	st.mu.Lock()
	if seq <= st.received {
		st.mu.Unlock()
		s.kickAck()
		s.g.cfg.Metrics.Resent(false, 1)
		return nil // a resend of something already taken
	}
	st.received = seq
	st.mu.Unlock()
	rep := &sched.Report{AgentID: s.agentID, Applied: func(err error) {
		if err == nil {
			st.setApplied(seq)
			s.kickAck()
		}
	}}
	var decodeErr error
	switch env.Head.Kind {
	case protocol.KindTaskRunning:
		var m protocol.TaskRunning
		if decodeErr = env.Decode(&m); decodeErr == nil {
			rep.Running = &m
		}
	case protocol.KindTaskLog:
		var m protocol.TaskLog
		if decodeErr = env.Decode(&m); decodeErr == nil {
			rep.Log = &m
		}
	case protocol.KindTaskDone:
		var m protocol.TaskDone
		if decodeErr = env.Decode(&m); decodeErr == nil {
			rep.Done = &m
			s.mu.Lock()
			delete(s.live, m.InstanceID)
			s.finished[m.InstanceID] = struct{}{}
			s.mu.Unlock()
			if s.g.cfg.OnSlotFreed != nil {
				s.g.cfg.OnSlotFreed()
			} else {
				s.g.onWork()
			}
		}
	}
	// A refused message still takes its place in the sequence (as an empty
	// report), so the agent can drop it rather than resend it forever.
	if err := s.g.results.Submit(ctx, rep); err != nil {
		return err
	}
	return decodeErr
}

// handleAck marks dispatched instances acknowledged up to ack.
func (s *session) handleAck(ctx context.Context, ack uint64) {
	if ack == 0 {
		return
	}
	var (
		ids []uuid.UUID
		lat []time.Duration
	)
	now := time.Now()
	s.mu.Lock()
	for seq, insts := range s.pending {
		if seq <= ack {
			ids = append(ids, insts...)
			delete(s.pending, seq)
			lat = append(lat, now.Sub(s.sentAt[seq]))
			delete(s.sentAt, seq)
		}
	}
	s.mu.Unlock()
	for _, d := range lat {
		s.g.cfg.Metrics.AckLatency(d)
	}
	if len(ids) > 0 {
		_ = s.g.results.Submit(ctx, &sched.Report{AgentID: s.agentID, Acked: ids})
	}
}

func (s *session) refuse(ctx context.Context, refID string, err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = &protocol.Error{Code: protocol.CodeBadPayload, Reason: err.Error()}
	}
	s.g.TestSignals.Refused.Signal(pe.Code)
	s.g.log.WarnContext(ctx, "agent message refused", "agent_id", s.agentID, "code", pe.Code, "reason", pe.Reason)
	now := time.Now()
	s.mu.Lock()
	s.bad = append(s.bad, now)
	for len(s.bad) > 0 && now.Sub(s.bad[0]) > BadFrameWindow {
		s.bad = s.bad[1:]
	}
	flood := len(s.bad) > MaxBadFrames
	s.mu.Unlock()
	if flood {
		s.close(websocket.StatusPolicyViolation, "too many malformed messages")
		return
	}
	_ = s.send(ctx, protocol.KindRefused, &protocol.Refused{RefID: refID, Code: pe.Code, Reason: truncate(pe.Reason, 500)})
}

// send enqueues an unsequenced message.
func (s *session) send(ctx context.Context, kind protocol.Kind, payload any) error {
	env, err := protocol.New(kind, payload)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, env)
}

// enqueue hands env to the writer. A queue that stays full means the agent
// cannot keep up; the session is closed rather than stall the caller.
func (s *session) enqueue(ctx context.Context, env *protocol.Envelope) error {
	select {
	case s.out <- env:
		return nil
	case <-s.done:
		return ErrNotConnected
	default:
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case s.out <- env:
		return nil
	case <-s.done:
		return ErrNotConnected
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		s.close(websocket.StatusTryAgainLater, "agent is not reading; reconnect")
		return ErrNotConnected
	}
}

func (s *session) kickAck() {
	select {
	case s.ackKick <- struct{}{}:
	default:
	}
}

// writeLoop owns the socket's writes. Every frame carries the applied agent
// sequence; a bare ack goes out when nothing else does.
func (s *session) writeLoop(ctx context.Context) {
	for {
		var env *protocol.Envelope
		select {
		case <-ctx.Done():
			return
		case env = <-s.out:
		case <-s.ackKick:
			applied, _ := s.state.appliedSeq()
			s.mu.Lock()
			stale := applied <= s.lastAcked
			s.mu.Unlock()
			if stale {
				continue
			}
			var err error
			if env, err = protocol.New(protocol.KindAck, &protocol.Ack{}); err != nil {
				continue
			}
		}
		applied, _ := s.state.appliedSeq()
		env.Head.Ack = applied
		b, err := env.Encode()
		if err != nil {
			s.g.log.ErrorContext(ctx, "encode message", "agent_id", s.agentID, "error", err)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err = s.conn.Write(wctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			s.close(websocket.StatusInternalError, "write failed")
			return
		}
		s.g.cfg.Metrics.MessageSent(string(env.Head.Kind))
		s.mu.Lock()
		if applied > s.lastAcked {
			s.lastAcked = applied
		}
		s.mu.Unlock()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
