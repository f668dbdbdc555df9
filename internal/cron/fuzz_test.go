package cron

import (
	"errors"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// FuzzParseCron checks that ParseCron never panics, that its errors name the
// cron field, and that a parsed expression fires strictly later each time.
func FuzzParseCron(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "*/5 * * * * *", "0 0 12 1 1 ? 2026,2028-2029", "0 30 2 * * *", "0 0 L-3 * *",
		"0 0 LW * *", "0 0 15W * *", "0 0 ? * FRI#3", "0 0 ? * 5L", "0 0 1,15 * MON", "0 0 */2 * MON",
		"@yearly", "@every 5m", "0 0 30 2 *", "0 0 29 2 *", "7/10 10-40/5 * jan-MAR sun-sat", "0-7 * * * 0-7",
		"59 59 23 31 12 ? 2199", "0 0 0 29 2 ? 2197-2199", "* 2 ? 3 SUN#2", "", "?", "L", "1,,2 * * * *",
	} {
		f.Add(seed, uint8(0), int64(1_750_000_000))
	}
	f.Add("*/20 * * * *", uint8(1), int64(1_762_061_400)) // New York, 2025-11-02 fall-back
	f.Add("30 2 * * *", uint8(1), int64(1_741_496_400))   // New York, 2025-03-09 spring-forward
	f.Add("*/15 1-2 * * *", uint8(2), int64(1_743_865_200))
	locs := []*time.Location{time.UTC}
	for _, name := range []string{"America/New_York", "Australia/Lord_Howe", "Europe/London"} {
		loc, err := LoadLocation(name)
		if err != nil {
			f.Fatalf("LoadLocation(%q): %v", name, err)
		}
		locs = append(locs, loc)
	}
	f.Fuzz(func(t *testing.T, expr string, zone uint8, start int64) {
		loc := locs[int(zone)%len(locs)]
		c, err := ParseCron(expr, loc)
		if err != nil {
			var fe *model.FieldError
			if !errors.As(err, &fe) || fe.Field != "cron" {
				t.Fatalf("ParseCron(%q) error = %#v, want *model.FieldError for cron", expr, err)
			}
			return
		}
		_ = Describe(expr)
		if loc == time.UTC {
			// Parsing promises at least one fire in the calendar.
			if _, ok := c.Next(time.Unix(-1, 0)); !ok {
				t.Fatalf("ParseCron(%q) accepted an expression that never fires", expr)
			}
		}
		const span = int64(231 * 365 * 86400) // the calendar, 1970-2200
		from := time.Unix(start%span, int64(uint64(start)%1e9))
		for range 5 {
			next, ok := c.Next(from)
			if !ok {
				break
			}
			if !next.After(from) {
				t.Fatalf("%q: Next(%v) = %v, not after", expr, from, next)
			}
			if next.Location() != loc {
				t.Fatalf("%q: Next(%v) location = %v, want %v", expr, from, next.Location(), loc)
			}
			from = next
		}
	})
}
