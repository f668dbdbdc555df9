package agent

import (
	"bytes"
	"errors"
	"os"
	"sort"
	"time"
)

// redactMask replaces every secret value in a run's output.
var redactMask = []byte("***")

// redactor replaces secret values in a stream with ***, including values
// split across reads: it holds back the end of what it was given while that
// end could still begin a secret, at most the longest secret's length less
// one byte.
type redactor struct {
	secrets [][]byte // longest first, so the longest match wins
	first   [256]bool
	held    []byte
	out     []byte
}

// newRedactor returns a redactor for values, or nil when there are none.
// Empty values are ignored: they would match everywhere.
func newRedactor(values []string) *redactor {
	r := &redactor{}
	for _, v := range values {
		if v != "" {
			r.secrets = append(r.secrets, []byte(v))
			r.first[v[0]] = true
		}
	}
	if len(r.secrets) == 0 {
		return nil
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// push takes the next raw bytes and returns the redacted bytes that are
// safe to emit now. The result is valid until the next call.
func (r *redactor) push(raw []byte) []byte {
	r.held = append(r.held, raw...)
	return r.scan(false)
}

// flush returns everything still held, redacted: the stream has ended.
func (r *redactor) flush() []byte { return r.scan(true) }

func (r *redactor) scan(final bool) []byte {
	data := r.held
	r.out = r.out[:0]
	i := 0
scan:
	for i < len(data) {
		if !r.first[data[i]] {
			// Copy the run of bytes no secret starts with in one go.
			j := i + 1
			for j < len(data) && !r.first[data[j]] {
				j++
			}
			r.out = append(r.out, data[i:j]...)
			i = j
			continue
		}
		rest := data[i:]
		for _, s := range r.secrets {
			if bytes.HasPrefix(rest, s) {
				r.out = append(r.out, redactMask...)
				i += len(s)
				continue scan
			}
			if !final && len(rest) < len(s) && bytes.HasPrefix(s, rest) {
				break scan // could be a secret cut by the read; wait
			}
		}
		r.out = append(r.out, data[i])
		i++
	}
	r.held = append(r.held[:0], data[i:]...)
	return r.out
}

// redactingPipe reads a run's output pipe through a redactor. It returns
// (0, nil) when everything read was held back, which the pump treats as
// "nothing yet"; at EOF it returns what was held, then EOF.
type redactingPipe struct {
	f    *os.File
	r    *redactor
	raw  []byte
	rest []byte // redacted bytes not yet returned
	eof  error
}

func (p *redactingPipe) SetReadDeadline(t time.Time) error { return p.f.SetReadDeadline(t) }

func (p *redactingPipe) Read(b []byte) (int, error) {
	if len(p.rest) == 0 && p.eof == nil {
		if p.raw == nil {
			p.raw = make([]byte, chunkSize)
		}
		m, err := p.f.Read(p.raw[:min(len(p.raw), len(b))])
		p.rest = p.r.push(p.raw[:m])
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// flush reuses the buffer p.rest points into.
			p.rest = append(bytes.Clone(p.rest), p.r.flush()...)
			p.eof = err
		} else if err != nil {
			n := copy(b, p.rest)
			p.rest = p.rest[n:]
			return n, err
		}
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	if len(p.rest) == 0 && p.eof != nil {
		return n, p.eof
	}
	return n, nil
}
