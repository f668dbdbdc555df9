// Package config loads hetuflow's configuration: defaults in code, then a
// TOML file, then HETUFLOW_<SECTION>_<KEY> environment variables; command-line
// flags are applied last by the caller. An unknown key or a bad value is an
// error that names it.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/pelletier/go-toml/v2"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Config is the whole file. Each section is one struct; a field's comment
// gives its default and what its zero value means.
type Config struct {
	Server    Server    `toml:"server" envPrefix:"SERVER_"`
	Database  Database  `toml:"database" envPrefix:"DATABASE_"`
	Scheduler Scheduler `toml:"scheduler" envPrefix:"SCHEDULER_"`
	Agent     Agent     `toml:"agent" envPrefix:"AGENT_"`
	Log       Log       `toml:"log" envPrefix:"LOG_"`
	Alert     Alert     `toml:"alert" envPrefix:"ALERT_"`
	Security  Security  `toml:"security" envPrefix:"SECURITY_"`
}

// Server configures the server process.
type Server struct {
	// ID names this server; empty means one generated at first start and
	// kept in DataDir/server-id.
	ID string `toml:"id" env:"ID"`
	// Listen is the address for the API, UI and agent socket. Default
	// "0.0.0.0:9500" (hetuflow dev: "127.0.0.1:9500").
	Listen string `toml:"listen" env:"LISTEN"`
	// AdvertisedAddress is how agents, users and other servers reach this
	// one (host:port). Empty means Listen, with the host name of the machine
	// when Listen's host is unspecified; never 0.0.0.0.
	AdvertisedAddress string `toml:"advertised_address" env:"ADVERTISED_ADDRESS"`
	// DataDir holds the SQLite database, task log files (see LogStore) and
	// the server id. Default "./data".
	DataDir string `toml:"data_dir" env:"DATA_DIR"`
	// LogStore is where task output is kept: "database" (the default), in
	// the store's tables, or "files", one file per run and stream under
	// DataDir/logs, gzipped when finished. Files keep large outputs out of
	// a SQLite database; they cost a file creation per run, and servers
	// sharing PostgreSQL must keep output in the database.
	LogStore string `toml:"log_store" env:"LOG_STORE"`
	// BootstrapAdminToken, when set and no admin token exists yet, becomes
	// the admin API token instead of a generated one. For automation.
	BootstrapAdminToken string `toml:"bootstrap_admin_token" env:"BOOTSTRAP_ADMIN_TOKEN"`
	// BootstrapAgentToken, when set and no agent token exists yet, becomes
	// the agent token instead of a generated one.
	BootstrapAgentToken string `toml:"bootstrap_agent_token" env:"BOOTSTRAP_AGENT_TOKEN"`
	// ShutdownTimeout bounds a graceful stop. Default "15s".
	ShutdownTimeout model.Duration `toml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
	// AllowLeaderElection lets this server lead (plan and housekeep) when
	// several share PostgreSQL. Default true; false makes a server that
	// only serves the API and its agents.
	AllowLeaderElection *bool `toml:"allow_leader_election" env:"ALLOW_LEADER_ELECTION"`
	// DebugListen, when set, serves Go's profiling endpoints
	// (/debug/pprof/) on this address, apart from the API. Empty (the
	// default) serves none. Bind it to a loopback address: profiles reveal
	// internals and cost CPU.
	DebugListen string `toml:"debug_listen" env:"DEBUG_LISTEN"`
	// MetricsAuth makes GET /metrics ask for the admin token. Default
	// false: metrics are public, like health; restrict them at the network.
	MetricsAuth bool `toml:"metrics_auth" env:"METRICS_AUTH"`
	// AgentMaxMessageBytes caps one WebSocket message from an agent; a
	// larger one closes the socket with status 1009 (message too big).
	// Default 4 MiB, which is also the most allowed.
	AgentMaxMessageBytes int `toml:"agent_max_message_bytes" env:"AGENT_MAX_MESSAGE_BYTES"`
	// AllowSharedAgentToken accepts the shared agent token on the agent
	// socket, the agent naming itself in a header. Discouraged: anyone with
	// the token can pose as any agent; enrol agents instead. Default false
	// (hetuflow dev: true).
	AllowSharedAgentToken bool `toml:"allow_shared_agent_token" env:"ALLOW_SHARED_AGENT_TOKEN"`
	// SecretsKey is the base64 AES-256 key secrets are encrypted with.
	// Empty (and no SecretsKeyFile) means the server refuses to store
	// secrets.
	SecretsKey string `toml:"secrets_key" env:"SECRETS_KEY"`
	// SecretsKeyFile holds base64 keys, one a line: the current one first,
	// then older ones still read (rotation). hetuflow dev writes one into
	// DataDir/secrets.key.
	SecretsKeyFile string `toml:"secrets_key_file" env:"SECRETS_KEY_FILE"`
	// TLS serves HTTPS and WSS when set.
	TLS ServerTLS `toml:"tls" envPrefix:"TLS_"`
	// AgentJWE accepts the Rust original's JWE agent tokens when set.
	AgentJWE ServerAgentJWE `toml:"agent_jwe" envPrefix:"AGENT_JWE_"`
}

// Where task output is kept; see Server.LogStore.
const (
	LogStoreDatabase = "database"
	LogStoreFiles    = "files"
)

// LeaderEligible reports whether the server may lead.
func (s Server) LeaderEligible() bool { return s.AllowLeaderElection == nil || *s.AllowLeaderElection }

// Database configures the store.
type Database struct {
	// URL is "postgres://…" for PostgreSQL, or "sqlite:PATH" for SQLite.
	// Empty means SQLite at DataDir/hetuflow.db.
	URL string `toml:"url" env:"URL"`
	// MaxConns caps PostgreSQL connections. Default 16.
	MaxConns int `toml:"max_conns" env:"MAX_CONNS"`
	// Migrate applies pending migrations at start. Default true.
	Migrate *bool `toml:"migrate" env:"MIGRATE"`
}

// Postgres reports whether the URL names PostgreSQL.
func (d Database) Postgres() bool {
	return strings.HasPrefix(d.URL, "postgres://") || strings.HasPrefix(d.URL, "postgresql://")
}

// Scheduler tunes the pipeline. The defaults suit most installations.
type Scheduler struct {
	// GenerateWindow is how far ahead tasks are planned. Default "2m".
	GenerateWindow model.Duration `toml:"generate_window" env:"GENERATE_WINDOW"`
	// GenerateInterval is the pause between generator passes. Default "1s".
	GenerateInterval model.Duration `toml:"generate_interval" env:"GENERATE_INTERVAL"`
	// DispatchHorizon is how far ahead of its start a task is handed to an
	// agent, which then fires it on its own clock. Default "5s".
	DispatchHorizon model.Duration `toml:"dispatch_horizon" env:"DISPATCH_HORIZON"`
	// DispatchInterval is the longest pause between dispatch passes; new
	// work wakes the dispatcher sooner. Default "250ms".
	DispatchInterval model.Duration `toml:"dispatch_interval" env:"DISPATCH_INTERVAL"`
	// DispatchBatch caps the tasks claimed in one pass. Default 1000.
	DispatchBatch int `toml:"dispatch_batch" env:"DISPATCH_BATCH"`
	// AckTimeout is how long an agent has to acknowledge a dispatch, and to
	// start a held task after its fire time, before the task is dispatched
	// again. Default "10s".
	AckTimeout model.Duration `toml:"ack_timeout" env:"ACK_TIMEOUT"`
	// HeartbeatInterval is how often agents send heartbeats. Default "5s".
	HeartbeatInterval model.Duration `toml:"heartbeat_interval" env:"HEARTBEAT_INTERVAL"`
	// HeartbeatTTL is how long without a heartbeat before an agent is
	// Offline and its work is given to others. Default "20s".
	HeartbeatTTL model.Duration `toml:"heartbeat_ttl" env:"HEARTBEAT_TTL"`
	// HousekeepingInterval is the pause between sweeps for expired leases
	// and silent agents. Default "1s".
	HousekeepingInterval model.Duration `toml:"housekeeping_interval" env:"HOUSEKEEPING_INTERVAL"`
	// HistoryTTL is how long finished tasks, their instances and their
	// output are kept. Default "720h" (30 days).
	HistoryTTL model.Duration `toml:"history_ttl" env:"HISTORY_TTL"`
	// LeaderTTL is the leader's lease: after a leader dies, another server
	// takes over within it (plus a third of it). Default "6s".
	LeaderTTL model.Duration `toml:"leader_ttl" env:"LEADER_TTL"`
}

// Agent configures the agent process (hetuflow agent, and the in-process
// agent of hetuflow dev).
type Agent struct {
	// ID names this agent; empty means one generated at first start and kept
	// in DataDir/agent-id.
	ID string `toml:"id" env:"ID"`
	// Name is shown in the UI. Default: the host name.
	Name string `toml:"name" env:"NAME"`
	// Servers are the server URLs to dial, tried in turn
	// (ws://host:9500). Default ["ws://127.0.0.1:9500"].
	Servers []string `toml:"servers" env:"SERVERS"`
	// Token is the agent token printed by the server at first start.
	Token string `toml:"token" env:"TOKEN"`
	// Labels are matched against jobs' label selectors. The agent adds os,
	// arch, hostname and hetuflow_version itself; setting one of those keys
	// here is an error.
	Labels map[string]string `toml:"labels" env:"LABELS"`
	// Capacity is the number of tasks the agent holds or runs at once.
	// Zero means four per CPU.
	Capacity int `toml:"capacity" env:"CAPACITY"`
	// DataDir holds work directories and the agent id. Default
	// "./data/agent".
	DataDir string `toml:"data_dir" env:"DATA_DIR"`
	// ShutdownGrace is how long running tasks may finish when the agent
	// drains (SIGTERM, or POST /api/v1/agents/{id}/drain) before they are
	// killed and reported cancelled (reason agent_drain_timeout). Default
	// "30s".
	ShutdownGrace model.Duration `toml:"shutdown_grace" env:"SHUTDOWN_GRACE"`
	// MetricsListen, when set, serves the agent's Prometheus metrics at
	// http://MetricsListen/metrics. Empty means no metrics listener.
	MetricsListen string `toml:"metrics_listen" env:"METRICS_LISTEN"`
	// CAFile is a PEM file of certificate authorities that sign the
	// servers' certificates, for wss:// servers whose certificate the
	// system roots do not cover. Empty means the system roots.
	CAFile string `toml:"ca_file" env:"CA_FILE"`
	// MaxMessageBytes caps one WebSocket message from a server. Default
	// 4 MiB, which is also the most allowed.
	MaxMessageBytes int `toml:"max_message_bytes" env:"MAX_MESSAGE_BYTES"`
	// EnrollToken is an enrolment token to exchange, once, for the agent's
	// own credential, kept in DataDir/agent-credential.json; the agent id
	// then comes from the server. Ignored once the agent has a credential.
	EnrollToken string `toml:"enroll_token" env:"ENROLL_TOKEN"`
	// Guard restricts what the agent runs, whatever the server asks.
	Guard AgentGuard `toml:"guard" envPrefix:"GUARD_"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default "info".
	Level string `toml:"level" env:"LEVEL"`
	// Format is text, json, or auto (text on a terminal, JSON otherwise).
	// Default "auto".
	Format string `toml:"format" env:"FORMAT"`
}

