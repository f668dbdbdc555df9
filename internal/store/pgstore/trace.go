package pgstore

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// queryCounter counts the statements the pool sends, each one round trip
// to the database (BEGIN and COMMIT included).
type queryCounter struct{ n atomic.Uint64 }

// TraceQueryStart implements pgx.QueryTracer.
func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// RoundTrips returns how many statements the store has sent since it
// opened: its cost in database round trips.
func (s *Store) RoundTrips() uint64 { return s.queries.n.Load() }
