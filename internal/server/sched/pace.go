package sched

import "time"

// A run that ends gives its slot back and wakes the dispatcher. On agents
// of small capacity at a high rate those wakes came one after another: at
// 800 runs/s of /bin/true on one agent of capacity 16 the dispatcher ran
// 250 passes a second, each a transaction, a claim and a commit that
// placed three tasks. Such wakes are paced: the next pass waits until a
// little after the last one began, so it places the slots freed meanwhile
// together (148 passes a second there, and 16 % less server CPU). Every
// other wake (new or retried work, an agent connecting, a cancel) still
// starts a pass at once, and so does a freed slot while due work waits.

// maxPace bounds how long a freed slot waits for its pass.
const maxPace = 10 * time.Millisecond

// paceLeadShare is the share of the last pass's shortest lead a freed slot
// may wait: the tasks the next pass places fall due no sooner than those,
// so they still reach their agent well before their instant.
const paceLeadShare = 2

// SlotFreed asks for a pass because a run ended and freed its slot. Unlike
// Wake, the pass may wait a moment for more slots (see pace). It never
// blocks.
func (d *Dispatcher) SlotFreed() {
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// pace is how long after the start of the pass that gave res a pass for a
// freed slot may wait: none while due work waits for slots (each slot is
// wanted at once), a share of the shortest lead of what the pass placed,
// and maxPace when it placed nothing (a freed slot then has no work to
// take; new work wakes the dispatcher itself).
func pace(res dispatchResult, backlog bool) time.Duration {
	switch {
	case backlog || res.full:
		return 0
	case res.dispatched == 0:
		return maxPace
	}
	return min(maxPace, max(0, res.minLead/paceLeadShare))
}
