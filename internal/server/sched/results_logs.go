package sched

// finishLogs finishes the logs of the runs whose agent said they ended
// (task.done) or that it no longer has (lost). apply calls it once the
// batch is committed, and not as each report is read, because the agent
// sends a run's output before its done report, in sequence: by then every
// chunk before the report, in this batch or an earlier one, is written, and
// one resent later is a duplicate. A run cancelled by the server is final
// before its agent stops it, so its log is finished by the agent's report,
// not by the cancel. Compression happens on the log store's own worker
// (tasklog.Compressor), off this loop.
func (r *Results) finishLogs(batch []*Report) {
	for _, rep := range batch {
		switch {
		case rep.Done != nil:
			if r.owners[rep.Done.InstanceID] == rep.AgentID {
				r.logs.Finish(rep.Done.InstanceID)
			}
		case len(rep.Lost) > 0:
			for _, id := range rep.Lost {
				if r.owners[id] == rep.AgentID {
					r.logs.Finish(id)
				}
			}
		}
	}
}