// Default returns the configuration with every default filled in.
func Default() *Config {
	migrate, lead := true, true
	c := &Config{
		Server: Server{
			Listen:              "0.0.0.0:9500",
			DataDir:             "./data",
			LogStore:            LogStoreDatabase,
			ShutdownTimeout:     model.Duration(15 * time.Second),
			AllowLeaderElection: &lead,
		},
		Database: Database{MaxConns: 16, Migrate: &migrate},
		Scheduler: Scheduler{
			GenerateWindow:       model.Duration(2 * time.Minute),
			GenerateInterval:     model.Duration(time.Second),
			DispatchHorizon:      model.Duration(5 * time.Second),
			DispatchInterval:     model.Duration(250 * time.Millisecond),
			DispatchBatch:        1000,
			AckTimeout:           model.Duration(10 * time.Second),
			HeartbeatInterval:    model.Duration(5 * time.Second),
			HeartbeatTTL:         model.Duration(20 * time.Second),
			HousekeepingInterval: model.Duration(time.Second),
			HistoryTTL:           model.Duration(720 * time.Hour),
			LeaderTTL:            model.Duration(6 * time.Second),
		},
		Agent: Agent{
			Servers:       []string{"ws://127.0.0.1:9500"},
			DataDir:       "./data/agent",
			ShutdownGrace: model.Duration(30 * time.Second),
		},
		Log:      Log{Level: "info", Format: "auto"},
		Alert:    DefaultAlert(),
		Security: defaultSecurity(),
	}
	agentSecurityDefaults(c)
	return c
}

