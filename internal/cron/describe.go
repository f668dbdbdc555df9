package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Describe returns a short plain-English reading of a cron expression, such
// as "at 02:30 every day" or "every 5 minutes on Monday through Friday", for
// people reading a schedule list. It is best effort: the wording may change
// and is not meant to be parsed. It returns "" when expr does not parse.
func Describe(expr string) string {
	if _, err := ParseCron(expr, time.UTC); err != nil {
		return ""
	}
	f, _ := splitFields(expr)
	tm, clock := describeTime(f[0], f[1], f[2])
	parts := []string{tm}
	day := describeDays(f[3], f[4], f[5])
	switch {
	case day != "":
		parts = append(parts, day)
	case clock:
		parts = append(parts, "every day")
	}
	if f[4] != "*" && !(plainOne(f[3]) && plainOne(f[4]) && isStar(f[5])) {
		parts = append(parts, spanPhrase(f[4], "month", monthName))
	}
	if f[6] != "*" {
		parts = append(parts, spanPhrase(f[6], "year", nil))
	}
	return strings.Join(parts, " ")
}

// spanPhrase describes a month or year field: "in 2025 through 2030",
// "every 3 months".
func spanPhrase(text, unit string, name func(int) string) string {
	if a, b, ok := strings.Cut(text, "-"); ok && !strings.ContainsAny(text, ",/") {
		return "in " + valueName(index(a, unit), name) + " through " + valueName(index(b, unit), name)
	}
	p := strings.TrimPrefix(listPhrase(text, unit, name), "at "+unit+" ")
	if strings.HasPrefix(p, "every ") {
		return p
	}
	return "in " + p
}

// describeTime describes the second, minute and hour fields; clock reports a
// reading as clock times ("at 02:30").
func describeTime(sec, minute, hour string) (string, bool) {
	ss, sok := plainValues(sec)
	ms, mok := plainValues(minute)
	hs, hok := plainValues(hour)
	if sok && mok && hok && len(ss)*len(ms)*len(hs) <= 4 {
		var times []string
		for _, h := range hs {
			for _, m := range ms {
				for _, s := range ss {
					t := fmt.Sprintf("%02d:%02d", h, m)
					if sec != "0" {
						t += fmt.Sprintf(":%02d", s)
					}
					times = append(times, t)
				}
			}
		}
		return "at " + joinAnd(times), true
	}
	var p []string
	if sec != "0" {
		p = append(p, listPhrase(sec, "second", nil))
	}
	switch {
	case sec == "0" && mok && len(ms) == 1:
		hp := "every hour"
		if hour != "*" {
			hp = listPhrase(hour, "hour", nil)
		}
		if ms[0] != 0 {
			hp = fmt.Sprintf("at minute %d of %s", ms[0], strings.TrimPrefix(hp, "at "))
		}
		return hp, false
	case minute != "*" || sec == "0":
		p = append(p, listPhrase(minute, "minute", nil))
	}
	out := strings.Join(p, ", ")
	if hour != "*" {
		hp := listPhrase(hour, "hour", nil)
		if strings.HasPrefix(hp, "every") {
			return out + " of " + hp, false
		}
		return out + " in " + strings.TrimPrefix(hp, "at "), false
	}
	return out, false
}

// describeDays describes the day-of-month and day-of-week fields, joined as
// the Vixie rule says; month is used to say "on January 1".
func describeDays(dom, month, dow string) string {
	if isStar(dom) && isStar(dow) {
		if dom != "*" && dom != "?" {
			return "on " + listPhrase(dom, "day", nil)
		}
		if dow != "*" && dow != "?" {
			return "on " + listPhrase(dow, "weekday", dayName)
		}
		return ""
	}
	var d, w string
	if !isStar(dom) {
		if plainOne(dom) && plainOne(month) && isStar(dow) {
			ds, _ := plainValues(dom)
			ms, _ := plainValues(month)
			d = fmt.Sprintf("%s %d", monthName(ms[0]), ds[0])
		} else if _, ok := plainValues(dom); ok {
			d = strings.TrimPrefix(listPhrase(dom, "day", nil), "at ") + " of the month"
		} else {
			var items []string
			for item := range strings.SplitSeq(strings.ToUpper(dom), ",") {
				items = append(items, domItem(item))
			}
			d = joinAnd(items)
		}
	}
	if !isStar(dow) {
		var items []string
		for item := range strings.SplitSeq(strings.ToUpper(dow), ",") {
			items = append(items, dowItem(item))
		}
		w = joinAnd(items)
	}
	switch {
	case d != "" && w != "":
		return "on " + d + " or on " + w
	case d != "" && dow != "*" && dow != "?":
		return "on " + d + " if it is " + listPhrase(dow, "weekday", dayName)
	case d != "":
		return "on " + d
	case dom != "*" && dom != "?":
		return listPhrase(dom, "day", nil) + " of the month when it is " + w
	}
	return "on " + w
}

