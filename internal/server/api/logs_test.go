package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

type logBundle struct {
	api   *api.API
	store store.Store
	logs  *tasklog.Store
	srv   *httptest.Server
}

// logBackend opens a store and the log store a server on it uses.
type logBackend struct {
	name string
	open func(t *testing.T) (store.Store, *tasklog.Store)
}

// logBackends lists files on SQLite and rows on PostgreSQL, as servers
// choose them.
func logBackends() []logBackend {
	return []logBackend{
		{"Files", func(t *testing.T) (store.Store, *tasklog.Store) {
			logs, err := tasklog.New(t.TempDir())
			if err != nil {
				t.Fatalf("tasklog.New: %v", err)
			}
			return teststore.SQLite(t), logs
		}},
		{"Rows", func(t *testing.T) (store.Store, *tasklog.Store) {
			st := teststore.Postgres(t)
			return st, tasklog.NewDB(st)
		}},
	}
}

// eachLogBackend runs fn as a parallel subtest per log backend.
func eachLogBackend(t *testing.T, fn func(t *testing.T, be logBackend)) {
	for _, be := range logBackends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			fn(t, be)
		})
	}
}

// setupLogs serves the API with a follow heartbeat of heartbeat.
func setupLogs(t *testing.T, be logBackend, heartbeat time.Duration) *logBundle {
	t.Helper()
	st, logs := be.open(t)
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: tokenAuth{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test",
		Logger: lifecycletest.WarnLogger(t), FollowHeartbeat: heartbeat})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(a.CloseStreams) // before srv.Close, which waits for handlers
	return &logBundle{api: a, store: st, logs: logs, srv: srv}
}

// running inserts a running instance.
func (b *logBundle) running(t *testing.T) *model.TaskInstance {
	t.Helper()
	ctx := t.Context()
	in := storetest.TaskInstance(ctx, t, b.store, nil)
	if _, err := b.store.TaskInstanceStartMany(ctx, &store.TaskInstanceStartManyParams{Items: []*store.TaskInstanceStart{{ID: in.ID, AgentID: in.AgentID, StartedAt: time.Now()}}}); err != nil {
		t.Fatalf("start instance: %v", err)
	}
	return in
}

// finish ends an instance in the store with status.
func (b *logBundle) finish(t *testing.T, in *model.TaskInstance, status model.InstanceStatus, dropped int64) {
	t.Helper()
	code := 0
	if status != model.InstanceSucceeded {
		code = 3
	}
	if _, err := b.store.TaskInstanceFinishMany(t.Context(), &store.TaskInstanceFinishManyParams{Items: []*store.TaskInstanceFinish{{
		ID: in.ID, Status: status, ExitCode: &code, Usage: &model.ResourceUsage{DroppedBytes: dropped},
	}}}); err != nil {
		t.Fatalf("finish instance: %v", err)
	}
}

