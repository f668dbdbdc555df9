package balance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

func target(routing model.Routing, sel string) Target {
	s, err := model.ParseSelector(sel)
	if err != nil {
		panic(err)
	}
	return Target{JobID: uuid.MustParse("01900000-0000-7000-8000-000000000001"), Config: &model.JobConfig{Selector: s, Routing: routing}}
}

func ids(p Placement) string {
	out := make([]string, len(p.Agents))
	for i, c := range p.Agents {
		out[i] = c.ID
	}
	return strings.Join(out, ",")
}

func TestRouteTable(t *testing.T) {
	t.Parallel()
	cands := func() []*Candidate {
		return []*Candidate{
			{ID: "a", Name: "alpha", Labels: map[string]string{"zone": "x"}, Free: 2, Load: 0.5},
			{ID: "b", Name: "beta", Labels: map[string]string{"zone": "y"}, Free: 3, Load: 0.1},
			{ID: "c", Name: "gamma", Labels: map[string]string{"zone": "x", "gpu": "1"}, Free: 2, Load: 0.2},
			{ID: "d", Name: "delta", Free: 5},
			{ID: "full", Labels: map[string]string{"zone": "x"}, Free: 0},
		}
	}
	for _, tc := range []struct {
		name    string
		routing model.Routing
		sel     string
		want    string // placed agent ids, or "" when the run waits
		reason  string // substring of the placement reason
	}{
		{"LeastLoadedMostFree", model.Routing{}, "", "d", "least_loaded"},
		{"LeastLoadedTieByLoad", model.Routing{}, "zone=x", "c", "load 0.20"},
		{"SelectorNeedsLabel", model.Routing{}, "gpu", "c", ""},
		{"NotInMatchesUnlabelled", model.Routing{}, "zone notin (x,y)", "d", ""},
		{"NoMatchWaits", model.Routing{}, "zone=z", "", ""},
		{"CombinedRequirements", model.Routing{}, "zone=x,!gpu,zone in (x),gpu notin (1)", "a", ""},
		{"FailoverFirstPreferred", model.Routing{Strategy: model.RouteFailover, Prefer: []string{"beta", "a"}}, "", "b", "choice 1"},
		{"FailoverSkipsFull", model.Routing{Strategy: model.RouteFailover, Prefer: []string{"full", "c"}}, "zone=x", "c", "full before it had no free slot"},
		{"FailoverUnlistedById", model.Routing{Strategy: model.RouteFailover}, "zone=x", "a", ""},
		{"BroadcastAllMatching", model.Routing{Strategy: model.RouteBroadcast}, "zone in (x,y),!gpu,zone!=x", "b", "broadcast"},
		{"BroadcastWaitsForFull", model.Routing{Strategy: model.RouteBroadcast}, "zone=x", "", ""},
		{"BroadcastEvery", model.Routing{Strategy: model.RouteBroadcast, Success: model.BroadcastQuorum}, "!zone", "d", "quorum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, ok := NewRouter().Route(cands(), target(tc.routing, tc.sel))
			if got := ids(p); ok != (tc.want != "") || got != tc.want {
				t.Fatalf("Route = %q, %v, want %q", got, ok, tc.want)
			}
			if !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", p.Reason, tc.reason)
			}
		})
	}
}

func TestBroadcastShardsInIdOrder(t *testing.T) {
	t.Parallel()
	cands := []*Candidate{{ID: "c", Free: 1}, {ID: "a", Free: 1}, {ID: "b", Free: 1}}
	p, ok := NewRouter().Route(cands, target(model.Routing{Strategy: model.RouteBroadcast}, ""))
	if !ok || ids(p) != "a,b,c" {
		t.Fatalf("broadcast = %q, %v, want a,b,c", ids(p), ok)
	}
}

