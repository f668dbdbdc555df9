package agent

import (
	"bytes"
	"sync"
	"unicode/utf8"
)

// tailSize bounds TaskDone.OutputTail.
const tailSize = 2 << 10

// outputTail keeps the last tailSize bytes of a run's output, both streams
// in the order the agent read them, in a ring allocated at the first
// write. It is safe for concurrent use; the zero value is empty.
type outputTail struct {
	mu   sync.Mutex
	buf  []byte
	next int  // where the next byte goes
	full bool // the ring has wrapped
}

// write appends p.
func (t *outputTail) write(p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buf == nil {
		t.buf = make([]byte, tailSize)
	}
	if len(p) >= tailSize {
		copy(t.buf, p[len(p)-tailSize:])
		t.next, t.full = 0, true
		return
	}
	end := t.next + len(p)
	n := copy(t.buf[t.next:], p)
	copy(t.buf, p[n:])
	if end >= tailSize {
		t.full = true
	}
	t.next = end % tailSize
}

// String returns the last complete lines that fit, and the unfinished
// last line; when no line break fits, the last bytes, from a character
// boundary.
func (t *outputTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return string(t.buf[:t.next])
	}
	b := make([]byte, 0, tailSize)
	b = append(append(b, t.buf[t.next:]...), t.buf[:t.next]...)
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		return string(b[i+1:])
	}
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	return string(b)
}
