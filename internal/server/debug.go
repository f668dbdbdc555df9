package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugServer serves Go's profiling endpoints on their own listener, so
// they are never reachable through the API's address. It exists to profile
// hetuflow under load (see docs/benchmarks.md).
type debugServer struct {
	http *http.Server
	addr string
	done chan error
}

// startDebug listens on addr and serves /debug/pprof/ until stop.
func startDebug(addr string) (*debugServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d := &debugServer{http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { d.done <- d.http.Serve(ln) }()
	return d, nil
}

// stop closes the listener and open profiles; a profile being taken ends.
func (d *debugServer) stop(ctx context.Context) error {
	if d == nil {
		return nil
	}
	err := d.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = d.http.Close()
	}
	if serr := <-d.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// DebugAddr is the address of the profiling endpoints, or "" when
// Server.DebugListen is not set.
func (a *App) DebugAddr() string {
	if a.debug == nil {
		return ""
	}
	return a.debug.addr
}
