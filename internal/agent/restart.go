package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// markRun marks a run that is about to start. A mark that cannot be written
// costs only the agent_restarted report after a crash, so it is logged.
func (a *Agent) markRun(ctx context.Context, id uuid.UUID) {
	if err := a.marks.add(id); err != nil {
		a.log.WarnContext(ctx, "mark run", "instance_id", id, "error", err)
	}
}

// unmarkRun removes a run's mark once its result is in the outbox.
func (a *Agent) unmarkRun(ctx context.Context, id uuid.UUID) {
	if err := a.marks.remove(id); err != nil {
		a.log.WarnContext(ctx, "unmark run", "instance_id", id, "error", err)
	}
}

// reportLostRuns reports the runs that were in flight when a previous agent
// process died: task.done Lost with reason agent_restarted, and the start
// time of its task.running when that is still in the outbox (otherwise the
// server keeps the start time it has, or, if it never heard of a start,
// dispatches the run again under the same attempt). A run whose result is
// already in the outbox is not reported again. It runs at Start, after the
// outbox was loaded and before the agent connects.
func (a *Agent) reportLostRuns(ctx context.Context) error {
	ids, err := a.marks.list()
	if err != nil || len(ids) == 0 {
		return err
	}
	started := map[uuid.UUID]time.Time{}
	finished := map[uuid.UUID]bool{}
	for m, ok := a.out.next(0); ok; m, ok = a.out.next(m.seq) {
		switch m.kind {
		case protocol.KindTaskRunning:
			var r protocol.TaskRunning
			if json.Unmarshal(m.payload, &r) == nil {
				started[r.InstanceID] = r.StartedAt
			}
		case protocol.KindTaskDone:
			var d protocol.TaskDone
			if json.Unmarshal(m.payload, &d) == nil {
				finished[d.InstanceID] = true
			}
		}
	}
	for _, id := range ids {
		if !finished[id] {
			res := &protocol.TaskDone{
				InstanceID: id,
				Status:     model.InstanceLost,
				Reason:     reasonAgentRestarted,
				Error:      "the agent restarted while the run was in progress; its process could not be reattached",
				StartedAt:  started[id],
				FinishedAt: time.Now().UTC(),
			}
			a.enqueue(ctx, protocol.KindTaskDone, res, true)
			a.mu.Lock()
			a.recent.add(id)
			a.mu.Unlock()
			a.log.WarnContext(ctx, "run lost by an agent restart", "instance_id", id)
			a.TestSignals.Done.Signal(res)
		}
		a.unmarkRun(ctx, id)
	}
	return nil
}
