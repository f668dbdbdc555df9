// Package balance chooses the agents for a task: it filters the connected
// agents by the job's labels and selector and applies the job's routing
// strategy. It decides only from the candidates it is given, so it is
// deterministic for a snapshot except where a strategy is random by design.
package balance

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Candidate is an agent that could take work, as the dispatcher sees it.
type Candidate struct {
	ID     string
	Name   string
	Labels map[string]string
	// Free is the number of free slots; the dispatcher decrements it as it
	// assigns tasks within one pass. Agents with no free slot are still
	// candidates: consistent_hash waits for its agent and broadcast for
	// every matching one.
	Free int
	Load float64
}

// Target is a run to place.
type Target struct {
	JobID  uuid.UUID
	Config *model.JobConfig
	// Params are the run's resolved parameters (consistent_hash may key on
	// one).
	Params map[string]string
}

// Placement is where a run goes.
type Placement struct {
	// Agents holds the chosen agent, or for broadcast every matching agent
	// in shard order (by id).
	Agents []*Candidate
	// Reason names the strategy and why it chose these agents; it is stored
	// on the instance.
	Reason string
}

// maxStickyKeys bounds the consistent_hash memory. Past it, arbitrary keys
// are forgotten and fall back to their rendezvous hash, which still maps
// them to the same agent unless the set of agents changed.
const maxStickyKeys = 1 << 16

// Router applies routing strategies. It remembers the round-robin position
// of each job and the agent each consistent_hash key went to, so one Router
// serves one dispatcher for its whole life. It is safe for concurrent use.
type Router struct {
	mu     sync.Mutex
	last   map[uuid.UUID]string // round_robin: the agent a job went to last
	sticky map[string]string    // consistent_hash: key → agent
	intN   func(n int) int
}

// NewRouter returns a Router.
func NewRouter() *Router {
	return &Router{last: map[uuid.UUID]string{}, sticky: map[string]string{}, intN: rand.IntN}
}

// Route chooses agents for t among cands. It returns false when the run must
// wait: no agent matches, or the agents the strategy needs have no free
// slot. It does not change cands.
func (r *Router) Route(cands []*Candidate, t Target) (Placement, bool) {
	var matching []*Candidate
	for _, c := range cands {
		if t.Config.MatchesAgent(c.Labels) {
			matching = append(matching, c)
		}
	}
	if len(matching) == 0 {
		return Placement{}, false
	}
	slices.SortFunc(matching, func(a, b *Candidate) int { return cmp.Compare(a.ID, b.ID) })
	routing := t.Config.Routing
	switch routing.EffectiveStrategy() {
	case model.RouteBroadcast:
		for _, c := range matching {
			if c.Free <= 0 {
				return Placement{}, false
			}
		}
		return Placement{Agents: matching, Reason: fmt.Sprintf("broadcast: every one of %d matching agents (%s), success rule %s",
			len(matching), agentIDs(matching), routing.EffectiveSuccess())}, true
	case model.RouteConsistentHash:
		return r.consistentHash(matching, t)
	case model.RouteFailover:
		return failover(matching, routing.Prefer)
	}
	feasible := slices.DeleteFunc(slices.Clone(matching), func(c *Candidate) bool { return c.Free <= 0 })
	if len(feasible) == 0 {
		return Placement{}, false
	}
	switch routing.EffectiveStrategy() {
	case model.RouteRoundRobin:
		return r.roundRobin(feasible, t.JobID), true
	case model.RouteRandom:
		c := feasible[r.randN(len(feasible))]
		return one(c, fmt.Sprintf("random: one of %d matching agents with a free slot", len(feasible))), true
	}
	return leastLoaded(feasible), true
}

func one(c *Candidate, reason string) Placement {
	return Placement{Agents: []*Candidate{c}, Reason: reason}
}

func (r *Router) randN(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.intN(n)
}

// leastLoaded prefers the most free slots, then the lowest load, then the
// lowest id.
func leastLoaded(feasible []*Candidate) Placement {
	best := feasible[0]
	for _, c := range feasible[1:] {
		if c.Free > best.Free || c.Free == best.Free && c.Load < best.Load {
			best = c
		}
	}
	return one(best, fmt.Sprintf("least_loaded: most free slots (%d of the %d matching agents with room), load %.2f", best.Free, len(feasible), best.Load))
}

// roundRobin takes the first agent after the one the job went to last, in
// id order, so agents joining or leaving do not reset the rotation.
func (r *Router) roundRobin(feasible []*Candidate, job uuid.UUID) Placement {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.last[job]
	pick := feasible[0]
	for _, c := range feasible {
		if c.ID > last {
			pick = c
			break
		}
	}
	r.last[job] = pick.ID
	return one(pick, fmt.Sprintf("round_robin: next of %d matching agents with a free slot after %q", len(feasible), last))
}

// consistentHash keeps a key on the agent it went to while that agent
// matches and is connected, waiting for a slot there; a new key, or one
// whose agent left, goes to the agent with the highest rendezvous hash,
// so adding or removing an agent moves only the keys it gains or held.
func (r *Router) consistentHash(matching []*Candidate, t Target) (Placement, bool) {
	key, desc := t.JobID.String(), "job "+t.JobID.String()
	if name := t.Config.Routing.HashKey; name != "" {
		key += "\x00" + t.Params[name]
		desc = fmt.Sprintf("parameter %s=%q", name, t.Params[name])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var pick *Candidate
	how := "kept on"
	if id, ok := r.sticky[key]; ok {
		if i := slices.IndexFunc(matching, func(c *Candidate) bool { return c.ID == id }); i >= 0 {
			pick = matching[i]
		}
	}
	if pick == nil {
		how = "hashed to"
		var best uint64
		for _, c := range matching {
			if h := rendezvous(key, c.ID); pick == nil || h > best {
				pick, best = c, h
			}
		}
		if len(r.sticky) >= maxStickyKeys {
			for k := range r.sticky {
				delete(r.sticky, k)
				if len(r.sticky) < maxStickyKeys/2 {
					break
				}
			}
		}
		r.sticky[key] = pick.ID
	}
	if pick.Free <= 0 {
		return Placement{}, false
	}
	return one(pick, fmt.Sprintf("consistent_hash: %s %s agent %s", desc, how, pick.ID)), true
}

func rendezvous(key, agent string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(agent))
	return h.Sum64()
}

// failover takes the first agent with a free slot in preference order:
// those named in prefer (by id or name) first, in that order, then the rest
// by id.
func failover(matching []*Candidate, prefer []string) (Placement, bool) {
	rank := func(c *Candidate) int {
		for i, p := range prefer {
			if p == c.ID || p == c.Name {
				return i
			}
		}
		return len(prefer)
	}
	ordered := slices.Clone(matching)
	slices.SortStableFunc(ordered, func(a, b *Candidate) int { return cmp.Compare(rank(a), rank(b)) })
	for i, c := range ordered {
		if c.Free <= 0 {
			continue
		}
		reason := fmt.Sprintf("failover: agent %s is choice %d of %d", c.ID, i+1, len(ordered))
		if i > 0 {
			reason += fmt.Sprintf("; %s before it had no free slot", agentIDs(ordered[:i]))
		}
		return one(c, reason), true
	}
	return Placement{}, false
}

// agentIDs lists the ids of cs for a reason, the first few only.
func agentIDs(cs []*Candidate) string {
	const show = 8
	ids := make([]string, 0, min(len(cs), show+1))
	for i, c := range cs {
		if i == show {
			ids = append(ids, fmt.Sprintf("… %d more", len(cs)-show))
			break
		}
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ", ")
}
