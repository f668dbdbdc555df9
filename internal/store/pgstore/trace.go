package pgstore

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// queryCounter counts the statements the pool sends, each one round trip
// to the database (BEGIN and COMMIT included), and times them for observe.
type queryCounter struct {
	n       atomic.Uint64
	observe func(operation string, d time.Duration)
}

type traceKey struct{}

// traceStart is what TraceQueryStart hands to TraceQueryEnd.
type traceStart struct {
	op string
	at time.Time
}

// TraceQueryStart implements pgx.QueryTracer.
func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	if q.observe == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, traceStart{op: operationOf(data.SQL), at: time.Now()})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q *queryCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if q.observe == nil {
		return
	}
	if st, ok := ctx.Value(traceKey{}).(traceStart); ok {
		q.observe(st.op, time.Since(st.at))
	}
}

// operationOf names a statement for metrics: sqlc starts each query with
// "-- name: QueryName :kind"; transaction control gets its verb; anything
// else (hand-written SQL in the driver) is "" so labels stay bounded.
func operationOf(sql string) string {
	s := strings.TrimSpace(sql)
	if rest, ok := strings.CutPrefix(s, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok {
			return name
		}
		return ""
	}
	switch w, _, _ := strings.Cut(s, " "); strings.ToLower(strings.TrimSuffix(w, ";")) {
	case "begin":
		return "begin"
	case "commit":
		return "commit"
	case "rollback":
		return "rollback"
	}
	return ""
}

// RoundTrips returns how many statements the store has sent since it
// opened: its cost in database round trips.
func (s *Store) RoundTrips() uint64 { return s.queries.n.Load() }
