package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DescribeLang returns the plain-language reading of a cron expression in
// lang: Simplified Chinese for "zh…", English (Describe) otherwise. Like
// Describe it is best effort and returns "" when expr does not parse.
func DescribeLang(expr, lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return DescribeChinese(expr)
	}
	return Describe(expr)
}

// DescribeChinese reads a cron expression in Simplified Chinese, such as
// "每天 02:30" or "周一至周五 每5分钟". It covers the same forms as Describe,
// more tersely for the rarer ones.
func DescribeChinese(expr string) string {
	if _, err := ParseCron(expr, time.UTC); err != nil {
		return ""
	}
	f, _ := splitFields(expr)
	var parts []string
	if f[6] != "*" {
		parts = append(parts, zhList(f[6], "年", nil)+"年")
	}
	if f[4] != "*" {
		parts = append(parts, zhList(f[4], "个月", zhMonth))
	}
	day := zhDays(f[3], f[5])
	tm, clock := zhTime(f[0], f[1], f[2])
	switch {
	case day != "":
		parts = append(parts, day)
	case clock:
		parts = append(parts, "每天")
	}
	parts = append(parts, tm)
	return strings.Join(parts, " ")
}

func zhMonth(m int) string { return strconv.Itoa(m) + "月" }

var zhWeekdays = []string{"周日", "周一", "周二", "周三", "周四", "周五", "周六"}

func zhDay(d int) string { return zhWeekdays[d%7] }

// zhList reads a field: plain values joined with "、", ranges "A至B",
// steps "每N<unit>".
func zhList(text, unit string, name func(int) string) string {
	var out []string
	for item := range strings.SplitSeq(text, ",") {
		base, step, hasStep := strings.Cut(item, "/")
		val := func(s string) string {
			v := index(s, strings.TrimPrefix(unitName(unit), ""))
			if name != nil {
				return name(v)
			}
			return strconv.Itoa(v)
		}
		var p string
		switch {
		case base == "*" || base == "?":
			p = "每" + unit
			if hasStep && step != "1" {
				p = "每" + step + unit
			}
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			p = val(a) + "至" + val(b)
			if hasStep && step != "1" {
				p += "每" + step + unit
			}
		default:
			p = val(base)
			if hasStep {
				p += "起每" + step + unit
			}
		}
		out = append(out, p)
	}
	return strings.Join(out, "、")
}

// unitName maps a Chinese unit to the English one index() expects.
func unitName(unit string) string {
	switch unit {
	case "年":
		return "year"
	case "个月":
		return "month"
	case "天":
		return "day"
	case "小时":
		return "hour"
	case "分钟":
		return "minute"
	case "秒":
		return "second"
	case "星期":
		return "weekday"
	}
	return unit
}

func zhTime(sec, minute, hour string) (string, bool) {
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
		return strings.Join(times, "、"), true
	}
	var p []string
	if hour != "*" {
		if hs, ok := plainValues(hour); ok {
			var s []string
			for _, h := range hs {
				s = append(s, strconv.Itoa(h)+"点")
			}
			p = append(p, strings.Join(s, "、"))
		} else {
			p = append(p, zhList(hour, "小时", nil))
		}
	}
	switch {
	case minute == "*" && sec == "0":
		p = append(p, "每分钟")
	case minute == "*":
	default:
		if ms, ok := plainValues(minute); ok {
			var s []string
			for _, m := range ms {
				s = append(s, strconv.Itoa(m)+"分")
			}
			if hour == "*" {
				p = append(p, "每小时的"+strings.Join(s, "、"))
			} else {
				p = append(p, strings.Join(s, "、"))
			}
		} else {
			p = append(p, zhList(minute, "分钟", nil))
		}
	}
	if sec != "0" {
		if ss, ok := plainValues(sec); ok {
			var s []string
			for _, v := range ss {
				s = append(s, strconv.Itoa(v)+"秒")
			}
			p = append(p, "第"+strings.Join(s, "、"))
		} else {
			p = append(p, zhList(sec, "秒", nil))
		}
	}
	return strings.Join(p, " "), false
}

func zhDays(dom, dow string) string {
	var d, w string
	if !isStar(dom) {
		var items []string
		for item := range strings.SplitSeq(strings.ToUpper(dom), ",") {
			switch {
			case item == "L":
				items = append(items, "每月最后一天")
			case item == "LW":
				items = append(items, "每月最后一个工作日")
			case strings.HasPrefix(item, "L-"):
				items = append(items, "每月倒数第"+item[2:]+"天之前")
			case strings.HasSuffix(item, "W"):
				items = append(items, "离"+item[:len(item)-1]+"日最近的工作日")
			default:
				if vs, ok := plainValues(item); ok {
					for _, v := range vs {
						items = append(items, strconv.Itoa(v)+"日")
					}
				} else {
					items = append(items, "每月"+zhList(item, "天", nil)+"日")
				}
			}
		}
		d = "每月" + strings.TrimPrefix(strings.Join(items, "、"), "每月")
	}
	if !isStar(dow) {
		var items []string
		for item := range strings.SplitSeq(strings.ToUpper(dow), ",") {
			if a, b, ok := strings.Cut(item, "#"); ok {
				items = append(items, "每月第"+b+"个"+zhDay(dowIndex(a)))
				continue
			}
			if len(item) > 1 && strings.HasSuffix(item, "L") {
				items = append(items, "每月最后一个"+zhDay(dowIndex(item[:len(item)-1])))
				continue
			}
			items = append(items, zhDowItem(item))
		}
		w = strings.Join(items, "、")
	}
	switch {
	case d != "" && w != "":
		return d + "或" + w
	case d != "":
		return d
	}
	return w
}

func zhDowItem(item string) string {
	base, step, hasStep := strings.Cut(item, "/")
	if a, b, ok := strings.Cut(base, "-"); ok {
		s := zhDay(dowIndex(a)) + "至" + zhDay(dowIndex(b))
		if hasStep {
			s += "每" + step + "天"
		}
		return s
	}
	if base == "*" || base == "?" {
		return "每" + step + "天"
	}
	return zhDay(dowIndex(base))
}
