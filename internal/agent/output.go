package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// Output shipping: a chunk goes out when chunkSize bytes are buffered, when
// coalesceDelay has passed since its first byte, or at EOF.
const (
	chunkSize     = 32 << 10
	coalesceDelay = 20 * time.Millisecond
)

// chunkPool recycles the pumps' read buffers; a run needs two.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

// outStream is one output stream of a run as shipped to the server.
// Offset is the position in the stream as stored by the server: bytes over
// the output limit, or refused by a full outbox, are counted as dropped and
// never sent, and a final marker chunk says how many there were. Its
// counters are read by the run after its writer finished.
type outStream struct {
	r      *run
	stream model.LogStream
	limit  int64

	total   int64 // bytes the run wrote
	sent    int64 // bytes shipped, marker included: the next chunk's offset
	dropped int64 // bytes not shipped
}

// write ships data, which the run wrote just now, and adds it to the
// run's output tail.
func (s *outStream) write(ctx context.Context, data []byte) {
	s.total += int64(len(data))
	s.r.tail.write(data)
	s.flush(ctx, data)
}

// pump reads one output stream of a process and ships it as task.log
// chunks.
type pump struct {
	outStream
	f pipe
}

// pipe is the read end of an output pipe, possibly behind a redactor.
type pipe interface {
	Read(b []byte) (int, error)
	SetReadDeadline(t time.Time) error
}

// outputPipe returns f, or f behind a redactor when the run's env holds
// secrets: every stream gets its own, as a value may be cut anywhere.
func (r *run) outputPipe(f *os.File) pipe {
	red := newRedactor(r.d.Redact)
	if red == nil {
		return f
	}
	return &redactingPipe{f: f, r: red}
}

// run reads until EOF, or until the run closes the read end.
func (p *pump) run(ctx context.Context) {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	n := 0
	for {
		m, err := p.f.Read(buf[n:])
		if m > 0 {
			if n == 0 {
				// The first unsent byte: ship no later than coalesceDelay
				// from now. Pipes are pollable, so the deadline is cheap.
				_ = p.f.SetReadDeadline(time.Now().Add(coalesceDelay))
			}
			p.r.tail.write(buf[n : n+m])
			n += m
			p.total += int64(m)
		}
		switch {
		case err == nil && n < len(buf):
			continue
		case err == nil || errors.Is(err, os.ErrDeadlineExceeded):
			p.flush(ctx, buf[:n])
			n = 0
			_ = p.f.SetReadDeadline(time.Time{})
		default: // EOF, or the read end was closed
			p.flush(ctx, buf[:n])
			p.finish(ctx)
			return
		}
	}
}

// flush ships data, the last len(data) bytes the run wrote, minus what
// lies beyond the output limit.
func (s *outStream) flush(ctx context.Context, data []byte) {
	if len(data) == 0 {
		return
	}
	start := s.total - int64(len(data)) // stream position of data[0]
	keep := int64(len(data))
	if room := s.limit - start; room < keep {
		keep = max(room, 0)
	}
	s.dropped += int64(len(data)) - keep
	if keep == 0 {
		return
	}
	if !s.r.sendLog(ctx, s.stream, s.sent, data[:keep], false) {
		s.dropped += keep
		return
	}
	s.sent += keep
}

// finish ships the truncation marker if anything was dropped.
func (s *outStream) finish(ctx context.Context) {
	if s.dropped == 0 {
		return
	}
	marker := fmt.Appendf(nil, "\n[hetuflow: output truncated: %d bytes dropped]\n", s.dropped)
	s.r.sendLog(ctx, s.stream, s.sent, marker, true)
	s.sent += int64(len(marker))
}

// sendLog queues a log chunk and reports whether it was kept. Once the
// outbox refused one chunk of the run, every later one is refused too,
// except the forced truncation marker.
func (r *run) sendLog(ctx context.Context, stream model.LogStream, offset int64, data []byte, force bool) bool {
	if r.dropped.Load() {
		return true // nobody wants it; pretend it went
	}
	if !force && r.overflow.Load() {
		return false
	}
	msg := &protocol.TaskLog{InstanceID: r.d.InstanceID, Stream: stream, Offset: offset, Data: data}
	if r.a.enqueue(ctx, protocol.KindTaskLog, msg, force) {
		return true
	}
	if !r.overflow.Swap(true) {
		r.a.log.WarnContext(ctx, "outbox full, dropping output", "instance_id", r.d.InstanceID, "num_unacked", r.a.out.len())
	}
	return false
}
