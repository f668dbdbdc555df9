package litestore

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// recordingDB records the query texts sqlc sends, and runs them on an
// empty database (they fail; only the text matters).
type recordingDB struct {
	*sql.DB
	queries []string
}

func (r *recordingDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	r.queries = append(r.queries, query)
	return r.DB.QueryRowContext(ctx, query, args...)
}

// TestUnscopedQueriesArePrepared checks that the unscoped forms listed in
// readQueries are the very texts sqlc sends, so they hit the prepared
// statements instead of being parsed per call.
func TestUnscopedQueriesArePrepared(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec := &recordingDB{DB: db}
	ctx, q, id := t.Context(), dbsqlc.New(), uuid.New()
	_, _ = q.JobGetByID(ctx, rec, &dbsqlc.JobGetByIDParams{ID: id, AnyNamespace: true})
	_, _ = q.ScheduleGetByID(ctx, rec, &dbsqlc.ScheduleGetByIDParams{ID: id, AnyNamespace: true})
	_, _ = q.TaskGetByID(ctx, rec, &dbsqlc.TaskGetByIDParams{ID: id, AnyNamespace: true})
	_, _ = q.TaskInstanceGetByID(ctx, rec, &dbsqlc.TaskInstanceGetByIDParams{ID: id, AnyNamespace: true})
	if len(rec.queries) != 4 {
		t.Fatalf("recorded %d queries, want 4", len(rec.queries))
	}
	prepared := readQueries()
	for _, query := range rec.queries {
		if !slices.Contains(prepared, query) {
			t.Errorf("query sent unscoped is not prepared:\n%s", query)
		}
	}
}
