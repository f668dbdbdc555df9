package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// TaskPlanExecutor keeps planned tasks in step with their job. It is
// embedded in [Executor].
type TaskPlanExecutor interface {
	// TaskSetConfigPending gives a job's planned fires that were never
	// dispatched (Pending, attempt 0, with a schedule) the job's new config
	// and default parameters, so an edit applies to the next run rather
	// than after the planning window. It returns the number changed.
	TaskSetConfigPending(ctx context.Context, params *TaskSetConfigPendingParams) (int, error)
}

// TaskSetConfigPendingParams are the inputs of TaskSetConfigPending.
type TaskSetConfigPendingParams struct {
	JobID      uuid.UUID
	Config     model.JobConfig
	Now        *time.Time
	Parameters map[string]string
}
