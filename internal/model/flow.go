package model

import (
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Flow is a DAG of jobs: nodes run jobs, and an edge starts its target when
// its source ends as the edge says. A node with several incoming edges waits
// for all of them (fan-in); one with several outgoing edges starts them all
// (fan-out).
type Flow struct {
	ID          uuid.UUID `json:"id"`
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	// Status is Enabled (runs may start) or Disabled.
	Status    JobStatus `json:"status"`
	Spec      FlowSpec  `json:"spec"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// FlowSpec is the graph of a flow.
type FlowSpec struct {
	Nodes []FlowNode `json:"nodes" doc:"The jobs of the flow; names are unique."`
	Edges []FlowEdge `json:"edges,omitempty" doc:"Which node starts which, and on what outcome."`
}

// FlowNode runs one job in a flow.
type FlowNode struct {
	Name  string    `json:"name" doc:"Unique in the flow: letters, digits, '.', '_' or '-'."`
	JobID uuid.UUID `json:"job_id" doc:"The job this node runs."`
	// Parameters for the node's run, over the job's defaults and under the
	// flow run's.
	Parameters map[string]string `json:"parameters,omitempty"`
}

// FlowEdge starts To when From ends as On says.
type FlowEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// On is success (the default), failure (failed, timed out or lost for
	// good) or end (any outcome).
	On string `json:"on,omitempty" enum:"success,failure,end" doc:"success (default), failure or end."`
}

// EffectiveOn returns On or its default.
func (e FlowEdge) EffectiveOn() string {
	if e.On == "" {
		return TriggerOnSuccess
	}
	return e.On
}

// MaxFlowNodes bounds the size of a flow.
const MaxFlowNodes = 500

// Validate checks the graph: unique node names, edges between known nodes
// with known conditions, and no cycle. Errors name the field.
func (s *FlowSpec) Validate() error {
	if len(s.Nodes) == 0 {
		return Errorf("nodes", "a flow needs at least one node")
	}
	if len(s.Nodes) > MaxFlowNodes {
		return Errorf("nodes", "at most %d nodes", MaxFlowNodes)
	}
	index := map[string]int{}
	for i, n := range s.Nodes {
		if err := ValidateName(fmt.Sprintf("nodes[%d].name", i), n.Name); err != nil {
			return err
		}
		if _, dup := index[n.Name]; dup {
			return Errorf(fmt.Sprintf("nodes[%d].name", i), "%q is used twice", n.Name)
		}
		if n.JobID == uuid.Nil {
			return Errorf(fmt.Sprintf("nodes[%d].job_id", i), "is required")
		}
		index[n.Name] = i
	}
	seen := map[[2]string]bool{}
	for i, e := range s.Edges {
		field := fmt.Sprintf("edges[%d]", i)
		if _, ok := index[e.From]; !ok {
			return Errorf(field+".from", "no node named %q", e.From)
		}
		if _, ok := index[e.To]; !ok {
			return Errorf(field+".to", "no node named %q", e.To)
		}
		if e.From == e.To {
			return Errorf(field, "a node cannot start itself")
		}
		switch e.On {
		case "", TriggerOnSuccess, TriggerOnFailure, TriggerOnEnd:
		default:
			return Errorf(field+".on", "must be success, failure or end")
		}
		if seen[[2]string{e.From, e.To}] {
			return Errorf(field, "%s → %s is given twice", e.From, e.To)
		}
		seen[[2]string{e.From, e.To}] = true
	}
	if cycle := s.cycle(); cycle != nil {
		return Errorf("edges", "the graph has a cycle: %s", joinArrow(cycle))
	}
	return nil
}

// cycle returns the nodes of a cycle, or nil when the graph is acyclic.
func (s *FlowSpec) cycle() []string {
	out := map[string][]string{}
	for _, e := range s.Edges {
		out[e.From] = append(out[e.From], e.To)
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		next := out[n]
		sort.Strings(next)
		for _, m := range next {
			switch state[m] {
			case onPath:
				for i, p := range path {
					if p == m {
						return append(append([]string{}, path[i:]...), m)
					}
				}
			case unvisited:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, n := range s.Nodes {
		if state[n.Name] == unvisited {
			if c := visit(n.Name); c != nil {
				return c
			}
		}
	}
	return nil
}

// Roots returns the nodes without incoming edges: where a run starts.
func (s *FlowSpec) Roots() []FlowNode {
	in := map[string]bool{}
	for _, e := range s.Edges {
		in[e.To] = true
	}
	var roots []FlowNode
	for _, n := range s.Nodes {
		if !in[n.Name] {
			roots = append(roots, n)
		}
	}
	return roots
}

// Node returns the node with the given name.
func (s *FlowSpec) Node(name string) (FlowNode, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return FlowNode{}, false
}

func joinArrow(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += " → "
		}
		out += n
	}
	return out
}

// FlowRun is one execution of a flow; its nodes' tasks carry its id.
type FlowRun struct {
	ID        uuid.UUID `json:"id"`
	FlowID    uuid.UUID `json:"flow_id"`
	Namespace string    `json:"namespace"`
	// Status is Doing while nodes may still run, then Succeeded, Failed or
	// Cancelled.
	Status TaskStatus `json:"status"`
	// Spec is the flow's graph when the run started.
	Spec       FlowSpec          `json:"spec"`
	Parameters map[string]string `json:"parameters"`
	Reason     string            `json:"reason,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	FinishedAt *time.Time        `json:"finished_at"`
}
