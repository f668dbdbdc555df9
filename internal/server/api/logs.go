package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
)

// maxLogResponse bounds one log response; the per-run cap keeps streams
// smaller, so this only guards against a misconfigured cap.
const maxLogResponse = 64 << 20

// LogInput selects what part of an instance's output to read: all of it,
// from an offset, its last lines, or a standard byte range.
type LogInput struct {
	IDInput
	Stream string `query:"stream" enum:"stdout,stderr" default:"stdout" doc:"Which stream."`
	Offset int64  `query:"offset" minimum:"0" doc:"Byte offset to start at (default 0). Not with tail."`
	Limit  int64  `query:"limit" minimum:"1" doc:"Most bytes to return (default and maximum 64 MiB)."`
	// Tail's maximum bounds the line offsets held while reading a
	// compressed stream.
	Tail  int    `query:"tail" minimum:"0" maximum:"100000" doc:"Return the last N lines. Not with offset."`
	Range string `header:"Range" doc:"One range, bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX, answered with 206, or 416 when it starts past the end. Ignored along with offset, limit or tail, with several ranges, or with If-Range (the stream has no validators)."`
	// IfRange makes Range conditional; with no validator to match, the
	// whole stream is sent, as RFC 9110 says for a validator that fails.
	IfRange string `header:"If-Range" doc:"Makes Range conditional; the stream has no validators, so Range is then ignored."`

	present logParams
}

// logParams records which selection parameters a request named; a zero
// value cannot tell "offset=0" from no offset.
type logParams struct {
	offset, limit, tail bool
}

func presentParams(ctx huma.Context) logParams {
	u := ctx.URL()
	q := u.Query()
	return logParams{offset: q.Has("offset"), limit: q.Has("limit"), tail: q.Has("tail")}
}

// Resolve records which parameters were given.
func (in *LogInput) Resolve(ctx huma.Context) []error {
	in.present = presentParams(ctx)
	return nil
}

// LogOutput is raw output bytes, and headers that place them in the stream.
type LogOutput struct {
	Status       int
	ContentType  string `header:"Content-Type"`
	AcceptRanges string `header:"Accept-Ranges"`
	ContentRange string `header:"Content-Range" doc:"With 206: the bytes sent, bytes FIRST-LAST/SIZE."`
	Size         int64  `header:"Hetuflow-Log-Size" doc:"Bytes of the stream stored so far."`
	Offset       int64  `header:"Hetuflow-Log-Offset" doc:"Stream offset of the first byte sent; the next read starts at this plus the body's length."`
	Finished     bool   `header:"Hetuflow-Log-Finished" doc:"Whether the stream is complete: the run is over and its output stored, so it will not grow."`
	RunStatus    string `header:"Hetuflow-Run-Status" doc:"The instance's status: dispatched, running, succeeded, failed, timeout, lost, cancelled…"`
	Dropped      int64  `header:"Hetuflow-Log-Dropped" doc:"Bytes of output (both streams) the agent dropped over the job's output limit; known once the run is over. The stream ends with a marker saying so."`
	Body         []byte
}

// logOperation documents the log read's answers: text, not JSON, and the
// range statuses.
func logOperation(op huma.Operation) huma.Operation {
	text := func() map[string]*huma.MediaType {
		return map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}}
	}
	op.Responses = map[string]*huma.Response{
		"200": {Description: "The stream's bytes, or those the query selects.", Content: text()},
		"206": {Description: "The bytes of the Range; Content-Range says which.", Content: text()},
		"416": {Description: "The Range starts past the end; Content-Range gives the size."},
	}
	return op
}

