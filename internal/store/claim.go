package store

import (
	"context"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// ClaimStep reads one part of a claim for the drivers' TaskClaimDue; see
// [ClaimByPriority].
type ClaimStep struct {
	// Priority returns the highest priority below below that has claimable
	// tasks, or false when there is none.
	Priority func(ctx context.Context, below int) (int, bool, error)
	// At returns up to limit claimable tasks of one priority due by the
	// horizon, in claim order after (runAt, id).
	At func(ctx context.Context, priority int, runAt time.Time, id uuid.UUID, limit int) ([]*model.Task, error)
}

// claimFloor is before every task's run_at, for a claim from the start of
// a priority.
var claimFloor = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// ClaimByPriority is TaskClaimDue for the drivers: it walks the priorities
// that hold claimable tasks from the highest down (or from the cursor on)
// and claims the due tasks of each, until limit tasks are claimed or no
// priority is left. Each step is a seek in the claim index: a single query
// ordered by priority then run_at cannot stop at the horizon, and read
// every planned task of the generator's window on each claim. limit must
// be positive.
func ClaimByPriority(ctx context.Context, params *TaskClaimDueParams, limit int, step ClaimStep) ([]*model.Task, error) {
	var out []*model.Task
	// Without a cursor, start above every priority the API allows.
	below := math.MaxInt32
	if a := params.After; a != nil {
		tasks, err := step.At(ctx, a.Priority, a.RunAt, a.ID, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, tasks...)
		below = a.Priority
	}
	for len(out) < limit {
		prio, ok, err := step.Priority(ctx, below)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		tasks, err := step.At(ctx, prio, claimFloor, uuid.Nil, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, tasks...)
		below = prio
	}
	return out, nil
}
