// Package server is the Application container: it builds the scheduler's
// services, starts them in a written order, and stops them in reverse.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/bus"
	"github.com/hetuflow/hetuflow/internal/server/gateway"
	"github.com/hetuflow/hetuflow/internal/server/httpsec"
	"github.com/hetuflow/hetuflow/internal/server/leader"
	"github.com/hetuflow/hetuflow/internal/server/metrics"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Options are what an App needs from its caller.
type Options struct {
	Config *config.Config
	// Store is open and migrated; the caller closes it after Stop.
	Store   store.Store
	Logger  *slog.Logger
	Version string
	// Listener, if set, is used instead of listening on Config.Server.Listen
	// (tests pass 127.0.0.1:0).
	Listener net.Listener
	// PurgeInterval overrides how often history is purged (default a
	// minute); tests shorten it.
	PurgeInterval time.Duration
	// Metrics are the process's metrics (the caller builds them first to
	// hook the store's query timing); nil means new ones.
	Metrics *metrics.Metrics
	// Reload, if set, re-reads the configuration for SIGHUP and
	// POST /api/v1/admin/reload; nil means reloading is not offered.
	Reload ReloadFunc
	// LogLevel is the logger's level, which a reload changes; nil means
	// a reload cannot change it.
	LogLevel *slog.LevelVar
}

// Credentials are tokens created at this start, in plain text. They are
// empty when the tokens already existed: they are stored hashed and cannot be
// shown again.
type Credentials struct {
	AdminToken string
	AgentToken string
	// SetupToken is the one-time setup link's token, created at each start
	// while no user exists (see SetupLink).
	SetupToken string
}

// App is one running server.
type App struct {
	opts     Options
	log      *slog.Logger
	serverID string
	address  string

	tokens   *auth.Tokens
	accounts *auth.Service
	// refusalAudits bounds the audit entries of refused agent connections
	// per client address.
	refusalAudits *auth.Limiter
	logs          *tasklog.Store
	compressor    *tasklog.Compressor
	logRelay      *tasklog.Relay
	results       *sched.Results
	gateway       *gateway.Gateway
	dispatcher    *sched.Dispatcher
	generator     *sched.Generator
	housekeeper   *sched.Housekeeper
	elector       *leader.Elector
	bus           *bus.Bus
	heartbeat     *serverHeartbeat
	// peers says whether other servers share the database; until the
	// first count (when the heartbeat starts) it is assumed.
	peers atomic.Bool
	api   *api.API
	ops   *ops
	// secrets stores secrets and resolves them at dispatch.
	secrets *secrets.Service

	listener net.Listener
	http     *http.Server
	debug    *debugServer // nil unless Server.DebugListen is set
	serveErr chan error
	services []lifecycle.Service
	creds    Credentials
}

