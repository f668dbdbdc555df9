package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// waitTimeout bounds every wait in these tests; reaching it fails the test.
const waitTimeout = 10 * time.Second

// recv returns the next value from ch, failing the test after waitTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %s", what, waitTimeout)
	}
	var zero T
	return zero
}

// helloRecord is a hello as the fake server received it.
type helloRecord struct {
	header http.Header
	hello  *protocol.Hello
}

// fakeServer is the server side of the agent protocol, just enough to test
// the agent: it authenticates nothing but records the headers, welcomes,
// applies agent reports once each by sequence (recording duplicates), acks
// them, answers heartbeats, and lets a test push dispatch, cancel and drain
// and misbehave (drop the socket, refuse connections, restart).
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	hellos     chan *helloRecord
	runnings   chan *protocol.TaskRunning
	dones      chan *protocol.TaskDone
	heartbeats chan *protocol.Heartbeat
	drops      chan struct{} // a connection the fake dropped on purpose
	logged     chan struct{} // a task.log was applied

	mu    sync.Mutex
	conns []*websocket.Conn
	conn  *websocket.Conn // the current one
	runID string          // this server run's id
	seq   uint64          // last server→agent sequence
	// Agent sequences applied, for the agent run agentRunID.
	agentRunID string
	applied    uint64
	numDup     int
	running    map[uuid.UUID]*protocol.TaskRunning
	logs       map[uuid.UUID]map[model.LogStream][]byte
	done       map[uuid.UUID][]*protocol.TaskDone
	// Behaviour switches.
	reject          bool        // answer upgrades with 503
	noAck           bool        // never acknowledge agent messages
	dropOnRunning   bool        // drop the socket after the next task.running
	rejectAfterDrop bool        // and refuse connections after that
	welcomeSeqLag   uint64      // acknowledge this much less than applied
	nextDrop        []uuid.UUID // welcome.Drop of the next welcome
	hbInterval      time.Duration
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	fs := &fakeServer{
		t:          t,
		hellos:     make(chan *helloRecord, 1000),
		runnings:   make(chan *protocol.TaskRunning, 1000),
		dones:      make(chan *protocol.TaskDone, 1000),
		heartbeats: make(chan *protocol.Heartbeat, 10_000),
		drops:      make(chan struct{}, 100),
		logged:     make(chan struct{}, 1),
		runID:      uuid.NewString(),
		running:    map[uuid.UUID]*protocol.TaskRunning{},
		logs:       map[uuid.UUID]map[model.LogStream][]byte{},
		done:       map[uuid.UUID][]*protocol.TaskDone{},
		hbInterval: 100 * time.Millisecond,
	}
	fs.ctx, fs.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc(WSPath, fs.handle)
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		fs.srv.Close()
		fs.cancel()
		fs.mu.Lock()
		for _, c := range fs.conns {
			_ = c.CloseNow()
		}
		fs.mu.Unlock()
		fs.wg.Wait()
	})
	return fs
}

// url returns the server's address without a path, as an operator would
// write it.
func (fs *fakeServer) url() string { return "ws://" + strings.TrimPrefix(fs.srv.URL, "http://") }

