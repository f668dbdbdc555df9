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
