package cron

import (
	"math"
	"math/bits"
	"time"
)

// Calendar bounds. Fires are produced for instants from 1970-01-01T00:00:00Z
// up to local wall times in the year maxYear; Next returns false beyond.
const (
	minYear = 1970
	maxYear = 2199
)

// maxOffset bounds the size of a UTC offset. Real zones stay within
// -12h…+14h; the margin lets Next skip whole zone periods safely (see
// [Cron.Next]).
const maxOffset = 26 * 3600

const secondsPerDay = 86400

// horizon is later than every fire: the end of maxYear in any zone.
var horizon = time.Date(maxYear+1, 1, 2, 0, 0, 0, 0, time.UTC)

// epoch is the first instant that can fire.
var epoch = time.Unix(0, 0)

// Cron is a parsed cron expression bound to a time zone. It holds one bitset
// per field, so Next advances field by field instead of testing each second.
//
// A Cron is immutable once parsed and safe for concurrent use. Build one with
// [ParseCron]; the zero value is not usable.
type Cron struct {
	expr string
	loc  *time.Location

	// fixed is set when loc keeps one offset from 1970 on (UTC, fixed zones,
	// zones whose last change predates 1970); Next then skips zone lookups.
	fixed    bool
	fixedOff int64

	// wild reports a minute or hour field that starts with '*': such an
	// expression follows elapsed time across daylight-saving changes.
	wild bool

	second uint64 // bits 0-59
	minute uint64 // bits 0-59
	hour   uint32 // bits 0-23
	month  uint16 // bits 1-12
	years  [4]uint64

	// domStar and dowStar record star fields, which choose how the two day
	// fields combine; domAll and dowAll record fields matching every day.
	domStar, dowStar bool
	domAll, dowAll   bool

	dom     uint32 // plain days, bits 1-31
	domW    uint32 // nW: bit n
	domLast uint32 // L-n: bit n (L is bit 0)
	domLW   bool

	dow     uint8    // plain weekdays, bits 0-6 (0 = Sunday)
	dowLast uint8    // nL: bit n
	dowNth  [7]uint8 // n#k: bit k of dowNth[n]
	hasNth  bool
}

// String returns the expression as it was given to [ParseCron].
func (c *Cron) String() string { return c.expr }

// Location returns the time zone the expression is evaluated in.
func (c *Cron) Location() *time.Location { return c.loc }

// Next returns the first fire time strictly after t, in the cron's location,
// and false when there is none through the end of the calendar (local wall
// times in 2199). No fire is earlier than 1970-01-01T00:00:00Z. Fires fall on
// whole seconds; daylight-saving changes follow the rules in the package
// documentation. It does not allocate.
func (c *Cron) Next(t time.Time) (time.Time, bool) {
	if !t.Before(horizon) {
		return time.Time{}, false
	}
	// Fires fall on whole seconds, so the first candidate is the next whole
	// second; t.Unix floors, also for fractional seconds. Comparing first
	// keeps extreme times from overflowing Unix.
	i := int64(0)
	if !t.Before(epoch) {
		i = t.Unix() + 1
	}
	var sec int64
	var ok bool
	if c.fixed {
		var w int64
		w, ok = c.nextWall(i + c.fixedOff)
		sec = w - c.fixedOff
	} else {
		sec, ok = c.nextZoned(i)
	}
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).In(c.loc), true
}

