package sched

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// loadShards returns, for each broadcast task among the finished instances,
// the instances of its current attempt (as the transaction sees them, so
// siblings finished in the same batch count as finished).
func loadShards(ctx context.Context, ex store.Executor, finished []*model.TaskInstance) (map[uuid.UUID][]*model.TaskInstance, error) {
	var ids []any
	seen := map[uuid.UUID]bool{}
	for _, in := range finished {
		if in.ShardTotal > 0 && !seen[in.TaskID] {
			seen[in.TaskID] = true
			ids = append(ids, in.TaskID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	all, err := ex.TaskInstanceList(ctx, &store.TaskInstanceListParams{Filter: store.Filter{{Field: "task_id", Op: store.OpIn, Value: ids}}, Limit: store.MaxPageLimit})
	if err != nil {
		return nil, fmt.Errorf("load broadcast runs: %w", err)
	}
	out := map[uuid.UUID][]*model.TaskInstance{}
	for _, in := range all {
		out[in.TaskID] = append(out[in.TaskID], in)
	}
	return out, nil
}

// broadcastState decides a broadcast task once every run of its attempt has
// ended: the success rule over its runs, else a failure retried as a whole.
// It returns nil while a run of the attempt is still live.
func broadcastState(t *model.Task, runs []*model.TaskInstance, now time.Time) *store.TaskFinish {
	if t.Status != model.TaskDoing {
		return nil
	}
	var total, succeeded, cancelled int
	var failure *model.TaskInstance
	for _, in := range runs {
		if in.Attempt != t.Attempt {
			continue
		}
		if !in.Status.Final() {
			return nil
		}
		total++
		switch in.Status {
		case model.InstanceSucceeded:
			succeeded++
		case model.InstanceCancelled:
			cancelled++
		default:
			if failure == nil {
				failure = in
			}
		}
	}
	if total == 0 {
		return nil
	}
	rule := t.Config.Routing.EffectiveSuccess()
	summary := fmt.Sprintf("broadcast: %d of %d runs succeeded (rule %s)", succeeded, total, rule)
	mv := &store.TaskFinish{ID: t.ID, Attempt: t.Attempt}
	switch {
	case t.Config.Routing.BroadcastSucceeded(succeeded, total):
		mv.Status, mv.Reason = model.TaskSucceeded, summary
	case failure == nil:
		// Nothing failed, so runs were cancelled: the task was.
		mv.Status, mv.Reason = model.TaskCancelled, fmt.Sprintf("%s; %d cancelled", summary, cancelled)
	default:
		failed(t, mv, failure, fmt.Sprintf("failed: %s; shard %d of %d %s", summary, failure.ShardIndex, failure.ShardTotal, describeFailure(failure)), now)
	}
	return mv
}
