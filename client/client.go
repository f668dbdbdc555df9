// Package client is the Go client of the hetuflow HTTP API v1: typed,
// context-aware methods for jobs, schedules, flows, tasks, task instances and
// their logs, agents and their enrolment, servers and the cluster, alert
// rules, secrets, sign-in, API tokens, the audit log, readiness and
// configuration reloads.
//
// A [Client] is safe for concurrent use. Errors the server answers with are
// [*APIError] values carrying the HTTP status and the problem document's
// stable code; [IsNotFound], [IsConflict] and [IsUnauthorized] test for the
// common ones. Idempotent calls (GET, PUT, DELETE and the POST queries) are
// retried with capped, jittered exponential backoff on 502, 503, 504 and on
// connection errors; calls that create or change state once (create, run,
// cancel, drain) are not, so a retry can never run a job twice.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultRetries is how many times an idempotent call is retried.
const DefaultRetries = 4

// Client calls one hetuflow server's API.
type Client struct {
	base    string
	token   string
	http    *http.Client
	retries int
	backoff time.Duration
	maxWait time.Duration
	// session, when set, is sent instead of the token (WithSession).
	session *Session
}

// Option configures a [Client].
type Option func(*Client)

// WithToken sets the bearer token sent with every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sets the HTTP client; nil keeps the default, which has no
// overall timeout so that log follows can last (use contexts instead).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithRetries sets how many times an idempotent call is retried after a
// 502, 503, 504 or a connection error, and the first pause (doubled each
// time, capped at 5s, jittered); n = 0 disables retries.
func WithRetries(n int, firstBackoff time.Duration) Option {
	return func(c *Client) {
		c.retries = max(n, 0)
		if firstBackoff > 0 {
			c.backoff = firstBackoff
		}
	}
}

