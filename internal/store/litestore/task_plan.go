package litestore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// TaskSetConfigPending implements [store.Executor].
func (e *executor) TaskSetConfigPending(ctx context.Context, params *store.TaskSetConfigPendingParams) (int, error) {
	config, err := json.Marshal(params.Config)
	if err != nil {
		return 0, fmt.Errorf("replan tasks of %s: encode config: %w", params.JobID, err)
	}
	parameters, err := json.Marshal(params.Parameters)
	if err != nil {
		return 0, fmt.Errorf("replan tasks of %s: encode parameters: %w", params.JobID, err)
	}
	n, err := e.q.TaskSetConfigPending(ctx, e.w, &dbsqlc.TaskSetConfigPendingParams{
		Config: string(config), Parameters: string(parameters), Now: nowMicros(params.Now), JobID: params.JobID,
	})
	if err != nil {
		return 0, fmt.Errorf("replan tasks of %s: %w", params.JobID, e.interpretError(err))
	}
	return int(n), nil
}
