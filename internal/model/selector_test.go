package model

import (
	"errors"
	"slices"
	"testing"
)

func TestSelectorMatches(t *testing.T) {
	t.Parallel()
	agent := map[string]string{"env": "prod", "zone": "eu-1", "gpu": "a100"}
	for _, tc := range []struct {
		sel    string
		labels map[string]string
		want   bool
	}{
		{"env=prod", agent, true},
		{"env==prod", agent, true},
		{"env=dev", agent, false},
		{"env!=dev", agent, true},
		{"env!=prod", agent, false},
		{"env!=prod", nil, true}, // != also matches an agent without the key
		{"zone in (eu-1, eu-2)", agent, true},
		{"zone in (us-1)", agent, false},
		{"zone notin (us-1,us-2)", agent, true},
		{"zone notin (eu-1)", agent, false},
		{"zone notin (eu-1)", nil, true},
		{"gpu", agent, true},
		{"gpu", map[string]string{"env": "prod"}, false},
		{"!gpu", agent, false},
		{"!gpu", map[string]string{"env": "prod"}, true},
		{"env=prod,zone in (eu-1),gpu", agent, true},
		{"env=prod,!gpu", agent, false},
		// An agent with no labels does not match a selector that needs one.
		{"env=prod", nil, false},
		{"zone in (eu-1)", nil, false},
		{"gpu", nil, false},
		{"", nil, true},
	} {
		sel, err := ParseSelector(tc.sel)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", tc.sel, err)
		}
		if got := sel.Matches(tc.labels); got != tc.want {
			t.Errorf("%q.Matches(%v) = %v, want %v", tc.sel, tc.labels, got, tc.want)
		}
	}
}

func TestParseSelectorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Selector
		text string
	}{
		{"env=prod", Selector{{Key: "env", Op: SelectorEquals, Values: []string{"prod"}}}, "env=prod"},
		{" a != b , c in(x, y) ,!d,e notin (z)", Selector{
			{Key: "a", Op: SelectorNotEquals, Values: []string{"b"}},
			{Key: "c", Op: SelectorIn, Values: []string{"x", "y"}},
			{Key: "d", Op: SelectorNotExists},
			{Key: "e", Op: SelectorNotIn, Values: []string{"z"}},
		}, "a!=b,c in (x,y),!d,e notin (z)"},
		{"kubernetes.io/arch", Selector{{Key: "kubernetes.io/arch", Op: SelectorExists}}, "kubernetes.io/arch"},
	} {
		got, err := ParseSelector(tc.in)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", tc.in, err)
		}
		if !slices.EqualFunc(got, tc.want, func(a, b LabelRequirement) bool {
			return a.Key == b.Key && a.Op == b.Op && slices.Equal(a.Values, b.Values)
		}) {
			t.Errorf("ParseSelector(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.text {
			t.Errorf("String() = %q, want %q", s, tc.text)
		}
		again, err := ParseSelector(got.String())
		if err != nil || again.String() != tc.text {
			t.Errorf("reparse of %q = %v, %v", got.String(), again, err)
		}
	}
}

func TestSelectorRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"env=prod,", "a in b", "a in (b", "=x", "a b"} {
		if _, err := ParseSelector(in); err == nil {
			t.Errorf("ParseSelector(%q) = nil error", in)
		}
	}
	for _, tc := range []struct {
		sel   Selector
		field string
	}{
		{Selector{{Key: "a", Op: SelectorEquals}}, "selector[0].values"},
		{Selector{{Key: "a", Op: SelectorEquals, Values: []string{"x", "y"}}}, "selector[0].values"},
		{Selector{{Key: "a", Op: SelectorIn}}, "selector[0].values"},
		{Selector{{Key: "a", Op: SelectorExists, Values: []string{"x"}}}, "selector[0].values"},
		{Selector{{Key: "a", Op: "~"}}, "selector[0].op"},
		{Selector{{Key: "bad key", Op: SelectorExists}}, "selector[0].key"},
	} {
		err := tc.sel.Validate("selector")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Validate(%+v) = %v, want an error on %s", tc.sel, err, tc.field)
		}
	}
}

func TestRoutingValidation(t *testing.T) {
	t.Parallel()
	base := JobConfig{Command: "/bin/true", Params: []ParamSpec{{Name: "tenant"}}}
	for _, tc := range []struct {
		name    string
		routing Routing
		field   string
	}{
		{"Default", Routing{}, ""},
		{"HashOnParam", Routing{Strategy: RouteConsistentHash, HashKey: "tenant"}, ""},
		{"HashOnUndeclared", Routing{Strategy: RouteConsistentHash, HashKey: "region"}, "routing.hash_key"},
		{"HashKeyWithoutHash", Routing{HashKey: "tenant"}, "routing.hash_key"},
		{"PreferWithoutFailover", Routing{Prefer: []string{"a"}}, "routing.prefer"},
		{"Failover", Routing{Strategy: RouteFailover, Prefer: []string{"a", "b"}}, ""},
		{"Quorum", Routing{Strategy: RouteBroadcast, Success: BroadcastQuorum}, ""},
		{"SuccessWithoutBroadcast", Routing{Success: BroadcastAny}, "routing.success"},
		{"UnknownRule", Routing{Strategy: RouteBroadcast, Success: "most"}, "routing.success"},
		{"UnknownStrategy", Routing{Strategy: "fastest"}, "routing.strategy"},
	} {
		c := base
		c.Routing = tc.routing
		err := c.Validate()
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tc.name, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: Validate = %v, want an error on %s", tc.name, err, tc.field)
		}
	}
}

func TestBroadcastSucceeded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule            BroadcastSuccess
		succeeded, runs int
		want            bool
	}{
		{"", 3, 3, true}, {"", 2, 3, false},
		{BroadcastAny, 1, 3, true}, {BroadcastAny, 0, 3, false},
		{BroadcastQuorum, 2, 3, true}, {BroadcastQuorum, 2, 4, false}, {BroadcastQuorum, 3, 4, true},
	} {
		if got := (Routing{Strategy: RouteBroadcast, Success: tc.rule}).BroadcastSucceeded(tc.succeeded, tc.runs); got != tc.want {
			t.Errorf("rule %q %d/%d = %v, want %v", tc.rule, tc.succeeded, tc.runs, got, tc.want)
		}
	}
}

func TestMatchesAgentCombinesLabelsAndSelector(t *testing.T) {
	t.Parallel()
	c := JobConfig{Labels: map[string]string{"env": "prod"}, Selector: Selector{{Key: "gpu", Op: SelectorNotExists}}}
	if !c.MatchesAgent(map[string]string{"env": "prod"}) {
		t.Errorf("prod agent without gpu should match")
	}
	if c.MatchesAgent(map[string]string{"env": "prod", "gpu": "1"}) || c.MatchesAgent(nil) {
		t.Errorf("agent with gpu or without labels should not match")
	}
	if got := c.DescribeSelector(); got != "env=prod,!gpu" {
		t.Errorf("DescribeSelector = %q", got)
	}
}
