package sched

import (
	"context"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
)

// addLog queues a log chunk for the batch's transaction if its agent owns
// the instance. With the database backend, every chunk of the batch is
// then stored in one statement of that transaction, so a burst of small
// chunks costs one round trip.
func (r *Results) addLog(ctx context.Context, logs *tasklog.Batch, rep *Report) {
	if owner := r.owners[rep.Log.InstanceID]; owner != rep.AgentID {
		r.log.WarnContext(ctx, "log chunk from an agent that does not own the instance", "instance_id", rep.Log.InstanceID, "agent_id", rep.AgentID, "owner", owner)
		return
	}
	l := rep.Log
	logs.Add(&model.TaskLogChunk{InstanceID: l.InstanceID, Stream: l.Stream, Offset: l.Offset, Data: l.Data})
}

// finishLogs queues the finish of the logs of the runs whose agent said
// they ended (task.done) or that it no longer has (lost). The batch stores
// them after its chunks, and not as each report is read, because the agent
// sends a run's output before its done report, in sequence: by then every
// chunk before the report, in this batch or an earlier one, is stored, and
// one resent later is a duplicate. With the database the finish marks go
// in the batch's transaction; files are finished once it committed. A run
// cancelled by the server is final before its agent stops it, so its log
// is finished by the agent's report, not by the cancel. Compression happens
// on the log store's own worker (tasklog.Compressor), off this loop.
//
// A run whose agent reports that it printed nothing, and whose output this
// batch does not carry, is finished without a statement (FinishEmpty):
// most runs of a busy scheduler print nothing.
func (r *Results) finishLogs(logs *tasklog.Batch, batch []*Report) {
	withOutput := map[uuid.UUID]bool{}
	for _, rep := range batch {
		if rep.Log != nil {
			withOutput[rep.Log.InstanceID] = true
		}
	}
	for _, rep := range batch {
		switch {
		case rep.Done != nil:
			id := rep.Done.InstanceID
			if r.owners[id] != rep.AgentID {
				continue
			}
			if u := rep.Done.Usage; u.StdoutBytes == 0 && u.StderrBytes == 0 && u.DroppedBytes == 0 && !withOutput[id] {
				logs.FinishEmpty(id)
			} else {
				logs.Finish(id)
			}
		case len(rep.Lost) > 0:
			for _, id := range rep.Lost {
				if r.owners[id] == rep.AgentID {
					logs.Finish(id)
				}
			}
		}
	}
}

// logsCommitted wakes the followers of the committed batch's output, on
// this server and the others, and reports the chunks it could not store:
// those are dropped, not retried forever, and the runs' results still land.
func (r *Results) logsCommitted(ctx context.Context, logs *tasklog.Batch) {
	logs.Committed()
	for _, f := range logs.Failed() {
		r.log.WarnContext(ctx, "store log chunk", "instance_id", f.Chunk.InstanceID, "error", f.Err)
	}
}
