package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Every successful request to a route that changes something (edit,
// operate and admin routes other than GETs and queries) is written to the
// audit log; handlers add the namespace, the object and what changed with
// noteAudit. A handler that writes through a.inTx gets the entry in its own
// transaction; otherwise the Handler writes it after the handler returns.

// auditNote is what a handler adds to its request's audit entry.
type auditNote struct {
	pathID              func() string // the route's {id}: the object when the handler names none
	namespace, objectID string
	diff                json.RawMessage
	skip                bool // the handler audits the request itself
	written             bool // the entry went in with the handler's transaction
}

type auditNoteKey struct{}

// withAuditNote starts the audit note of a request about the object pathID
// returns (read when the entry is written, as an HTTP request's path values
// are set while it is routed).
func withAuditNote(ctx context.Context, pathID func() string) context.Context {
	return context.WithValue(ctx, auditNoteKey{}, &auditNote{pathID: pathID})
}

// noteAudit records, for the request's audit entry, the object's namespace
// and id and the change from before to after (either may be nil). Fields
// named like secrets are left out of the change.
func noteAudit(ctx context.Context, namespace, objectID string, before, after any) {
	n, _ := ctx.Value(auditNoteKey{}).(*auditNote)
	if n == nil {
		return
	}
	n.namespace, n.objectID = namespace, objectID
	n.diff = Diff(before, after)
}

// skipAudit says the handler audits this request itself.
func skipAudit(ctx context.Context) {
	if n, _ := ctx.Value(auditNoteKey{}).(*auditNote); n != nil {
		n.skip = true
	}
}

func auditable(r Route) bool {
	if r.Method == http.MethodGet || r.Method == "" {
		return false
	}
	switch r.Permission {
	case auth.PermOperate, auth.PermEdit, auth.PermAdmin:
		return !strings.HasPrefix(r.ID, "query-")
	}
	return false
}

func (a *API) auditRequest(r *http.Request, status int) {
	if status >= 400 {
		return
	}
	a.audit(r.Context())
}

// audit writes the audit entry of a change that succeeded, for the route
// and principal in ctx, unless the handler's transaction already holds it.
func (a *API) audit(ctx context.Context) {
	if e := auditEntry(ctx); e != nil {
		auth.Record(ctx, a.deps.Store, a.deps.Logger, e)
	}
}

// auditEntry is the entry the request in ctx is to write, or nil when it
// writes none or has written it.
func auditEntry(ctx context.Context) *model.AuditEntry {
	route := routeFrom(ctx)
	n, _ := ctx.Value(auditNoteKey{}).(*auditNote)
	if n == nil || n.skip || n.written || !auditable(route) {
		return nil
	}
	e := &model.AuditEntry{Action: route.ID, ObjectType: objectType(route.Path), ObjectID: n.objectID, Namespace: n.namespace, Diff: n.diff}
	if e.ObjectID == "" {
		e.ObjectID = n.pathID()
	}
	return e
}

// inTx runs fn in a transaction that also writes the request's audit entry,
// as fn noted it, before committing. The change and its entry commit
// together: one commit per write instead of two, and no change survives a
// crash without its entry. A failed entry fails the change.
func (a *API) inTx(ctx context.Context, fn func(ex store.Executor) error) error {
	return store.InTx(ctx, a.deps.Store, func(ex store.Executor) error {
		if err := fn(ex); err != nil {
			return err
		}
		e := auditEntry(ctx)
		if e == nil {
			return nil
		}
		if err := auth.RecordIn(ctx, ex, e); err != nil {
			return fmt.Errorf("write audit entry: %w", err)
		}
		// The Handler writes no second entry; if the commit fails, the
		// request fails and the Handler writes none either.
		ctx.Value(auditNoteKey{}).(*auditNote).written = true
		return nil
	})
}

// objectType is the first path segment after the prefix, singular.
func objectType(path string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(path, Prefix), "/"), "/")
	return strings.TrimSuffix(seg, "s")
}

// secretKeys are left out of audit diffs, whatever their value.
var secretKeys = []string{"secret", "password", "passwd", "token", "hash", "credential", "private", "api_key", "apikey"}

// Diff returns the top-level fields that differ between before and after,
// as {"field": {"from": x, "to": y}}; nil when nothing differs. Fields
// whose name contains secret, password, token or hash are never recorded.
func Diff(before, after any) json.RawMessage {
	b, a := fieldsOf(before), fieldsOf(after)
	type change struct {
		key      string
		from, to json.RawMessage
	}
	var changes []change
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			changes = append(changes, change{key: k, from: w, to: v})
		}
	}
	for k, w := range b {
		if _, ok := a[k]; !ok {
			changes = append(changes, change{key: k, from: w})
		}
	}
	// Timestamps and revisions change on every write and say nothing.
	changes = slices.DeleteFunc(changes, func(c change) bool {
		return c.key == "updated_at" || c.key == "created_at" || c.key == "revision"
	})
	if len(changes) == 0 {
		return nil
	}
	slices.SortFunc(changes, func(x, y change) int { return strings.Compare(x.key, y.key) })
	// Written by hand, as json.Marshal writes the same maps (keys sorted),
	// without decoding and re-encoding every value once more.
	out := []byte{'{'}
	for i, c := range changes {
		if i > 0 {
			out = append(out, ',')
		}
		key, err := json.Marshal(c.key)
		if err != nil {
			return nil
		}
		out = append(append(out, key...), ':', '{')
		switch {
		case secretKey(c.key):
			out = append(out, `"redacted":true`...)
		case c.from != nil && c.to != nil:
			out = append(append(append(append(out, `"from":`...), c.from...), `,"to":`...), c.to...)
		case c.from != nil:
			out = append(append(out, `"from":`...), c.from...)
		default:
			out = append(append(out, `"to":`...), c.to...)
		}
		out = append(out, '}')
	}
	return append(out, '}')
}

