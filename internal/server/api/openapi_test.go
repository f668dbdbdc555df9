package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// openAPIDoc builds the API in process and returns it with its document as
// a JSON value and as bytes.
func openAPIDoc(t *testing.T) (*api.API, map[string]any, []byte) {
	t.Helper()
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, log := teststore.SQLite(t), lifecycletest.WarnLogger(t)
	enrol, secretStore := agentSecurity(t, st, log)
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokenAuth{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: log,
		AgentAuth: enrol, Secrets: secretStore})
	raw, err := json.Marshal(a.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return a, doc, raw
}

func TestOpenAPIListsEveryRouteWithDocsExamplesAndErrors(t *testing.T) {
	a, doc, _ := openAPIDoc(t)
	var documented []string
	paths := doc["paths"].(map[string]any)
	for p, item := range paths {
		for m, v := range item.(map[string]any) {
			op, ok := v.(map[string]any)
			if !ok {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+p)
			id := op["operationId"]
			if op["summary"] == nil || op["description"] == nil || op["description"] == "" {
				t.Errorf("%s: summary %v, description %v", id, op["summary"], op["description"])
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				for ct, mt := range rb["content"].(map[string]any) {
					if ct == "application/json" && mt.(map[string]any)["example"] == nil {
						t.Errorf("%s: request body has no example", id)
					}
				}
			}
			has4xx := false
			for st, r := range op["responses"].(map[string]any) {
				content, _ := r.(map[string]any)["content"].(map[string]any)
				for ct, mt := range content {
					ex := mt.(map[string]any)["example"]
					if ex == nil {
						t.Errorf("%s: response %s %s has no example", id, st, ct)
					}
					if strings.HasPrefix(st, "4") {
						has4xx = true
						if ct != "application/problem+json" || ex.(map[string]any)["code"] == "" {
							t.Errorf("%s: error %s is %s with example %v; want problem+json with a code", id, st, ct, ex)
						}
					}
				}
			}
			if !has4xx {
				t.Errorf("%s documents no client error", id)
			}
		}
	}
	sort.Strings(documented)
	var served []string
	for _, r := range a.ServedRoutes() {
		// The document's own routes serve it; they are not operations.
		if !strings.Contains(r, " "+api.Prefix+"/openapi") {
			served = append(served, r)
		}
	}
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Errorf("documented routes differ from served routes\ndocumented:\n%s\nserved:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
	if len(served) < 40 {
		t.Errorf("only %d routes recorded", len(served))
	}
	em := doc["components"].(map[string]any)["schemas"].(map[string]any)["ErrorModel"].(map[string]any)
	if _, ok := em["properties"].(map[string]any)["code"]; !ok {
		t.Error("ErrorModel does not document code")
	}
}

func TestProblemsCarryAStableCode(t *testing.T) {
	b := setup(t)
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"GET", "/jobs/01a21d48-4789-79bc-908c-3353e7e04c2a", token, "", 404, "not_found"},
		{"GET", "/jobs/01a21d48-4789-79bc-908c-3353e7e04c2a", "", "", 401, "unauthorized"},
		{"POST", "/jobs", token, `{"name":"x","config":{"command":"true","timeout":"soon"}}`, 422, "validation_failed"},
	} {
		var body *bytes.Reader
		if tc.body != "" {
			body = bytes.NewReader([]byte(tc.body))
		}
		var st int
		var raw []byte
		if body != nil {
			st, raw = b.do(t, tc.method, tc.path, tc.token, body)
		} else {
			st, raw = b.do(t, tc.method, tc.path, tc.token, nil)
		}
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || st != tc.status || p.Code != tc.code || p.Status != tc.status {
			t.Errorf("%s %s = %d %s; want %d with code %s", tc.method, tc.path, st, raw, tc.status, tc.code)
		}
	}
	// The Go client names the same code for every status the server uses.
	for _, s := range []int{400, 401, 403, 404, 409, 413, 416, 422, 500, 503} {
		if got, want := client.CodeForStatus(s), api.ProblemCode(s); got != want {
			t.Errorf("status %d: client code %q, server code %q", s, got, want)
		}
	}
}

// TestOpenAPILint validates the document with a third-party linter,
// Redocly CLI, pinned in .ci/redocly/package.json and installed by .ci/run.
func TestOpenAPILint(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("HETUFLOW_REDOCLY")
	if bin == "" {
		bin = filepath.Join(root, ".ci", "redocly", "node_modules", ".bin", "redocly")
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "redocly not installed (run: npm ci --prefix .ci/redocly); " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_, _, raw := openAPIDoc(t)
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "lint", "--config", filepath.Join(root, ".ci", "redocly", "redocly.yaml"), "--format", "stylish", file)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run redocly: %v", err)
	}
	text := string(out)
	if err != nil || strings.Contains(text, " warning ") || strings.Contains(text, " error ") {
		t.Fatalf("redocly lint found problems:\n%s", text)
	}
}
