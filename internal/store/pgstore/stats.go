package pgstore

import (
	"context"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/store"
)

// TaskFinishedHistogram implements [store.Executor]. The namespace
// restriction is built like the List queries' (store.BuildWhere), so the SQL
// is written here rather than by sqlc.
func (e *executor) TaskFinishedHistogram(ctx context.Context, params *store.TaskFinishedHistogramParams) ([]*store.TaskFinishedBucket, error) {
	if params.Step <= 0 {
		return nil, fmt.Errorf("task histogram: step must be positive")
	}
	// One index-only range count per bucket (generate_series and LATERAL):
	// the planner sorts a GROUP BY on a computed bucket instead, which
	// costs more than the counting.
	d := dialect{}
	where, args, err := store.BuildWhere(d, store.TaskResource(), nil, params.Namespaces, nil)
	if err != nil {
		return nil, fmt.Errorf("task histogram: %w", err)
	}
	n := int((params.To.Sub(params.From) + params.Step - 1) / params.Step)
	args = append(args, params.From, params.Step, params.To, n-1)
	from, step, to, last := d.Placeholder(len(args)-3), d.Placeholder(len(args)-2), d.Placeholder(len(args)-1), d.Placeholder(len(args))
	sql := fmt.Sprintf(`SELECT b, c.total, c.ok FROM generate_series(0, %[4]s::int) AS b,
		LATERAL (SELECT count(*) AS total, count(*) FILTER (WHERE status = 100) AS ok FROM sched_task
			WHERE finished_at >= %[1]s::timestamptz + b * %[2]s::interval AND finished_at < least(%[1]s::timestamptz + (b + 1) * %[2]s::interval, %[3]s::timestamptz)
			AND %[5]s) c
		WHERE c.total > 0 ORDER BY b`, from, step, to, last, where)
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
