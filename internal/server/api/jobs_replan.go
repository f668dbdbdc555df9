package api

import (
	"context"
	"fmt"
	"reflect"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// replanConfig gives the job's planned fires that no agent holds yet the
// job's new config, so an edit applies from the next run on every server
// rather than once the planning window (two minutes ahead) has passed.
// Runs already dispatched or going keep the config they started with.
func replanConfig(ctx context.Context, ex store.Executor, old, job *model.Job) error {
	if reflect.DeepEqual(old.Config, job.Config) {
		return nil
	}
	_, err := ex.TaskSetConfigPending(ctx, &store.TaskSetConfigPendingParams{
		JobID: job.ID, Config: job.Config, Parameters: model.DefaultParams(job.Config.Params),
	})
	if err != nil {
		return fmt.Errorf("apply the new config to planned runs: %w", err)
	}
	return nil
}