func domItem(item string) string {
	switch {
	case item == "L":
		return "the last day of the month"
	case item == "LW":
		return "the last weekday of the month"
	case strings.HasPrefix(item, "L-"):
		return "the last day of the month minus " + item[2:]
	case strings.HasSuffix(item, "W"):
		return "the weekday nearest day " + item[:len(item)-1]
	}
	return strings.TrimPrefix(listPhrase(item, "day", nil), "at ") + " of the month"
}

var ordinals = []string{"", "first", "second", "third", "fourth", "fifth"}

func dowItem(item string) string {
	if a, b, ok := strings.Cut(item, "#"); ok {
		k, _ := strconv.Atoi(b)
		return "the " + ordinals[k] + " " + dayName(dowIndex(a)) + " of the month"
	}
	if len(item) > 1 && strings.HasSuffix(item, "L") {
		return "the last " + dayName(dowIndex(item[:len(item)-1])) + " of the month"
	}
	return strings.TrimPrefix(listPhrase(item, "weekday", dayName), "at weekday ")
}

// listPhrase describes a list of plain items, ranges and steps of one unit.
func listPhrase(text, unit string, name func(int) string) string {
	if vs, ok := plainValues(text); ok && len(vs) > 0 {
		var s []string
		for _, v := range vs {
			s = append(s, valueName(v, name))
		}
		if name != nil {
			return joinAnd(s)
		}
		if len(s) == 1 {
			return "at " + unit + " " + s[0]
		}
		return "at " + unit + "s " + joinAnd(s)
	}
	var parts []string
	for item := range strings.SplitSeq(text, ",") {
		parts = append(parts, itemPhrase(item, unit, name))
	}
	return joinAnd(parts)
}

func itemPhrase(item, unit string, name func(int) string) string {
	base, step, hasStep := strings.Cut(item, "/")
	every := "every " + unit
	if hasStep && step != "1" {
		every = "every " + step + " " + unit + "s"
	}
	a, b, isRange := strings.Cut(base, "-")
	switch {
	case base == "*":
		return every
	case isRange && name != nil && !hasStep:
		return valueName(index(a, unit), name) + " through " + valueName(index(b, unit), name)
	case isRange:
		return every + " from " + valueName(index(a, unit), name) + " through " + valueName(index(b, unit), name)
	case hasStep:
		return every + " from " + valueName(index(base, unit), name)
	}
	return valueName(index(base, unit), name)
}

func index(s, unit string) int {
	switch unit {
	case "month":
		return monthIndex(s)
	case "weekday":
		return dowIndex(s)
	}
	n, _ := strconv.Atoi(s)
	return n
}

func valueName(v int, name func(int) string) string {
	if name == nil {
		return strconv.Itoa(v)
	}
	return name(v)
}

func monthName(m int) string { return time.Month(m).String() }

func dayName(d int) string { return time.Weekday(d % 7).String() }

func monthIndex(s string) int {
	v, err := monthField.value(s, s)
	if err != nil {
		return 0
	}
	return v
}

func dowIndex(s string) int {
	v, err := dowField.value(s, s)
	if err != nil {
		return 0
	}
	return v
}

// plainValues returns the values of a list of plain numbers or names.
func plainValues(text string) ([]int, bool) {
	var vs []int
	for item := range strings.SplitSeq(text, ",") {
		if strings.ContainsAny(item, "*/-?#LW") && !isName(item) {
			return nil, false
		}
		v, err := strconv.Atoi(item)
		if err != nil {
			if v = monthIndex(item); v == 0 {
				if v = dowIndex(item); v == 0 && !strings.EqualFold(item, "SUN") {
					return nil, false
				}
			}
		}
		vs = append(vs, v)
	}
	return vs, true
}

func isName(s string) bool {
	return monthIndex(s) != 0 || dowIndex(s) != 0 || strings.EqualFold(s, "SUN")
}

// plainOne reports a field holding one plain value.
func plainOne(text string) bool {
	vs, ok := plainValues(text)
	return ok && len(vs) == 1
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
