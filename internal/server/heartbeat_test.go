package server

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestHeartbeatCountsPeersAtStart checks that a server learns whether it is
// alone when its heartbeat starts, not a heartbeat interval later: until
// then it publishes bus and log-relay messages for nobody.
func TestHeartbeatCountsPeersAtStart(t *testing.T) {
	t.Parallel()
	st := teststore.SQLite(t)
	start := func(id string, assumed bool) *atomic.Bool {
		t.Helper()
		if _, err := st.ServerUpsert(t.Context(), &store.ServerUpsertParams{ID: id, Address: id + ":9500"}); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
		var peers atomic.Bool
		peers.Store(assumed)
		h := &serverHeartbeat{store: st, id: id, interval: time.Hour, ttl: time.Minute, peers: &peers,
			log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if err := h.Start(t.Context()); err != nil {
			t.Fatalf("start heartbeat of %s: %v", id, err)
		}
		t.Cleanup(h.Stop)
		return &peers
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// The interval is an hour: only the count at start can change what
	// each server assumed. App assumes peers (true) until it counts.
	alone := start("a", true)
	waitFor("server a to learn it is alone", func() bool { return !alone.Load() })
	second := start("b", false)
	waitFor("server b to learn that a is alive", second.Load)
}
