package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// HTTPClientWithCA returns a client for the agent socket that verifies
// wss:// servers against the PEM authorities in caFile instead of the
// system roots. An empty caFile returns nil, which [Config] takes as
// http.DefaultClient and so the system roots.
func HTTPClientWithCA(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("agent.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("agent.ca_file: no PEM certificate in " + caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// The socket is an HTTP/1.1 upgrade.
	tr.ForceAttemptHTTP2 = false
	return &http.Client{Transport: tr}, nil
}