func (fs *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	fs.wg.Add(1)
	defer fs.wg.Done()
	fs.mu.Lock()
	reject := fs.reject
	fs.mu.Unlock()
	if reject {
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	header := r.Header.Clone()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		fs.t.Errorf("accept: %v", err)
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(protocol.MaxFrameBytes)
	fs.mu.Lock()
	fs.conns = append(fs.conns, c)
	fs.mu.Unlock()

	_, b, err := c.Read(fs.ctx)
	if err != nil {
		return
	}
	env, err := protocol.DecodeFromAgent(b)
	if err != nil || env.Head.Kind != protocol.KindHello {
		fs.t.Errorf("first frame: %v, kind %q, want hello", err, env.Head.Kind)
		return
	}
	var h protocol.Hello
	if err := env.Decode(&h); err != nil {
		fs.t.Errorf("decode hello: %v", err)
		return
	}
	fs.hellos <- &helloRecord{header: header, hello: &h}

	fs.mu.Lock()
	if h.RunID != fs.agentRunID {
		fs.agentRunID, fs.applied = h.RunID, 0
	}
	w0 := &protocol.Welcome{
		ServerID:          "srv-1",
		RunID:             fs.runID,
		ServerTime:        time.Now(),
		HeartbeatInterval: model.Duration(fs.hbInterval),
		HeartbeatTTL:      model.Duration(10 * time.Second),
		AgentSeq:          fs.ackLocked(),
		Drop:              fs.nextDrop,
	}
	fs.nextDrop = nil
	fs.conn = c
	fs.mu.Unlock()
	if err := fs.write(c, protocol.KindWelcome, 0, w0); err != nil {
		return
	}
	for {
		_, b, err := c.Read(fs.ctx)
		if err != nil {
			return
		}
		env, err := protocol.DecodeFromAgent(b)
		if err != nil {
			fs.t.Errorf("decode frame from agent: %v", err)
			return
		}
		if !fs.apply(c, env) {
			return
		}
	}
}

// apply handles one agent frame; false means the fake dropped the socket.
func (fs *fakeServer) apply(c *websocket.Conn, env *protocol.Envelope) bool {
	kind := env.Head.Kind
	switch kind {
	case protocol.KindHeartbeat:
		var hb protocol.Heartbeat
		if err := env.Decode(&hb); err != nil {
			fs.t.Errorf("decode heartbeat: %v", err)
		}
		select {
		case fs.heartbeats <- &hb:
		default:
		}
		_ = fs.write(c, protocol.KindAck, 0, &protocol.Ack{EchoTS: env.Head.TS})
		return true
	case protocol.KindAck:
		return true
	}
	if !kind.Sequenced() {
		fs.t.Errorf("unexpected %q from agent", kind)
		return true
	}
	fs.mu.Lock()
	if env.Head.Seq <= fs.applied {
		fs.numDup++
		fs.mu.Unlock()
		return true
	}
	fs.applied = env.Head.Seq
	drop := false
	switch kind {
	case protocol.KindTaskRunning:
		var r protocol.TaskRunning
		if err := env.Decode(&r); err != nil {
			fs.t.Errorf("decode task.running: %v", err)
		}
		fs.running[r.InstanceID] = &r
		fs.runnings <- &r
		if fs.dropOnRunning {
			fs.dropOnRunning, drop = false, true
			fs.reject = fs.rejectAfterDrop
		}
	case protocol.KindTaskLog:
		var l protocol.TaskLog
		if err := env.Decode(&l); err != nil {
			fs.t.Errorf("decode task.log: %v", err)
		}
		streams := fs.logs[l.InstanceID]
		if streams == nil {
			streams = map[model.LogStream][]byte{}
			fs.logs[l.InstanceID] = streams
		}
		if have := int64(len(streams[l.Stream])); l.Offset != have {
			fs.t.Errorf("task.log %s %s at offset %d, want %d", l.InstanceID, l.Stream, l.Offset, have)
		}
		streams[l.Stream] = append(streams[l.Stream], l.Data...)
		select {
		case fs.logged <- struct{}{}:
		default:
		}
	case protocol.KindTaskDone:
		var d protocol.TaskDone
		if err := env.Decode(&d); err != nil {
			fs.t.Errorf("decode task.done: %v", err)
		}
		fs.done[d.InstanceID] = append(fs.done[d.InstanceID], &d)
		fs.dones <- &d
	}
	noAck := fs.noAck
	fs.mu.Unlock()
	if drop {
		_ = c.CloseNow()
		fs.drops <- struct{}{}
		return false
	}
	if !noAck {
		_ = fs.write(c, protocol.KindAck, 0, &protocol.Ack{})
	}
	return true
}

// write sends one frame on c, acknowledging what was applied.
func (fs *fakeServer) write(c *websocket.Conn, kind protocol.Kind, seq uint64, payload any) error {
	env, err := protocol.New(kind, payload)
	if err != nil {
		fs.t.Errorf("build %s: %v", kind, err)
		return err
	}
	fs.mu.Lock()
	if !fs.noAck {
		env.Head.Ack = fs.ackLocked()
	}
	fs.mu.Unlock()
	env.Head.Seq = seq
	b, err := env.Encode()
	if err != nil {
		fs.t.Errorf("encode %s: %v", kind, err)
		return err
	}
	ctx, cancel := context.WithTimeout(fs.ctx, waitTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b)
}

// ackLocked returns the agent sequence the fake admits to have applied.
func (fs *fakeServer) ackLocked() uint64 { return fs.applied - min(fs.applied, fs.welcomeSeqLag) }

// send pushes a sequenced message to the agent on the current connection,
// with the next server sequence.
func (fs *fakeServer) send(kind protocol.Kind, payload any) {
	fs.t.Helper()
	fs.mu.Lock()
	fs.seq++
	seq := fs.seq
	fs.mu.Unlock()
	fs.sendSeq(kind, seq, payload)
}

// sendSeq pushes a message with the given sequence.
func (fs *fakeServer) sendSeq(kind protocol.Kind, seq uint64, payload any) {
	fs.t.Helper()
	fs.mu.Lock()
	c := fs.conn
	fs.mu.Unlock()
	if c == nil {
		fs.t.Fatalf("send %s: no connection", kind)
	}
	if err := fs.write(c, kind, seq, payload); err != nil {
		fs.t.Fatalf("send %s: %v", kind, err)
	}
}

// dispatch sends one instance.
func (fs *fakeServer) dispatch(d *protocol.DispatchedInstance) {
	fs.t.Helper()
	fs.send(protocol.KindDispatch, &protocol.Dispatch{Instances: []*protocol.DispatchedInstance{d}})
}

// closeConn closes the current connection with a close handshake.
func (fs *fakeServer) closeConn(code websocket.StatusCode, reason string) {
	fs.mu.Lock()
	c := fs.conn
	fs.conn = nil
	fs.mu.Unlock()
	if c != nil {
		_ = c.Close(code, reason)
	}
}

// restart simulates a server restart: a new run id, sequences from zero,
// and the connection dropped.
func (fs *fakeServer) restart() {
	fs.mu.Lock()
	fs.runID, fs.seq = uuid.NewString(), 0
	c := fs.conn
	fs.conn = nil
	fs.mu.Unlock()
	if c != nil {
		_ = c.CloseNow()
	}
}

func (fs *fakeServer) set(f func(fs *fakeServer)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f(fs)
}

// output returns the stored output of an instance's stream.
func (fs *fakeServer) output(id uuid.UUID, stream model.LogStream) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return string(fs.logs[id][stream])
}