func (b *logBundle) write(t *testing.T, id uuid.UUID, off int64, data string) {
	t.Helper()
	if _, err := b.logs.Write(t.Context(), id, model.Stdout, off, []byte(data)); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func (b *logBundle) finishLog(t *testing.T, id uuid.UUID) {
	t.Helper()
	if err := b.logs.Finish(t.Context(), id); err != nil {
		t.Fatalf("Finish: %v", err)
	}
}

func (b *logBundle) get(t *testing.T, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.srv.URL+api.Prefix+path, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestInstanceLogRead(t *testing.T) {
	t.Parallel()
	eachLogBackend(t, testInstanceLogRead)
}

func testInstanceLogRead(t *testing.T, be logBackend) {
	const text = "one\ntwo\nthree\nfour\n" // 19 bytes

	type check struct {
		name, query string
		header      http.Header
		status      int
		body        string
		offset      string
		contentRng  string
	}
	checks := []check{
		{name: "All", status: 200, body: text, offset: "0"},
		{name: "Offset", query: "offset=8", status: 200, body: "three\nfour\n", offset: "8"},
		{name: "OffsetAndLimit", query: "offset=4&limit=3", status: 200, body: "two", offset: "4"},
		{name: "OffsetPastTheEnd", query: "offset=100", status: 200, body: "", offset: "19"},
		{name: "Tail", query: "tail=2", status: 200, body: "three\nfour\n", offset: "8"},
		{name: "TailWithLimit", query: "tail=2&limit=5", status: 200, body: "three", offset: "8"},
		{name: "TailMoreThanThereIs", query: "tail=50", status: 200, body: text, offset: "0"},
		{name: "OffsetAndTail", query: "offset=0&tail=2", status: 400},
		{name: "Range", header: http.Header{"Range": {"bytes=4-6"}}, status: 206, body: "two", offset: "4", contentRng: "bytes 4-6/19"},
		{name: "OpenRange", header: http.Header{"Range": {"bytes=14-"}}, status: 206, body: "four\n", offset: "14", contentRng: "bytes 14-18/19"},
		{name: "SuffixRange", header: http.Header{"Range": {"bytes=-5"}}, status: 206, body: "four\n", offset: "14", contentRng: "bytes 14-18/19"},
		{name: "RangePastTheEndIsClipped", header: http.Header{"Range": {"bytes=14-999"}}, status: 206, body: "four\n", offset: "14", contentRng: "bytes 14-18/19"},
		{name: "UnsatisfiableRange", header: http.Header{"Range": {"bytes=19-"}}, status: 416, contentRng: "bytes */19"},
		{name: "SeveralRangesAreIgnored", header: http.Header{"Range": {"bytes=0-1,4-5"}}, status: 200, body: text, offset: "0"},
		{name: "IfRangeIgnoresRange", header: http.Header{"Range": {"bytes=0-1"}, "If-Range": {`"x"`}}, status: 200, body: text, offset: "0"},
		{name: "RangeWithOffsetIsIgnored", query: "offset=14", header: http.Header{"Range": {"bytes=0-1"}}, status: 200, body: "four\n", offset: "14"},
	}
	run := func(t *testing.T, b *logBundle, id uuid.UUID, c check) {
		t.Helper()
		path := "/task-instances/" + id.String() + "/log"
		if c.query != "" {
			path += "?" + c.query
		}
		resp := b.get(t, path, c.header)
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status {
			t.Fatalf("%s: status %d %s, want %d", c.name, resp.StatusCode, raw, c.status)
		}
		if got := resp.Header.Get("Content-Range"); got != c.contentRng {
			t.Errorf("%s: Content-Range %q, want %q", c.name, got, c.contentRng)
		}
		if c.status >= 300 {
			return
		}
		if string(raw) != c.body {
			t.Errorf("%s: body %q, want %q", c.name, raw, c.body)
		}
		if got := resp.Header.Get("Hetuflow-Log-Offset"); got != c.offset {
			t.Errorf("%s: Hetuflow-Log-Offset %q, want %q", c.name, got, c.offset)
		}
		if got := resp.Header.Get("Hetuflow-Log-Size"); got != "19" {
			t.Errorf("%s: Hetuflow-Log-Size %q, want 19", c.name, got)
		}
		if got := resp.Header.Get("Accept-Ranges"); got != "bytes" {
			t.Errorf("%s: Accept-Ranges %q, want bytes", c.name, got)
		}
	}

	t.Run("Running", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		b.write(t, in.ID, 0, text)
		for _, c := range checks {
			run(t, b, in.ID, c)
		}
		resp := b.get(t, "/task-instances/"+in.ID.String()+"/log", nil)
		if got := resp.Header.Get("Hetuflow-Log-Finished"); got != "false" {
			t.Errorf("Hetuflow-Log-Finished = %q while running, want false", got)
		}
		if got := resp.Header.Get("Hetuflow-Run-Status"); got != "running" {
			t.Errorf("Hetuflow-Run-Status = %q, want running", got)
		}
	})

	t.Run("FinishedAndCompressed", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		b.write(t, in.ID, 0, text)
		b.finish(t, in, model.InstanceFailed, 1234)
		c := tasklog.NewCompressor(b.logs, lifecycletest.WarnLogger(t))
		c.TestSignals.Init()
		if err := c.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(c.Stop)
		b.finishLog(t, in.ID)
		if be.name == "Files" { // rows are not packed when this small
			c.TestSignals.Compressed.Wait(t)
		}
		for _, c := range checks {
			run(t, b, in.ID, c)
		}
		resp := b.get(t, "/task-instances/"+in.ID.String()+"/log", nil)
		for h, want := range map[string]string{"Hetuflow-Log-Finished": "true", "Hetuflow-Run-Status": "failed", "Hetuflow-Log-Dropped": "1234"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
	})

	t.Run("ProblemNamesTail", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		resp := b.get(t, "/task-instances/"+in.ID.String()+"/log?tail=1&offset=0", nil)
		var p problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 400 || len(p.Errors) == 0 || p.Errors[0].Location != "query.tail" {
			t.Errorf("offset with tail = %d %+v, %v; want 400 naming query.tail", resp.StatusCode, p, err)
		}
		if resp := b.get(t, "/task-instances/"+uuid.NewString()+"/log", nil); resp.StatusCode != 404 {
			t.Errorf("log of an unknown instance = %d, want 404", resp.StatusCode)
		}
	})
}