func (a *API) getInstanceLog(ctx context.Context, in *LogInput) (*LogOutput, error) {
	id, err := parseID(in.ID)
	if err != nil {
		return nil, err
	}
	if in.present.offset && in.present.tail {
		return nil, errOffsetAndTail(in.Tail)
	}
	ti, err := a.gateInstance(ctx, id)
	if err != nil {
		return nil, err
	}
	stream := streamOf(in.Stream)
	finished, err := logComplete(ctx, a.deps.Logs, ti, a.heartbeat, time.Now())
	if err != nil {
		return nil, huma.Error500InternalServerError("read log: " + err.Error())
	}
	out := &LogOutput{
		Status:       http.StatusOK,
		ContentType:  "text/plain; charset=utf-8",
		AcceptRanges: "bytes",
		Finished:     finished,
		RunStatus:    ti.Status.String(),
	}
	if ti.Usage != nil {
		out.Dropped = ti.Usage.DroppedBytes
	}
	var start, end int64
	if in.present.tail {
		start, end, err = a.deps.Logs.TailOffset(ctx, id, stream, in.Tail)
	} else {
		end, err = a.deps.Logs.Size(ctx, id, stream)
		start = min(in.Offset, end)
	}
	if err != nil {
		return nil, huma.Error500InternalServerError("read log: " + err.Error())
	}
	out.Size = end
	if in.Range != "" && in.IfRange == "" && in.present == (logParams{}) {
		first, last, ok, satisfiable := parseRange(in.Range, end)
		switch {
		case ok && !satisfiable:
			return nil, huma.ErrorWithHeaders(
				huma.NewError(http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("range %q starts past the end of the stream (%d bytes)", in.Range, end)),
				http.Header{"Content-Range": {fmt.Sprintf("bytes */%d", end)}})
		case ok:
			start, end = first, last
			out.Status = http.StatusPartialContent
		}
	}
	limit := int64(maxLogResponse)
	if in.present.limit {
		limit = min(limit, in.Limit)
	}
	end = min(end, start+limit)
	if out.Body, err = a.readLog(ctx, id, stream, start, end); err != nil {
		return nil, huma.Error500InternalServerError("read log: " + err.Error())
	}
	out.Offset = start
	if out.Status == http.StatusPartialContent {
		out.ContentRange = fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(out.Body))-1, out.Size)
	}
	return out, nil
}

// readLog reads [start, end) of a stream, or less if it shrank meanwhile
// (deleted by a purge).
func (a *API) readLog(ctx context.Context, id uuid.UUID, stream model.LogStream, start, end int64) ([]byte, error) {
	if end <= start {
		return []byte{}, nil
	}
	r, _, err := a.deps.Logs.OpenAt(ctx, id, stream, start)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, end-start)
	n, err := io.ReadFull(r, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// parseRange reads a Range header with one byte range (RFC 9110 §14.1.2)
// against a stream of size bytes and returns the half-open range it
// selects. ok is false when the header must be ignored: another unit,
// several ranges, or bad syntax. satisfiable is false when the range starts
// at or past the end (or asks for a suffix of an empty stream).
func parseRange(h string, size int64) (start, end int64, ok, satisfiable bool) {
	unit, spec, found := strings.Cut(h, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if first == "" { // a suffix: the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return max(0, size-n), size, true, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, false
	}
	end = size
	if last != "" {
		l, err := strconv.ParseInt(last, 10, 64)
		if err != nil || l < start {
			return 0, 0, false, false
		}
		end = min(size, l+1)
	}
	if start >= size {
		return 0, 0, true, false
	}
	return start, end, true, true
}

func errOffsetAndTail(tail int) error {
	return huma.Error400BadRequest("offset and tail cannot be used together: tail reads the last lines, offset reads from a byte position",
		&huma.ErrorDetail{Location: "query.tail", Message: "not with offset", Value: tail})
}

func streamOf(s string) model.LogStream {
	if s == "" {
		return model.Stdout
	}
	return model.LogStream(s)
}

// logComplete reports whether an instance's output will not grow: its run
// is over and either its agent reported that it printed nothing, or its
// log was finished (the agent's last report was applied, or the run was
// given up; with the database, by any server), or it ended more than
// settle ago. The last case covers a run the server cancelled whose agent
// never reported back, and file logs finished before a restart that had no
// output to compress.
func logComplete(ctx context.Context, logs *tasklog.Store, in *model.TaskInstance, settle time.Duration, now time.Time) (bool, error) {
	if !in.Status.Final() {
		return false, nil
	}
	if in.FinishedAt == nil || now.Sub(*in.FinishedAt) > settle {
		return true, nil
	}
	if u := in.Usage; u != nil && u.StdoutBytes == 0 && u.StderrBytes == 0 && u.DroppedBytes == 0 {
		return true, nil
	}
	return logs.Finished(ctx, in.ID)
}
