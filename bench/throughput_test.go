package main

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRateSchedules(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	jobs := make([]uuid.UUID, 1000)
	for i := range jobs {
		jobs[i] = uuid.New()
	}
	tests := []struct {
		name      string
		rate      float64
		jobs      int
		wantN     int
		wantEvery string
		wantRate  float64
	}{
		{"OnePerRunPerSecond", 200, 1000, 200, "1s", 200},
		{"RoundsToWholeRuns", 456.4, 1000, 456, "1s", 456},
		{"ShorterIntervalAboveJobs", 3000, 1000, 750, "250ms", 3000},
		{"FewJobs", 100, 30, 25, "250ms", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bodies, real := rateSchedules(jobs[:tt.jobs], rampPlan{rate: tt.rate, start: start, dur: 10 * time.Second})
			if len(bodies) != tt.wantN || real != tt.wantRate {
				t.Fatalf("rateSchedules(%v) = %d schedules at %v/s, want %d at %v/s", tt.rate, len(bodies), real, tt.wantN, tt.wantRate)
			}
			every, err := time.ParseDuration(bodies[0].Interval)
			if err != nil || bodies[0].Interval != tt.wantEvery {
				t.Fatalf("interval = %q, want %q", bodies[0].Interval, tt.wantEvery)
			}
			// The schedules' first fires split one interval evenly, and none
			// fires at or after the end.
			for i, b := range bodies {
				want := start.Add(time.Duration(i) * every / time.Duration(len(bodies))).Truncate(time.Microsecond)
				if !b.StartTime.Equal(want) {
					t.Fatalf("schedule %d starts at %v, want %v", i, b.StartTime, want)
				}
				if !b.EndTime.Before(start.Add(10 * time.Second)) {
					t.Fatalf("schedule %d ends at %v, not before the step's end", i, b.EndTime)
				}
			}
		})
	}
}