// DefaultPath is the file read when no path is given, if it exists.
const DefaultPath = "resources/app.toml"

// PathFromEnv returns the config path named by HETUFLOW_CONFIG, or by the
// seed's ULTIMATE_CONFIG_PATH, or "".
func PathFromEnv(getenv func(string) string) string {
	if p := getenv("HETUFLOW_CONFIG"); p != "" {
		return p
	}
	return getenv("ULTIMATE_CONFIG_PATH")
}

// Load returns the defaults overlaid with the file at path and then the
// environment. An empty path reads DefaultPath if it exists; a named path
// must exist. Errors name the key: a *model.FieldError for bad or unknown
// keys and values.
func Load(path string, environ []string) (*Config, error) {
	cfg := Default()
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := decodeTOML(data, cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := applyEnv(cfg, environ); err != nil {
		return nil, err
	}
	return cfg, nil
}

func decodeTOML(data []byte, cfg *Config) error {
	dec := toml.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) && len(missing.Errors) > 0 {
		e := missing.Errors[0]
		row, _ := e.Position()
		return &model.FieldError{Field: strings.Join(e.Key(), "."), Reason: fmt.Sprintf("unknown key (line %d)", row)}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		key := strings.Join(de.Key(), ".")
		if key == "" {
			key = fmt.Sprintf("line %d", row)
		}
		return &model.FieldError{Field: key, Reason: fmt.Sprintf("%s (line %d)", de.Error(), row)}
	}
	return err
}

