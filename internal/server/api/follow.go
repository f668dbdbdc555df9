package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Follower wakes log followers when an instance's output grows or its log
// finishes. *tasklog.Broker is the one the log store wakes, fed too by a
// tasklog.Relay with the writes of other servers.
type Follower interface {
	Subscribe(id uuid.UUID) *tasklog.Subscription
}

// DefaultFollowHeartbeat is how often a log follow sends a comment line, so
// proxies keep an idle stream open, and checks the store in case a wake-up
// was missed.
const DefaultFollowHeartbeat = 15 * time.Second

// sseChunk bounds the output bytes in one event.
const sseChunk = 32 << 10

// sseWriteTimeout bounds one write to a follower; a client that stops
// reading is dropped rather than holding the handler.
const sseWriteTimeout = 30 * time.Second

// followLogDoc describes the event stream in the OpenAPI document.
const followLogDoc = "Server-Sent Events (`text/event-stream`). First what is stored from `offset` (or the last `tail` " +
	"lines), then each new piece of output as it is stored, then one `end` event when the run is over and its output " +
	"complete; the server then closes the stream.\n\n" +
	"- Output: `event: stdout` (or `stderr`), `id: <stream offset after this event>`, and " +
	"`data: {\"offset\":<stream offset of the first byte>,\"data\":\"<bytes, base64>\"}`. The bytes are sent as base64 " +
	"so output that is not UTF-8, or a character split between two events, arrives unchanged.\n" +
	"- End: `event: end`, `data: {\"status\":\"succeeded\",\"exit_code\":0,\"reason\":\"\",\"error\":\"\",\"size\":<bytes>,\"dropped_bytes\":<n>}`.\n" +
	"- A comment line (`: ping`) every 15 seconds keeps proxies from closing an idle stream.\n\n" +
	"To resume after a broken connection, send `Last-Event-ID` with the last id received (an EventSource does): it " +
	"wins over `offset` and `tail`."

// FollowInput selects where a log follow starts.
type FollowInput struct {
	IDInput
	Stream      string `query:"stream" enum:"stdout,stderr" default:"stdout" doc:"Which stream."`
	Offset      int64  `query:"offset" minimum:"0" doc:"Byte offset to start at (default 0: all output). Not with tail."`
	Tail        int    `query:"tail" minimum:"0" maximum:"100000" doc:"Start with the last N lines. Not with offset."`
	LastEventID string `header:"Last-Event-ID" doc:"Resume after the event with this id, a stream offset. Wins over offset and tail."`

	present logParams
}

// Resolve records which parameters were given.
func (in *FollowInput) Resolve(ctx huma.Context) []error {
	in.present = presentParams(ctx)
	return nil
}

// followOperation documents the follow's event stream.
func followOperation(op huma.Operation) huma.Operation {
	op.Description = followLogDoc
	op.Responses = map[string]*huma.Response{"200": {
		Description: "An event stream that ends after the end event.",
		Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: huma.TypeString}}},
	}}
	return op
}

func (a *API) followInstanceLog(ctx context.Context, in *FollowInput) (*huma.StreamResponse, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	if in.present.offset && in.present.tail {
		return nil, errOffsetAndTail(in.Tail)
	}
	resume := int64(-1)
	if in.LastEventID != "" {
		if resume, err = strconv.ParseInt(in.LastEventID, 10, 64); err != nil || resume < 0 {
			return nil, huma.Error400BadRequest("bad Last-Event-ID",
				&huma.ErrorDetail{Location: "header.Last-Event-ID", Message: "must be an id this stream sent: a byte offset", Value: in.LastEventID})
		}
	}
	if _, err := a.gateInstance(ctx, id); err != nil {
		return nil, err
	}
	scope := visible(ctx)
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		f := &logFollow{
			id: id, stream: streamOf(in.Stream), logs: a.deps.Logs, heartbeat: a.heartbeat, stop: a.streamsDone,
			instance: func(ctx context.Context) (*model.TaskInstance, error) {
				return a.deps.Store.TaskInstanceGetByID(ctx, &store.TaskInstanceGetByIDParams{ID: id, Namespaces: scope})
			},
			out: newSSEWriter(w),
		}
		// Subscribe before the first read, so nothing written in between is
		// missed.
		f.sub = a.follow.Subscribe(id)
		defer f.sub.Close()
		start := func() (int64, error) {
			switch {
			case resume >= 0:
				return resume, nil
			case in.present.tail:
				off, _, err := a.deps.Logs.TailOffset(r.Context(), id, f.stream, in.Tail)
				return off, err
			}
			return in.Offset, nil
		}
		var err error
		if f.pos, err = start(); err == nil {
			err = f.run(r.Context())
		}
		if err != nil && r.Context().Err() == nil && !errors.Is(err, errStreamsClosed) {
			a.deps.Logger.DebugContext(r.Context(), "log follow ended", "instance_id", id, "error", err)
		}
	}}, nil
}

// errStreamsClosed ends follows when the server stops.
var errStreamsClosed = errors.New("api: server stopping")