// New builds an App. It creates the data directory and the server id file,
// but starts nothing.
func New(opts Options) (*App, error) {
	if opts.Config == nil || opts.Store == nil || opts.Logger == nil {
		panic("server: New needs a config, a store and a logger")
	}
	cfg := opts.Config
	serverID := cfg.Server.ID
	if serverID == "" {
		id, err := config.LoadOrCreateID(cfg.Server.DataDir, "server-id")
		if err != nil {
			return nil, fmt.Errorf("server id: %w", err)
		}
		serverID = id
	}
	logs, err := newLogs(opts.Store, cfg.Server.LogStore, filepath.Join(cfg.Server.DataDir, "logs"))
	if err != nil {
		return nil, err
	}
	a := &App{opts: opts, log: opts.Logger.With("server_id", serverID), serverID: serverID, logs: logs, tokens: auth.NewTokens(opts.Store)}
	a.peers.Store(true)
	a.ops = newOps(a, opts)
	m, al := a.ops.metrics, a.ops.alerts
	a.accounts = newAccounts(cfg, opts.Store, a.tokens, a.log.With("svc", "auth"))
	a.refusalAudits = auth.PerMinute(6)
	a.compressor = tasklog.NewCompressor(logs, a.log.With("svc", "tasklog.compressor"))
	a.logRelay = tasklog.NewRelay(tasklog.RelayConfig{ServerID: serverID, Peers: a.peers.Load}, opts.Store, logs, a.log.With("svc", "tasklog.relay"))
	sc := cfg.Scheduler
	a.results = sched.NewResults(sched.ResultsConfig{ServerID: serverID, AckTimeout: sc.AckTimeout.D(), Metrics: m, Alerter: al}, opts.Store, logs, a.wakers(), a.log.With("svc", "sched.results"))
	agentAuth, err := a.newAgentAuth()
	if err != nil {
		return nil, err
	}
	if err := a.newSecrets(); err != nil {
		return nil, err
	}
	a.gateway = gateway.New(gateway.Config{ServerID: serverID, HeartbeatInterval: sc.HeartbeatInterval.D(), HeartbeatTTL: sc.HeartbeatTTL.D(), Metrics: m,
		MaxMessageBytes: cfg.Server.AgentMaxMessageBytes, Prepare: a.secrets.Prepare, OnAgentEvent: a.auditAgentEvent,
		OnSlotFreed: a.slotFreed},
		opts.Store, gatewayAuth{agentAuth}, a.results, a.WakeDispatcher, a.log.With("svc", "gateway"))
	a.bus = bus.New(opts.Store, serverID, a.log.With("svc", "bus"))
	a.dispatcher = sched.NewDispatcher(sched.DispatcherConfig{ServerID: serverID, Horizon: sc.DispatchHorizon.D(), Interval: sc.DispatchInterval.D(), Batch: sc.DispatchBatch, AckTimeout: sc.AckTimeout.D(),
		RunningSince: a.runningSince, Unplaced: a.announceWork, Metrics: m, Alerter: al},
		opts.Store, clusterPool{a.gateway, a}, a.WakeGenerator, a.log.With("svc", "sched.dispatcher"))
	// The generator and the housekeeper run on the leader only; the elector
	// starts and stops them, and their transactions check its lease.
	a.elector = leader.New(leader.Config{ServerID: serverID, TTL: sc.LeaderTTL.D(), Eligible: cfg.Server.LeaderEligible()},
		opts.Store, nil, a.leadChanged, a.log.With("svc", "leader"))
	a.generator = sched.NewGenerator(sched.GeneratorConfig{Window: sc.GenerateWindow.D(), Interval: sc.GenerateInterval.D(), Horizon: sc.DispatchHorizon.D(), Fence: a.elector.Fence, Metrics: m, Alerter: al},
		opts.Store, a.WakeDispatcher, a.log.With("svc", "sched.generator"))
	a.housekeeper = sched.NewHousekeeper(sched.HousekeeperConfig{Interval: sc.HousekeepingInterval.D(), HeartbeatTTL: sc.HeartbeatTTL.D(), HistoryTTL: sc.HistoryTTL.D(), PurgeInterval: opts.PurgeInterval, Fence: a.elector.Fence, Metrics: m, Alerter: al,
		AuditTTL: cfg.Security.AuditTTL.D(), SessionIdle: cfg.Security.SessionIdleTimeout.D()},
		opts.Store, clusterForgetter{a}, logs, a.wakers(), a.log.With("svc", "sched.housekeeper"))
	a.elector.SetServices(a.generator, a.housekeeper)
	a.handleBus()
	a.handleRevokeBus()
	a.heartbeat = &serverHeartbeat{store: opts.Store, id: serverID, interval: sc.HeartbeatInterval.D(), log: a.log.With("svc", "server.heartbeat"),
		ttl: sc.HeartbeatTTL.D(), peers: &a.peers,
		onLost: func(ctx context.Context, err error) {
			a.gateway.CloseAll("this server lost its database; reconnect to another")
		}}
	a.api = api.New(api.Deps{Store: opts.Store, Logs: logs, Auth: a.accounts, Accounts: a.accounts, Scheduler: a, ServerID: serverID, Version: opts.Version, Logger: a.log.With("svc", "api"),
		Alerts: al, Reloader: a.ops.reloader(), AgentAuth: agentAuthAPI{agentAuth, a}, Secrets: a.secrets})
	return a, nil
}

// ServerID returns the server's id.
func (a *App) ServerID() string { return a.serverID }

// Addr returns the address the server listens on, once started.
func (a *App) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// Credentials returns the tokens created at this start, if any.
func (a *App) Credentials() Credentials { return a.creds }

// API returns the HTTP API, for its OpenAPI document.
func (a *App) API() *api.API { return a.api }

