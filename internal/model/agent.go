package model

import "time"

// Agent is a process that runs tasks. It dials a server and keeps a WebSocket
// open; this is the server's record of it.
type Agent struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Labels   map[string]string `json:"labels"`
	Capacity int               `json:"capacity"`
	Status   AgentStatus       `json:"status"`
	// ServerID is the server holding the agent's connection.
	ServerID string  `json:"server_id"`
	Version  string  `json:"version"`
	Load     float64 `json:"load"`
	Running  int     `json:"running"`
	// ClockOffsetMillis is the agent's last measured offset to the server's
	// clock (server − agent); the agent fires at server time.
	ClockOffsetMillis int64 `json:"clock_offset_ms"`
	// Limits says how the agent enforces each resource limit, and Warnings
	// what an operator should know, such as a limit it cannot enforce.
	Limits          LimitSupport `json:"limits"`
	Warnings        []string     `json:"warnings,omitempty"`
	LastHeartbeatAt time.Time    `json:"last_heartbeat_at"`
	ConnectedAt     time.Time    `json:"connected_at"`
	CreatedAt       time.Time    `json:"created_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
}

// Automatic agent labels. Every agent adds them to its configured labels in
// hello, so selectors can match the platform, the host or the version; a
// configured label may not use their keys (see [IsAutomaticLabel]).
const (
	LabelOS       = "os"               // runtime.GOOS, e.g. "linux"
	LabelArch     = "arch"             // runtime.GOARCH, e.g. "amd64"
	LabelHostname = "hostname"         // the host name the agent runs on
	LabelVersion  = "hetuflow_version" // the agent's hetuflow version
)

// IsAutomaticLabel reports whether key is one of the labels every agent sets
// itself, which configuration may not set.
func IsAutomaticLabel(key string) bool {
	switch key {
	case LabelOS, LabelArch, LabelHostname, LabelVersion:
		return true
	}
	return false
}

// LimitSupport says, per resource, how an agent enforces a job's limit:
// "cgroup", "rlimit", or "none".
type LimitSupport struct {
	Memory string `json:"memory"`
	CPU    string `json:"cpu"`
	Pids   string `json:"pids"`
}

// AgentInfo is what an agent reports about itself beyond its labels, kept
// with its record.
type AgentInfo struct {
	Limits   LimitSupport `json:"limits"`
	Warnings []string     `json:"warnings,omitempty"`
}

// Leader is the holder of a leader lease.
type Leader struct {
	// Name is the role the lease is for ("scheduler").
	Name   string `json:"name"`
	Holder string `json:"holder"`
	// Epoch rises each time the lease changes hands; a leader's writes
	// carry it.
	Epoch     int64     `json:"epoch"`
	ExpiresAt time.Time `json:"expires_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Server is one hetuflow server process registered in the store.
type Server struct {
	ID string `json:"id"`
	// Address is where other servers and users reach it (never 0.0.0.0).
	Address         string       `json:"address"`
	Status          ServerStatus `json:"status"`
	Version         string       `json:"version"`
	StartedAt       time.Time    `json:"started_at"`
	LastHeartbeatAt time.Time    `json:"last_heartbeat_at"`
	CreatedAt       time.Time    `json:"created_at"`
}

// APIToken is a stored credential. Only its hash is kept.
type APIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Kind      TokenKind  `json:"kind"`
	Hash      []byte     `json:"-"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used_at"`
}

// TokenKind says what a token may do.
type TokenKind string

// Token kinds. Admin tokens reach the whole API; agent tokens only open the
// agent socket.
const (
	TokenAdmin TokenKind = "admin"
	TokenAgent TokenKind = "agent"
)
