package pgstore

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// queryCounter counts the round trips the pool makes (each statement, BEGIN
// and COMMIT included, or each batch of statements sent together, as a
// transaction's BEGIN and first statement are) and times them for observe.
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

// batchTrace is what TraceBatchStart hands to the calls after it.
type batchTrace struct {
	op string // the last statement's that is not BEGIN
	at time.Time
}

// TraceBatchStart implements pgx.BatchTracer: a batch is one round trip.
func (q *queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	q.n.Add(1)
	if q.observe == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, &batchTrace{at: time.Now()})
}

// TraceBatchQuery implements pgx.BatchTracer.
func (q *queryCounter) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if b, ok := ctx.Value(traceKey{}).(*batchTrace); ok {
		if op := operationOf(data.SQL); op != "begin" {
			b.op = op
		}
	}
}

// TraceBatchEnd implements pgx.BatchTracer: the batch is timed as its
// statement (a transaction's BEGIN rides along with its first).
func (q *queryCounter) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if q.observe == nil {
		return
	}
	if b, ok := ctx.Value(traceKey{}).(*batchTrace); ok {
		q.observe(b.op, time.Since(b.at))
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
