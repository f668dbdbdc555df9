package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestLogsAcrossServers runs two servers on one PostgreSQL schema, each
// with its own pool. An agent connected to server a runs a task; its
// output, which a stores, is followed live through server b, down to the
// end event, and read back through b. The follow heartbeat (15 s) is far
// longer than the pauses between the lines, so the lines can only arrive in
// time through the log relay, not by polling.
func TestLogsAcrossServers(t *testing.T) {
	t.Parallel()
	base := teststore.PGURL(t)
	schema := teststore.Schema(t, base)
	open := func() store.Store {
		st, err := pgstore.Open(context.WithoutCancel(t.Context()), pgstore.Config{URL: base, Schema: schema, Migrate: true, MaxConns: 8}, nil)
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		t.Cleanup(st.Close)
		return st
	}
	a := startApp(t, open(), func(c *config.Config) { c.Server.ID = "a" })
	b := startApp(t, open(), func(c *config.Config) { c.Server.ID = "b" })
	a.startAgent("agent-a", nil)

	const want = "one\ntwo\nthree\n"
	job := b.createJob("chatty", model.JobConfig{Script: "echo one; sleep 1; echo two; sleep 1; echo three"})
	task := b.runJob(job, nil)
	var in *model.TaskInstance
	b.waitFor(10*time.Second, "the run to be dispatched", func() bool {
		ins := b.instances(map[string]any{"task_id": task.ID.String()})
		if len(ins) == 1 {
			in = ins[0]
		}
		return in != nil
	})
	if in.AgentID != "agent-a" {
		t.Fatalf("run on agent %s, want agent-a", in.AgentID)
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.base+api.Prefix+"/task-instances/"+in.ID.String()+"/log/stream", nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("follow on b: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow on b = %d, want 200", resp.StatusCode)
	}
	type event struct{ name, data string }
	evs := make(chan event, 100)
	go func() {
		defer close(evs)
		sc := bufio.NewScanner(resp.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && ev.name != "":
				evs <- ev
				ev = event{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	var got strings.Builder
	var end api.EndEvent
	for done := false; !done; {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("stream closed before the end event; got %q", got.String())
			}
			switch ev.name {
			case "stdout":
				var out struct {
					Offset int64  `json:"offset"`
					Data   []byte `json:"data"`
				}
				if err := json.Unmarshal([]byte(ev.data), &out); err != nil || out.Offset != int64(got.Len()) {
					t.Fatalf("output event %s (%v), want one at offset %d", ev.data, err, got.Len())
				}
				got.Write(out.Data)
			case "end":
				if err := json.Unmarshal([]byte(ev.data), &end); err != nil {
					t.Fatalf("end event %s: %v", ev.data, err)
				}
				done = true
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event on b within 5s (the heartbeat is 15s); got %q so far", got.String())
		}
	}
	if got.String() != want || end.Status != "succeeded" || end.Size != int64(len(want)) {
		t.Errorf("followed on b: %q, end %+v; want %q and a succeeded end of %d bytes", got.String(), end, want, len(want))
	}

	// Either server reads the whole log, and knows it is complete.
	for _, h := range []*harness{a, b} {
		status, body := h.call(http.MethodGet, "/task-instances/"+in.ID.String()+"/log", nil, nil)
		if status != http.StatusOK || string(body) != want {
			t.Errorf("log on %s = %d %q, want %q", h.app.ServerID(), status, body, want)
		}
	}
	reqB, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.base+api.Prefix+"/task-instances/"+in.ID.String()+"/log", nil)
	reqB.Header.Set("Authorization", "Bearer "+adminToken)
	respB, err := http.DefaultClient.Do(reqB)
	if err != nil {
		t.Fatalf("read log on b: %v", err)
	}
	respB.Body.Close()
	if got := respB.Header.Get("Hetuflow-Log-Finished"); got != "true" {
		t.Errorf("Hetuflow-Log-Finished on b = %q, want true", got)
	}
}
