package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// runMarks keeps one empty file per run, DataDir/outbox/running/<instance
// id>, from the moment the run fires until its result is in the outbox (or,
// for a run the server gave away, until it ends). A mark left at start
// names a run the agent lost by dying: its process was killed with the
// agent's cgroup, or lives on orphaned, and either way no result will come,
// so the agent reports it Lost (reason agent_restarted).
//
// Marks are not synced: a crash of the agent process keeps them, and after
// a crash of the machine the server's reconciliation (DESIGN §6) marks
// the runs the agent no longer reports lost instead.
type runMarks struct {
	dir string
}

// add marks id as running.
func (m runMarks) add(id uuid.UUID) error {
	f, err := os.OpenFile(filepath.Join(m.dir, id.String()), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("mark run: %w", err)
	}
	return f.Close()
}

// remove forgets id's mark.
func (m runMarks) remove(id uuid.UUID) error {
	if err := os.Remove(filepath.Join(m.dir, id.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unmark run: %w", err)
	}
	return nil
}

// list returns the marked runs; names that are not instance ids are
// removed.
func (m runMarks) list() ([]uuid.UUID, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, fmt.Errorf("list run marks: %w", err)
	}
	ids := make([]uuid.UUID, 0, len(entries))
	for _, e := range entries {
		id, err := uuid.Parse(e.Name())
		if err != nil {
			_ = os.RemoveAll(filepath.Join(m.dir, e.Name()))
			continue
		}
		ids = append(ids, id)
	}
	return ids, nil
}

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
