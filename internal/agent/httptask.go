package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// http task settings.
const (
	// defaultHTTPTimeout bounds an http task whose job has no timeout.
	defaultHTTPTimeout = 30 * time.Second
	// httpBodyHead is how much of the response body goes to stdout.
	httpBodyHead = 64 << 10
	// httpDrainMax is how much more of the body the agent reads, and
	// discards, so that the connection can serve another run.
	httpDrainMax = 256 << 10
	// httpMaxStatusLine bounds the status line written before the body.
	httpMaxStatusLine = 1 << 10
)

// httpBufPool recycles the buffers that hold a response's status line and
// body head.
var httpBufPool = sync.Pool{New: func() any {
	b := make([]byte, httpMaxStatusLine+httpBodyHead+1)
	return &b
}}

// httpClients are an agent's clients for http tasks. They share one
// transport, so runs against the same host reuse connections; follow
// follows redirects, noFollow returns them, for tasks that expect a 3xx.
type httpClients struct {
	transport *http.Transport
	follow    *http.Client
	noFollow  *http.Client
}

func newHTTPClients() *httpClients {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &httpClients{
		transport: t,
		follow:    &http.Client{Transport: t},
		noFollow: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// executeHTTP makes the instance's request from the agent itself and
// returns its result: success when the status is expected (any 2xx
// unless the job lists statuses). Stdout gets the status line and the
// first 64 KiB of the body; stderr gets a failed request's error. The
// job's timeout, or 30s, bounds the whole exchange.
func (r *run) executeHTTP(ctx context.Context) *protocol.TaskDone {
	a, d := r.a, r.d
	h := d.Config.HTTP
	res := &protocol.TaskDone{InstanceID: d.InstanceID}
	if h == nil {
		return r.failStart(res, "http task has no request")
	}
	reqCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := newHTTPRequest(reqCtx, h, a.userAgent)
	if err != nil {
		return r.failStart(res, err.Error())
	}
	stopOnStop := context.AfterFunc(ctx, func() { r.terminate(model.InstanceCancelled, "agent stopped", true) })
	defer stopOnStop()
	r.mu.Lock()
	r.cancelReq = cancel
	r.mu.Unlock()
	if ended := r.endedBeforeStart(res); ended != nil {
		return ended
	}
	timeout := d.Config.Timeout.D()
	if timeout <= 0 {
		timeout = defaultHTTPTimeout
	}
	timer := time.AfterFunc(timeout, func() { r.terminate(model.InstanceTimeout, "timed out after "+timeout.String(), true) })
	defer timer.Stop()

	res.StartedAt = r.serverNow()
	if !r.dropped.Load() {
		a.enqueue(ctx, protocol.KindTaskRunning, &protocol.TaskRunning{InstanceID: d.InstanceID, StartedAt: res.StartedAt}, true)
	}
	a.TestSignals.Started.Signal(d.InstanceID)
	limit := d.Config.EffectiveOutputLimit()
	stdout := &outStream{r: r, stream: model.Stdout, limit: limit}
	stderr := &outStream{r: r, stream: model.Stderr, limit: limit}
	client := a.http.follow
	if slices.ContainsFunc(h.ExpectStatus, func(s int) bool { return s >= 300 && s < 400 }) {
		client = a.http.noFollow
	}
	resp, reqErr := client.Do(req)
	if reqErr == nil {
		reqErr = readResponse(ctx, resp, stdout)
	}
	res.FinishedAt = r.serverNow()
	r.mu.Lock()
	r.exited = true
	status, reason := r.status, r.reason
	r.mu.Unlock()

	switch {
	case status != 0:
		res.Status, res.Reason, res.Error = status, reasonFor(status), reason
	case reqErr != nil:
		msg := reqErr.Error()
		stderr.write(ctx, []byte(msg+"\n"))
		res.Status, res.Reason, res.Error = model.InstanceFailed, reasonHTTPError, msg
	case !statusExpected(resp.StatusCode, h.ExpectStatus):
		want := "2xx"
		if len(h.ExpectStatus) > 0 {
			want = fmt.Sprint(h.ExpectStatus)
		}
		res.Status, res.Reason = model.InstanceFailed, reasonHTTPStatus
		res.Error = fmt.Sprintf("unexpected status %s (want %s)", resp.Status, want)
	default:
		res.Status = model.InstanceSucceeded
	}
	stdout.finish(ctx)
	stderr.finish(ctx)
	res.Usage = model.ResourceUsage{
		StdoutBytes:  stdout.total,
		StderrBytes:  stderr.total,
		DroppedBytes: stdout.dropped + stderr.dropped,
	}
	res.OutputTail = r.tail.String()
	return res
}

// newHTTPRequest builds the request of an http task. A Host header sets
// the request's host.
func newHTTPRequest(ctx context.Context, h *model.HTTPTask, userAgent string) (*http.Request, error) {
	method := strings.ToUpper(h.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URL, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range h.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	return req, nil
}

// readResponse writes the status line and the body head to stdout as one
// chunk, drains some more of the body so the connection can be reused, and
// closes it. It returns an error only if reading the head failed.
func readResponse(ctx context.Context, resp *http.Response, stdout *outStream) error {
	defer resp.Body.Close()
	bp := httpBufPool.Get().(*[]byte)
	defer httpBufPool.Put(bp)
	buf := *bp
	line := append(append(append(buf[:0], resp.Proto...), ' '), resp.Status...)
	line = append(line[:min(len(line), httpMaxStatusLine-1)], '\n')
	n := len(line)
	m, err := io.ReadFull(resp.Body, buf[n:n+httpBodyHead+1])
	more := err == nil // one byte past the head was there
	out := buf[:n+min(m, httpBodyHead)]
	if more {
		out = append(out, "\n[hetuflow: response body truncated at 64 KiB]\n"...)
	}
	stdout.write(ctx, out)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil // the whole body fit
	case err != nil:
		return fmt.Errorf("read response body: %w", err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, httpDrainMax) // a failure only costs the connection
	return nil
}

// statusExpected reports whether code counts as success: one of want, or
// any 2xx when want is empty.
func statusExpected(code int, want []int) bool {
	if len(want) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(want, code)
}
