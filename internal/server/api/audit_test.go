package api_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

// auditObject has the shapes Diff meets: plain fields, nested objects and
// arrays, maps, and fields named like secrets at the top and deeper down.
type auditObject struct {
	Name      string            `json:"name"`
	Count     int               `json:"count"`
	Env       map[string]string `json:"env,omitempty"`
	Headers   []auditHeader     `json:"headers,omitempty"`
	Nested    *auditNested      `json:"nested,omitempty"`
	APIToken  string            `json:"api_token,omitempty"`
	UpdatedAt time.Time         `json:"updated_at"`
	Revision  int               `json:"revision"`
}

type auditHeader struct {
	Key      string `json:"key"`
	Password string `json:"password,omitempty"`
}

type auditNested struct {
	Zeta  string `json:"zeta"`
	Alpha string `json:"alpha"`
	Inner struct {
		PrivateKey string `json:"private_key"`
	} `json:"inner"`
}

func decodeDiff(t *testing.T, raw json.RawMessage) map[string]map[string]any {
	t.Helper()
	if raw == nil {
		return nil
	}
	var out map[string]map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("diff %s is not an object of changes: %v", raw, err)
	}
	return out
}

func TestDiff(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	nested := &auditNested{Zeta: "z", Alpha: "a"}
	nested.Inner.PrivateKey = "-----BEGIN KEY-----"
	full := &auditObject{
		Name: "backup", Count: 1,
		Env:     map[string]string{"PATH": "/bin", "DB_PASSWORD": "hunter2"},
		Headers: []auditHeader{{Key: "X-A", Password: "p"}},
		Nested:  nested, APIToken: "tok", UpdatedAt: now, Revision: 1,
	}
	renamed := *full
	renamed.Name, renamed.UpdatedAt, renamed.Revision = "backup2", now.Add(time.Second), 2
	rotated := *full
	rotated.APIToken = "tok2"

	cases := []struct {
		name          string
		before, after any
		want          map[string]map[string]any
	}{
		{"nothing changed", full, full, nil},
		{"timestamps and revisions say nothing", full, func() any { c := *full; c.UpdatedAt, c.Revision = now.Add(time.Hour), 7; return &c }(), nil},
		{"a field changed", full, &renamed, map[string]map[string]any{"name": {"from": "backup", "to": "backup2"}}},
		{"a secret-named field is only marked", full, &rotated, map[string]map[string]any{"api_token": {"redacted": true}}},
		{"created: every field, secrets redacted at any depth", nil, full, map[string]map[string]any{
			"name":      {"to": "backup"},
			"count":     {"to": float64(1)},
			"env":       {"to": map[string]any{"PATH": "/bin", "DB_PASSWORD": "[redacted]"}},
			"headers":   {"to": []any{map[string]any{"key": "X-A", "password": "[redacted]"}}},
			"nested":    {"to": map[string]any{"zeta": "z", "alpha": "a", "inner": map[string]any{"private_key": "[redacted]"}}},
			"api_token": {"redacted": true},
		}},
		{"deleted: every field as from", full, nil, map[string]map[string]any{
			"name":      {"from": "backup"},
			"count":     {"from": float64(1)},
			"env":       {"from": map[string]any{"PATH": "/bin", "DB_PASSWORD": "[redacted]"}},
			"headers":   {"from": []any{map[string]any{"key": "X-A", "password": "[redacted]"}}},
			"nested":    {"from": map[string]any{"zeta": "z", "alpha": "a", "inner": map[string]any{"private_key": "[redacted]"}}},
			"api_token": {"redacted": true},
		}},
		{"keys and strings that look like JSON's own syntax", nil, map[string]any{
			`a"b`: "x}", "c": []any{"]", map[string]any{"d": `\",`}}, "e<&>": 1.5, "f": nil, "g": true,
		}, map[string]map[string]any{
			`a"b`:  {"to": "x}"},
			"c":    {"to": []any{"]", map[string]any{"d": `\",`}}},
			"e<&>": {"to": 1.5},
			"f":    {"to": nil},
			"g":    {"to": true},
		}},
		{"a nested secret that changed is redacted on both sides", full, func() any {
			c := *full
			c.Env = map[string]string{"PATH": "/bin", "DB_PASSWORD": "hunter3"}
			return &c
		}(), nil},
		{"a nested change beside a secret", full, func() any {
			c := *full
			c.Env = map[string]string{"PATH": "/usr/bin", "DB_PASSWORD": "hunter2"}
			return &c
		}(), map[string]map[string]any{"env": {
			"from": map[string]any{"PATH": "/bin", "DB_PASSWORD": "[redacted]"},
			"to":   map[string]any{"PATH": "/usr/bin", "DB_PASSWORD": "[redacted]"},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := api.Diff(tc.before, tc.after)
			if got := decodeDiff(t, raw); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff = %s\nwant %v", raw, tc.want)
			}
			if tc.want == nil && raw != nil {
				t.Errorf("Diff = %s, want nil for no change", raw)
			}
		})
	}
}

// BenchmarkDiffCreate is the audit diff of a created job, which every POST
// /jobs computes.
func BenchmarkDiffCreate(b *testing.B) {
	job := &model.Job{
		ID: uuid.Must(uuid.NewV7()), Namespace: "default", Name: "bench-job", Status: model.JobEnabled,
		Config:    model.JobConfig{Command: "/bin/true", Args: []string{"-v"}, Env: map[string]string{"A": "1"}},
		CreatedAt: time.Now(), UpdatedAt: time.Now(), CreatedBy: "admin", UpdatedBy: "admin",
	}
	b.ReportAllocs()
	for b.Loop() {
		if api.Diff(nil, job) == nil {
			b.Fatal("no diff")
		}
	}
}

// TestDiffText pins the stored form: keys sorted, "from" before "to", no
// spaces, as json.Marshal writes the same maps.
func TestDiffText(t *testing.T) {
	for _, tc := range []struct {
		before, after any
		want          string
	}{
		{map[string]any{"b": 1, "a": "x"}, map[string]any{"b": 2, "c": []int{1}}, `{"a":{"from":"x"},"b":{"from":1,"to":2},"c":{"to":[1]}}`},
		{nil, map[string]any{"token": "t", "z<": "&"}, `{"token":{"redacted":true},"z\u003c":{"to":"\u0026"}}`},
	} {
		if got := string(api.Diff(tc.before, tc.after)); got != tc.want {
			t.Errorf("Diff(%v, %v) = %s, want %s", tc.before, tc.after, got, tc.want)
		}
	}
}