// nextZoned returns the first fire instant at or after i (Unix seconds) in a
// zone with offset changes. It walks zone periods (spans of one offset):
// within a period wall time = instant + offset is monotonic, so the next
// matching wall time gives the next fire, unless it lies past the period's
// end. Crossing a period boundary applies the gap and overlap rules.
func (c *Cron) nextZoned(i int64) (int64, bool) {
	o, start, end := zoneAt(c.loc, i)
	havePrev, prevO := false, int64(0)

	// lastLo and lastW memoise nextWall: no wall in [lastLo, lastW) matches,
	// so nextWall(x) = lastW for any x in that span.
	lastLo, lastW, lastOK := int64(1), int64(0), false
	find := func(lo int64) (int64, bool) {
		if lo >= lastLo && lo <= lastW {
			return lastW, lastOK
		}
		lastLo = lo
		lastW, lastOK = c.nextWall(lo)
		if !lastOK {
			lastW = math.MaxInt64
		}
		return lastW, lastOK
	}

	for {
		if !havePrev && !c.wild && start != math.MinInt64 && i-start < 2*maxOffset {
			prevO, havePrev = offsetAt(c.loc, start-1), true
		}
		lo := i + o
		if havePrev && !c.wild {
			// Gap just before this period: wall times in
			// [start+prevO, start+o) never happen; a fixed expression that
			// matches one fires once, at the first instant after the gap.
			if prevO < o && i == start {
				if w, ok := find(start + prevO); ok && w < start+o {
					return start, true
				}
			}
			// Overlap: wall times below start+prevO already happened before
			// start; a fixed expression fires only on their first pass.
			if prevO > o && lo < start+prevO {
				lo = start + prevO
			}
		}
		w, ok := find(lo)
		if !ok {
			return 0, false
		}
		if end == math.MaxInt64 || w-o < end {
			return w - o, true
		}
		// w lies beyond this period. No wall time in [lo, w) matches, so
		// when this period is long, every instant x in [i+2·maxOffset,
		// w-maxOffset) has a wall time in [lo, w) and cannot fire: jump over
		// the periods in between instead of visiting each.
		next := end
		prevO, havePrev = o, true
		if end-i >= 2*maxOffset && w-maxOffset > end {
			next, havePrev = w-maxOffset, false
		}
		i = next
		o, start, end = zoneAt(c.loc, i)
	}
}

