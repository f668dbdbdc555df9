package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// run runs the binary to completion with stdin and returns its output.
func runCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), fastEnv...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("hetuflow %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

var tokenLineRe = regexp.MustCompile(`(?m)^(hf_\S+)$`)
var tokenIDRe = regexp.MustCompile(`\(id ([0-9a-f-]{36})\)`)

func TestBinaryUsersAndTokens(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "sec.db")
	if out := runCLI(t, "a long enough password\n", "user", "create", "--admin", "--name", "root", "--database", db); !strings.Contains(out, "user root created") {
		t.Fatalf("user create: %s", out)
	}
	runCLI(t, "bob has a long password\n", "user", "create", "--name", "bob", "--database", db)
	if out := runCLI(t, "", "user", "grant", "--name", "bob", "--namespace", "payments", "--role", "operator", "--database", db); !strings.Contains(out, "operator on payments") {
		t.Fatalf("user grant: %s", out)
	}
	if out := runCLI(t, "", "user", "list", "--database", db); !strings.Contains(out, "root") || !strings.Contains(out, "*=admin") || !strings.Contains(out, "payments=operator") {
		t.Fatalf("user list: %s", out)
	}
	srv := start(t, "server", []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken},
		"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", db)
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	admin := &client{t: t, base: "http://" + addr, token: e2eAdminToken}
	anon := &client{t: t, base: "http://" + addr}
	if st := anon.call("POST", "/auth/login", map[string]string{"name": "root", "password": "a long enough password"}, nil); st != 200 {
		t.Errorf("login as the CLI-made user = %d", st)
	}
	if st := anon.call("POST", "/jobs/query", map[string]any{}, nil); st != 401 {
		t.Errorf("query without a credential = %d, want 401", st)
	}
	out := runCLI(t, "", "token", "create", "--server", addr, "--token", e2eAdminToken, "--name", "ci", "--namespace", "default", "--role", "viewer", "--expires", "1h")
	tok, id := tokenLineRe.FindStringSubmatch(out), tokenIDRe.FindStringSubmatch(out)
	if tok == nil || id == nil {
		t.Fatalf("token create printed no token and id: %s", out)
	}
	viewer := &client{t: t, base: "http://" + addr, token: tok[1]}
	if st := viewer.call("POST", "/jobs/query", map[string]any{}, nil); st != 200 {
		t.Errorf("viewer query = %d, want 200", st)
	}
	if st := viewer.call("POST", "/jobs", map[string]any{"name": "x", "config": map[string]any{"command": "true"}}, nil); st != 403 {
		t.Errorf("viewer create = %d, want 403", st)
	}
	if out := runCLI(t, "", "token", "list", "--server", addr, "--token", e2eAdminToken); !strings.Contains(out, id[1]) || strings.Contains(out, tok[1]) {
		t.Errorf("token list (want the id, never the secret): %s", out)
	}
	runCLI(t, "", "token", "revoke", id[1], "--server", addr, "--token", e2eAdminToken)
	if st := viewer.call("POST", "/jobs/query", map[string]any{}, nil); st != 401 {
		t.Errorf("revoked token = %d, want 401", st)
	}
	var page struct{ Result []struct{ Action string } }
	admin.call("POST", "/audit/query", map[string]any{}, &page)
	var actions []string
	for _, e := range page.Result {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"user.create", "user.grant", "login.ok", "create-token", "revoke-token"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit log %v lacks %s", actions, want)
		}
	}
	srv.stop(20 * time.Second)
}

var devLinkRe = regexp.MustCompile(`sign in:\s+(http://\S+/login/link/hf_\S+)`)

func TestBinaryDevLoginLink(t *testing.T) {
	t.Parallel()
	dev := start(t, "dev", nil, "dev", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	link := dev.waitLine(devLinkRe, 20*time.Second)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("login link = %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	again, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotFound {
		t.Errorf("login link used twice = %d, want 404", again.StatusCode)
	}
	dev.stop(40 * time.Second)
}
