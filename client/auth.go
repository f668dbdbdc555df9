package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Grant is a role in a namespace ("*" for all).
type Grant struct {
	UserID    string `json:"user_id,omitempty"`
	Namespace string `json:"namespace"`
	Role      Role   `json:"role"`
}

// Me says who a credential is.
type Me struct {
	// Kind is user, token or bootstrap.
	Kind   string  `json:"kind"`
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Grants []Grant `json:"grants"`
	// CSRF is the session's CSRF token; empty for a bearer token.
	CSRF string `json:"csrf_token,omitempty"`
}

// Session is a signed-in session: its cookie and CSRF token. Pass it to
// [WithSession] to call the API as the user who signed in.
type Session struct {
	Me     *Me
	Cookie *http.Cookie
}

// WithSession makes the client call the API with a session from
// [Client.Login] instead of a bearer token: it sends the session cookie and
// the X-CSRF-Token header that changes made with a cookie need.
func WithSession(s *Session) Option {
	return func(c *Client) { c.session = s }
}

// Login signs a user in with a name and password and returns the session.
// A wrong name or password is an error for which [IsUnauthorized] is true;
// too many attempts is a 429. It is not retried.
func (c *Client) Login(ctx context.Context, name, password string) (*Session, error) {
	resp, err := c.send(ctx, post("/auth/login", map[string]string{"name": name, "password": password}))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	s := &Session{Me: &Me{}}
	if err := json.NewDecoder(resp.Body).Decode(s.Me); err != nil {
		return nil, fmt.Errorf("client: decode POST /auth/login: %w", err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Value != "" {
			s.Cookie = ck
		}
	}
	if s.Cookie == nil {
		return nil, errors.New("client: sign-in answered without a session cookie")
	}
	return s, nil
}

// Logout ends the client's session (see [WithSession]); with a bearer token
// it changes nothing. It is not retried.
func (c *Client) Logout(ctx context.Context) error {
	return c.call(ctx, post("/auth/logout", nil), nil)
}

// IsForbidden reports whether err is the server refusing a credential that
// lacks the role a call needs (403).
func IsForbidden(err error) bool { return statusIs(err, http.StatusForbidden) }

// Me returns who the client's credential is and its grants.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	var m Me
	return &m, c.call(ctx, get("/auth/me"), &m)
}

// AuditEntry is one audit log entry: who did what to which object, from
// where, and what changed (never secrets).
type AuditEntry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Actor names the user, token or agent; ActorKind is user, token,
	// bootstrap, agent or system.
	Actor      string `json:"actor"`
	ActorKind  string `json:"actor_kind"`
	Action     string `json:"action"`
	ObjectType string `json:"object_type,omitempty"`
	ObjectID   string `json:"object_id,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	// Diff is {"field": {"from": x, "to": y}} of a change, when recorded.
	Diff json.RawMessage `json:"diff,omitempty"`
}

// AuditQuery filters the audit log; zero fields do not filter.
type AuditQuery struct {
	From      *time.Time `json:"from,omitempty"`
	To        *time.Time `json:"to,omitempty"`
	Actor     string     `json:"actor,omitempty"`
	Action    string     `json:"action,omitempty"`
	Namespace string     `json:"namespace,omitempty"`
	// Limit is the page size (default 100, at most 1000).
	Limit  int `json:"limit,omitempty"`
	Offset int `json:"offset,omitempty"`
}

// AuditPage is a page of audit entries, newest first.
type AuditPage struct {
	Result  []*AuditEntry `json:"result"`
	HasMore bool          `json:"has_more"`
}

// QueryAudit returns a page of the audit log, newest first; q may be nil.
func (c *Client) QueryAudit(ctx context.Context, q *AuditQuery) (*AuditPage, error) {
	if q == nil {
		q = &AuditQuery{}
	}
	var p AuditPage
	return &p, c.call(ctx, postQuery("/audit/query", q), &p)
}

// ReadyCheck is one readiness check: database, migrations or leader.
type ReadyCheck struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Readiness is a ready server's answer.
type Readiness struct {
	Status string        `json:"status"`
	Checks []*ReadyCheck `json:"checks"`
}

// Ready asks whether the server is ready: its database answers, its
// migrations are applied and a leader holds the lease. A server that is
// not ready answers 503, an [*APIError] whose Errors name the failed
// checks. It needs no token and is not retried: it reports the moment.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	var r Readiness
	return &r, c.call(ctx, request{method: http.MethodGet, path: "/ready"}, &r)
}

// ReloadReport says what a configuration reload did.
type ReloadReport struct {
	// Changed lists every key whose value differs from the running one.
	Changed []string `json:"changed"`
	// Applied lists the changed keys now in effect.
	Applied []string `json:"applied"`
	// RestartRequired lists the keys that take effect after a restart.
	RestartRequired []string `json:"restart_required"`
}

// ReloadConfig makes the server re-read its configuration file and apply
// the keys that can change live. It is not retried.
func (c *Client) ReloadConfig(ctx context.Context) (*ReloadReport, error) {
	var r ReloadReport
	return &r, c.call(ctx, post("/admin/reload", nil), &r)
}
