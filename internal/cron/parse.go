package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// maxExprLen bounds an expression; the longest sensible one (every value of
// every field listed) is well below it.
const maxExprLen = 1024

// field describes one cron field: its name in errors, its bounds and names.
type field struct {
	name     string
	min, max int
	starMax  int // end of '*' and of 'n/step'; day-of-week stops at 6 as 7 repeats Sunday
	names    []string
	nameBase int // value of names[0]
}

var (
	secondField = field{name: "second", min: 0, max: 59, starMax: 59}
	minuteField = field{name: "minute", min: 0, max: 59, starMax: 59}
	hourField   = field{name: "hour", min: 0, max: 23, starMax: 23}
	domField    = field{name: "day-of-month", min: 1, max: 31, starMax: 31}
	monthField  = field{name: "month", min: 1, max: 12, starMax: 12, nameBase: 1, names: []string{
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = field{name: "day-of-week", min: 0, max: 7, starMax: 6, names: []string{
		"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	yearField = field{name: "year", min: minYear, max: maxYear, starMax: maxYear}
)

// macros maps each supported @-name to its 6-field equivalent.
var macros = map[string]string{
	"@yearly":   "0 0 0 1 1 *",
	"@annually": "0 0 0 1 1 *",
	"@monthly":  "0 0 0 1 * *",
	"@weekly":   "0 0 0 * * 0",
	"@daily":    "0 0 0 * * *",
	"@midnight": "0 0 0 * * *",
	"@hourly":   "0 0 * * * *",
}

const (
	allDays     = uint32(0xFFFFFFFE) // bits 1-31
	allWeekdays = uint8(0x7F)
)

// ParseCron parses a cron expression evaluated in loc (nil means UTC). It
// accepts 5 fields (minute hour day-of-month month day-of-week), 6 (seconds
// first) or 7 (seconds first, year last), and the macros @yearly, @annually,
// @monthly, @weekly, @daily, @midnight and @hourly; the package
// documentation lists the syntax.
//
// Every error is a *model.FieldError with Field "cron" whose reason names the
// failing field and item. An expression that can never fire between 1970 and
// 2199 (Feb 30, a year whose dates never match) is an error too.
func ParseCron(expr string, loc *time.Location) (*Cron, error) {
	if loc == nil {
		loc = time.UTC
	}
	f, err := splitFields(expr)
	if err != nil {
		return nil, err
	}
	c := &Cron{expr: expr, loc: loc}
	if err := c.parse(f); err != nil {
		return nil, err
	}
	if err := c.checkPossible(f); err != nil {
		return nil, err
	}
	t0 := time.Unix(0, 0).In(loc)
	if _, end := t0.ZoneBounds(); end.IsZero() {
		_, off := t0.Zone()
		c.fixed, c.fixedOff = true, int64(off)
	}
	return c, nil
}

func errorf(format string, args ...any) error { return model.Errorf("cron", format, args...) }

// splitFields expands macros and returns the seven fields second, minute,
// hour, day-of-month, month, day-of-week and year.
func splitFields(expr string) ([7]string, error) {
	var f [7]string
	s := strings.TrimSpace(expr)
	switch {
	case s == "":
		return f, errorf("expression is empty")
	case len(s) > maxExprLen:
		return f, errorf("expression is longer than %d characters", maxExprLen)
	case s[0] == '@':
		name := strings.ToLower(s)
		m, ok := macros[name]
		if !ok {
			if strings.HasPrefix(name, "@every") {
				return f, errorf("@every is not supported in cron expressions; use an interval schedule (kind interval) for a fixed rate")
			}
			return f, errorf("unknown macro %q; want @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", s)
		}
		s = m
	}
	p := strings.Fields(s)
	switch len(p) {
	case 5:
		f = [7]string{"0", p[0], p[1], p[2], p[3], p[4], "*"}
	case 6:
		f = [7]string{p[0], p[1], p[2], p[3], p[4], p[5], "*"}
	case 7:
		copy(f[:], p)
	default:
		return f, errorf("want 5, 6 or 7 space-separated fields, got %d", len(p))
	}
	return f, nil
}

// isStar reports a field that does not restrict its unit: '*' (with or
// without a step, as Vixie cron reads it) or '?'.
func isStar(text string) bool { return text == "?" || strings.HasPrefix(text, "*") }

func (c *Cron) parse(f [7]string) error {
	var err error
	if c.second, err = parseBits(f[0], &secondField); err != nil {
		return err
	}
	if c.minute, err = parseBits(f[1], &minuteField); err != nil {
		return err
	}
	h, err := parseBits(f[2], &hourField)
	if err != nil {
		return err
	}
	c.hour = uint32(h)
	if err := c.parseDom(f[3]); err != nil {
		return err
	}
	m, err := parseBits(f[4], &monthField)
	if err != nil {
		return err
	}
	c.month = uint16(m)
	if err := c.parseDow(f[5]); err != nil {
		return err
	}
	if err := parseItems(f[6], &yearField, func(v int) {
		k := v - minYear
		c.years[k/64] |= 1 << (k % 64)
	}); err != nil {
		return err
	}
	c.wild = strings.HasPrefix(f[1], "*") || strings.HasPrefix(f[2], "*")
	c.domStar, c.dowStar = isStar(f[3]), isStar(f[5])
	c.domAll, c.dowAll = c.dom == allDays, c.dow == allWeekdays
	return nil
}

func (c *Cron) parseDom(text string) error {
	if text == "?" {
		c.dom = allDays
		return nil
	}
	for item := range strings.SplitSeq(text, ",") {
		u := strings.ToUpper(item)
		switch {
		case u == "L":
			c.domLast |= 1
		case u == "LW":
			c.domLW = true
		case strings.HasPrefix(u, "L-"):
			n, err := strconv.Atoi(u[2:])
			if err != nil || n < 0 || n > 30 || !isDigits(u[2:]) {
				return itemErr(&domField, item, "L-n needs n from 0 to 30 (days before the last day)")
			}
			c.domLast |= 1 << n
		case strings.HasSuffix(u, "W"):
			if !isDigits(u[:len(u)-1]) {
				return itemErr(&domField, item, "W takes one day, as in 15W (nearest weekday to the 15th) or LW")
			}
			n, err := domField.value(u[:len(u)-1], item)
			if err != nil {
				return err
			}
			c.domW |= 1 << n
		default:
			if err := parseItems(item, &domField, func(v int) { c.dom |= 1 << v }); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cron) parseDow(text string) error {
	if text == "?" {
		c.dow = allWeekdays
		return nil
	}
	for item := range strings.SplitSeq(text, ",") {
		u := strings.ToUpper(item)
		switch {
		case u == "L":
			return itemErr(&dowField, item, "L alone is ambiguous; write 6 or SAT for Saturday, or nL (5L, FRIL) for the last of a weekday in the month")
		case strings.Contains(u, "#"):
			a, b, _ := strings.Cut(u, "#")
			w, err := dowField.value(a, item)
			if err != nil {
				return err
			}
			k, err := strconv.Atoi(b)
			if err != nil || k < 1 || k > 5 || !isDigits(b) {
				return itemErr(&dowField, item, "the occurrence after # must be 1 to 5, as in FRI#3")
			}
			c.dowNth[w%7] |= 1 << k
			c.hasNth = true
		case len(u) > 1 && strings.HasSuffix(u, "L"):
			w, err := dowField.value(u[:len(u)-1], item)
			if err != nil {
				return err
			}
			c.dowLast |= 1 << (w % 7)
		default:
			if err := parseItems(item, &dowField, func(v int) { c.dow |= 1 << (v % 7) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseBits parses a field of at most 64 values into a bitset.
func parseBits(text string, f *field) (uint64, error) {
	var set uint64
	err := parseItems(text, f, func(v int) { set |= 1 << v })
	return set, err
}

// parseItems parses a comma-separated list of values, ranges and steps,
// calling add for every value it selects.
func parseItems(text string, f *field, add func(v int)) error {
	for item := range strings.SplitSeq(text, ",") {
		lo, hi, step, err := parseRange(item, f)
		if err != nil {
			return err
		}
		for v := lo; v <= hi; v += step {
			add(v)
		}
	}
	return nil
}

// parseRange parses one list item: *, n, a-b, each optionally with /step.
func parseRange(item string, f *field) (lo, hi, step int, err error) {
	if item == "" {
		return 0, 0, 0, errorf("%s field has an empty list item (check for a stray comma)", f.name)
	}
	base, stepText, hasStep := strings.Cut(item, "/")
	step = 1
	if hasStep {
		span := f.starMax - f.min + 1
		n, err := strconv.Atoi(stepText)
		switch {
		case err != nil || !isDigits(stepText):
			return 0, 0, 0, itemErr(f, item, "step %q is not a number", stepText)
		case n == 0:
			return 0, 0, 0, itemErr(f, item, "step 0 is not allowed")
		case n > span:
			return 0, 0, 0, itemErr(f, item, "step %d is larger than the field's range %d-%d", n, f.min, f.starMax)
		}
		step = n
	}
	switch {
	case base == "*":
		return f.min, f.starMax, step, nil
	case base == "?":
		return 0, 0, 0, itemErr(f, item, "? is only allowed alone, in day-of-month and day-of-week")
	case strings.Contains(base, "-"):
		a, b, _ := strings.Cut(base, "-")
		if lo, err = f.value(a, item); err != nil {
			return 0, 0, 0, err
		}
		if hi, err = f.value(b, item); err != nil {
			return 0, 0, 0, err
		}
		if lo > hi {
			return 0, 0, 0, itemErr(f, item, "range runs backwards; to wrap around, list both parts (%s-%d,%d-%s)",
				a, f.max, f.min, b)
		}
		return lo, hi, step, nil
	}
	if lo, err = f.value(base, item); err != nil {
		return 0, 0, 0, err
	}
	hi = lo
	if hasStep {
		hi = max(lo, f.starMax)
	}
	return lo, hi, step, nil
}

// value parses a number or a name of field f, within its bounds.
func (f *field) value(s, item string) (int, error) {
	switch {
	case s == "":
		return 0, itemErr(f, item, "missing number")
	case isDigits(s):
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min || n > f.max {
			return 0, itemErr(f, item, "%s is out of range %d-%d", s, f.min, f.max)
		}
		return n, nil
	case f.names != nil:
		u := strings.ToUpper(s)
		for i, name := range f.names {
			if name == u {
				return f.nameBase + i, nil
			}
		}
		return 0, itemErr(f, item, "unknown name %q; want one of %s", s, strings.Join(f.names, " "))
	}
	return 0, itemErr(f, item, "%q is not a number", s)
}

func itemErr(f *field, item, format string, args ...any) error {
	return errorf("%s field %q: %s", f.name, item, fmt.Sprintf(format, args...))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkPossible returns an error naming the reason when the expression has
// no matching wall time in the calendar.
func (c *Cron) checkPossible(f [7]string) error {
	if _, ok := c.nextWall(0); ok {
		return nil
	}
	if c.dowStar && c.dom != 0 && c.domLast == 0 && c.domW == 0 && !c.domLW {
		first := bits.TrailingZeros32(c.dom)
		var never []string
		for m := 1; m <= 12; m++ {
			if c.month&(1<<m) != 0 && daysIn(2000, m) < first {
				never = append(never, time.Month(m).String())
			}
		}
		if len(never) == bits.OnesCount16(c.month) {
			return errorf("day-of-month %q never occurs in %s", f[3], joinOr(never))
		}
	}
	if f[6] != "*" {
		return errorf("no date in year %q matches the day-of-month, month and day-of-week fields", f[6])
	}
	return errorf("the expression never matches a date from 1970 to %d", maxYear)
}

// joinOr joins words as "a, b or c".
func joinOr(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