// logFollow sends one stream of one instance as Server-Sent Events until
// the run is over, the client goes away, or the server stops. It runs on
// the request's goroutine and starts none.
type logFollow struct {
	id        uuid.UUID
	stream    model.LogStream
	logs      *tasklog.Store
	sub       *tasklog.Subscription
	instance  func(context.Context) (*model.TaskInstance, error)
	heartbeat time.Duration
	stop      <-chan struct{}
	out       *sseWriter

	pos int64 // the next stream offset to send
	buf []byte
}

// run sends what is stored from f.pos, then follows. The subscription must
// exist before it is called.
func (f *logFollow) run(ctx context.Context) error {
	if err := f.out.comment("following " + f.id.String() + " " + string(f.stream)); err != nil {
		return err
	}
	in, err := f.instance(ctx)
	if err != nil {
		return err
	}
	if _, err := f.catchUp(ctx); err != nil {
		return err
	}
	complete, err := logComplete(ctx, f.logs, in, f.heartbeat, time.Now())
	if err != nil {
		return err
	}
	if (f.sub.Finished() && in.Status.Final()) || complete {
		return f.end(ctx, in)
	}
	t := time.NewTicker(f.heartbeat)
	defer t.Stop()
	// quiet is set at a tick that found the run over and nothing new: if
	// the next tick finds the same, the log is taken as complete although no
	// finish came (a cancelled run whose agent never reported back, or a
	// wake-up lost). Polling stays so a lost notification costs latency only.
	quiet := false
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-f.stop:
			return errStreamsClosed
		case <-f.sub.Wake():
			if _, err := f.catchUp(ctx); err != nil {
				return err
			}
			if !f.sub.Finished() {
				continue
			}
			// The finish comes after the store committed the end.
			in, err := f.instance(ctx)
			if err != nil {
				return err
			}
			if in.Status.Final() {
				return f.end(ctx, in)
			}
		case <-t.C:
			if err := f.out.comment("ping"); err != nil {
				return err
			}
			n, err := f.catchUp(ctx)
			if err != nil {
				return err
			}
			in, err := f.instance(ctx)
			if err != nil {
				return err
			}
			if !in.Status.Final() {
				quiet = false
				continue
			}
			if quiet && n == 0 {
				return f.end(ctx, in)
			}
			finished, err := f.logs.Finished(ctx, f.id)
			if err != nil {
				return err
			}
			if finished {
				return f.end(ctx, in)
			}
			quiet = n == 0
		}
	}
}

// catchUp sends what is stored past f.pos and returns how many bytes it
// sent.
func (f *logFollow) catchUp(ctx context.Context) (int64, error) {
	r, size, err := f.logs.OpenAt(ctx, f.id, f.stream, f.pos)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if f.buf == nil {
		f.buf = make([]byte, sseChunk)
	}
	var sent int64
	for f.pos < size {
		n, err := io.ReadFull(r, f.buf[:min(int64(len(f.buf)), size-f.pos)])
		if n > 0 {
			if werr := f.out.output(f.stream, f.pos, f.buf[:n]); werr != nil {
				return sent, werr
			}
			f.pos += int64(n)
			sent += int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break // deleted meanwhile
			}
			return sent, fmt.Errorf("read log: %w", err)
		}
	}
	return sent, nil
}

// EndEvent is the data of the last event of a log follow.
type EndEvent struct {
	Status       string `json:"status"`
	ExitCode     *int   `json:"exit_code"`
	Reason       string `json:"reason"`
	Error        string `json:"error"`
	Size         int64  `json:"size"`
	DroppedBytes int64  `json:"dropped_bytes"`
}

// end sends what is left of the stream and the end event with the
// instance's final state.
func (f *logFollow) end(ctx context.Context, in *model.TaskInstance) error {
	if _, err := f.catchUp(ctx); err != nil {
		return err
	}
	ev := EndEvent{Status: in.Status.String(), ExitCode: in.ExitCode, Reason: in.Reason, Error: in.Error, Size: f.pos}
	if in.Usage != nil {
		ev.DroppedBytes = in.Usage.DroppedBytes
	}
	return f.out.event("", "end", ev)
}

// sseWriter writes Server-Sent Events and flushes each one.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// outputData is the data of an output event.
type outputData struct {
	Offset int64  `json:"offset"`
	Data   []byte `json:"data"`
}

// output sends data found at offset of stream; its id is where the next
// event starts, which is what Last-Event-ID resumes from.
func (s *sseWriter) output(stream model.LogStream, offset int64, data []byte) error {
	return s.event(strconv.FormatInt(offset+int64(len(data)), 10), string(stream), outputData{Offset: offset, Data: data})
}

func (s *sseWriter) event(id, name string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	var msg []byte
	if id != "" {
		msg = append(append(append(msg, "id: "...), id...), '\n')
	}
	msg = append(append(append(msg, "event: "...), name...), '\n')
	msg = append(append(append(msg, "data: "...), b...), "\n\n"...)
	return s.write(msg)
}

func (s *sseWriter) comment(text string) error {
	return s.write([]byte(": " + text + "\n\n"))
}

func (s *sseWriter) write(msg []byte) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := s.w.Write(msg); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush event: %w", err)
	}
	return nil
}
