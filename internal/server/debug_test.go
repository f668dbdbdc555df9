package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestDebugListen(t *testing.T) {
	t.Parallel()
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	t.Run("OffByDefault", func(t *testing.T) {
		t.Parallel()
		h := startApp(t, teststore.SQLite(t), nil)
		if h.app.DebugAddr() != "" {
			t.Errorf("DebugAddr = %q without debug_listen, want none", h.app.DebugAddr())
		}
		if st, _ := get(h.base + "/debug/pprof/"); st != http.StatusNotFound && st != http.StatusUnauthorized {
			t.Errorf("API address serves /debug/pprof/ with %d, want it absent", st)
		}
	})
	t.Run("ServedApartFromTheAPI", func(t *testing.T) {
		t.Parallel()
		h := startApp(t, teststore.SQLite(t), func(c *config.Config) { c.Server.DebugListen = "127.0.0.1:0" })
		st, body := get("http://" + h.app.DebugAddr() + "/debug/pprof/")
		if st != http.StatusOK || !strings.Contains(body, "goroutine") {
			t.Errorf("debug index = %d %.80q, want 200 listing profiles", st, body)
		}
		if st, _ := get(h.base + "/debug/pprof/"); st == http.StatusOK {
			t.Errorf("API address serves /debug/pprof/, want it only on the debug address")
		}
	})
}
