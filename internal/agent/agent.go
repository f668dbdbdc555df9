package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/testsignal"
)

// WSPath is the path of the agent socket on a server; a server URL given
// without a path gets it.
const WSPath = "/api/v1/agents/ws"

// Defaults for Config fields whose zero value means "the default".
const (
	DefaultReconnectMin  = 200 * time.Millisecond
	DefaultReconnectMax  = 10 * time.Second
	DefaultShutdownGrace = 30 * time.Second
)

// Config configures an [Agent]. Fields whose zero value means a default say
// so.
type Config struct {
	// ID names the agent; required. The server checks it against the token.
	ID string
	// Name is shown in the UI. Empty means the host name.
	Name string
	// Servers are ws:// or wss:// URLs, dialled in turn: each failed or ended
	// connection moves on to the next. A URL without a path gets [WSPath].
	// At least one is required.
	Servers []string
	// Token is sent as "Authorization: Bearer <token>" on the upgrade
	// request, with the header "Hetuflow-Agent-Id: <ID>".
	Token string
	// Labels are matched against jobs' label selectors by the server. The
	// agent adds the automatic labels os, arch, hostname and
	// hetuflow_version (model.LabelOS…); a key of theirs here is an error.
	Labels map[string]string
	// Capacity is the number of instances the agent holds or runs at once,
	// as reported to the server in free slots. Zero means four per CPU. The
	// agent trusts the server to respect it and never refuses a dispatch for
	// lack of room.
	Capacity int
	// DataDir holds the per-run work directories (DataDir/runs/<instance>)
	// and the outbox (DataDir/outbox), which survives a restart of the
	// agent; one agent process at a time may use it. Empty means
	// <os.TempDir()>/hetuflow-agent/<ID>. Jobs that run as
	// another user need it to be searchable (o+x) by that user.
	DataDir string
	// Version is the hetuflow version, sent in hello.
	Version string
	// ReconnectMin and ReconnectMax bound the reconnect backoff: the wait
	// before attempt n is uniform in [0, min(ReconnectMax, ReconnectMin·2ⁿ)]
	// (full jitter). Zero means 200ms and 10s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// ShutdownGrace is how long [Agent.Shutdown] (a drain: SIGTERM, or a
	// server's drain-and-exit) lets running instances finish before killing
	// them, reported Cancelled with reason agent_drain_timeout. Zero means
	// 30s.
	ShutdownGrace time.Duration
	// HTTPClient dials the socket. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Guard restricts what the agent runs; the zero Guard allows all.
	Guard Guard
	// MaxMessageBytes caps one message from a server; a larger one closes
	// the socket with status 1009. Zero means protocol.MaxFrameBytes.
	MaxMessageBytes int
}

// TestSignals lets tests wait for the agent's events. Each is a no-op until
// Init is called, which must happen before Start.
type TestSignals struct {
	// Connected carries the server id once a welcome has been applied.
	Connected testsignal.Signal[string]
	// Disconnected carries the reason a connection that had been welcomed
	// ended.
	Disconnected testsignal.Signal[error]
	// Dispatched carries the id of each instance put into the timer heap.
	Dispatched testsignal.Signal[uuid.UUID]
	// Started carries the id of each instance whose process started.
	Started testsignal.Signal[uuid.UUID]
	// Done carries every result the agent produced, including those of
	// instances that never started.
	Done testsignal.Signal[*protocol.TaskDone]
}

// Init enables every signal.
func (s *TestSignals) Init() {
	s.Connected.Init()
	s.Disconnected.Init()
	s.Dispatched.Init()
	s.Started.Init()
	s.Done.Init()
}

// Status is a snapshot of an agent's state, for tests and the UI.
type Status struct {
	Connected bool
	// ServerID is the server of the current connection, empty when not
	// connected.
	ServerID string
	// ClockOffset is the estimate of server − agent time.
	ClockOffset time.Duration
	// Held counts instances waiting in the timer heap; Running those whose
	// process is starting or running.
	Held    int
	Running int
	// OutboxLen counts messages not yet acknowledged by a server.
	OutboxLen int
	// Draining is set while the agent takes no new work: after the server's
	// drain (until the next connection), after a drain that asks the agent
	// to exit, or during Shutdown.
	Draining bool
	// Limits says how each job limit is enforced, and Warnings what an
	// operator should know about it; both are empty while stopped.
	Limits   protocol.LimitSupport
	Warnings []string
}

