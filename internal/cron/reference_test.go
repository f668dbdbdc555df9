package cron

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file checks Cron.Next against slow references that share only the
// parsed bitsets with it: day matching is recomputed naively with the time
// package, and wall times are stepped one by one.

// refDay reports whether a date matches the day-of-month and day-of-week
// fields, computed without the day masks of Next.
func refDay(c *Cron, y int, m time.Month, d int) bool {
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	isWeekday := func(day int) bool {
		wd := time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Weekday()
		return wd != time.Saturday && wd != time.Sunday
	}
	dom := c.dom&(1<<d) != 0 || c.domLast&(1<<(last-d)) != 0
	if c.domLW {
		lw := last
		for !isWeekday(lw) {
			lw--
		}
		dom = dom || d == lw
	}
	for n := 1; n <= last; n++ {
		if c.domW&(1<<n) == 0 {
			continue
		}
		// The weekday closest to n within the month.
		for dist := 0; dist <= 3; dist++ {
			if n-dist >= 1 && isWeekday(n-dist) {
				dom = dom || d == n-dist
				break
			}
			if n+dist <= last && isWeekday(n+dist) {
				dom = dom || d == n+dist
				break
			}
		}
	}
	wd := int(date.Weekday())
	dow := c.dow&(1<<wd) != 0 ||
		(c.dowLast&(1<<wd) != 0 && d+7 > last) ||
		c.dowNth[wd]&(1<<((d-1)/7+1)) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// refDate reports whether a date matches the year, month and day fields.
func refDate(c *Cron, y int, m time.Month, d int) bool {
	return y >= minYear && y <= maxYear && c.years[(y-minYear)/64]&(1<<((y-minYear)%64)) != 0 &&
		c.month&(1<<m) != 0 && refDay(c, y, m, d)
}

// refClock reports whether a time of day, in seconds, matches.
func refClock(c *Cron, sod int) bool {
	return c.hour&(1<<(sod/3600)) != 0 && c.minute&(1<<(sod/60%60)) != 0 && c.second&(1<<(sod%60)) != 0
}

// refMatch reports whether a wall time (seconds, zone-free) matches.
func refMatch(c *Cron, wall int64) bool {
	t := time.Unix(wall, 0).UTC()
	return refDate(c, t.Year(), t.Month(), t.Day()) && refClock(c, int(wall%86400))
}

// refNextFixed returns the first fire after t in a zone with one offset,
// stepping day by day and, on matching days, second by second. It gives up
// after maxDays and returns false.
func refNextFixed(c *Cron, t time.Time, off int64, maxDays int) (time.Time, bool) {
	from := t.Unix() + off // wall second of t; fires are strictly later
	day := time.Unix(from, 0).UTC().Truncate(24 * time.Hour)
	for range maxDays {
		if refDate(c, day.Year(), day.Month(), day.Day()) {
			for sod := 0; sod < 86400; sod++ {
				w := day.Unix() + int64(sod)
				if w > from && refClock(c, sod) {
					return time.Unix(w-off, 0), true
				}
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}

// exprGen makes random, mostly valid cron expressions.
type exprGen struct{ r *rand.Rand }

func (g exprGen) pick(opts ...string) string { return opts[g.r.IntN(len(opts))] }

// item returns a random list item for a field spanning lo-hi.
func (g exprGen) item(lo, hi int) string {
	n := func() int { return lo + g.r.IntN(hi-lo+1) }
	switch g.r.IntN(6) {
	case 0:
		return fmt.Sprintf("*/%d", 1+g.r.IntN(hi-lo+1))
	case 1, 2:
		return fmt.Sprint(n())
	case 3:
		a, b := n(), n()
		return fmt.Sprintf("%d-%d", min(a, b), max(a, b))
	case 4:
		a, b := n(), n()
		return fmt.Sprintf("%d-%d/%d", min(a, b), max(a, b), 1+g.r.IntN(hi-lo+1))
	}
	return fmt.Sprintf("%d/%d", n(), 1+g.r.IntN(hi-lo+1))
}

// field returns "*" with probability pStar, else a list of 1-3 items.
func (g exprGen) field(lo, hi int, pStar float64, extra ...string) string {
	if g.r.Float64() < pStar {
		return "*"
	}
	items := make([]string, 1+g.r.IntN(3))
	for i := range items {
		if len(extra) > 0 && g.r.IntN(3) == 0 {
			items[i] = g.pick(extra...)
		} else {
			items[i] = g.item(lo, hi)
		}
	}
	return strings.Join(items, ",")
}

func (g exprGen) dom() string {
	return g.field(1, 31, 0.4, "L", "L-1", "L-5", "LW", "1W", "15W", "30W", "31W", "?", "28")
}

func (g exprGen) dow() string {
	return g.field(0, 7, 0.5, "?", "5L", "FRIL", "0L", "MON#1", "2#2", "5#5", "SUN", "sat", "MON-FRI")
}

// TestCronNextMatchesReferenceFixedZone compares Next with refNextFixed for
// random 6- and 7-field expressions in zones without daylight saving.
func TestCronNextMatchesReferenceFixedZone(t *testing.T) {
	t.Parallel()
	g := exprGen{rand.New(rand.NewPCG(1, 2))}
	zones := []*time.Location{time.UTC, mustLoc(t, "Asia/Tokyo"), time.FixedZone("X", -(3*3600 + 1800))}
	n := 400
	if testing.Short() {
		n = 60
	}
	for i := 0; i < n; {
		expr := strings.Join([]string{
			g.field(0, 59, 0.3), g.field(0, 59, 0.3), g.field(0, 23, 0.3),
			g.dom(), g.field(1, 12, 0.7), g.dow(),
		}, " ")
		if g.r.IntN(6) == 0 {
			y := 2020 + g.r.IntN(20)
			expr += fmt.Sprintf(" %d-%d", y, y+g.r.IntN(5))
		}
		loc := zones[i%len(zones)]
		c, err := ParseCron(expr, loc)
		if err != nil {
			continue // impossible combinations are fine to skip
		}
		i++
		_, off := time.Unix(0, 0).In(loc).Zone()
		from := time.Date(2020+g.r.IntN(20), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28),
			g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(2)*5e8, loc)
		for step := 0; step < 6; step++ {
			got, ok := c.Next(from)
			want, wok := refNextFixed(c, from, int64(off), 3000)
			if !wok {
				// No reference fire within 3000 days: Next must not find an earlier one.
				if ok && got.Before(from.AddDate(0, 0, 2999)) {
					t.Errorf("%q in %v: Next(%v) = %v, want none within 3000 days", expr, loc, from, got)
				}
				break
			}
			if !ok || !got.Equal(want) {
				t.Errorf("%q in %v: Next(%v) = %v, %v, want %v", expr, loc, from, got, ok, want)
				break
			}
			from = got
		}
	}
}

// TestCronNextMatchesReferenceSpecialDays runs long chains of the day
// specials, from many starts, so every month shape (28-31 days, any first
// weekday) is met.
func TestCronNextMatchesReferenceSpecialDays(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for _, expr := range []string{
		"0 0 0 1W * ?", "0 0 0 31W * ?", "0 0 0 15W * ?", "0 0 0 30W * ?", "0 0 0 LW * ?", "0 0 0 L * ?",
		"0 0 0 L-2 * ?", "0 0 0 L-30 * ?", "0 0 0 ? * 5L", "0 0 0 ? * 0L,6L", "0 0 0 ? * 1#5", "0 0 0 ? * SUN#1,SAT#4",
		"0 0 0 15W * MON", "0 0 0 LW * 0#2", "0 0 0 29 2 *", "0 0 0 L 2 ?", "0 0 0 */3 * 1-5/2", "0 0 0 1,LW * 5L",
	} {
		c := mustParse(t, expr, "UTC")
		for range 8 {
			from := time.Date(1970+r.IntN(225), time.Month(1+r.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
			for range 30 {
				got, ok := c.Next(from)
				want, wok := refNextFixed(c, from, 0, 3000)
				if ok != wok || !got.Equal(want) {
					t.Errorf("%q: Next(%v) = %v, %v, want %v, %v", expr, from, got, ok, want, wok)
					break
				}
				if !ok {
					break
				}
				from = got
			}
		}
	}
}

// refDSTFires simulates the documented daylight-saving rules minute by
// minute over [a, b): it returns every fire of c, whose second field must be
// the single value sec. It steps real minutes and tracks the highest wall
// time seen, so repeated walls (overlap) and skipped walls (gap) are found
// by observation, not by asking the zone.
func refDSTFires(c *Cron, loc *time.Location, sec int64, a, b int64) []time.Time {
	wall := func(x int64) int64 {
		_, off := time.Unix(x, 0).In(loc).Zone()
		return x + int64(off)
	}
	var fires []time.Time
	add := func(x int64) {
		if n := len(fires); n == 0 || fires[n-1].Unix() != x {
			fires = append(fires, time.Unix(x, 0).In(loc))
		}
	}
	hwm := wall(a - 60)
	for x := a; x < b; x += 60 {
		w := wall(x)
		if c.wild {
			if refMatch(c, w+sec) {
				add(x + sec)
			}
			continue
		}
		if w <= hwm {
			continue // a second pass: fixed expressions fired on the first
		}
		for g := hwm + 60; g < w; g += 60 {
			if refMatch(c, g+sec) {
				add(x) // a gap wall: fire at the first instant after the gap
				break
			}
		}
		if refMatch(c, w+sec) {
			add(x + sec)
		}
		hwm = w
	}
	return fires
}

// TestCronNextMatchesReferenceDST compares Next with refDSTFires around
// every clock change of a few years, in zones with 1-hour and 30-minute
// shifts, for random expressions that favour the hours near the changes.
func TestCronNextMatchesReferenceDST(t *testing.T) {
	t.Parallel()
	g := exprGen{rand.New(rand.NewPCG(3, 4))}
	zones := []struct {
		name   string
		years  []int
		hours  []string
		minute []string
	}{
		{"America/New_York", []int{2024, 2025, 2040}, []string{"1", "2", "3", "1,2", "2-3", "0-4/2"}, nil},
		{"Europe/London", []int{2025, 2044}, []string{"0", "1", "2", "0-2", "1/2"}, nil},
		{"Australia/Lord_Howe", []int{2025, 2048}, []string{"1", "2", "1,2", "1-3"}, []string{"0,30", "15,45", "10-50/10", "29-31"}},
		{"America/Sao_Paulo", []int{2017, 2018}, []string{"0", "23", "22-23,0-1", "0/6"}, nil},
	}
	perWindow := 25
	if testing.Short() {
		perWindow = 6
	}
	for _, z := range zones {
		loc := mustLoc(t, z.name)
		var changes []int64
		for _, y := range z.years {
			x := time.Date(y, 1, 1, 0, 0, 0, 0, loc).Unix()
			o, _, end := zoneAt(loc, x)
			for end < time.Date(y+1, 1, 1, 0, 0, 0, 0, loc).Unix() {
				if o2, _, end2 := zoneAt(loc, end); o2 != o {
					changes = append(changes, end)
					o, end = o2, end2
				} else {
					end = end2 // a period split at the new year, not a change
				}
			}
		}
		if len(changes) == 0 {
			t.Fatalf("%s: no clock changes found", z.name)
		}
		for _, change := range changes {
			a, b := change-2*86400, change+2*86400
			for range perWindow {
				sec := int64(0)
				if g.r.IntN(4) == 0 {
					sec = int64(g.r.IntN(60))
				}
				minute := g.pick(append([]string{"*", "0", "30", "*/15", "*/20", "0-59/7", g.field(0, 59, 0)}, z.minute...)...)
				hour := g.pick(append([]string{"*", "*/2", "*/3", g.field(0, 23, 0)}, z.hours...)...)
				dom := g.pick("*", "*", "*", "?", time.Unix(change, 0).In(loc).Format("2"), "L", g.dom())
				dow := g.pick("*", "*", "*", "0", "SUN#1", "6,0", g.dow())
				expr := fmt.Sprintf("%d %s %s %s * %s", sec, minute, hour, dom, dow)
				c, err := ParseCron(expr, loc)
				if err != nil {
					continue
				}
				checkAgainstFires(t, c, refDSTFires(c, loc, sec, a, b), a, b, g.r)
			}
		}
	}
}

// checkAgainstFires checks Next against a reference list of all fires in
// [a, b): chained from a, and from random times inside the span.
func checkAgainstFires(t *testing.T, c *Cron, fires []time.Time, a, b int64, r *rand.Rand) {
	t.Helper()
	var got []time.Time
	for cur := time.Unix(a-1, 0); ; {
		f, ok := c.Next(cur)
		if !ok || f.Unix() >= b {
			break
		}
		got = append(got, f)
		cur = f
	}
	if !slices.EqualFunc(got, fires, time.Time.Equal) {
		t.Errorf("%q in %v: fires in [%v, %v):\n got %v\nwant %v", c, c.loc,
			time.Unix(a, 0).In(c.loc), time.Unix(b, 0).In(c.loc), got, fires)
		return
	}
	for range 20 {
		from := time.Unix(a+r.Int64N(b-a), r.Int64N(1e9))
		f, ok := c.Next(from)
		i, _ := slices.BinarySearchFunc(fires, from, func(f, x time.Time) int {
			if f.After(x) {
				return 1
			}
			return -1
		})
		if i < len(fires) {
			if !ok || !f.Equal(fires[i]) {
				t.Errorf("%q in %v: Next(%v) = %v, %v, want %v", c, c.loc, from.In(c.loc), f, ok, fires[i])
			}
		} else if ok && f.Unix() < b {
			t.Errorf("%q in %v: Next(%v) = %v, want none before %v", c, c.loc, from.In(c.loc), f, time.Unix(b, 0).In(c.loc))
		}
	}
}
