package main

import (
	"math"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		runs             []float64
		median, min, max float64
	}{
		{"Odd", []float64{3, 1, 2}, 2, 1, 3},
		{"Even", []float64{4, 1, 3, 2}, 2.5, 1, 4},
		{"One", []float64{7}, 7, 7, 7},
		{"SkipsNaN", []float64{5, math.NaN(), 1, 3}, 3, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Summarize(tt.runs)
			if s.Median != tt.median || s.Min != tt.min || s.Max != tt.max {
				t.Errorf("Summarize(%v) = %v/%v/%v, want %v/%v/%v", tt.runs, s.Median, s.Min, s.Max, tt.median, tt.min, tt.max)
			}
			if len(s.Runs) != len(tt.runs) {
				t.Errorf("Summarize(%v).Runs has %d values, want %d", tt.runs, len(s.Runs), len(tt.runs))
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		s := Summarize([]float64{math.NaN()})
		if !math.IsNaN(s.Median) || !math.IsNaN(s.Min) || !math.IsNaN(s.Max) {
			t.Errorf("Summarize(NaN) = %v, want NaNs", s)
		}
	})
}

func TestMedianLeavesInputAlone(t *testing.T) {
	t.Parallel()
	xs := []float64{3, 1, 2}
	if got := Median(xs); got != 2 {
		t.Errorf("Median(%v) = %v, want 2", xs, got)
	}
	if xs[0] != 3 || xs[1] != 1 || xs[2] != 2 {
		t.Errorf("Median changed its input to %v", xs)
	}
	if !math.IsNaN(Median(nil)) {
		t.Errorf("Median(nil) is not NaN")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1) // 1..100
	}
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"P50Of100", hundred, 50, 50},
		{"P95Of100", hundred, 95, 95},
		{"P99Of100", hundred, 99, 99},
		{"P100Of100", hundred, 100, 100},
		{"P0IsMin", hundred, 0, 1},
		{"P50OfFour", []float64{10, 20, 30, 40}, 50, 20},
		{"P99OfFour", []float64{10, 20, 30, 40}, 99, 40},
		{"Single", []float64{5}, 99, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v…, %v) = %v, want %v", tt.sorted[0], tt.p, got, tt.want)
			}
		})
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Errorf("Percentile(nil, 50) is not NaN")
	}
}

func TestNewDist(t *testing.T) {
	t.Parallel()
	d := NewDist([]float64{4, 1, 3, 2, 10})
	want := Dist{N: 5, P50: 3, P95: 10, P99: 10, Max: 10, Mean: 4}
	if d != want {
		t.Errorf("NewDist = %+v, want %+v", d, want)
	}
	if e := NewDist(nil); e.N != 0 || !math.IsNaN(e.P99) {
		t.Errorf("NewDist(nil) = %+v, want N 0 and NaN", e)
	}
}