// zoneAt returns the offset in effect at Unix second sec and the bounds of the
// period holding it; an unbounded side is math.MinInt64 or math.MaxInt64.
// Bounds need not be real offset changes (Go splits rule-based periods at
// the new year), only no change may happen strictly inside them.
func zoneAt(loc *time.Location, sec int64) (off, start, end int64) {
	t := time.Unix(sec, 0).In(loc)
	_, o := t.Zone()
	s, e := t.ZoneBounds()
	start, end = math.MinInt64, math.MaxInt64
	if !s.IsZero() {
		start = min(s.Unix(), sec)
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	if end <= sec {
		// For years computed from a zone's TZ rule string (after its last
		// listed change: 2037 in "fat" zone files, about 2007 in "slim" ones
		// and in time/tzdata), ZoneBounds ends each year after 365 days, so
		// on 31 December of a leap year it returns a period that has already
		// ended (golang/go#81583). The offset is right and holds until the
		// new UTC year, where the next period begins.
		end = time.Date(t.UTC().Year()+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		if end <= sec {
			end = sec + 1 // never expected; keeps Next moving
		}
	}
	return int64(o), start, end
}

// offsetAt returns the offset in effect at Unix second sec.
func offsetAt(loc *time.Location, sec int64) int64 {
	_, o := time.Unix(sec, 0).In(loc).Zone()
	return int64(o)
}

// nextWall returns the first matching wall time at or after lo. Wall times
// are seconds since 1970-01-01T00:00:00 in local clock reading, as if the
// zone were UTC. It returns false when none exists through maxYear.
func (c *Cron) nextWall(lo int64) (int64, bool) {
	lo = max(lo, 0)
	y, mo, d := civilFromDays(lo / secondsPerDay)
	sod := int(lo % secondsPerDay)
	h, mi, s := sod/3600, sod/60%60, sod%60
	for {
		if y > maxYear {
			return 0, false
		}
		if !c.hasYear(y) {
			ny, ok := c.nextYear(y)
			if !ok {
				return 0, false
			}
			y, mo, d, h, mi, s = ny, 1, 1, 0, 0, 0
		}
		mm := c.month & (^uint16(0) << mo)
		if mm == 0 {
			y, mo, d, h, mi, s = y+1, 1, 1, 0, 0, 0
			continue
		}
		if n := bits.TrailingZeros16(mm); n != mo {
			mo, d, h, mi, s = n, 1, 0, 0, 0
		}
		dm := c.dayMask(y, mo) & (^uint32(0) << d)
		if dm == 0 {
			mo, d, h, mi, s = mo+1, 1, 0, 0, 0
			continue
		}
		if n := bits.TrailingZeros32(dm); n != d {
			d, h, mi, s = n, 0, 0, 0
		}
		hm := c.hour & (^uint32(0) << h)
		if hm == 0 {
			d, h, mi, s = d+1, 0, 0, 0
			continue
		}
		if n := bits.TrailingZeros32(hm); n != h {
			h, mi, s = n, 0, 0
		}
		mm64 := c.minute & (^uint64(0) << mi)
		if mm64 == 0 {
			h, mi, s = h+1, 0, 0
			continue
		}
		if n := bits.TrailingZeros64(mm64); n != mi {
			mi, s = n, 0
		}
		sm := c.second & (^uint64(0) << s)
		if sm == 0 {
			mi, s = mi+1, 0
			continue
		}
		s = bits.TrailingZeros64(sm)
		return daysFromCivil(y, mo, d)*secondsPerDay + int64(h*3600+mi*60+s), true
	}
}

func (c *Cron) hasYear(y int) bool {
	k := y - minYear
	return k >= 0 && k <= maxYear-minYear && c.years[k/64]&(1<<(k%64)) != 0
}

// nextYear returns the first allowed year after y.
func (c *Cron) nextYear(y int) (int, bool) {
	k := max(y-minYear+1, 0)
	for w := k / 64; w < len(c.years); w++ {
		m := c.years[w]
		if w == k/64 {
			m &= ^uint64(0) << (k % 64)
		}
		if m != 0 {
			ny := minYear + w*64 + bits.TrailingZeros64(m)
			return ny, ny <= maxYear
		}
	}
	return 0, false
}

// dayMask returns the days (bits 1-31) of month m in year y that match the
// day-of-month and day-of-week fields: both must match when either is a star
// field, else either may (Vixie cron).
func (c *Cron) dayMask(y, m int) uint32 {
	n := daysIn(y, m)
	full := uint32(1)<<(n+1) - 2 // wraps to bits 1-31 when n is 31
	if c.domAll && c.dowAll {
		return full
	}
	w1 := int((daysFromCivil(y, m, 1) + 4) % 7) // 1970-01-01 was a Thursday
	domM, dowM := full, full
	if !c.domAll {
		domM = c.domDays(n, w1) & full
	}
	if !c.dowAll {
		dowM = c.dowDays(n, w1) & full
	}
	if c.domStar || c.dowStar {
		return domM & dowM
	}
	return domM | dowM
}

// domDays returns the days matching the day-of-month field in a month of n
// days whose first day is weekday w1.
func (c *Cron) domDays(n, w1 int) uint32 {
	m := c.dom
	for l := c.domLast; l != 0; l &= l - 1 {
		if d := n - bits.TrailingZeros32(l); d >= 1 {
			m |= 1 << d
		}
	}
	if c.domLW {
		d := n
		switch weekday(w1, n) {
		case 6:
			d = n - 1
		case 0:
			d = n - 2
		}
		m |= 1 << d
	}
	for l := c.domW; l != 0; l &= l - 1 {
		if d := bits.TrailingZeros32(l); d <= n {
			m |= 1 << nearestWeekday(d, n, w1)
		}
	}
	return m
}

// nearestWeekday returns the Monday-to-Friday day nearest day d, staying in
// the month (Quartz's W): Saturday the 1st moves to Monday the 3rd, Sunday
// the last moves back to Friday.
func nearestWeekday(d, n, w1 int) int {
	switch weekday(w1, d) {
	case 6:
		if d == 1 {
			return 3
		}
		return d - 1
	case 0:
		if d == n {
			return d - 2
		}
		return d + 1
	}
	return d
}

// dowDays returns the days matching the day-of-week field in a month of n
// days whose first day is weekday w1.
func (c *Cron) dowDays(n, w1 int) uint32 {
	// Rotate the weekday set so bit j is the weekday of day j+1, then repeat
	// it weekly.
	r := uint64((c.dow>>w1 | c.dow<<(7-w1)) & 0x7f)
	m := uint32((r | r<<7 | r<<14 | r<<21 | r<<28) << 1)
	if c.dowLast != 0 {
		wl := weekday(w1, n)
		for l := c.dowLast; l != 0; l &= l - 1 {
			w := bits.TrailingZeros8(l)
			m |= 1 << (n - (wl-w+7)%7)
		}
	}
	if c.hasNth {
		for w, ks := range c.dowNth {
			first := 1 + (w-w1+7)%7
			for ; ks != 0; ks &= ks - 1 {
				if d := first + 7*(bits.TrailingZeros8(ks)-1); d <= n {
					m |= 1 << d
				}
			}
		}
	}
	return m
}

// weekday returns the weekday (0 = Sunday) of day d in a month whose first
// day is weekday w1.
func weekday(w1, d int) int { return (w1 + d - 1) % 7 }

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	if m == 2 && isLeap(y) {
		return 29
	}
	return monthDays[m]
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm), for y ≥ 1.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// civilFromDays is the inverse of daysFromCivil, for z ≥ 0.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}