func applyEnv(cfg *Config, environ []string) error {
	vars := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "HETUFLOW_") {
			vars[k] = v
		}
	}
	err := env.ParseWithOptions(cfg, env.Options{Environment: vars, Prefix: "HETUFLOW_"})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		var pe env.ParseError
		if errors.As(agg.Errors[0], &pe) {
			return &model.FieldError{Field: envKeyOf(pe.Name, vars), Reason: pe.Err.Error()}
		}
		return fmt.Errorf("environment: %w", agg.Errors[0])
	}
	return fmt.Errorf("environment: %w", err)
}

// envKeyOf finds the variable behind a parse error, which names only the Go
// field: of the variables for fields with that name, the one that is set.
func envKeyOf(field string, vars map[string]string) string {
	var keys []string
	collectEnvKeys(reflect.TypeOf(Config{}), "HETUFLOW_", field, &keys)
	for _, k := range keys {
		if _, ok := vars[k]; ok {
			return k
		}
	}
	return field
}

func collectEnvKeys(t reflect.Type, prefix, field string, keys *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if p := f.Tag.Get("envPrefix"); p != "" {
			collectEnvKeys(f.Type, prefix+p, field, keys)
			continue
		}
		if f.Name == field {
			*keys = append(*keys, prefix+f.Tag.Get("env"))
		}
	}
}

