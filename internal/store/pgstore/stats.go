package pgstore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/store"
)

// TaskFinishedHistogram implements [store.Executor]. The filter is built
// like the List queries' (store.BuildWhere), so the SQL is written here
// rather than by sqlc; one GROUP BY over the finished_at index replaces a
// count per bucket.
func (e *executor) TaskFinishedHistogram(ctx context.Context, params *store.TaskFinishedHistogramParams) ([]*store.TaskFinishedBucket, error) {
	if params.Step <= 0 {
		return nil, fmt.Errorf("task histogram: step must be positive")
	}
	d := dialect{}
	where, args, err := store.BuildWhere(d, store.TaskResource(), store.Filter{
		{Field: "finished_at", Op: store.OpGte, Value: params.From},
		{Field: "finished_at", Op: store.OpLt, Value: params.To},
	}, params.Namespaces, nil)
	if err != nil {
		return nil, fmt.Errorf("task histogram: %w", err)
	}
	args = append(args, params.From, params.Step.Seconds())
	sql := fmt.Sprintf(`SELECT floor(extract(epoch FROM finished_at - %s) / %s)::int AS bucket, count(*), count(*) FILTER (WHERE status = 100)
		FROM sched_task WHERE %s GROUP BY bucket ORDER BY bucket`, d.Placeholder(len(args)-1), d.Placeholder(len(args)), where)
	rows, err := e.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("task histogram: %w", interpretError(err))
	}
	defer rows.Close()
	var out []*store.TaskFinishedBucket
	for rows.Next() {
		var b store.TaskFinishedBucket
		var total, ok int64
		if err := rows.Scan(&b.Bucket, &total, &ok); err != nil {
			return nil, fmt.Errorf("task histogram: %w", interpretError(err))
		}
		b.Total, b.Succeeded = int(total), int(ok)
		out = append(out, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task histogram: %w", interpretError(err))
	}
	return out, nil
}