// sseEvent is one parsed Server-Sent Event; a comment has Name ":".
type sseEvent struct {
	ID, Name, Data string
}

// events reads resp's event stream on a goroutine that ends with the body.
func events(resp *http.Response) <-chan sseEvent {
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev = sseEvent{Name: ":", Data: strings.TrimSpace(line[1:])}
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					ev.ID = v
				case "event":
					ev.Name = v
				case "data":
					ev.Data = v
				}
			}
		}
	}()
	return ch
}

// next returns the next event that is not a comment, or fails.
func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed, want another event")
			}
			if ev.Name != ":" {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event within 10s")
		}
	}
}

// expectOutput reads an output event and checks it.
func expectOutput(t *testing.T, ch <-chan sseEvent, offset int64, data string) {
	t.Helper()
	ev := next(t, ch)
	var got struct {
		Offset int64  `json:"offset"`
		Data   []byte `json:"data"`
	}
	if err := json.Unmarshal([]byte(ev.Data), &got); err != nil {
		t.Fatalf("event %+v: %v", ev, err)
	}
	if wantID := offset + int64(len(data)); ev.Name != "stdout" || got.Offset != offset || string(got.Data) != data || ev.ID != strconv.FormatInt(wantID, 10) {
		t.Fatalf("event %s id %s at %d %q, want stdout id %d at %d %q", ev.Name, ev.ID, got.Offset, got.Data, wantID, offset, data)
	}
}

// expectEnd reads the end event and checks that the stream then closes.
func expectEnd(t *testing.T, ch <-chan sseEvent, status string) api.EndEvent {
	t.Helper()
	ev := next(t, ch)
	var end api.EndEvent
	if err := json.Unmarshal([]byte(ev.Data), &end); ev.Name != "end" || err != nil || end.Status != status {
		t.Fatalf("event %+v (%v), want end with status %s", ev, err, status)
	}
	for ev := range ch {
		if ev.Name != ":" {
			t.Errorf("event %+v after end", ev)
		}
	}
	return end
}

func TestInstanceLogFollow(t *testing.T) {
	t.Parallel()
	eachLogBackend(t, testInstanceLogFollow)
}

