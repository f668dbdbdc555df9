package litestore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/store"
)

// TaskFinishedHistogram implements [store.Executor]. The filter is built
// like the List queries' (store.BuildWhere), so the SQL is written here
// rather than by sqlc. Times are microseconds since the epoch, so a bucket
// is an integer division.
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
	args = append(args, params.From.UnixMicro(), params.Step.Microseconds())
	sql := fmt.Sprintf(`SELECT (finished_at - %s) / %s AS bucket, count(*), sum(CASE WHEN status = 100 THEN 1 ELSE 0 END)
		FROM sched_task WHERE %s GROUP BY bucket ORDER BY bucket`, d.Placeholder(len(args)-1), d.Placeholder(len(args)), where)
	rows, err := e.r.QueryContext(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("task histogram: %w", e.interpretError(err))
	}
	defer rows.Close()
	var out []*store.TaskFinishedBucket
	for rows.Next() {
		var b store.TaskFinishedBucket
		var bucket, total, ok int64
		if err := rows.Scan(&bucket, &total, &ok); err != nil {
			return nil, fmt.Errorf("task histogram: %w", e.interpretError(err))
		}
		b.Bucket, b.Total, b.Succeeded = int(bucket), int(total), int(ok)
		out = append(out, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task histogram: %w", e.interpretError(err))
	}
	return out, nil
}