// New returns a client of the server at server, which may be a bare
// host:port, an http(s):// URL or the ws(s):// URL agents are given; the
// /api/v1 prefix is added.
func New(server string, opts ...Option) (*Client, error) {
	base, err := BaseURL(server)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, http: &http.Client{}, retries: DefaultRetries, backoff: 100 * time.Millisecond, maxWait: 5 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL turns what a user may type (host:port, http://…, ws://…) into the
// API's base URL, ending in /api/v1.
func BaseURL(server string) (string, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("client: %q is not a server URL such as http://127.0.0.1:9500", server)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("client: %q: use http:// or https://", server)
	}
	p := strings.TrimSuffix(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/v1")
	return u.Scheme + "://" + u.Host + p + "/api/v1", nil
}

// Base returns the API's base URL, ending in /api/v1.
func (c *Client) Base() string { return c.base }

// APIError is an error status from the server, decoded from its RFC 9457
// problem document.
type APIError struct {
	// Status is the HTTP status.
	Status int `json:"status"`
	// Code is the stable, machine-readable error code; when the server sent
	// none it is derived from the status (not_found, conflict …).
	Code string `json:"code,omitempty"`
	// Title and Detail are the problem's human-readable summary and detail.
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Errors name the failing fields, e.g. location "body.config.timeout".
	Errors []FieldProblem `json:"errors,omitempty"`
	// Method and Path are the request that failed.
	Method string `json:"-"`
	Path   string `json:"-"`
}

// FieldProblem is one failing field of an [APIError].
type FieldProblem struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message,omitempty"`
	Value    any    `json:"value,omitempty"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	} else {
		b.WriteString(" " + http.StatusText(e.Status))
	}
	for _, f := range e.Errors {
		fmt.Fprintf(&b, "; %s: %s", f.Location, f.Message)
	}
	return b.String()
}

// CodeForStatus is the error code of a problem without one.
func CodeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnprocessableEntity:
		return "validation_failed"
	case http.StatusRequestedRangeNotSatisfiable:
		return "range_not_satisfiable"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

func statusIs(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// IsNotFound reports whether err is an [*APIError] with status 404.
func IsNotFound(err error) bool { return statusIs(err, http.StatusNotFound) }

// IsConflict reports whether err is an [*APIError] with status 409.
func IsConflict(err error) bool { return statusIs(err, http.StatusConflict) }

// IsUnauthorized reports whether err is an [*APIError] with status 401 or 403.
func IsUnauthorized(err error) bool {
	return statusIs(err, http.StatusUnauthorized) || statusIs(err, http.StatusForbidden)
}

// request is one API call.
type request struct {
	method string
	path   string // below /api/v1, with its query
	body   any
	// raw, when set, is sent as the body as it is, instead of body as JSON.
	raw    []byte
	header http.Header
	// idempotent calls are retried on 502/503/504 and connection errors.
	idempotent bool
}

// send performs r, retrying when allowed, and returns a response with a
// status below 300, whose body the caller closes; other statuses are
// *APIError.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	payload := r.raw
	if r.body != nil && r.raw == nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", r.method, r.path, err)
		}
	}
	tries := 1
	if r.idempotent {
		tries += c.retries
	}
	var lastErr error
	for attempt := range tries {
		if attempt > 0 {
			if err := c.pause(ctx, attempt); err != nil {
				return nil, lastErr
			}
		}
		resp, err := c.once(ctx, r, payload)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if ctx.Err() != nil || !retryable(err) {
			return nil, err
		}
	}
	return nil, lastErr
}

func (c *Client) once(ctx context.Context, r request, payload []byte) (*http.Response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("client: new request: %w", err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if c.session != nil && c.session.Cookie != nil {
		req.AddCookie(&http.Cookie{Name: c.session.Cookie.Name, Value: c.session.Cookie.Value})
		if c.session.Me != nil && c.session.Me.CSRF != "" {
			req.Header.Set("X-CSRF-Token", c.session.Me.CSRF)
		}
	}
	if c.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if payload != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, application/problem+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &connError{err: fmt.Errorf("client: %s %s: %w", r.method, r.path, err)}
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ae := &APIError{}
	_ = json.Unmarshal(raw, ae)
	ae.Status, ae.Method, ae.Path = resp.StatusCode, r.method, r.path
	if ae.Code == "" {
		ae.Code = CodeForStatus(resp.StatusCode)
	}
	return nil, ae
}

// connError marks a failure to get any answer, which is worth a retry.
type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	// No answer at all (refused, reset, a dial timeout) is worth another
	// try; the caller's own context ending was checked before.
	var ce *connError
	return errors.As(err, &ce)
}

// pause waits before retry number attempt: backoff·2^(attempt-1), capped,
// over its upper half at random so clients failing together spread out.
func (c *Client) pause(ctx context.Context, attempt int) error {
	d := c.backoff << (attempt - 1)
	if d > c.maxWait || d <= 0 {
		d = c.maxWait
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call sends r and decodes a JSON answer into out, if not nil.
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: decode %s %s: %w", r.method, r.path, err)
	}
	return nil
}

func get(path string) request { return request{method: http.MethodGet, path: path, idempotent: true} }
func put(path string, body any) request {
	return request{method: http.MethodPut, path: path, body: body, idempotent: true}
}
func del(path string) request {
	return request{method: http.MethodDelete, path: path, idempotent: true}
}

// post is a call that changes state; it is not retried.
func post(path string, body any) request {
	return request{method: http.MethodPost, path: path, body: body}
}

// postIdempotent is a POST whose repetition changes nothing more (a
// revocation), so it is retried.
func postIdempotent(path string, body any) request {
	return request{method: http.MethodPost, path: path, body: body, idempotent: true}
}

// postQuery is a POST that only reads, so it is retried.
func postQuery(path string, body any) request {
	return request{method: http.MethodPost, path: path, body: body, idempotent: true}
}

func esc(s string) string { return url.PathEscape(s) }