// Agent dials a server, receives dispatched task instances, fires each at
// its planned instant, runs the process, streams its output and reports the
// result. It is a [lifecycle.Service]; its methods are safe for concurrent
// use. The outbox, its sequence counter and RunID are kept on disk in
// DataDir/outbox, so a Stop followed by Start, or a new agent process on the
// same data dir, resends what was not acknowledged.
type Agent struct {
	lifecycle.Base

	// TestSignals is for tests; see [TestSignals].
	TestSignals TestSignals

	cfg   Config
	urls  []string
	log   *slog.Logger
	runID string // names the agent→server sequence counter; from the outbox at Start
	// labels are the configured labels and the automatic ones, for hello.
	labels map[string]string
	// marks remembers the runs in flight, for the next start (runmarks.go).
	marks *runMarks
	// exitReq is closed when a server asks the agent to drain and exit.
	exitReq  chan struct{}
	exitOnce sync.Once

	out    *outbox
	clock  *clock
	timers *timers
	// http makes the requests of http tasks.
	http      *httpClients
	userAgent string
	// users caches the users jobs run as; euid is the agent's.
	users userCache
	euid  int
	// noCgroup makes the agent contain runs without cgroups (tests).
	noCgroup bool
	// workDirs hands out the runs' work dirs; devNull is every run's stdin.
	workDirs workDirs
	devNull  *os.File

	// serverSeq is the highest server sequence applied from the server run
	// serverRunID: the watermark acked in every frame.
	serverSeq atomic.Uint64
	// hbNow asks the writer for a heartbeat at once; buffered(1).
	hbNow chan struct{}
	// starts holds reports back while fired runs are starting.
	starts *startGate
	// changed is broadcast when a run ends or the outbox shrinks.
	changed broadcaster
	// runs owns the run goroutines.
	runs sync.WaitGroup

	mu           sync.Mutex
	svcCtx       context.Context // the current run's lifetime; nil when stopped
	box          *sandbox        // how runs are contained; nil when stopped
	running      map[uuid.UUID]*run
	recent       recentSet // finished or refused instances, to ignore repeats
	draining     bool
	shuttingDown bool
	exitAsked    bool // a server's drain asked the agent to exit; outlives reconnects
	graceful     bool // close the socket with a close handshake at stop
	connected    bool
	serverID     string
	serverRunID  string
	hbInterval   time.Duration
	idleTimeout  time.Duration
	// ttl is the server's heartbeat TTL from the last welcome (zero before
	// the first); lastContact is when a frame last arrived.
	ttl         time.Duration
	lastContact time.Time
}

// outOfContact reports whether the agent has heard nothing from a server
// for half the heartbeat TTL. Past that, the server may soon give the agent's
// held work to others, so the agent starts none of it (held instances wait
// for the connection to return). The caller holds mu.
func (a *Agent) outOfContactLocked(now time.Time) bool {
	return a.ttl > 0 && !a.connected && now.Sub(a.lastContact) > a.ttl/2
}

// New validates cfg, fills its defaults and returns an agent ready to
// Start. An invalid field is reported as a *model.FieldError naming it.
func New(cfg Config, logger *slog.Logger) (*Agent, error) {
	if logger == nil {
		panic("agent: New needs a logger")
	}
	if cfg.ID == "" {
		return nil, model.Errorf("id", "is required")
	}
	if len(cfg.Servers) == 0 {
		return nil, model.Errorf("servers", "at least one server URL is required")
	}
	urls := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		u, err := normalizeURL(s)
		if err != nil {
			return nil, model.Errorf(fmt.Sprintf("servers[%d]", i), "%v", err)
		}
		urls[i] = u
	}
	if err := model.ValidateLabels("labels", cfg.Labels); err != nil {
		return nil, err
	}
	for k := range cfg.Labels {
		if model.IsAutomaticLabel(k) {
			return nil, model.Errorf("labels."+k, "is set by the agent itself; use another key")
		}
	}
	switch {
	case cfg.Capacity < 0:
		return nil, model.Errorf("capacity", "must not be negative")
	case cfg.ReconnectMin < 0:
		return nil, model.Errorf("reconnect_min", "must not be negative")
	case cfg.ReconnectMax < 0:
		return nil, model.Errorf("reconnect_max", "must not be negative")
	case cfg.ShutdownGrace < 0:
		return nil, model.Errorf("shutdown_grace", "must not be negative")
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 4 * runtime.NumCPU()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(os.TempDir(), "hetuflow-agent", cfg.ID)
	}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = DefaultReconnectMin
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = DefaultReconnectMax
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		return nil, model.Errorf("reconnect_max", "must not be below reconnect_min")
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.MaxMessageBytes <= 0 || cfg.MaxMessageBytes > protocol.MaxFrameBytes {
		cfg.MaxMessageBytes = protocol.MaxFrameBytes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	devNull, err := openDevNull()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	a := &Agent{
		cfg:     cfg,
		urls:    urls,
		log:     logger.With("agent_id", cfg.ID),
		labels:  helloLabels(cfg.Labels, cfg.Version),
		marks:   newRunMarks(filepath.Join(cfg.DataDir, "outbox")),
		exitReq: make(chan struct{}),
		runID:   uuid.NewString(),
		out:     newOutbox(outboxMaxMessages, outboxMaxBytes),
		clock:   &clock{},
		hbNow:   make(chan struct{}, 1),
		starts:  newStartGate(),
		running: map[uuid.UUID]*run{},
		http:    newHTTPClients(),
		euid:    os.Geteuid(),
		devNull: devNull,
	}
	a.userAgent = "hetuflow-agent/" + cfg.Version
	a.timers = newTimers(&a.mu, a.clock.Offset, a.fireLocked, a.outOfContactLocked)
	return a, nil
}

