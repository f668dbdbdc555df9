package httpsec

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	h := Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusNotFound)
	}))
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/anything", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			want := map[string]string{
				"Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "same-origin",
			}
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			hsts := w.Header().Get("Strict-Transport-Security")
			if tc.tls && hsts == "" {
				t.Error("no HSTS over TLS")
			}
			if !tc.tls && hsts != "" {
				t.Errorf("HSTS over plain HTTP: %q", hsts)
			}
		})
	}
}

func TestServerConfig(t *testing.T) {
	t.Parallel()
	if c, err := ServerConfig("", ""); c != nil || err != nil {
		t.Errorf("ServerConfig(\"\", \"\") = %v, %v; want nil, nil", c, err)
	}
	if _, err := ServerConfig("cert.pem", ""); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := ServerConfig("/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil {
		t.Error("missing files accepted")
	}
}
