package cron

import (
	"testing"
	"time"
)

// BenchmarkCronNext measures one Next call, chaining from the previous fire
// (and restarting when a sequence ends) so calls see varied inputs.
func BenchmarkCronNext(b *testing.B) {
	for _, bc := range []struct{ name, expr, zone string }{
		{"EveryMinute/UTC", "* * * * *", "UTC"},
		{"EveryMinute/NewYork", "* * * * *", "America/New_York"},
		{"Seconds/UTC", "*/7 * * * * *", "UTC"},
		{"Daily/UTC", "30 2 * * *", "UTC"},
		{"Daily/NewYork", "30 2 * * *", "America/New_York"},
		{"Daily/LordHowe", "30 2 * * *", "Australia/Lord_Howe"},
		{"Weekdays/NewYork", "0 */15 9-17 ? * MON-FRI", "America/New_York"},
		{"LastWeekday/UTC", "0 0 12 LW * *", "UTC"},
		{"ThirdFriday/London", "0 0 ? * FRI#3", "Europe/London"},
		{"LeapDay/NewYork", "0 0 29 2 *", "America/New_York"},
		{"Year2199/NewYork", "0 0 0 1 1 ? 2199", "America/New_York"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			loc, err := LoadLocation(bc.zone)
			if err != nil {
				b.Fatal(err)
			}
			c, err := ParseCron(bc.expr, loc)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			t := start
			for b.Loop() {
				next, ok := c.Next(t)
				if !ok {
					next = start
				}
				t = next
			}
		})
	}
}

// BenchmarkCronNextNow measures Next from one instant in 2025, the usual
// case for the generator, where Go's zone lookup cache holds the period.
func BenchmarkCronNextNow(b *testing.B) {
	for _, bc := range []struct{ name, expr, zone string }{
		{"Daily/UTC", "30 2 * * *", "UTC"},
		{"Daily/NewYork", "30 2 * * *", "America/New_York"},
		{"Weekdays/NewYork", "0 */15 9-17 ? * MON-FRI", "America/New_York"},
		{"ThirdFriday/London", "0 0 ? * FRI#3", "Europe/London"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			loc, err := LoadLocation(bc.zone)
			if err != nil {
				b.Fatal(err)
			}
			c, err := ParseCron(bc.expr, loc)
			if err != nil {
				b.Fatal(err)
			}
			from := time.Date(2025, 6, 11, 10, 7, 0, 0, time.UTC)
			for b.Loop() {
				c.Next(from)
			}
		})
	}
}

func BenchmarkParseCron(b *testing.B) {
	loc, err := LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseCron("0 */15 9-17 ? JAN-NOV MON-FRI", loc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIntervalNext(b *testing.B) {
	iv, err := NewInterval(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 250*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		t, _ = iv.Next(t)
	}
}

func BenchmarkPreview(b *testing.B) {
	c, err := ParseCron("*/10 * * * *", nil)
	if err != nil {
		b.Fatal(err)
	}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		Preview(c, from, 10)
	}
}
