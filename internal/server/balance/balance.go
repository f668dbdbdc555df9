// Package balance chooses the agent for a task. It is pure: it filters a
// static list of candidates (online, matching the job's labels, with a free
// slot) and scores what is left. Later strategies plug in by name.
package balance

import (
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Candidate is an agent that could take work, as the dispatcher sees it.
type Candidate struct {
	ID     string
	Labels map[string]string
	// Free is the number of free slots; the dispatcher decrements it as it
	// assigns tasks within one pass.
	Free int
	Load float64
}

// Strategy picks one of the feasible candidates.
type Strategy interface {
	// Pick returns the chosen candidate and a short reason, or nil when none
	// fits. feasible is never empty.
	Pick(feasible []*Candidate) (*Candidate, string)
}

// StrategyFunc adapts a function to Strategy.
type StrategyFunc func(feasible []*Candidate) (*Candidate, string)

// Pick calls f.
func (f StrategyFunc) Pick(feasible []*Candidate) (*Candidate, string) { return f(feasible) }

// DefaultStrategy is used when a job names none.
const DefaultStrategy = "least_loaded"

// Lookup returns the strategy with the given name. An unknown name is an
// error naming it.
func Lookup(name string) (Strategy, error) {
	switch name {
	case "", DefaultStrategy:
		return StrategyFunc(leastLoaded), nil
	}
	return nil, fmt.Errorf("unknown routing strategy %q", name)
}

// leastLoaded prefers the most free slots, then the lowest load, then the
// lowest id, so the choice is deterministic for a given snapshot.
func leastLoaded(feasible []*Candidate) (*Candidate, string) {
	best := feasible[0]
	for _, c := range feasible[1:] {
		switch {
		case c.Free > best.Free:
			best = c
		case c.Free == best.Free && c.Load < best.Load:
			best = c
		case c.Free == best.Free && c.Load == best.Load && c.ID < best.ID:
			best = c
		}
	}
	return best, fmt.Sprintf("least_loaded: %d free slots, load %.2f", best.Free, best.Load)
}

// Feasible returns the candidates with a free slot whose labels satisfy
// want, reusing buf.
func Feasible(buf, candidates []*Candidate, want map[string]string) []*Candidate {
	buf = buf[:0]
	for _, c := range candidates {
		if c.Free > 0 && model.MatchLabels(want, c.Labels) {
			buf = append(buf, c)
		}
	}
	return buf
}
