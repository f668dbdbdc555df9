// Package httpsec hardens the server's HTTP handler: security headers on
// every response, and the TLS configuration that serves HTTPS and WSS from a
// certificate and key file.
package httpsec

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
)

// CSP is the Content-Security-Policy of every response. It allows no inline
// script and no framing: the UI ships its own scripts from this origin only.
const CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"

// HSTS is sent on responses served over TLS. A year, as browsers' preload
// lists expect; subdomains are left alone because the server cannot know
// what else runs under its domain.
const HSTS = "max-age=31536000"

// Headers wraps next so that every response carries the security headers.
// They are set before next runs, so handlers that write early (streams,
// errors from the mux) still send them; a handler may override one on
// purpose. Strict-Transport-Security is added only when the request came
// over TLS: over plain HTTP it would be ignored, or worse, pin a host that
// has no certificate.
func Headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r)
	})
}

// ServerConfig returns the TLS configuration for serving HTTPS and WSS with
// the certificate chain in certFile and its key in keyFile (PEM). Both empty
// means no TLS: it returns nil, nil. One without the other is an error.
// The pair is loaded once; a restart picks up a renewed certificate.
func ServerConfig(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("server.tls: cert_file and key_file must be set together")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: load certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: the agent socket is a WebSocket upgrade, which
		// HTTP/2 would not carry.
		NextProtos: []string{"http/1.1"},
	}, nil
}