// Validate checks the values and returns a *model.FieldError naming the TOML
// key of the first bad one.
func (c *Config) Validate() error {
	if c.Server.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
			return model.Errorf("server.listen", "must be host:port: %v", err)
		}
	}
	if a := c.Server.AdvertisedAddress; a != "" {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return model.Errorf("server.advertised_address", "must be host:port: %v", err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return model.Errorf("server.advertised_address", "must name a reachable host, not %q", host)
		}
	}
	if c.Server.ShutdownTimeout <= 0 {
		return model.Errorf("server.shutdown_timeout", "must be positive")
	}
	if u := c.Database.URL; u != "" && !c.Database.Postgres() && !strings.HasPrefix(u, "sqlite:") {
		return model.Errorf("database.url", "must start with postgres://, postgresql:// or sqlite:")
	}
	switch c.Server.LogStore {
	case "", LogStoreDatabase:
	case LogStoreFiles:
		if c.Database.Postgres() {
			return model.Errorf("server.log_store", "must be %q with PostgreSQL: servers share output through the database", LogStoreDatabase)
		}
	default:
		return model.Errorf("server.log_store", "must be %q or %q", LogStoreDatabase, LogStoreFiles)
	}
	if err := c.validateAgentSecurity(); err != nil {
		return err
	}
	if c.Database.MaxConns < 1 {
		return model.Errorf("database.max_conns", "must be at least 1")
	}
	s := c.Scheduler
	for _, d := range []struct {
		key string
		v   model.Duration
	}{
		{"scheduler.generate_window", s.GenerateWindow},
		{"scheduler.generate_interval", s.GenerateInterval},
		{"scheduler.dispatch_horizon", s.DispatchHorizon},
		{"scheduler.dispatch_interval", s.DispatchInterval},
		{"scheduler.ack_timeout", s.AckTimeout},
		{"scheduler.heartbeat_interval", s.HeartbeatInterval},
		{"scheduler.heartbeat_ttl", s.HeartbeatTTL},
		{"scheduler.housekeeping_interval", s.HousekeepingInterval},
		{"scheduler.history_ttl", s.HistoryTTL},
		{"scheduler.leader_ttl", s.LeaderTTL},
	} {
		if d.v <= 0 {
			return model.Errorf(d.key, "must be positive")
		}
	}
	if s.GenerateWindow < s.DispatchHorizon {
		return model.Errorf("scheduler.generate_window", "must be at least scheduler.dispatch_horizon (%s)", s.DispatchHorizon)
	}
	if s.HeartbeatTTL < 2*s.HeartbeatInterval {
		return model.Errorf("scheduler.heartbeat_ttl", "must be at least twice scheduler.heartbeat_interval (%s)", s.HeartbeatInterval)
	}
	if s.DispatchBatch < 1 || s.DispatchBatch > 10_000 {
		return model.Errorf("scheduler.dispatch_batch", "must be between 1 and 10000")
	}
	if c.Agent.Capacity < 0 {
		return model.Errorf("agent.capacity", "must not be negative")
	}
	for i, s := range c.Agent.Servers {
		if !strings.HasPrefix(s, "ws://") && !strings.HasPrefix(s, "wss://") {
			return model.Errorf(fmt.Sprintf("agent.servers[%d]", i), "must start with ws:// or wss://")
		}
	}
	if err := model.ValidateLabels("agent.labels", c.Agent.Labels); err != nil {
		return err
	}
	for k := range c.Agent.Labels {
		if model.IsAutomaticLabel(k) {
			return model.Errorf("agent.labels."+k, "is set by the agent itself; use another key")
		}
	}
	if c.Agent.ShutdownGrace < 0 {
		return model.Errorf("agent.shutdown_grace", "must not be negative")
	}
	if a := c.Agent.MetricsListen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return model.Errorf("agent.metrics_listen", "must be host:port: %v", err)
		}
	}
	if err := c.Alert.Validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return model.Errorf("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		return model.Errorf("log.format", "must be auto, text or json")
	}
	return nil
}