// helloLabels returns the configured labels with the automatic ones added;
// an automatic label with no value (no host name) is left out.
func helloLabels(configured map[string]string, version string) map[string]string {
	labels := make(map[string]string, len(configured)+4)
	maps.Copy(labels, configured)
	host, _ := os.Hostname()
	for k, v := range map[string]string{
		model.LabelOS:       runtime.GOOS,
		model.LabelArch:     runtime.GOARCH,
		model.LabelHostname: host,
		model.LabelVersion:  version,
	} {
		if v != "" {
			labels[k] = v[:min(len(v), maxLabelValue)]
		}
	}
	return labels
}

// maxLabelValue is the longest label value a server takes.
const maxLabelValue = 256

func normalizeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", errors.New("must start with ws:// or wss://")
	}
	if u.Host == "" {
		return "", errors.New("has no host")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = WSPath
	}
	return u.String(), nil
}

// Start creates the data directory, sets up how runs are contained (a
// cgroup per run when the agent has a delegated cgroup v2, see doc.go),
// loads the outbox (reporting the runs a previous process lost by dying),
// then connects in the background and keeps reconnecting until the agent
// is stopped or ctx is cancelled. It returns an error only if the data
// directory or the outbox in it cannot be used, or if another agent process
// holds the outbox.
func (a *Agent) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := a.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	// runs is searchable by all, so a job's user can enter its own work dir.
	runsDir := filepath.Join(a.cfg.DataDir, "runs")
	if err := os.MkdirAll(runsDir, 0o750); err != nil {
		started()
		stopped()
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Chmod(runsDir, 0o711); err != nil {
		started()
		stopped()
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := a.workDirs.reset(runsDir); err != nil {
		started()
		stopped()
		return fmt.Errorf("create work dir pool: %w", err)
	}
	if err := a.openOutbox(ctx); err != nil {
		// Stop came while the outbox lock was awaited (the previous run
		// may still have held it): the start was called off, it did not
		// fail. Asked before stopped, which ends ctx.
		calledOff := ctx.Err() != nil
		started()
		stopped()
		if calledOff {
			return nil
		}
		return err
	}
	box := acquireSandbox(a.noCgroup)
	for _, w := range box.warnings {
		if _, logged := loggedWarnings.LoadOrStore(w, true); !logged {
			a.log.WarnContext(ctx, "limited run containment", "warning", w)
		}
	}
	// A full agent's first runs find their work dirs and cgroups made.
	if err := a.workDirs.warm(a.cfg.Capacity); err != nil {
		a.log.WarnContext(ctx, "prepare work dirs", "error", err)
	}
	if box.cg != nil {
		if err := box.cg.warm(a.cfg.Capacity); err != nil {
			a.log.WarnContext(ctx, "prepare run cgroups", "error", err)
		}
	}
	a.mu.Lock()
	a.svcCtx = ctx
	a.box = box
	a.draining, a.shuttingDown, a.graceful = false, false, false
	a.mu.Unlock()

	// started runs before any goroutine that could call stopped: Base may
	// hand this run's Started channel to the next run once stopped ran, and
	// a late started would then close it twice.
	started()
	var loops sync.WaitGroup
	loops.Add(2)
	go func() {
		defer loops.Done()
		a.timers.run(ctx)
	}()
	go func() {
		defer loops.Done()
		a.connectLoop(ctx)
	}()
	go func() {
		defer stopped() // deferred first, so it runs last
		loops.Wait()
		// The timer loop has returned, so no run starts after this point.
		a.runs.Wait()
		a.mu.Lock()
		// Held instances are given up silently: the server sees them missing
		// from the next hello, or the agent missing altogether.
		a.timers.removeAll()
		a.svcCtx = nil
		a.box = nil
		a.mu.Unlock()
		box.release()
		a.http.transport.CloseIdleConnections()
		// Nothing adds to the outbox any more: every run has finished and
		// the connection is gone.
		if err := a.out.close(); err != nil {
			a.log.ErrorContext(ctx, "close outbox", "error", err)
		}
		if err := a.marks.close(); err != nil {
			a.log.ErrorContext(ctx, "close run marks", "error", err)
		}
		a.log.DebugContext(ctx, "agent stopped")
	}()
	return nil
}

// openOutbox loads the outbox from DataDir/outbox, takes its RunID and
// reports the runs a previous process lost by dying. It fails when the
// directory cannot be used, or is in use by another agent process.
func (a *Agent) openOutbox(ctx context.Context) error {
	load, err := a.out.open(ctx, filepath.Join(a.cfg.DataDir, "outbox"))
	if err != nil {
		return fmt.Errorf("open outbox: %w", err)
	}
	if load != nil {
		// No goroutine of the agent runs yet: hello reads it later.
		a.runID = load.runID
		if load.numTorn > 0 || load.numDiscarded > 0 {
			a.log.WarnContext(ctx, "outbox on disk was damaged", "num_torn_records", load.numTorn, "num_discarded_segments", load.numDiscarded)
		}
		if len(load.msgs) > 0 {
			a.log.InfoContext(ctx, "outbox loaded", "num_unacked", len(load.msgs))
		}
	}
	if err := a.reportLostRuns(ctx); err != nil {
		a.log.WarnContext(ctx, "report runs lost by a restart", "error", err)
	}
	return nil
}

// Stop stops the agent hard: it kills every running process group with
// SIGKILL (their results, Cancelled "agent stopped", stay in the outbox),
// forgets held instances, closes the socket, and returns once every goroutine
// has returned. It is idempotent and safe before Start. Use [Agent.Shutdown]
// to let work finish first.
func (a *Agent) Stop() { a.Base.Stop() }

// openDevNull opens /dev/null once per process: every run's stdin.
var openDevNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// loggedWarnings holds the containment warnings already logged by an agent
// of the process: each is logged once, not at every start.
var loggedWarnings sync.Map

// Status returns a snapshot of the agent's state.
func (a *Agent) Status() Status {
	a.mu.Lock()
	s := Status{
		Connected: a.connected,
		ServerID:  a.serverID,
		Held:      a.timers.len(),
		Running:   len(a.running),
		Draining:  a.draining,
	}
	if a.box != nil {
		s.Limits, s.Warnings = a.box.limits, slices.Clone(a.box.warnings)
	}
	a.mu.Unlock()
	s.ClockOffset = a.clock.Offset()
	s.OutboxLen = a.out.len()
	return s
}

// requestHeartbeat asks the writer for a heartbeat now; it never blocks.
func (a *Agent) requestHeartbeat() {
	select {
	case a.hbNow <- struct{}{}:
	default:
	}
}

// recentSize bounds how many finished instance ids are remembered.
const recentSize = 4096

// recentSet remembers the last recentSize instances that finished or were
// refused, so a repeated dispatch of one of them is ignored.
type recentSet struct {
	ids  []uuid.UUID
	next int
	set  map[uuid.UUID]struct{}
}

func (s *recentSet) add(id uuid.UUID) {
	if s.set == nil {
		s.set = make(map[uuid.UUID]struct{}, recentSize)
	}
	if _, ok := s.set[id]; ok {
		return
	}
	if len(s.ids) < recentSize {
		s.ids = append(s.ids, id)
	} else {
		delete(s.set, s.ids[s.next])
		s.ids[s.next] = id
		s.next = (s.next + 1) % recentSize
	}
	s.set[id] = struct{}{}
}

func (s *recentSet) has(id uuid.UUID) bool {
	_, ok := s.set[id]
	return ok
}