// doneFor returns the task.done reports applied for id.
func (fs *fakeServer) doneFor(id uuid.UUID) []*protocol.TaskDone {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.done[id]
}

// runningFor returns the task.running applied for id, or nil.
func (fs *fakeServer) runningFor(id uuid.UUID) *protocol.TaskRunning {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.running[id]
}

// waitOutput waits until the stored output of id's stream is want.
func (fs *fakeServer) waitOutput(t *testing.T, id uuid.UUID, stream model.LogStream, want string) {
	t.Helper()
	for fs.output(id, stream) != want {
		recv(t, fs.logged, fmt.Sprintf("%s output %q", stream, want))
	}
}

// waitDone waits for the task.done of id, skipping others.
func (fs *fakeServer) waitDone(t *testing.T, id uuid.UUID) *protocol.TaskDone {
	t.Helper()
	for {
		d := recv(t, fs.dones, "task.done")
		if d.InstanceID == id {
			return d
		}
	}
}

// waitRunning waits for the task.running of id, skipping others.
func (fs *fakeServer) waitRunning(t *testing.T, id uuid.UUID) *protocol.TaskRunning {
	t.Helper()
	for {
		r := recv(t, fs.runnings, "task.running")
		if r.InstanceID == id {
			return r
		}
	}
}
