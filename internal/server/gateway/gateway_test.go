package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/gateway"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

const agentToken = "hf_gateway-test-token"

type tokenAuth struct{}

// IdentifyAgent takes the agent's word for its id, like the shared token.
func (tokenAuth) IdentifyAgent(_ context.Context, tok, claimed string) (gateway.Identity, error) {
	if tok != agentToken {
		return gateway.Identity{}, errors.New("bad token")
	}
	if claimed == "" {
		return gateway.Identity{}, errors.New("agent id required")
	}
	return gateway.Identity{AgentID: claimed}, nil
}

type testBundle struct {
	store   store.Store
	gw      *gateway.Gateway
	results *sched.Results
	url     string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with before, when not nil, called on the gateway
// before it starts.
func setupWith(t *testing.T, before func(*gateway.Gateway)) *testBundle {
	t.Helper()
	return setupConfig(t, nil, before)
}

// setupConfig is setupWith with configure, when not nil, called on the
// gateway's configuration first.
func setupConfig(t *testing.T, configure func(*gateway.Config), before func(*gateway.Gateway)) *testBundle {
	t.Helper()
	cfg := gateway.Config{ServerID: "server-1", HeartbeatInterval: time.Second, HeartbeatTTL: 5 * time.Second}
	if configure != nil {
		configure(&cfg)
	}
	st := teststore.SQLite(t)
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatalf("tasklog.New: %v", err)
	}
	results := sched.NewResults(sched.ResultsConfig{ServerID: "server-1", AckTimeout: time.Second}, st, logs, sched.Wakers{}, lifecycletest.WarnLogger(t))
	gw := gateway.New(cfg, st, tokenAuth{}, results, nil, lifecycletest.WarnLogger(t))
	gw.TestSignals.Init()
	if before != nil {
		before(gw)
	}
	ctx := context.WithoutCancel(t.Context())
	if err := results.Start(ctx); err != nil {
		t.Fatalf("results Start: %v", err)
	}
	if err := gw.Start(ctx); err != nil {
		t.Fatalf("gateway Start: %v", err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		gw.Stop()
		srv.Close()
		results.Stop()
	})
	return &testBundle{store: st, gw: gw, results: results, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// heldInstance stores a running task's instance held by agent-1.
func (b *testBundle) heldInstance(t *testing.T) *model.TaskInstance {
	t.Helper()
	ctx := t.Context()
	task := storetest.Task(ctx, t, b.store, &storetest.TaskOpts{Status: ptr(model.TaskDoing), Config: &model.JobConfig{Command: "true"}})
	return storetest.TaskInstance(ctx, t, b.store, &storetest.TaskInstanceOpts{TaskID: &task.ID, AgentID: ptr("agent-1")})
}

// peer is a bare protocol client standing in for an agent.
type peer struct {
	t    *testing.T
	conn *websocket.Conn
}

func (b *testBundle) dial(t *testing.T, agentID, token string) (*peer, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	h.Set(gateway.AgentIDHeader, agentID)
	conn, resp, err := websocket.Dial(t.Context(), b.url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.CloseNow() })
	return &peer{t: t, conn: conn}, resp, nil
}

func (p *peer) send(kind protocol.Kind, payload any, seq uint64) {
	p.t.Helper()
	env, err := protocol.New(kind, payload)
	if err != nil {
		p.t.Fatalf("new %s: %v", kind, err)
	}
	env.Head.Seq = seq
	b, _ := env.Encode()
	p.raw(b)
}

func (p *peer) raw(b []byte) {
	p.t.Helper()
	if err := p.conn.Write(p.t.Context(), websocket.MessageText, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// next reads frames until one of kind arrives.
func (p *peer) next(kind protocol.Kind) *protocol.Envelope {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := p.conn.Read(ctx)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", kind, err)
		}
		env, err := protocol.DecodeFromServer(b)
		if err != nil {
			p.t.Fatalf("decode: %v", err)
		}
		if env.Head.Kind == kind {
			return env
		}
	}
}

func (p *peer) hello(runID string, outboxSeq uint64) *protocol.Welcome {
	p.t.Helper()
	p.send(protocol.KindHello, &protocol.Hello{AgentID: "agent-1", Name: "a", Version: "test", ProtocolVersion: protocol.Version, Capacity: 2, RunID: runID, OutboxSeq: outboxSeq}, 0)
	var w protocol.Welcome
	if err := p.next(protocol.KindWelcome).Decode(&w); err != nil {
		p.t.Fatalf("decode welcome: %v", err)
	}
	return &w
}

func TestGateway(t *testing.T) {
	t.Parallel()

	t.Run("UpgradeNeedsAValidToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tok := range []string{"", "hf_wrong"} {
			_, resp, err := b.dial(t, "agent-1", tok)
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("dial with token %q = %v, status %v; want 401", tok, err, resp)
			}
		}
		if n, _ := b.store.AgentCount(t.Context(), &store.AgentCountParams{}); n != 0 {
			t.Errorf("%d agents recorded from refused sockets, want 0", n)
		}
	})

	t.Run("OtherProtocolMajorIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.send(protocol.KindHello, &protocol.Hello{AgentID: "agent-1", ProtocolVersion: "2.0", RunID: "r"}, 0)
		_, _, err = p.conn.Read(t.Context())
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "2.0") {
			t.Errorf("read after hello 2.0 = %v, want a policy close naming the version", err)
		}
	})

	t.Run("MalformedFrameIsRefusedAndTheSessionStaysHealthy", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.hello("run-1", 0)
		for _, bad := range []string{`not json`, `{"head":{"kind":"task.explode","id":"x"},"payload":{}}`, `{"head":{"kind":"task.done","seq":1},"payload":{"instance_id":"nope"}}`} {
			p.raw([]byte(bad))
			var r protocol.Refused
			if err := p.next(protocol.KindRefused).Decode(&r); err != nil || r.Code == "" || r.Reason == "" {
				t.Errorf("refusal of %q = %+v, %v; want a code and a reason", bad, r, err)
			}
		}
		p.send(protocol.KindHeartbeat, &protocol.Heartbeat{}, 0)
		var (
			a      protocol.Ack
			maxAck uint64
		)
		for a.EchoTS == 0 {
			env := p.next(protocol.KindAck)
			if err := env.Decode(&a); err != nil {
				t.Fatalf("decode ack: %v", err)
			}
			maxAck = max(maxAck, env.Head.Ack)
		}
		// The refused task.done took its place in the sequence: acked, so
		// the agent does not resend it forever.
		for maxAck < 1 {
			maxAck = max(maxAck, p.next(protocol.KindAck).Head.Ack)
		}
	})

	t.Run("AFloodOfMalformedFramesClosesTheSession", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.hello("run-1", 0)
		for range gateway.MaxBadFrames + 1 {
			p.raw([]byte(`garbage`))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		for {
			if _, _, err = p.conn.Read(ctx); err != nil {
				break
			}
		}
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("session ended with %v, want a policy-violation close", err)
		}
	})

	t.Run("AnEndedRunFreesItsSlotThroughOnSlotFreed", func(t *testing.T) {
		t.Parallel()
		var freed atomic.Int32
		b := setupConfig(t, func(c *gateway.Config) { c.OnSlotFreed = func() { freed.Add(1) } }, nil)
		in := b.heldInstance(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.hello("run-1", 0)
		exit := 0
		p.send(protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: in.ID, StartedAt: time.Now()}, 1)
		for p.next(protocol.KindAck).Head.Ack < 1 {
		}
		if n := freed.Load(); n != 0 {
			t.Errorf("OnSlotFreed called %d times before the run ended, want 0", n)
		}
		p.send(protocol.KindTaskDone, &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, StartedAt: time.Now(), FinishedAt: time.Now()}, 2)
		for p.next(protocol.KindAck).Head.Ack < 2 {
		}
		if n := freed.Load(); n != 1 {
			t.Errorf("OnSlotFreed called %d times for one ended run, want 1", n)
		}
	})

	t.Run("AppliedSequenceSurvivesAReconnect", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		in := b.heldInstance(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if w := p.hello("run-1", 0); w.AgentSeq != 0 {
			t.Fatalf("first welcome agent_seq = %d, want 0", w.AgentSeq)
		}
		exit := 0
		p.send(protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: in.ID, StartedAt: time.Now()}, 1)
		p.send(protocol.KindTaskDone, &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceSucceeded, ExitCode: &exit, StartedAt: time.Now(), FinishedAt: time.Now()}, 2)
		for p.next(protocol.KindAck).Head.Ack < 2 {
		}
		p.conn.Close(websocket.StatusNormalClosure, "")
		b.gw.TestSignals.Disconnected.Wait(t)

		p2, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("redial: %v", err)
		}
		if w := p2.hello("run-1", 2); w.AgentSeq != 2 {
			t.Errorf("welcome after reconnect agent_seq = %d, want 2", w.AgentSeq)
		}
		// A resend of seq 2 is dropped, and still acknowledged.
		p2.send(protocol.KindTaskDone, &protocol.TaskDone{InstanceID: in.ID, Status: model.InstanceFailed, ExitCode: &exit}, 2)
		if got, _ := b.store.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: in.ID}); got.Status != model.InstanceSucceeded {
			t.Errorf("instance = %s, want succeeded (the duplicate must not apply)", got.Status)
		}
		// A new agent run starts its sequence again.
		p2.conn.Close(websocket.StatusNormalClosure, "")
		b.gw.TestSignals.Disconnected.Wait(t)
		p3, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("redial: %v", err)
		}
		if w := p3.hello("run-2", 0); w.AgentSeq != 0 {
			t.Errorf("welcome for a new agent run agent_seq = %d, want 0", w.AgentSeq)
		}
	})

	t.Run("ANewConnectionReplacesTheOld", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p1, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p1.hello("run-1", 0)
		p2, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p2.hello("run-1", 0)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		for {
			if _, _, err = p1.conn.Read(ctx); err != nil {
				break
			}
		}
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("old session ended with %v, want closed as replaced", err)
		}
		if got := b.gw.Connected(); len(got) != 1 {
			t.Errorf("connected = %v, want one session", got)
		}
		p2.send(protocol.KindHeartbeat, &protocol.Heartbeat{}, 0)
		p2.next(protocol.KindAck)
	})

	// A run dispatched on the session while reconciliation runs, and
	// recorded running before it reads the store, is the agent's: not lost.
	t.Run("RunDispatchedDuringReconcileIsNotLost", func(t *testing.T) {
		t.Parallel()
		reached, proceed := make(chan struct{}), make(chan struct{})
		b := setupWith(t, func(gw *gateway.Gateway) {
			gw.TestHooks.BeforeReconcileRead = func(string) {
				close(reached)
				<-proceed
			}
		})
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.hello("run-1", 0)
		<-reached
		running := model.InstanceRunning
		in := storetest.TaskInstance(t.Context(), t, b.store, &storetest.TaskInstanceOpts{Status: &running})
		if err := b.gw.Dispatch(t.Context(), "agent-1", []*protocol.DispatchedInstance{{InstanceID: in.ID, TaskID: in.TaskID, FireAt: time.Now(), Config: model.JobConfig{Command: "true"}}}); err != nil {
			t.Fatalf("Dispatch: %v", err)
		}
		close(proceed)
		b.gw.TestSignals.Reconciled.Wait(t)
		if err := b.results.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		got, err := b.store.TaskInstanceGetByID(t.Context(), &store.TaskInstanceGetByIDParams{ID: in.ID})
		if err != nil || got.Status != model.InstanceRunning {
			t.Errorf("instance after reconciliation = %v (%v), want still running", got.Status, err)
		}
	})

	t.Run("DispatchCountsSlots", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.hello("run-1", 0)
		// The instance below is not in the store; dispatch it only after
		// reconciliation, which would rightly cancel it as a stray.
		b.gw.TestSignals.Reconciled.Wait(t)
		cands := b.gw.Candidates()
		if len(cands) != 1 || cands[0].Free != 2 {
			t.Fatalf("candidates = %+v, want agent-1 with 2 free slots", cands)
		}
		in := &protocol.DispatchedInstance{InstanceID: uuid.New(), FireAt: time.Now(), Config: model.JobConfig{Command: "true"}}
		if err := b.gw.Dispatch(t.Context(), "agent-1", []*protocol.DispatchedInstance{in}); err != nil {
			t.Fatalf("Dispatch: %v", err)
		}
		var d protocol.Dispatch
		if err := p.next(protocol.KindDispatch).Decode(&d); err != nil || len(d.Instances) != 1 || d.Instances[0].InstanceID != in.InstanceID {
			t.Fatalf("agent got %+v, %v", d, err)
		}
		if c := b.gw.Candidates(); len(c) != 1 || c[0].Free != 1 {
			t.Errorf("after a dispatch candidates = %+v, want 1 free slot", c)
		}
		if err := b.gw.Dispatch(t.Context(), "nobody", []*protocol.DispatchedInstance{in}); !errors.Is(err, gateway.ErrNotConnected) {
			t.Errorf("Dispatch to an unknown agent = %v, want ErrNotConnected", err)
		}
		// Reservations count against the slots until released or
		// dispatched, so two dispatchers cannot take the last slot twice.
		if !b.gw.Reserve("agent-1") {
			t.Fatalf("Reserve of the last free slot failed")
		}
		if b.gw.Reserve("agent-1") {
			t.Errorf("Reserve succeeded with no free slot left")
		}
		if c := b.gw.Candidates(); len(c) != 1 || c[0].Free != 0 {
			t.Errorf("with the last slot reserved candidates = %+v, want 0 free", c)
		}
		b.gw.Release("agent-1", 1)
		if !b.gw.Reserve("agent-1") {
			t.Errorf("Reserve after Release failed")
		}
		in2 := &protocol.DispatchedInstance{InstanceID: uuid.New(), FireAt: time.Now(), Config: model.JobConfig{Command: "true"}}
		if err := b.gw.Dispatch(t.Context(), "agent-1", []*protocol.DispatchedInstance{in2}); err != nil {
			t.Fatalf("Dispatch: %v", err)
		}
		if c := b.gw.Candidates(); len(c) != 1 || c[0].Free != 0 || b.gw.Reserve("agent-1") {
			t.Errorf("after dispatching the reserved slot candidates = %+v; want none free and no reservation possible", c)
		}
		if b.gw.Reserve("nobody") {
			t.Errorf("Reserve on an unknown agent succeeded")
		}
	})
}

