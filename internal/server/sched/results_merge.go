package sched

import (
	"slices"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/store"
)

// A short run's reports often arrive in one batch: its ack, its start and
// its end. Each is an update of the same instance row, and each update of
// that row writes every one of its indexes, so the writer folds the ones
// that say nothing the next does not: a finish records the start and the
// ack, and a start records the ack.

// withoutFinished drops the starts of instances the same batch finishes:
// the finish stores the start time (TaskInstanceFinishMany keeps a stored
// one, or takes the report's), which saves each short run one of its three
// updates. A finish that carries no start time takes the dropped report's.
func withoutFinished(starts []*store.TaskInstanceStart, finishes []*store.TaskInstanceFinish) []*store.TaskInstanceStart {
	if len(starts) == 0 || len(finishes) == 0 {
		return starts
	}
	byID := make(map[uuid.UUID]*store.TaskInstanceFinish, len(finishes))
	for _, f := range finishes {
		byID[f.ID] = f
	}
	return slices.DeleteFunc(starts, func(s *store.TaskInstanceStart) bool {
		f := byID[s.ID]
		if f == nil || f.AgentID != s.AgentID {
			return false
		}
		if f.StartedAt == nil {
			t := s.StartedAt
			f.StartedAt = &t
		}
		return true
	})
}

// withoutRecorded drops the acks of instances the same batch starts, or
// finishes with Acked set, from the same agent: both store the ack
// (acked_at, when none is stored), so a short run whose reports share a
// batch costs one update instead of three.
func withoutRecorded(acks map[string][]uuid.UUID, starts []*store.TaskInstanceStart, finishes []*store.TaskInstanceFinish) map[string][]uuid.UUID {
	if len(acks) == 0 || len(starts)+len(finishes) == 0 {
		return acks
	}
	type key struct {
		agentID string
		id      uuid.UUID
	}
	recorded := make(map[key]bool, len(starts)+len(finishes))
	for _, s := range starts {
		recorded[key{s.AgentID, s.ID}] = true
	}
	for _, f := range finishes {
		if f.Acked {
			recorded[key{f.AgentID, f.ID}] = true
		}
	}
	for agentID, ids := range acks {
		ids = slices.DeleteFunc(ids, func(id uuid.UUID) bool { return recorded[key{agentID, id}] })
		if len(ids) == 0 {
			delete(acks, agentID)
		} else {
			acks[agentID] = ids
		}
	}
	return acks
}
