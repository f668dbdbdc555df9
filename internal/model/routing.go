package model

// RoutingStrategy names how a run's agent is chosen among the agents that
// match its job.
type RoutingStrategy string

// Routing strategies.
const (
	// RouteLeastLoaded picks the agent with the most free slots, then the
	// lowest load. It is the default.
	RouteLeastLoaded RoutingStrategy = "least_loaded"
	// RouteRoundRobin takes the matching agents in turn, per job.
	RouteRoundRobin RoutingStrategy = "round_robin"
	// RouteRandom picks uniformly among the agents with a free slot.
	RouteRandom RoutingStrategy = "random"
	// RouteConsistentHash maps a key (the job, or a parameter's value) to
	// the same agent for as long as that agent is connected; the run waits
	// for a slot there rather than go elsewhere.
	RouteConsistentHash RoutingStrategy = "consistent_hash"
	// RouteFailover takes the first agent of an ordered preference list
	// that has a free slot.
	RouteFailover RoutingStrategy = "failover"
	// RouteBroadcast runs the task on every matching agent at once, each
	// run told its shard; the task's outcome follows Routing.Success.
	RouteBroadcast RoutingStrategy = "broadcast"
)

// BroadcastSuccess says when a broadcast task succeeds.
type BroadcastSuccess string

// Broadcast success rules.
const (
	BroadcastAll    BroadcastSuccess = "all"
	BroadcastAny    BroadcastSuccess = "any"
	BroadcastQuorum BroadcastSuccess = "quorum"
)

// Routing is how a job's runs choose their agent.
type Routing struct {
	Strategy RoutingStrategy `json:"strategy,omitempty" enum:"least_loaded,round_robin,random,consistent_hash,failover,broadcast" doc:"How the agent is chosen among those that match; default least_loaded."`
	// HashKey names the parameter whose value is the consistent hash key;
	// empty means the job itself.
	HashKey string `json:"hash_key,omitempty" doc:"consistent_hash: the parameter whose value is the key; empty means the job id."`
	// Prefer lists agent ids or names in order of preference.
	Prefer []string `json:"prefer,omitempty" doc:"failover: agent ids or names, most preferred first; agents not listed follow by id."`
	// Success is the broadcast rule: all shards succeed (default), any
	// does, or more than half do.
	Success BroadcastSuccess `json:"success,omitempty" enum:"all,any,quorum" doc:"broadcast: when the task succeeds: all (default), any, or quorum (more than half) of its runs."`
}

// EffectiveStrategy returns the strategy, or the default.
func (r Routing) EffectiveStrategy() RoutingStrategy {
	if r.Strategy == "" {
		return RouteLeastLoaded
	}
	return r.Strategy
}

// EffectiveSuccess returns the broadcast rule, or the default.
func (r Routing) EffectiveSuccess() BroadcastSuccess {
	if r.Success == "" {
		return BroadcastAll
	}
	return r.Success
}

// BroadcastSucceeded applies the rule to a broadcast's finished runs.
func (r Routing) BroadcastSucceeded(succeeded, total int) bool {
	switch r.EffectiveSuccess() {
	case BroadcastAny:
		return succeeded > 0
	case BroadcastQuorum:
		return 2*succeeded > total
	}
	return succeeded == total
}

// validate checks r against the job's declared parameters.
func (r Routing) validate(params []ParamSpec) error {
	switch r.EffectiveStrategy() {
	case RouteLeastLoaded, RouteRoundRobin, RouteRandom, RouteConsistentHash, RouteFailover, RouteBroadcast:
	default:
		return Errorf("strategy", "unknown strategy %q (use least_loaded, round_robin, random, consistent_hash, failover or broadcast)", r.Strategy)
	}
	if r.HashKey != "" {
		if r.EffectiveStrategy() != RouteConsistentHash {
			return Errorf("hash_key", "is only for strategy consistent_hash")
		}
		declared := false
		for _, p := range params {
			declared = declared || p.Name == r.HashKey
		}
		if !declared {
			return Errorf("hash_key", "names no declared parameter %q", r.HashKey)
		}
	}
	if len(r.Prefer) > 0 && r.EffectiveStrategy() != RouteFailover {
		return Errorf("prefer", "is only for strategy failover")
	}
	switch r.Success {
	case "":
	case BroadcastAll, BroadcastAny, BroadcastQuorum:
		if r.EffectiveStrategy() != RouteBroadcast {
			return Errorf("success", "is only for strategy broadcast")
		}
	default:
		return Errorf("success", "unknown rule %q (use all, any or quorum)", r.Success)
	}
	return nil
}
