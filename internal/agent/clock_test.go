package agent

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }

	t.Run("ZeroValue", func(t *testing.T) {
		t.Parallel()
		var c clock
		if got := c.Offset(); got != 0 {
			t.Errorf("Offset() = %v, want 0", got)
		}
	})

	t.Run("WelcomeEstimate", func(t *testing.T) {
		t.Parallel()
		var c clock
		// hello left at 0, welcome arrived at 20ms, server read its clock at
		// what it calls +1010ms: the midpoint 10ms maps to 1010ms.
		c.reset(base.Add(ms(1010)), base, base.Add(ms(20)))
		if got := c.Offset(); got != time.Second {
			t.Errorf("Offset() = %v, want 1s", got)
		}
	})

	t.Run("LowestRoundTripWins", func(t *testing.T) {
		t.Parallel()
		var c clock
		c.reset(base, base, base) // offset 0 from welcome
		// A slow round trip (100ms) that suggests +30ms.
		c.sample(base, base.Add(ms(80)), base.Add(ms(100)))
		if got := c.Offset(); got != ms(30) {
			t.Fatalf("after one sample: %v, want 30ms", got)
		}
		// A fast one (4ms) that suggests +5ms wins.
		c.sample(base.Add(ms(200)), base.Add(ms(207)), base.Add(ms(204)))
		if got := c.Offset(); got != ms(5) {
			t.Fatalf("after a faster sample: %v, want 5ms", got)
		}
		// Slower ones do not displace it, until it ages out of the last 8.
		for i := range 7 {
			start := base.Add(time.Duration(i+1) * time.Second)
			c.sample(start, start.Add(ms(60)), start.Add(ms(50)))
		}
		if got := c.Offset(); got != ms(5) {
			t.Fatalf("with the fast sample still among the last 8: %v, want 5ms", got)
		}
		start := base.Add(10 * time.Second)
		c.sample(start, start.Add(ms(60)), start.Add(ms(50)))
		if got := c.Offset(); got != ms(35) {
			t.Fatalf("after the fast sample aged out: %v, want 35ms", got)
		}
	})

	t.Run("NegativeRoundTripIgnored", func(t *testing.T) {
		t.Parallel()
		var c clock
		if c.sample(base, base.Add(time.Hour), base.Add(-ms(1))) || c.Offset() != 0 {
			t.Errorf("a sample from a clock that stepped back changed the offset to %v", c.Offset())
		}
	})

	t.Run("ResetForgetsSamples", func(t *testing.T) {
		t.Parallel()
		var c clock
		c.sample(base, base.Add(ms(1)), base.Add(ms(2)))
		c.reset(base.Add(time.Minute), base, base)
		if got := c.Offset(); got != time.Minute {
			t.Errorf("Offset() after reset = %v, want 1m", got)
		}
	})
}

func TestOutOfContact(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tc := range []struct {
		name      string
		ttl       time.Duration
		connected bool
		since     time.Duration
		want      bool
	}{
		{"BeforeAnyWelcome", 0, false, time.Hour, false},
		{"Connected", 20 * time.Second, true, time.Hour, false},
		{"BrieflyAway", 20 * time.Second, false, 9 * time.Second, false},
		{"AwayForHalfTheTTL", 20 * time.Second, false, 11 * time.Second, true},
	} {
		a := &Agent{ttl: tc.ttl, connected: tc.connected, lastContact: now.Add(-tc.since)}
		if got := a.outOfContactLocked(now); got != tc.want {
			t.Errorf("%s: outOfContact = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBackoffFitsInTheTTL(t *testing.T) {
	t.Parallel()
	a := &Agent{cfg: Config{ReconnectMin: 200 * time.Millisecond, ReconnectMax: 10 * time.Second}, ttl: 8 * time.Second}
	for n := range 20 {
		if d := a.backoff(n); d > 2*time.Second {
			t.Fatalf("backoff(%d) = %v, want at most a quarter of the 8s TTL", n, d)
		}
	}
}
