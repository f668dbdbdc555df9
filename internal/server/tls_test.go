package server_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hetuflow/hetuflow/internal/agent"
	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/httpsec"
	"github.com/hetuflow/hetuflow/internal/server/httpsec/testcert"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestTLS serves HTTPS and WSS from a test CA's certificate: the API
// answers with the security headers and HSTS, an agent that trusts the CA
// connects over wss://, and clients that do not trust it are
// refused by certificate verification.
func TestTLS(t *testing.T) {
	t.Parallel()
	certs := testcert.New(t)
	h := startApp(t, teststore.SQLite(t), func(c *config.Config) {
		c.Server.TLS = config.ServerTLS{CertFile: certs.Cert, KeyFile: certs.Key}
	})
	addr := h.app.Addr()
	client, err := agent.HTTPClientWithCA(certs.CA)
	if err != nil {
		t.Fatalf("HTTPClientWithCA: %v", err)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+"/api/v1/health", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET over https: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil {
		t.Fatal("response not over TLS")
	}
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"} {
		if resp.Header.Get(k) == "" {
			t.Errorf("header %s missing over TLS", k)
		}
	}

	// Without the CA, the system roots do not know the certificate.
	_, err = http.Get("https://" + addr + "/api/v1/health")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("GET without the CA = %v, want an unknown authority error", err)
	}
	_, _, err = websocket.Dial(t.Context(), "wss://"+addr+agent.WSPath, nil)
	if !errors.As(err, &unknown) {
		t.Errorf("wss dial without the CA = %v, want an unknown authority error", err)
	}

	a, err := agent.New(agent.Config{
		ID: "tls-agent", Servers: []string{"wss://" + addr}, Token: agentToken, Capacity: 2,
		DataDir: filepath.Join(t.TempDir(), "tls-agent"), Version: "test", HTTPClient: client,
	}, lifecycletest.WarnLogger(t))
	if err != nil {
		t.Fatalf("agent.New: %v", err)
	}
	if err := a.Start(context.WithoutCancel(t.Context())); err != nil {
		t.Fatalf("agent Start: %v", err)
	}
	t.Cleanup(a.Stop)
	h.waitFor(10*time.Second, "agent online over wss", func() bool {
		ag, err := h.store.AgentGetByID(context.Background(), &store.AgentGetByIDParams{ID: "tls-agent"})
		return err == nil && ag.Status == model.AgentOnline && a.Status().Connected
	})
}

// TestSecurityHeaders checks the headers on plain HTTP responses of every
// kind: the API, an error, the docs page and the root page.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	h := startApp(t, teststore.SQLite(t), nil)
	for _, path := range []string{"/", "/docs", "/docs.css", "/api/v1/health", "/api/v1/jobs", "/nowhere"} {
		resp, err := http.Get(h.base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Security-Policy"); got != httpsec.CSP {
			t.Errorf("GET %s: CSP = %q", path, got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q", path, got)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("GET %s: Referrer-Policy = %q", path, got)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("GET %s: HSTS over plain HTTP: %q", path, got)
		}
	}
}
