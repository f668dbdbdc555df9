package store

import (
	"context"
	"time"
)

// StatsExecutor holds the aggregate reads of the web console's dashboard.
type StatsExecutor interface {
	// TaskFinishedHistogram counts the tasks that finished in [From, To),
	// in buckets of Step from From, and how many of them succeeded. Buckets
	// with no task are left out; the result is ordered by Bucket.
	TaskFinishedHistogram(ctx context.Context, params *TaskFinishedHistogramParams) ([]*TaskFinishedBucket, error)
}

// TaskFinishedHistogramParams are the inputs of
// Executor.TaskFinishedHistogram.
type TaskFinishedHistogramParams struct {
	From       time.Time
	To         time.Time
	Namespaces []string
	// Step is the width of a bucket; it must be positive.
	Step time.Duration
}

// TaskFinishedBucket is one bucket of a histogram: its index from From, the
// tasks finished in it, and those of them that succeeded.
type TaskFinishedBucket struct {
	Bucket    int
	Total     int
	Succeeded int
}