func TestAccount(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	expected := []Fire{{"a", at(0)}, {"a", at(1)}, {"b", at(0)}, {"b", at(1)}}
	tests := []struct {
		name      string
		tasks     []FireTask
		instances []FireInstance
		want      Accounting
	}{
		{
			name:      "AllServedOnce",
			tasks:     []FireTask{{"t1", Fire{"a", at(0)}}, {"t2", Fire{"a", at(1)}}, {"t3", Fire{"b", at(0)}}, {"t4", Fire{"b", at(1)}}},
			instances: []FireInstance{{"t1", true}, {"t2", true}, {"t3", true}, {"t4", true}},
			want:      Accounting{Expected: 4},
		},
		{
			name:      "NoTaskIsMissed",
			tasks:     []FireTask{{"t1", Fire{"a", at(0)}}, {"t2", Fire{"a", at(1)}}, {"t3", Fire{"b", at(0)}}},
			instances: []FireInstance{{"t1", true}, {"t2", true}, {"t3", true}},
			want:      Accounting{Expected: 4, Missed: 1},
		},
		{
			name:      "FailedAttemptThenSuccessIsServed",
			tasks:     []FireTask{{"t1", Fire{"a", at(0)}}, {"t2", Fire{"a", at(1)}}, {"t3", Fire{"b", at(0)}}, {"t4", Fire{"b", at(1)}}},
			instances: []FireInstance{{"t1", false}, {"t1", true}, {"t2", true}, {"t3", true}, {"t4", false}},
			want:      Accounting{Expected: 4, Missed: 1},
		},
		{
			name:      "TwoSucceededInstancesIsDuplicate",
			tasks:     []FireTask{{"t1", Fire{"a", at(0)}}, {"t2", Fire{"a", at(1)}}, {"t3", Fire{"b", at(0)}}, {"t4", Fire{"b", at(1)}}},
			instances: []FireInstance{{"t1", true}, {"t1", true}, {"t2", true}, {"t3", true}, {"t4", true}},
			want:      Accounting{Expected: 4, Duplicated: 1},
		},
		{
			name: "TwoTasksForOneFireIsDuplicate",
			tasks: []FireTask{
				{"t1", Fire{"a", at(0)}}, {"t1b", Fire{"a", at(0)}}, {"t2", Fire{"a", at(1)}},
				{"t3", Fire{"b", at(0)}}, {"t4", Fire{"b", at(1)}},
			},
			instances: []FireInstance{{"t1", true}, {"t2", true}, {"t3", true}, {"t4", true}},
			want:      Accounting{Expected: 4, Duplicated: 1},
		},
		{
			name: "TaskOffTheGridIsUnexpected",
			tasks: []FireTask{
				{"t1", Fire{"a", at(0)}}, {"t2", Fire{"a", at(1)}}, {"t3", Fire{"b", at(0)}}, {"t4", Fire{"b", at(1)}},
				{"t5", Fire{"a", at(0).Add(time.Millisecond)}},
			},
			instances: []FireInstance{{"t1", true}, {"t2", true}, {"t3", true}, {"t4", true}, {"t5", true}},
			want:      Accounting{Expected: 4, Unexpected: 1},
		},
		{
			name:  "NothingRan",
			tasks: nil,
			want:  Accounting{Expected: 4, Missed: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Account(expected, tt.tasks, tt.instances); got != tt.want {
				t.Errorf("Account = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAccountMatchesAtMicrosecondPrecision(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	stored := t0.Truncate(time.Microsecond) // what a store gives back
	got := Account([]Fire{{"a", t0}}, []FireTask{{"t1", Fire{"a", stored}}}, []FireInstance{{"t1", true}})
	if got != (Accounting{Expected: 1}) {
		t.Errorf("Account = %+v, want the fire served", got)
	}
}

func TestTrend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ys   []float64
		want float64
	}{
		{"Flat", []float64{1, 1, 1, 1, 1, 1}, 0},
		{"Rising", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 6},
		{"Falling", []float64{9, 8, 7, 6, 5, 4, 3, 2, 1}, -6},
		{"TooShort", []float64{1, 100}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Trend(tt.ys); got != tt.want {
				t.Errorf("Trend(%v) = %v, want %v", tt.ys, got, tt.want)
			}
		})
	}
}

func TestBurstExcess(t *testing.T) {
	t.Parallel()
	// 4 starts at 100 execs/s: floors 0, 10, 20, 30 ms.
	got := BurstExcess([]float64{31, 2, 15, 20}, 100)
	want := []float64{2, 5, 0, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("BurstExcess = %v, want %v", got, want)
		}
	}
}

func TestBlockRates(t *testing.T) {
	t.Parallel()
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	// Six items, blocks of two: done at 1 s and 0.5 s, then 2 s and 3 s,
	// then 3.5 s and 7 s (out of order on purpose); a partial block is left
	// out.
	done := []time.Duration{sec(1), sec(0.5), sec(3), sec(2), sec(7), sec(3.5), sec(9)}
	got := blockRates(done, 2)
	want := []float64{2, 1, 0.5} // 2 items in 1 s, in 2 s, in 4 s
	if len(got) != len(want) {
		t.Fatalf("blockRates = %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("blockRates = %v, want %v", got, want)
			break
		}
	}
}
