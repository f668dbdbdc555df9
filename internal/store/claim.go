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
	// Priorities returns the priorities below below that have claimable
	// tasks, highest first.
	Priorities func(ctx context.Context, below int) ([]int, error)
	// At returns up to limit claimable tasks of one priority due by the
	// horizon, in claim order after (runAt, id).
	At func(ctx context.Context, priority int, runAt time.Time, id uuid.UUID, limit int) ([]*model.Task, error)
}

// claimFloor is before every task's run_at, for a claim from the start of
// a priority.
var claimFloor = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// ClaimByPriority is TaskClaimDue for the drivers: it lists the priorities
// that hold claimable tasks below the cursor's (all of them without one)
// and claims the due tasks of each, highest first, until limit tasks are
// claimed or no priority is left. Each step is a seek in the claim index: a
// single query ordered by priority then run_at cannot stop at the horizon,
// and read every planned task of the generator's window on each claim. A
// claim of tasks of one priority, the usual case, is two statements. limit
// must be positive.
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
	if len(out) == limit {
		return out, nil
	}
	prios, err := step.Priorities(ctx, below)
	if err != nil {
		return nil, err
	}
	for _, prio := range prios {
		tasks, err := step.At(ctx, prio, claimFloor, uuid.Nil, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, tasks...)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
