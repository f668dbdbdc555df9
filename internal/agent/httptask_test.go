package agent

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// httpRecord is a request as the test server saw it.
type httpRecord struct {
	method, body, header, host string
}

// newHTTPTarget starts a server for http tasks: /status/<code> answers
// with that code and body "body of <code>", /big with 100 KiB, /echo records
// the request, and /block blocks until the client goes away, after saying
// so on blocked.
func newHTTPTarget(t *testing.T) (srv *httptest.Server, requests <-chan *httpRecord, blocked <-chan struct{}) {
	t.Helper()
	reqs := make(chan *httpRecord, 10)
	blk := make(chan struct{}, 10)
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code := 0
		for _, c := range r.PathValue("code") {
			code = code*10 + int(c-'0')
		}
		w.WriteHeader(code)
		io.WriteString(w, "body of "+r.PathValue("code"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100<<10))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- &httpRecord{method: r.Method, body: string(b), header: r.Header.Get("X-Test"), host: r.Host}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		blk <- struct{}{}
		<-r.Context().Done()
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, reqs, blk
}

func httpTask(url string) model.JobConfig {
	return model.JobConfig{Type: model.TaskHTTP, HTTP: &model.HTTPTask{URL: url}}
}

func TestHTTPTask(t *testing.T) {
	t.Parallel()

	t.Run("OKWritesStatusAndBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, _, _ := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/status/200"))
		b.srv.dispatch(d)
		r := b.srv.waitRunning(t, d.InstanceID)
		if r.PID != 0 || r.StartedAt.IsZero() {
			t.Errorf("task.running = %+v, want a start time and no pid", r)
		}
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceSucceeded)
		want := "HTTP/1.1 200 OK\nbody of 200"
		if got := b.srv.output(d.InstanceID, model.Stdout); got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if done.Reason != "" || done.ExitCode != nil || done.OutputTail != want {
			t.Errorf("done = %+v, want no reason, no exit code and the output as tail", done)
		}
		if u := done.Usage; u.StdoutBytes != int64(len(want)) || u.UserCPUMillis != 0 {
			t.Errorf("usage = %+v, want %d stdout bytes and no CPU", u, len(want))
		}
	})

	t.Run("UnexpectedStatusFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, _, _ := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/status/500"))
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonHTTPStatus || done.Error != "unexpected status 500 Internal Server Error (want 2xx)" {
			t.Errorf("reason %q, error %q; want %q and the status", done.Reason, done.Error, reasonHTTPStatus)
		}
		if got := b.srv.output(d.InstanceID, model.Stdout); got != "HTTP/1.1 500 Internal Server Error\nbody of 500" {
			t.Errorf("stdout = %q, want the status line and body", got)
		}
	})

	t.Run("ExpectStatus", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, _, _ := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/status/404"))
		d.Config.HTTP.ExpectStatus = []int{404}
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		d = newInstance(httpTask(target.URL + "/status/200"))
		d.Config.HTTP.ExpectStatus = []int{404}
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonHTTPStatus || !strings.Contains(done.Error, "want [404]") {
			t.Errorf("reason %q, error %q; want %q naming the expected statuses", done.Reason, done.Error, reasonHTTPStatus)
		}
	})

	t.Run("SendsMethodHeadersBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, reqs, _ := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/echo"))
		d.Config.HTTP.Method = "post"
		d.Config.HTTP.Body = `{"a":1}`
		d.Config.HTTP.Headers = map[string]string{"X-Test": "yes", "Host": "example.test"}
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		got := recv(t, reqs, "request")
		if want := (httpRecord{method: "POST", body: `{"a":1}`, header: "yes", host: "example.test"}); *got != want {
			t.Errorf("request = %+v, want %+v", *got, want)
		}
	})

	t.Run("BodyHeadOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, _, _ := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/big"))
		wantStatus(t, b.run(t, d), model.InstanceSucceeded)
		want := "HTTP/1.1 200 OK\n" + strings.Repeat("x", httpBodyHead) + "\n[hetuflow: response body truncated at 64 KiB]\n"
		if got := b.srv.output(d.InstanceID, model.Stdout); got != want {
			t.Errorf("stdout has %d bytes, want the status line, 64 KiB of body and a marker (%d bytes)", len(got), len(want))
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, _, _ := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/block"))
		d.Config.Timeout = model.Duration(200 * time.Millisecond)
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceTimeout)
		if done.Reason != reasonTimeout || done.Error != "timed out after 200ms" {
			t.Errorf("reason %q, error %q; want %q", done.Reason, done.Error, reasonTimeout)
		}
	})

	t.Run("CancelMidRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		target, _, blocked := newHTTPTarget(t)
		d := newInstance(httpTask(target.URL + "/block"))
		b.srv.dispatch(d)
		recv(t, blocked, "request at the server")
		b.srv.send(protocol.KindCancel, &protocol.Cancel{InstanceID: d.InstanceID, Reason: "cancelled by alice"})
		done := b.srv.waitDone(t, d.InstanceID)
		wantStatus(t, done, model.InstanceCancelled)
		if done.Reason != reasonCancelled || done.Error != "cancelled by alice" {
			t.Errorf("reason %q, error %q; want %q", done.Reason, done.Error, reasonCancelled)
		}
	})

	t.Run("NetworkErrorFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		d := newInstance(httpTask("http://" + addr + "/"))
		done := b.run(t, d)
		wantStatus(t, done, model.InstanceFailed)
		if done.Reason != reasonHTTPError || !strings.Contains(done.Error, "connection refused") {
			t.Errorf("reason %q, error %q; want %q and the cause", done.Reason, done.Error, reasonHTTPError)
		}
		if got := b.srv.output(d.InstanceID, model.Stderr); got != done.Error+"\n" {
			t.Errorf("stderr = %q, want the error", got)
		}
	})
}
