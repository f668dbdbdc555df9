package sched

import "time"

// A run that ends gives its slot back and wakes the dispatcher. On agents
// of small capacity at a high rate those wakes came one after another: at
// 800 runs/s of /bin/true on one agent of capacity 16 the dispatcher ran
// 250 passes a second, each a transaction, a claim and a commit that
// placed three tasks. Such wakes are paced: the next pass waits until a
// little after the last one began, so it places the slots freed meanwhile
// together (about 160 passes a second there, and 8–20 % less server
// CPU). Every other wake (new or retried work, a run of a constrained job
// ending, an agent connecting, a cancel) still starts a pass at once.

// maxPace bounds how long a freed slot waits for its pass.
const maxPace = 10 * time.Millisecond

// paceLeadDivisor divides the shortest lead the last pass saw (of what it
// placed, and of what it left for want of slots) into the longest a freed
// slot may wait: what the next pass places falls due no sooner, so it
// still reaches its agent well before its instant.
const paceLeadDivisor = 2

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
// freed slot may wait. None after a pass that found no free slot or failed
// (a slot is wanted at once), or that left a backlog or filled a batch;
// maxPace after one that placed nothing and left nothing (a freed slot has
// no work to take: new work wakes the dispatcher itself); else a share of
// the shortest lead it saw, which is not positive when due work was left
// for want of slots.
func pace(res dispatchResult, backlog bool) time.Duration {
	switch {
	case res.starved || backlog || res.full:
		return 0
	case !res.leads:
		return maxPace
	}
	return min(maxPace, max(0, res.minLead/paceLeadDivisor))
}