func testInstanceLogFollow(t *testing.T, be logBackend) {
	follow := func(t *testing.T, b *logBundle, id uuid.UUID, query string, header http.Header) <-chan sseEvent {
		t.Helper()
		resp := b.get(t, "/task-instances/"+id.String()+"/log/stream"+query, header)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			raw, _ := io.ReadAll(resp.Body)
			t.Fatalf("follow = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		return events(resp)
	}

	// The heartbeat is an hour: output must arrive by a wake-up, not by
	// polling.
	t.Run("SendsChunksWrittenAfterSubscribeThenEnd", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		b.write(t, in.ID, 0, "first\n")
		ch := follow(t, b, in.ID, "", nil)
		expectOutput(t, ch, 0, "first\n")
		b.write(t, in.ID, 6, "second\n")
		expectOutput(t, ch, 6, "second\n")
		b.write(t, in.ID, 13, "third\n")
		expectOutput(t, ch, 13, "third\n")
		b.finish(t, in, model.InstanceSucceeded, 7)
		b.finishLog(t, in.ID)
		end := expectEnd(t, ch, "succeeded")
		if end.Size != 19 || end.DroppedBytes != 7 || end.ExitCode == nil || *end.ExitCode != 0 {
			t.Errorf("end = %+v, want size 19, 7 dropped, exit code 0", end)
		}
	})

	t.Run("ResumesFromLastEventID", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		b.write(t, in.ID, 0, "hello world\n")
		b.finish(t, in, model.InstanceFailed, 0)
		b.finishLog(t, in.ID)
		// An EventSource reconnects to the same URL: the id wins over offset.
		ch := follow(t, b, in.ID, "?offset=0", http.Header{"Last-Event-ID": {"6"}})
		expectOutput(t, ch, 6, "world\n")
		if end := expectEnd(t, ch, "failed"); end.ExitCode == nil || *end.ExitCode != 3 {
			t.Errorf("end = %+v, want exit code 3", end)
		}
	})

	t.Run("StartsWithTail", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		b.write(t, in.ID, 0, "a\nb\nc\n")
		ch := follow(t, b, in.ID, "?tail=1", nil)
		expectOutput(t, ch, 4, "c\n")
		b.write(t, in.ID, 6, "d\n")
		expectOutput(t, ch, 6, "d\n")
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		for _, c := range []struct {
			path   string
			header http.Header
			status int
		}{
			{"/task-instances/" + in.ID.String() + "/log/stream?offset=1&tail=1", nil, 400},
			{"/task-instances/" + in.ID.String() + "/log/stream", http.Header{"Last-Event-ID": {"yesterday"}}, 400},
			{"/task-instances/" + uuid.NewString() + "/log/stream", nil, 404},
		} {
			if resp := b.get(t, c.path, c.header); resp.StatusCode != c.status {
				t.Errorf("GET %s = %d, want %d", c.path, resp.StatusCode, c.status)
			}
		}
	})

	// A run the server cancelled is final before its agent reports; if the
	// agent never does, the follow still ends, by polling at the heartbeat.
	t.Run("EndsWithoutFinishByHeartbeatPolling", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, 50*time.Millisecond)
		in := b.running(t)
		b.write(t, in.ID, 0, "x\n")
		ch := follow(t, b, in.ID, "", nil)
		expectOutput(t, ch, 0, "x\n")
		b.finish(t, in, model.InstanceCancelled, 0)
		pings := 0
		for ev := range ch {
			switch ev.Name {
			case ":":
				if ev.Data == "ping" {
					pings++
				}
				continue
			case "end":
				if !strings.Contains(ev.Data, `"status":"cancelled"`) {
					t.Errorf("end = %s, want cancelled", ev.Data)
				}
			default:
				t.Errorf("event %+v, want pings then end", ev)
			}
			break
		}
		if pings == 0 {
			t.Errorf("no heartbeat comment before the end")
		}
	})

	// A run whose agent said it printed nothing is complete once final,
	// with no finish mark: the results writer writes none for it.
	t.Run("SilentRunEndsAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		b.finish(t, in, model.InstanceSucceeded, 0)
		resp := b.get(t, "/task-instances/"+in.ID.String()+"/log", nil)
		if got := resp.Header.Get("Hetuflow-Log-Finished"); got != "true" {
			t.Errorf("Hetuflow-Log-Finished = %q, want true", got)
		}
		ch := follow(t, b, in.ID, "", nil)
		if end := expectEnd(t, ch, "succeeded"); end.Size != 0 {
			t.Errorf("end = %+v, want size 0", end)
		}
	})

	t.Run("CloseStreamsEndsFollows", func(t *testing.T) {
		t.Parallel()
		b := setupLogs(t, be, time.Hour)
		in := b.running(t)
		ch := follow(t, b, in.ID, "", nil)
		if ev := <-ch; ev.Name != ":" {
			t.Fatalf("first event %+v, want the opening comment", ev)
		}
		b.api.CloseStreams()
		select {
		case ev, ok := <-ch:
			if ok {
				t.Errorf("event %+v after CloseStreams, want the stream closed", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stream still open 10s after CloseStreams")
		}
	})
}