func TestRoundRobinRotatesPerJob(t *testing.T) {
	t.Parallel()
	r := NewRouter()
	cands := []*Candidate{{ID: "b", Free: 9}, {ID: "a", Free: 9}, {ID: "c", Free: 9}}
	rr := model.Routing{Strategy: model.RouteRoundRobin}
	var got []string
	for range 5 {
		p, ok := r.Route(cands, target(rr, ""))
		if !ok {
			t.Fatal("round_robin waited with free agents")
		}
		got = append(got, ids(p))
	}
	if strings.Join(got, " ") != "a b c a b" {
		t.Errorf("rotation = %v, want a b c a b", got)
	}
	// An agent leaving does not reset the rotation: after b comes c.
	p, _ := r.Route([]*Candidate{{ID: "a", Free: 1}, {ID: "c", Free: 1}}, target(rr, ""))
	if ids(p) != "c" {
		t.Errorf("after b without b = %s, want c", ids(p))
	}
	// Another job has its own position.
	other := target(rr, "")
	other.JobID = uuid.MustParse("01900000-0000-7000-8000-000000000002")
	if p, _ := r.Route(cands, other); ids(p) != "a" {
		t.Errorf("other job starts at %s, want a", ids(p))
	}
}

func TestRandomSpreads(t *testing.T) {
	t.Parallel()
	r := NewRouter()
	cands := []*Candidate{{ID: "a", Free: 9}, {ID: "b", Free: 9}, {ID: "full"}}
	seen := map[string]int{}
	for range 200 {
		p, ok := r.Route(cands, target(model.Routing{Strategy: model.RouteRandom}, ""))
		if !ok {
			t.Fatal("random waited with free agents")
		}
		seen[ids(p)]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || seen["full"] != 0 {
		t.Errorf("random picks = %v, want both free agents and never the full one", seen)
	}
}

func TestConsistentHash(t *testing.T) {
	t.Parallel()
	r := NewRouter()
	routing := model.Routing{Strategy: model.RouteConsistentHash, HashKey: "tenant"}
	agents := func(ids ...string) []*Candidate {
		var cs []*Candidate
		for _, id := range ids {
			cs = append(cs, &Candidate{ID: id, Free: 1})
		}
		return cs
	}
	route := func(cs []*Candidate, tenant string) (string, bool) {
		tg := target(routing, "")
		tg.Config.Params = []model.ParamSpec{{Name: "tenant"}}
		tg.Params = map[string]string{"tenant": tenant}
		p, ok := r.Route(cs, tg)
		return ids(p), ok
	}
	first := map[string]string{}
	spread := map[string]int{}
	for i := range 40 {
		key := fmt.Sprint("t", i)
		got, ok := route(agents("a", "b", "c"), key)
		if !ok {
			t.Fatal("consistent_hash waited with free agents")
		}
		first[key] = got
		spread[got]++
	}
	if len(spread) != 3 {
		t.Errorf("40 keys landed on %v, want all three agents used", spread)
	}
	// A new agent joining moves no key away from a living agent.
	for key, want := range first {
		if got, _ := route(agents("a", "b", "c", "d", "e"), key); got != want {
			t.Errorf("key %s moved from %s to %s when agents joined", key, want, got)
		}
	}
	// A key whose agent is busy waits for it.
	for key, want := range first {
		cs := agents("a", "b", "c")
		for _, c := range cs {
			if c.ID == want {
				c.Free = 0
			}
		}
		if got, ok := route(cs, key); ok {
			t.Errorf("key %s went to %s while its agent %s was busy; want it to wait", key, got, want)
		}
		break
	}
	// When its agent leaves, a key moves and then stays on its new agent.
	for key, was := range first {
		var rest []string
		for _, id := range []string{"a", "b", "c"} {
			if id != was {
				rest = append(rest, id)
			}
		}
		moved, ok := route(agents(rest...), key)
		if !ok || moved == was {
			t.Fatalf("key %s stayed on departed %s", key, was)
		}
		if again, _ := route(agents("a", "b", "c"), key); again != moved {
			t.Errorf("key %s went back from %s to %s when %s returned; want it kept", key, moved, again, was)
		}
		break
	}
}

func TestOnlyFullAgentsMatchWaits(t *testing.T) {
	t.Parallel()
	cands := []*Candidate{{ID: "busy", Labels: map[string]string{"pool": "etl"}}, {ID: "idle", Free: 4}}
	for _, s := range []model.RoutingStrategy{model.RouteLeastLoaded, model.RouteRoundRobin, model.RouteRandom, model.RouteFailover, model.RouteConsistentHash, model.RouteBroadcast} {
		if p, ok := NewRouter().Route(cands, target(model.Routing{Strategy: s}, "pool=etl")); ok {
			t.Errorf("%s placed on %s, want the run to wait for the busy matching agent", s, ids(p))
		}
	}
}