// fieldsOf returns the members of v's JSON object, with the values that
// may hold secrets redacted; nil when v is nil or not an object.
func fieldsOf(v any) map[string]json.RawMessage {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	m, ok := splitObject(raw)
	if !ok {
		// Not an object as json.Marshal writes one; decode it the long way.
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
	}
	for k, v := range m {
		if mayNameSecret(v) {
			m[k] = redact(v)
		}
	}
	return m
}

// splitObject splits a compact JSON object, as json.Marshal writes it, into
// its members. It reports false for anything else, including whitespace.
func splitObject(raw []byte) (map[string]json.RawMessage, bool) {
	if len(raw) < 2 || raw[0] != '{' {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	i := 1
	for i < len(raw) && raw[i] != '}' {
		kEnd := skipValue(raw, i)
		if raw[i] != '"' || kEnd < 0 || kEnd >= len(raw) || raw[kEnd] != ':' {
			return nil, false
		}
		var key string
		if q := raw[i:kEnd]; bytes.IndexByte(q, '\\') < 0 {
			key = string(q[1 : len(q)-1])
		} else if json.Unmarshal(q, &key) != nil {
			return nil, false
		}
		vEnd := skipValue(raw, kEnd+1)
		if vEnd < 0 || vEnd >= len(raw) {
			return nil, false
		}
		m[key] = raw[kEnd+1 : vEnd]
		i = vEnd
		if raw[i] == ',' {
			i++
		} else if raw[i] != '}' {
			return nil, false
		}
	}
	return m, i == len(raw)-1
}

// skipValue returns the index just past the compact JSON value starting at
// raw[i], or -1 if it does not end.
func skipValue(raw []byte, i int) int {
	depth, inString := 0, false
	for j := i; j < len(raw); j++ {
		c := raw[j]
		switch {
		case inString:
			if c == '\\' {
				j++
			} else if c == '"' {
				inString = false
				if depth == 0 {
					return j + 1
				}
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return j // the end of a scalar inside the enclosing object
			}
			depth--
			if depth == 0 {
				return j + 1
			}
		case c == ',' && depth == 0:
			return j
		}
	}
	return -1
}

// mayNameSecret reports whether raw is an object or array whose text
// contains a secret's name anywhere. Only those are redacted: redact decodes
// and re-encodes at every depth, which cost most audited requests more than
// their database write, and encoding/json writes key letters unescaped, so a
// value that fails this test has no key to redact.
func mayNameSecret(raw json.RawMessage) bool {
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return false
	}
	lower := bytes.ToLower(raw)
	for _, s := range secretKeys {
		if bytes.Contains(lower, []byte(s)) {
			return true
		}
	}
	return false
}

// redact replaces, at any depth, the values of keys named like secrets.
func redact(raw json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		for k, v := range obj {
			if secretKey(k) {
				obj[k] = json.RawMessage(`"[redacted]"`)
			} else {
				obj[k] = redact(v)
			}
		}
		out, _ := json.Marshal(obj)
		return out
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil && arr != nil {
		for i, v := range arr {
			arr[i] = redact(v)
		}
		out, _ := json.Marshal(arr)
		return out
	}
	return raw
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// AuditQueryBody filters the audit log.
type AuditQueryBody struct {
	From      *time.Time `json:"from,omitempty" doc:"Entries at or after this time."`
	To        *time.Time `json:"to,omitempty" doc:"Entries before this time."`
	Actor     string     `json:"actor,omitempty" maxLength:"200"`
	Action    string     `json:"action,omitempty" maxLength:"200" example:"login.failed"`
	Namespace string     `json:"namespace,omitempty" maxLength:"200"`
	Limit     int        `json:"limit,omitempty" minimum:"0" maximum:"1000" doc:"Page size; default 100."`
	Offset    int        `json:"offset,omitempty" minimum:"0"`
}

// AuditQueryOutput is a page of audit entries, newest first.
type AuditQueryOutput struct {
	Body struct {
		Result  []*model.AuditEntry `json:"result"`
		HasMore bool                `json:"has_more"`
	}
}

func (a *API) queryAudit(ctx context.Context, in *struct{ Body AuditQueryBody }) (*AuditQueryOutput, error) {
	b := in.Body
	limit := store.AuditLimit(b.Limit)
	rows, err := a.deps.Store.AuditList(ctx, &store.AuditListParams{From: b.From, To: b.To, Actor: b.Actor, Action: b.Action, Namespace: b.Namespace, Limit: limit + 1, Offset: b.Offset})
	if err != nil {
		return nil, storeError(err, "audit log")
	}
	out := &AuditQueryOutput{}
	out.Body.HasMore = len(rows) > limit
	out.Body.Result = rows[:min(len(rows), limit)]
	if out.Body.Result == nil {
		out.Body.Result = []*model.AuditEntry{}
	}
	return out, nil
}
