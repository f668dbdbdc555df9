package client

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// LogRequest selects part of a task instance's output.
type LogRequest struct {
	// Stream is stdout (default) or stderr.
	Stream string
	// Offset is the byte offset to start at; ignored when Tail > 0.
	Offset int64
	// Tail, when above zero, returns the last Tail lines.
	Tail int
	// Limit caps the bytes returned; 0 means the server's maximum.
	Limit int64
}

func (r *LogRequest) values() url.Values {
	v := url.Values{}
	v.Set("stream", cmp.Or(r.Stream, "stdout"))
	switch {
	case r.Tail > 0:
		v.Set("tail", strconv.Itoa(r.Tail))
	case r.Offset > 0:
		v.Set("offset", strconv.FormatInt(r.Offset, 10))
	}
	if r.Limit > 0 {
		v.Set("limit", strconv.FormatInt(r.Limit, 10))
	}
	return v
}

// LogChunk is a piece of stored output and where it sits in the stream.
type LogChunk struct {
	Data []byte
	// Offset is the stream offset of Data's first byte.
	Offset int64
	// Size is the bytes of the stream stored so far.
	Size int64
	// Finished says the run is over and its output complete.
	Finished bool
	// RunStatus is the instance's status name.
	RunStatus string
}

// ReadLog returns stored output of a task instance as it is now; a read
// past the server's response cap returns a chunk with Offset+len(Data) <
// Size, to be continued from there.
func (c *Client) ReadLog(ctx context.Context, id uuid.UUID, r *LogRequest) (*LogChunk, error) {
	if r == nil {
		r = &LogRequest{}
	}
	resp, err := c.send(ctx, get("/task-instances/"+id.String()+"/log?"+r.values().Encode()))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: read log: %w", err)
	}
	ch := &LogChunk{Data: b, RunStatus: resp.Header.Get("Hetuflow-Run-Status")}
	ch.Offset, _ = strconv.ParseInt(resp.Header.Get("Hetuflow-Log-Offset"), 10, 64)
	ch.Size, _ = strconv.ParseInt(resp.Header.Get("Hetuflow-Log-Size"), 10, 64)
	ch.Finished, _ = strconv.ParseBool(resp.Header.Get("Hetuflow-Log-Finished"))
	return ch, nil
}

// LogEvent is one event of a log follow: output, or the run's end.
type LogEvent struct {
	// Stream is stdout or stderr for output; empty for the end event.
	Stream string
	// Data is new output; Offset the stream offset of its first byte.
	Data   []byte
	Offset int64
	// End is set on the last event, when the run is over.
	End *LogEnd
}

// LogEnd is how the followed run ended.
type LogEnd struct {
	Status       string `json:"status"`
	ExitCode     *int   `json:"exit_code"`
	Reason       string `json:"reason"`
	Error        string `json:"error"`
	Size         int64  `json:"size"`
	DroppedBytes int64  `json:"dropped_bytes"`
}

// Succeeded reports whether the run succeeded.
func (e *LogEnd) Succeeded() bool { return e.Status == "succeeded" }

// followRetries bounds reconnects in a row that bring nothing new.
const followRetries = 5

// FollowLog follows a task instance's output live over Server-Sent Events:
// what is stored from r's offset (or last lines), then each new piece, then
// one event with End set. A broken connection is resumed where it stopped
// (Last-Event-ID), so no byte is yielded twice or skipped. The sequence
// stops after the end event, on the first error, or when the caller stops
// ranging; cancel ctx to end a follow from elsewhere.
func (c *Client) FollowLog(ctx context.Context, id uuid.UUID, r *LogRequest) iter.Seq2[LogEvent, error] {
	if r == nil {
		r = &LogRequest{}
	}
	return func(yield func(LogEvent, error) bool) {
		f := &follow{c: c, id: id, q: r.values(), pos: -1, yield: yield}
		for failures := 0; ; {
			done, err := f.once(ctx)
			if done {
				return
			}
			if ctx.Err() != nil {
				yield(LogEvent{}, ctx.Err())
				return
			}
			var ae *APIError
			if errors.As(err, &ae) && ae.Status < 500 {
				yield(LogEvent{}, err)
				return
			}
			if f.progressed {
				failures = 0
			}
			if failures++; failures > followRetries {
				yield(LogEvent{}, fmt.Errorf("client: follow log: %w", err))
				return
			}
			t := time.NewTimer(time.Duration(failures) * c.backoff * 5)
			select {
			case <-ctx.Done():
				t.Stop()
				yield(LogEvent{}, ctx.Err())
				return
			case <-t.C:
			}
		}
	}
}

// follow is the state of one follow across reconnects.
type follow struct {
	c     *Client
	id    uuid.UUID
	q     url.Values
	yield func(LogEvent, error) bool
	// pos is the stream offset after the last byte yielded; -1 before the
	// first event.
	pos        int64
	progressed bool
}

// once reads one connection's events. done means the sequence is over (end
// event, or the caller stopped); otherwise err is what cut it short.
func (f *follow) once(ctx context.Context) (done bool, err error) {
	f.progressed = false
	header := http.Header{"Accept": {"text/event-stream"}}
	if f.pos >= 0 {
		header.Set("Last-Event-ID", strconv.FormatInt(f.pos, 10))
	}
	r := get("/task-instances/" + f.id.String() + "/log/stream?" + f.q.Encode())
	r.header, r.idempotent = header, false // reconnects are handled here
	resp, err := f.c.send(ctx, r)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				data += value
			}
			continue
		}
		switch name {
		case "end":
			var end LogEnd
			if err := json.Unmarshal([]byte(data), &end); err != nil {
				f.yield(LogEvent{}, fmt.Errorf("client: decode end event: %w", err))
				return true, nil
			}
			f.yield(LogEvent{End: &end}, nil)
			return true, nil
		case "stdout", "stderr":
			var ev struct {
				Offset int64  `json:"offset"`
				Data   []byte `json:"data"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				f.yield(LogEvent{}, fmt.Errorf("client: decode output event: %w", err))
				return true, nil
			}
			b := ev.Data
			if f.pos > ev.Offset {
				b = b[min(int64(len(b)), f.pos-ev.Offset):]
			}
			f.pos = ev.Offset + int64(len(ev.Data))
			f.progressed = true
			if len(b) > 0 && !f.yield(LogEvent{Stream: name, Data: b, Offset: f.pos - int64(len(b))}, nil) {
				return true, nil
			}
		}
		name, data = "", ""
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("client: read log stream: %w", err)
	}
	return false, errors.New("client: log stream closed before the run ended")
}

// LatestInstance returns the latest instance of a task, or nil if it has
// none yet.
func (c *Client) LatestInstance(ctx context.Context, taskID uuid.UUID) (*TaskInstance, error) {
	res, err := c.QueryInstances(ctx, &Query{Filter: map[string]any{"task_id": taskID.String()}, Page: Page{Limit: 1, OrderBys: []string{"!attempt", "!created_at"}}})
	if err != nil {
		return nil, err
	}
	if len(res.Result) == 0 {
		return nil, nil
	}
	return res.Result[0], nil
}
