package server

import (
	"crypto/tls"
	"net"

	"github.com/hetuflow/hetuflow/internal/server/httpsec"
)

// tlsListener wraps ln in TLS when [server.tls] names a certificate, so the
// API, the UI and the agent socket are served as HTTPS and WSS on the same
// port. It closes ln on error.
func (a *App) tlsListener(ln net.Listener) (net.Listener, error) {
	t := a.opts.Config.Server.TLS
	cfg, err := httpsec.ServerConfig(t.CertFile, t.KeyFile)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if cfg == nil {
		return ln, nil
	}
	return tls.NewListener(ln, cfg), nil
}
