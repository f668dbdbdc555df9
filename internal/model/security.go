package model

import (
	"encoding/json"
	"time"
)

// Role is what a principal may do in a namespace. Roles are ordered: each
// includes the ones before it.
type Role string

// Roles, weakest first.
const (
	RoleNone     Role = ""
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleEditor   Role = "editor"
	RoleAdmin    Role = "admin"
)

// AllNamespaces is the grant namespace that stands for every namespace.
const AllNamespaces = "*"

// Rank orders roles: 0 for none or unknown, 4 for admin.
func (r Role) Rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleEditor:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.Rank() > 0 }

// User is a person who signs in with a name and a password.
type User struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Grant gives a user a role in a namespace ("*" for all).
type Grant struct {
	UserID    string `json:"user_id"`
	Namespace string `json:"namespace"`
	Role      Role   `json:"role"`
}

// Session is a signed-in browser. Only the hash of its id is stored.
type Session struct {
	Hash       []byte    `json:"-"`
	UserID     string    `json:"user_id"`
	CSRF       string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// AccessTokenKind says what an access token is for.
type AccessTokenKind string

// Access token kinds.
const (
	// AccessAPI is a named, scoped bearer token for the API.
	AccessAPI AccessTokenKind = "api"
	// AccessSetup is the one-time link that creates the first admin.
	AccessSetup AccessTokenKind = "setup"
	// AccessLogin is a one-time link that signs a browser in as a user
	// (hetuflow dev).
	AccessLogin AccessTokenKind = "login"
)

// AccessToken is a stored, scoped token. Only its hash is kept.
type AccessToken struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Kind       AccessTokenKind `json:"kind"`
	Hash       []byte          `json:"-"`
	Namespaces []string        `json:"namespaces" doc:"Namespaces the token reaches; [\"*\"] for all."`
	Role       Role            `json:"role"`
	UserID     string          `json:"user_id,omitempty"`
	CreatedBy  string          `json:"created_by"`
	ExpiresAt  *time.Time      `json:"expires_at"`
	CreatedAt  time.Time       `json:"created_at"`
	LastUsedAt *time.Time      `json:"last_used_at"`
	RevokedAt  *time.Time      `json:"revoked_at"`
}

// AuditEntry is one recorded event: who did what to which object, from
// where, and what changed. Diff never holds secrets or passwords.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	ActorKind  string          `json:"actor_kind" doc:"user, token, bootstrap, agent or system"`
	Action     string          `json:"action" example:"job.create"`
	ObjectType string          `json:"object_type,omitempty"`
	ObjectID   string          `json:"object_id,omitempty"`
	Namespace  string          `json:"namespace,omitempty"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
	Diff       json.RawMessage `json:"diff,omitempty"`
}
