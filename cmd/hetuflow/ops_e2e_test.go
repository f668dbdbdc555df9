package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryReloadMetricsReady runs the server binary with a config file,
// changes the file and sends SIGHUP: the live key is applied and the
// restart key reported. /metrics and /api/v1/ready answer without a token,
// and every response carries a request id.
func TestBinaryReloadMetricsReady(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "server.toml")
	if err := os.WriteFile(cfg, []byte("[alert]\nmax_attempts = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := start(t, "server", []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken},
		"server", "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	base := "http://" + srv.waitLine(serverAddrRe, 20*time.Second)

	get := func(path string) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	c := &client{t: t, base: base, token: e2eAdminToken}
	c.waitFor(20*time.Second, "ready", func() bool {
		code, _, _ := get("/api/v1/ready")
		return code == http.StatusOK
	})
	code, body, hdr := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, "hetuflow_build_info") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics = %d, want 200 with hetuflow and Go metrics", code)
	}
	if hdr.Get("X-Request-Id") == "" {
		t.Error("GET /metrics has no X-Request-Id")
	}

	if err := os.WriteFile(cfg, []byte("[alert]\nmax_attempts = 7\n\n[scheduler]\nleader_ttl = \"9s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	srv.waitLine(regexp.MustCompile(`"msg":"configuration reloaded".*"applied":\["alert.max_attempts"\],"restart_required":\["scheduler.leader_ttl"\]`), 10*time.Second)

	// The same through the API, which answers with the report.
	var rep struct {
		Applied         []string `json:"applied"`
		RestartRequired []string `json:"restart_required"`
	}
	if st := c.call("POST", "/admin/reload", nil, &rep); st != http.StatusOK || len(rep.Applied) != 0 || strings.Join(rep.RestartRequired, ",") != "scheduler.leader_ttl" {
		t.Errorf("POST /admin/reload = %d %+v, want nothing more to apply and leader_ttl still waiting for a restart", st, rep)
	}
	srv.stop(30 * time.Second)
}
