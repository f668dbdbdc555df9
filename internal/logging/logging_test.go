package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogger(t *testing.T) {
	t.Parallel()

	t.Run("JSONWhenNotATerminalWithRequestID", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log := New("auto", &buf, LevelVar("info"))
		log.With("svc", "api").InfoContext(WithRequestID(context.Background(), "req-1"), "hello")
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("line %q is not JSON: %v", buf.String(), err)
		}
		if line["request_id"] != "req-1" || line["svc"] != "api" {
			t.Errorf("line = %v, want request_id req-1 and svc api", line)
		}
	})

	t.Run("LevelChangesLive", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		level := LevelVar("warn")
		log := New("text", &buf, level)
		log.Info("hidden")
		level.Set(slog.LevelDebug)
		log.Debug("shown")
		if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
			t.Errorf("output = %q, want only the line after the level change", out)
		}
	})
}
