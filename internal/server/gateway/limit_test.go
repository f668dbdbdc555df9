package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/server/gateway"
	"github.com/hetuflow/hetuflow/internal/server/sched"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestMessageSizeLimit sends a message over the configured limit: the
// gateway closes the socket with 1009 (message too big) and a reason.
func TestMessageSizeLimit(t *testing.T) {
	t.Parallel()
	st := teststore.SQLite(t)
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatalf("tasklog.New: %v", err)
	}
	results := sched.NewResults(sched.ResultsConfig{ServerID: "s", AckTimeout: time.Second}, st, logs, sched.Wakers{}, lifecycletest.WarnLogger(t))
	const limit = 256 << 10
	gw := gateway.New(gateway.Config{ServerID: "s", HeartbeatInterval: time.Second, HeartbeatTTL: 5 * time.Second, MaxMessageBytes: limit},
		st, tokenAuth{}, results, nil, lifecycletest.WarnLogger(t))
	ctx := context.WithoutCancel(t.Context())
	if err := results.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() { gw.Stop(); srv.Close(); results.Stop() })

	h := http.Header{"Authorization": {"Bearer " + agentToken}, gateway.AgentIDHeader: {"big"}}
	conn, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow()
	if err := conn.Write(t.Context(), websocket.MessageText, bytes.Repeat([]byte("x"), limit+1)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_, _, err = conn.Read(t.Context())
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusMessageTooBig || !strings.Contains(ce.Reason, "read limited") {
		t.Fatalf("read after an oversized message = %v, want close 1009 naming the limit", err)
	}
}