func TestGatewayLifecycle(t *testing.T) {
	t.Parallel()
	mk := func(t *testing.T) *gateway.Gateway {
		st := teststore.SQLite(t)
		logs, _ := tasklog.New(t.TempDir())
		results := sched.NewResults(sched.ResultsConfig{AckTimeout: time.Second}, st, logs, sched.Wakers{}, lifecycletest.WarnLogger(t))
		return gateway.New(gateway.Config{ServerID: "s", HeartbeatInterval: time.Second, HeartbeatTTL: 5 * time.Second}, st, tokenAuth{}, results, nil, lifecycletest.WarnLogger(t))
	}
	lifecycletest.Stress(t.Context(), t, mk(t))
	lifecycletest.StopsImmediately(t.Context(), t, mk(t))
	lifecycletest.RespectsContextCancellation(t.Context(), t, mk(t))
	lifecycletest.CanRestart(t.Context(), t, mk(t))

	t.Run("StopEndsConnectedSessions", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p, _, err := b.dial(t, "agent-1", agentToken)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		p.hello("run-1", 0)
		go func() {
			// The peer keeps reading, as an agent does, so the close
			// handshake completes.
			for {
				if _, _, err := p.conn.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		b.gw.Stop()
		if got := b.gw.Connected(); len(got) != 0 {
			t.Errorf("connected after Stop = %v, want none", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }
