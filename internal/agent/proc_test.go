package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/protocol"
)

// processGone reports whether pid no longer runs: it does not exist, or it
// is a zombie nobody reaped (an orphan whose reaper does not reap).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state == 'Z' || state == 'X'
}

// waitGone fails the test unless pid is gone within waitTimeout. SIGKILL is
// delivered asynchronously, so the check is "eventually".
func waitGone(t *testing.T, pid int) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for !processGone(pid) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("process %d still alive %s after its run ended", pid, waitTimeout)
		}
	}
}

// syscallKill kills pid, for cleaning up a daemon that escaped its group.
func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

func TestSignalName(t *testing.T) {
	t.Parallel()
	for s, want := range map[syscall.Signal]string{syscall.SIGSEGV: "SIGSEGV", syscall.SIGKILL: "SIGKILL", syscall.Signal(40): "signal 40"} {
		if got := signalName(s); got != want {
			t.Errorf("signalName(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestParamEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"region": "REGION", "my-param": "MY_PARAM", "a.b c": "A_B_C", "x9_Y": "X9_Y", "é": "_"} {
		if got := paramEnvName(in); got != want {
			t.Errorf("paramEnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	a := &Agent{cfg: Config{ReconnectMin: 200 * time.Millisecond, ReconnectMax: 10 * time.Second}}
	for n, ceil := range map[int]time.Duration{0: 200 * time.Millisecond, 1: 400 * time.Millisecond, 3: 1600 * time.Millisecond, 6: 10 * time.Second, 100: 10 * time.Second} {
		for range 100 {
			if d := a.backoff(n); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceil)
			}
		}
	}
}

func TestAppendFrame(t *testing.T) {
	t.Parallel()
	b := appendFrame(nil, "0195b1a2-0000-7000-8000-000000000000", 1700000000123, protocol.KindTaskDone, 7, 3, []byte(`{"instance_id":"0195b1a2-0000-7000-8000-000000000001","status":100,"exit_code":0}`))
	env, err := protocol.DecodeFromAgent(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if h := env.Head; h.Kind != protocol.KindTaskDone || h.Seq != 7 || h.Ack != 3 || h.TS != 1700000000123 || h.ID != "0195b1a2-0000-7000-8000-000000000000" {
		t.Errorf("head = %+v", h)
	}
	var d protocol.TaskDone
	if err := env.Decode(&d); err != nil {
		t.Errorf("decode payload: %v", err)
	}
	b = appendFrame(nil, "id", 1, protocol.KindAck, 0, 0, []byte(`{}`))
	if want := `{"head":{"id":"id","ts":1,"kind":"ack"},"payload":{}}`; string(b) != want {
		t.Errorf("frame = %s, want %s", b, want)
	}
}
