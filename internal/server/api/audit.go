package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Every successful request to a route that changes something (edit,
// operate and admin routes other than GETs and queries) is written to the
// audit log by the Handler; handlers add the namespace, the object and what
// changed with noteAudit.

// auditNote is what a handler adds to its request's audit entry.
type auditNote struct {
	namespace, objectID string
	diff                json.RawMessage
	skip                bool
}

type auditNoteKey struct{}

func withAuditNote(ctx context.Context) context.Context {
	return context.WithValue(ctx, auditNoteKey{}, &auditNote{})
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
	a.audit(r.Context(), r.PathValue("id"))
}

// audit writes the audit entry of a change that succeeded, for the route
// and principal in ctx, about pathID unless the handler named the object.
func (a *API) audit(ctx context.Context, pathID string) {
	route := routeFrom(ctx)
	n, _ := ctx.Value(auditNoteKey{}).(*auditNote)
	if n == nil || n.skip || !auditable(route) {
		return
	}
	e := &model.AuditEntry{Action: route.ID, ObjectType: objectType(route.Path), ObjectID: n.objectID, Namespace: n.namespace, Diff: n.diff}
	if e.ObjectID == "" {
		e.ObjectID = pathID
	}
	auth.Record(ctx, a.deps.Store, a.deps.Logger, e)
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
	b, a := toFields(before), toFields(after)
	out := map[string]map[string]json.RawMessage{}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			out[k] = map[string]json.RawMessage{"to": v}
			if ok {
				out[k]["from"] = w
			}
		}
	}
	for k, w := range b {
		if _, ok := a[k]; !ok {
			out[k] = map[string]json.RawMessage{"from": w}
		}
	}
	for k := range out {
		if secretKey(k) {
			out[k] = map[string]json.RawMessage{"redacted": json.RawMessage("true")}
		}
	}
	// Timestamps and revisions change on every write and say nothing.
	for _, k := range []string{"updated_at", "created_at", "revision"} {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return raw
}

func toFields(v any) map[string]json.RawMessage {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	for k, v := range m {
		if mayNameSecret(v) {
			m[k] = redact(v)
		}
	}
	return m
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
