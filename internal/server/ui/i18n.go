package ui

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Lang is a UI language.
type Lang string

// Languages the UI speaks. Every catalogue entry has both.
const (
	English Lang = "en"
	Chinese Lang = "zh-CN"
)

// Langs lists the languages in switcher order.
var Langs = []Lang{English, Chinese}

// langCookie holds the language a person chose with the switcher.
const langCookie = "hetuflow_lang"

// LangCookie and ZoneCookie name the cookies that hold a browser's choice of
// language and time zone; the server sets them from a user's stored
// preferences on a browser that has none.
const (
	LangCookie = langCookie
	ZoneCookie = tzCookie
)

// tzCookie holds the time zone: chosen, or the browser's, sent by app.js.
const tzCookie = "hetuflow_tz"

// ParseLang maps a language tag to a UI language; ok is false for a
// language the UI does not speak.
func ParseLang(tag string) (Lang, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	switch {
	case tag == "en" || strings.HasPrefix(tag, "en-") || strings.HasPrefix(tag, "en_"):
		return English, true
	case tag == "zh" || strings.HasPrefix(tag, "zh-") || strings.HasPrefix(tag, "zh_"):
		// Traditional Chinese readers get Simplified rather than English.
		return Chinese, true
	}
	return "", false
}

// requestLang picks the language: the person's choice (cookie), then the
// first Accept-Language the UI speaks, then English.
func requestLang(r *http.Request) Lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := ParseLang(c.Value); ok {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, q, _ := strings.Cut(part, ";")
		if strings.TrimSpace(q) == "q=0" {
			continue
		}
		if l, ok := ParseLang(tag); ok {
			return l
		}
	}
	return English
}

// requestZone returns the time zone from the cookie, else UTC.
func requestZone(r *http.Request) *time.Location {
	if c, err := r.Cookie(tzCookie); err == nil && c.Value != "" {
		if loc, err := time.LoadLocation(c.Value); err == nil {
			return loc
		}
	}
	return time.UTC
}

// PrinterFor returns the printer for r: the language the person chose (a
// cookie), else their browser's Accept-Language, and their time zone. The
// server's own pages (sign-in, setup) use it, so they speak the console's
// languages.
func PrinterFor(r *http.Request) Printer {
	return Printer{Lang: requestLang(r), Zone: requestZone(r)}
}

// Printer formats messages, times and durations for one language and zone.
type Printer struct {
	Lang Lang
	Zone *time.Location
}

// T returns the message for key in the printer's language, formatted with
// args as by fmt.Sprintf. An unknown key comes back as itself, marked, so it
// shows in tests and screenshots rather than vanishing.
func (p Printer) T(key string, args ...any) string {
	m, ok := catalog[key]
	if !ok {
		return "!" + key + "!"
	}
	s := m.en
	if p.Lang == Chinese {
		s = m.zh
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Time formats an instant in the printer's zone: "Jan 2 15:04:05 2006" or
// "2006年1月2日 15:04:05".
func (p Printer) Time(t any) string {
	tm, ok := timeOf(t)
	if !ok {
		return "—"
	}
	tm = tm.In(p.Zone)
	if p.Lang == Chinese {
		return fmt.Sprintf("%d年%d月%d日 %s", tm.Year(), tm.Month(), tm.Day(), tm.Format("15:04:05"))
	}
	return tm.Format("Jan 2 2006 15:04:05")
}

// Short formats an instant without the year and seconds when it is this year.
func (p Printer) Short(t any) string {
	tm, ok := timeOf(t)
	if !ok {
		return "—"
	}
	tm = tm.In(p.Zone)
	if p.Lang == Chinese {
		return fmt.Sprintf("%d月%d日 %s", tm.Month(), tm.Day(), tm.Format("15:04:05"))
	}
	return tm.Format("Jan 2 15:04:05")
}

// Dur formats a duration: "1h 2m 3s" or "1小时2分3秒"; under a second in
// milliseconds.
func (p Printer) Dur(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case int64:
		d = time.Duration(x) * time.Millisecond
	case float64:
		d = time.Duration(x * float64(time.Second))
	default:
		return "—"
	}
	neg := d < 0
	if neg {
		d = -d
	}
	units := []struct {
		d      time.Duration
		en, zh string
	}{{24 * time.Hour, "d", "天"}, {time.Hour, "h", "小时"}, {time.Minute, "m", "分"}, {time.Second, "s", "秒"}}
	var parts []string
	if d < time.Second {
		ms := d.Milliseconds()
		if p.Lang == Chinese {
			parts = append(parts, fmt.Sprintf("%d毫秒", ms))
		} else {
			parts = append(parts, fmt.Sprintf("%dms", ms))
		}
	}
	for _, u := range units {
		if d >= u.d && len(parts) < 2 {
			n := d / u.d
			d -= n * u.d
			if p.Lang == Chinese {
				parts = append(parts, fmt.Sprintf("%d%s", n, u.zh))
			} else {
				parts = append(parts, fmt.Sprintf("%d%s", n, u.en))
			}
		}
	}
	sep := " "
	if p.Lang == Chinese {
		sep = ""
	}
	s := strings.Join(parts, sep)
	if neg {
		s = "-" + s
	}
	return s
}

// Between formats the time from a to b, or "—" when either is unset.
func (p Printer) Between(a, b any) string {
	ta, ok1 := timeOf(a)
	tb, ok2 := timeOf(b)
	if !ok1 || !ok2 {
		return "—"
	}
	return p.Dur(tb.Sub(ta))
}

func timeOf(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, !x.IsZero()
	case *time.Time:
		if x == nil || x.IsZero() {
			return time.Time{}, false
		}
		return *x, true
	}
	return time.Time{}, false
}

// LangName is how a language names itself in the switcher.
func LangName(l Lang) string {
	if l == Chinese {
		return "简体中文"
	}
	return "English"
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

func parseRFC3339(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
