// Package logging builds the process logger (log/slog): text on a terminal,
// JSON otherwise, at a level that can change while the process runs, and
// with the request id of the context on every line logged with a …Context
// method.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
)

// New returns a logger writing to w in format ("text", "json", or "auto":
// text when w is a terminal, JSON otherwise) at level, which the caller
// may change later (a configuration reload).
func New(format string, w io.Writer, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "auto" || format == "" {
		format = "json"
		if IsTerminal(w) {
			format = "text"
		}
	}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(contextHandler{h})
}

// LevelVar returns a level variable set to name (debug, info, warn or
// error); an unknown name leaves it at info.
func LevelVar(name string) *slog.LevelVar {
	v := new(slog.LevelVar)
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err == nil {
		v.Set(l)
	}
	return v
}

// IsTerminal reports whether w is a character device such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying a request id, which every line logged
// with it shows as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// contextHandler adds the context's request id to each record.
type contextHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
