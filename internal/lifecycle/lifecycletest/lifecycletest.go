// Package lifecycletest checks that a lifecycle.Service keeps the contract:
// it starts and stops repeatedly, stops at once, and respects cancellation.
package lifecycletest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
)

// Logger returns a logger that writes to t.Log at debug level.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// WarnLogger returns a logger that writes warnings and errors to t.Log, for
// stress tests.
func WarnLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// waitTimeout bounds how long the checks wait for a service; the checks fail
// rather than hang.
const waitTimeout = 10 * time.Second

// Stress starts and stops svc from several goroutines at once, many times.
func Stress(ctx context.Context, t testing.TB, svc lifecycle.Service) {
	t.Helper()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := svc.Start(ctx); err != nil {
					t.Errorf("Start: %v", err)
					return
				}
				svc.Stop()
			}
		}()
	}
	wg.Wait()
	svc.Stop()
}

// StopsImmediately starts svc and checks Stop returns promptly.
func StopsImmediately(ctx context.Context, t testing.TB, svc lifecycle.Service) {
	t.Helper()
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	WaitStarted(t, svc)
	done := make(chan struct{})
	go func() { svc.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("Stop did not return within %s", waitTimeout)
	}
}

// RespectsContextCancellation starts svc with a context it then cancels and
// checks that Stop still returns.
func RespectsContextCancellation(ctx context.Context, t testing.TB, svc lifecycle.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	WaitStarted(t, svc)
	cancel()
	done := make(chan struct{})
	go func() { svc.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("Stop after cancel did not return within %s", waitTimeout)
	}
}

// CanRestart starts and stops svc twice.
func CanRestart(ctx context.Context, t testing.TB, svc lifecycle.Service) {
	t.Helper()
	for range 2 {
		if err := svc.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		WaitStarted(t, svc)
		svc.Stop()
	}
}

// WaitStarted waits for svc.Started or fails the test.
func WaitStarted(t testing.TB, svc lifecycle.Service) {
	t.Helper()
	select {
	case <-svc.Started():
	case <-time.After(waitTimeout):
		t.Fatalf("service did not start within %s", waitTimeout)
	}
}
