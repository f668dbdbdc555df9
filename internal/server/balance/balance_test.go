package balance

import "testing"

func TestFeasibleAndLeastLoaded(t *testing.T) {
	t.Parallel()
	a := &Candidate{ID: "a", Labels: map[string]string{"zone": "x"}, Free: 2, Load: 0.5}
	b := &Candidate{ID: "b", Labels: map[string]string{"zone": "y"}, Free: 3, Load: 0.1}
	c := &Candidate{ID: "c", Labels: map[string]string{"zone": "x", "gpu": "1"}, Free: 2, Load: 0.2}
	d := &Candidate{ID: "d", Free: 5}
	full := &Candidate{ID: "full", Labels: map[string]string{"zone": "x"}, Free: 0}
	all := []*Candidate{a, b, c, d, full}
	s, err := Lookup("")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	for _, tc := range []struct {
		name string
		want map[string]string
		pick string
	}{
		{"NoSelectorTakesMostFree", nil, "d"},
		{"SelectorExcludesUnlabelledAndFull", map[string]string{"zone": "x"}, "c"},
		{"AllLabelsMustMatch", map[string]string{"zone": "x", "gpu": "1"}, "c"},
		{"NoMatch", map[string]string{"zone": "z"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Feasible(nil, all, tc.want)
			if tc.pick == "" {
				if len(f) != 0 {
					t.Fatalf("Feasible = %d candidates, want none", len(f))
				}
				return
			}
			got, reason := s.Pick(f)
			if got.ID != tc.pick || reason == "" {
				t.Errorf("Pick = %s (%q), want %s", got.ID, reason, tc.pick)
			}
		})
	}
	if _, err := Lookup("fastest"); err == nil {
		t.Errorf("Lookup(fastest) = nil error, want unknown strategy")
	}
}