// Start registers the server, creates tokens on first start, starts the
// services and serves HTTP. It returns setup errors (database unreachable,
// address in use); on error everything already started is stopped.
func (a *App) Start(ctx context.Context) error {
	cfg := a.opts.Config
	if err := a.opts.Store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	ln := a.opts.Listener
	var err error
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	if ln, err = a.tlsListener(ln); err != nil {
		return err
	}
	a.listener = ln
	a.address = advertised(cfg.Server.AdvertisedAddress, ln.Addr().String())
	if _, err := a.opts.Store.ServerUpsert(ctx, &store.ServerUpsertParams{ID: a.serverID, Address: a.address, Version: a.opts.Version}); err != nil {
		ln.Close()
		return fmt.Errorf("register server: %w", err)
	}
	admin, _, err := auth.Bootstrap(ctx, a.opts.Store, model.TokenAdmin, cfg.Server.BootstrapAdminToken)
	if err != nil {
		ln.Close()
		return err
	}
	agent, _, err := auth.Bootstrap(ctx, a.opts.Store, model.TokenAgent, cfg.Server.BootstrapAgentToken)
	if err != nil {
		ln.Close()
		return err
	}
	setup, err := a.accounts.EnsureSetup(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	a.creds = Credentials{AdminToken: admin, AgentToken: agent, SetupToken: setup}

	// Start order: the log compressor and the writer first so reports have
	// somewhere to go, then the gateway that produces them, then the loops
	// that create work.
	a.services = []lifecycle.Service{a.compressor, a.logRelay, a.results, a.gateway, a.bus, a.dispatcher, a.elector, a.heartbeat}
	a.services = append(a.services, a.ops.services()...)
	if err := lifecycle.StartAll(ctx, a.services...); err != nil {
		ln.Close()
		return err
	}
	if cfg.Server.DebugListen != "" {
		if a.debug, err = startDebug(cfg.Server.DebugListen); err != nil {
			ln.Close()
			lifecycle.StopAll(a.services...)
			return err
		}
	}
	a.http = &http.Server{Handler: httpsec.Headers(a.routes()), ReadHeaderTimeout: 10 * time.Second}
	// Live log follows never go idle; Shutdown ends them this way.
	a.http.RegisterOnShutdown(a.api.CloseStreams)
	a.serveErr = make(chan error, 1)
	go func() { a.serveErr <- a.http.Serve(ln) }()
	a.log.InfoContext(ctx, "server started", "address", ln.Addr().String(), "advertised", a.address, "database", a.opts.Store.Dialect())
	return nil
}

// Stop shuts down in order: stop creating work (generator, housekeeper,
// dispatcher), close agent sessions, let the results writer apply what it
// holds, then stop serving HTTP. It returns ctx.Err() if ctx ends first.
func (a *App) Stop(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Producers of work first, so nothing new is dispatched. The
		// elector stops the generator and the housekeeper and hands the
		// lead over at once.
		a.elector.Stop()
		a.dispatcher.Stop()
		// Agents reconnect elsewhere (or to this server when it is back);
		// what they already sent is still applied by the writer below.
		a.gateway.Stop()
		a.results.Stop()
		// After the writer, which finishes logs; a compression in progress
		// is abandoned and its log stays plain.
		a.compressor.Stop()
		// After the writer too, so the finishes it applied reach the
		// followers on other servers.
		a.logRelay.Stop()
		a.heartbeat.Stop()
		a.bus.Stop()
		a.ops.stop()
		// Say this server is gone, so cluster status need not wait for
		// its heartbeat to age.
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if _, err := a.opts.Store.ServerSetInactive(gctx, &store.ServerSetInactiveParams{ID: a.serverID}); err != nil {
			a.log.WarnContext(gctx, "mark server inactive", "error", err)
		}
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if derr := a.debug.stop(ctx); derr != nil && err == nil {
		err = derr
	}
	if a.http != nil {
		// Shutdown waits for the agent sockets' handlers, which end once
		// the gateway closed them above.
		if herr := a.http.Shutdown(ctx); herr != nil && err == nil {
			err = herr
		}
		if serr := <-a.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	return err
}

// wakers lets the services wake each other through the App, which knows
// them all once New has built them.
func (a *App) wakers() sched.Wakers {
	return sched.Wakers{Dispatcher: a.WakeDispatcher, Generator: a.WakeGenerator}
}

// advertised returns the configured address, or the listen address with
// this machine's host name when its host is unspecified.
func advertised(configured, listen string) string {
	if configured != "" {
		return configured
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	return net.JoinHostPort(host, port)
}
