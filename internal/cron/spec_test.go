package cron

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// wantFieldError fails the test unless err is a *model.FieldError for field
// whose reason contains reason.
func wantFieldError(t *testing.T, err error, field, reason string) {
	t.Helper()
	var fe *model.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want *model.FieldError for %q", err, field)
	}
	if fe.Field != field || !strings.Contains(fe.Reason, reason) {
		t.Errorf("error = %q: %q, want %q containing %q", fe.Field, fe.Reason, field, reason)
	}
}

func mustInterval(t *testing.T, anchor string, every time.Duration) *Interval {
	t.Helper()
	iv, err := NewInterval(mustTime(t, anchor), every)
	if err != nil {
		t.Fatalf("NewInterval: %v", err)
	}
	return iv
}

func TestInterval(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		anchor string
		every  time.Duration
		from   string
		want   []string
	}{
		{"AnchorInFuture", "2025-01-01T00:00:00Z", time.Hour, "2024-12-31T00:00:00Z",
			[]string{"2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"}},
		{"JustBeforeAnchor", "2025-01-01T00:00:00Z", time.Hour, "2024-12-31T23:59:59.999999999Z",
			[]string{"2025-01-01T00:00:00Z"}},
		{"AtAnchor", "2025-01-01T00:00:00Z", time.Hour, "2025-01-01T00:00:00Z",
			[]string{"2025-01-01T01:00:00Z"}},
		{"AnchorInPast", "2025-01-01T00:00:00Z", time.Hour, "2025-01-01T05:30:00Z",
			[]string{"2025-01-01T06:00:00Z", "2025-01-01T07:00:00Z"}},
		{"ExactMultipleIsExcluded", "2025-01-01T00:00:00Z", 90 * time.Minute, "2025-01-02T00:00:00Z",
			[]string{"2025-01-02T01:30:00Z", "2025-01-02T03:00:00Z"}},
		{"SubSecond", "2025-01-01T00:00:00.1Z", 250 * time.Millisecond, "2025-01-01T00:00:01Z",
			[]string{"2025-01-01T00:00:01.1Z", "2025-01-01T00:00:01.35Z", "2025-01-01T00:00:01.6Z",
				"2025-01-01T00:00:01.85Z", "2025-01-01T00:00:02.1Z"}},
		{"HugeKWithoutDrift", "1970-01-01T00:00:00Z", 7, "2199-06-01T00:00:00.000000003Z",
			// (2199-06-01 − 1970-01-01) = 7,239,628,800 s; 7,239,628,800,000,000,003 ns mod 7 = 5.
			[]string{"2199-06-01T00:00:00.000000005Z", "2199-06-01T00:00:00.000000012Z"}},
		{"MoreThan2To64Periods", "0001-01-01T00:00:00Z", 1, "2199-06-01T00:00:00.5Z",
			[]string{"2199-06-01T00:00:00.500000001Z"}},
		{"IgnoresDaylightSaving", "2025-03-09T06:00:00Z", time.Hour, "2025-03-09T06:30:00Z",
			[]string{"2025-03-09T07:00:00Z", "2025-03-09T08:00:00Z"}},
		{"LongPeriod", "2025-01-31T10:00:00Z", 30 * 24 * time.Hour, "2025-02-01T00:00:00Z",
			[]string{"2025-03-02T10:00:00Z", "2025-04-01T10:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iv := mustInterval(t, tc.anchor, tc.every)
			checkSeq(t, iv, nil, mustTime(t, tc.from), tc.want, false)
		})
	}
}

func TestIntervalLocationAndEnd(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	iv, err := NewInterval(time.Date(2025, 1, 1, 0, 0, 0, 0, ny), time.Hour)
	if err != nil {
		t.Fatalf("NewInterval: %v", err)
	}
	if iv.Anchor().Location() != ny || iv.Every() != time.Hour {
		t.Errorf("Anchor(), Every() = %v, %v", iv.Anchor(), iv.Every())
	}
	from := time.Date(2025, 6, 1, 0, 30, 0, 0, time.UTC)
	got, ok := iv.Next(from)
	if !ok || got.Location() != ny || !got.Equal(time.Date(2025, 6, 1, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("Next(%v) = %v, %v, want 01:00 UTC in America/New_York", from, got, ok)
	}
	late := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, ok := iv.Next(late); ok {
		t.Errorf("Next(%v) = %v, true, want none past the calendar", late, got)
	}
	// A time with a monotonic clock reading works and the result has none.
	now := time.Now()
	iv2, err := NewInterval(now, time.Second)
	if err != nil {
		t.Fatalf("NewInterval: %v", err)
	}
	if got, ok := iv2.Next(now.Add(1500 * time.Millisecond)); !ok || !got.Equal(now.Add(2*time.Second)) || got != got.Round(0) {
		t.Errorf("Next(now+1.5s) = %v, %v, want now+2s without a monotonic reading", got, ok)
	}
}

func TestIntervalErrors(t *testing.T) {
	t.Parallel()
	anchor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, every := range []time.Duration{0, -time.Second} {
		_, err := NewInterval(anchor, every)
		wantFieldError(t, err, "interval", "must be positive")
	}
	_, err := NewInterval(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)
	wantFieldError(t, err, "start_time", "years 1 to 9999")
	_, err = NewInterval(time.Time{}.Add(-time.Second), time.Second)
	wantFieldError(t, err, "start_time", "years 1 to 9999")
}

// TestIntervalMatchesBigArithmetic compares Next with anchor + k·every
// computed in arbitrary precision, for random anchors, periods and times.
func TestIntervalMatchesBigArithmetic(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	base := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	nsOf := func(v time.Time) *big.Int {
		n := new(big.Int).Mul(big.NewInt(v.Unix()-base.Unix()), big.NewInt(1e9))
		return n.Add(n, big.NewInt(int64(v.Nanosecond())))
	}
	randTime := func() time.Time {
		return base.Add(time.Duration(r.Int64N(int64(time.Hour*24*365*290)))).
			AddDate(r.IntN(1900), 0, 0)
	}
	for range 2000 {
		a, from := randTime(), randTime()
		every := time.Duration(r.Int64N(int64(1) << r.IntN(63)))
		if every <= 0 {
			every = 1
		}
		iv, err := NewInterval(a, every)
		if err != nil {
			t.Fatalf("NewInterval(%v, %v): %v", a, every, err)
		}
		got, ok := iv.Next(from)
		want := a
		if !from.Before(a) {
			d := new(big.Int).Sub(nsOf(from), nsOf(a))
			k := d.Div(d, big.NewInt(int64(every)))
			k.Add(k, big.NewInt(1))
			w := k.Mul(k, big.NewInt(int64(every)))
			w.Add(w, nsOf(a))
			sec, ns := new(big.Int).DivMod(w, big.NewInt(1e9), new(big.Int))
			want = time.Unix(base.Unix()+sec.Int64(), ns.Int64())
		}
		if !ok || !got.Equal(want) {
			t.Fatalf("NewInterval(%v, %v).Next(%v) = %v, %v, want %v", a, every, from, got, ok, want)
		}
	}
}

func TestOnce(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	o := NewOnce(at)
	if !o.At().Equal(at) {
		t.Errorf("At() = %v, want %v", o.At(), at)
	}
	for _, tc := range []struct {
		from time.Time
		ok   bool
	}{
		{at.Add(-time.Hour), true},
		{at.Add(-1), true},
		{at, false},
		{at.Add(time.Hour), false},
	} {
		got, ok := o.Next(tc.from)
		if ok != tc.ok || (ok && !got.Equal(at)) {
			t.Errorf("Next(%v) = %v, %v, want %v, %v", tc.from, got, ok, at, tc.ok)
		}
	}
}

func ptr(t time.Time) *time.Time { return &t }

func TestWindow(t *testing.T) {
	t.Parallel()
	hourly := mustParse(t, "0 * * * *", "UTC")
	at := func(s string) time.Time { return mustTime(t, "2025-01-01T"+s+"Z") }
	cases := []struct {
		name       string
		start, end *time.Time
		from       time.Time
		want       []string
		end2       bool
	}{
		{name: "StartIsInclusive", start: ptr(at("10:00:00")), from: at("08:00:00"),
			want: []string{"2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z"}},
		{name: "StartBetweenFires", start: ptr(at("10:30:00")), from: at("08:00:00"),
			want: []string{"2025-01-01T11:00:00Z"}},
		{name: "FromAfterStart", start: ptr(at("10:00:00")), from: at("12:00:00"),
			want: []string{"2025-01-01T13:00:00Z"}},
		{name: "EndIsInclusive", end: ptr(at("12:00:00")), from: at("10:00:00"),
			want: []string{"2025-01-01T11:00:00Z", "2025-01-01T12:00:00Z"}, end2: true},
		{name: "EndBetweenFires", end: ptr(at("12:30:00")), from: at("11:00:00"),
			want: []string{"2025-01-01T12:00:00Z"}, end2: true},
		{name: "Both", start: ptr(at("10:00:00")), end: ptr(at("11:00:00")), from: at("00:00:00"),
			want: []string{"2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z"}, end2: true},
		{name: "StartEqualsEnd", start: ptr(at("10:00:00")), end: ptr(at("10:00:00")), from: at("00:00:00"),
			want: []string{"2025-01-01T10:00:00Z"}, end2: true},
		{name: "EmptyWindow", start: ptr(at("10:10:00")), end: ptr(at("10:50:00")), from: at("00:00:00"), end2: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkSeq(t, Window(hourly, tc.start, tc.end), nil, tc.from, tc.want, tc.end2)
		})
	}
	t.Run("UnboundedIsIdentity", func(t *testing.T) {
		t.Parallel()
		if Window(hourly, nil, nil) != Spec(hourly) {
			t.Errorf("Window(s, nil, nil) is not s")
		}
	})
	t.Run("BoundsAreCopied", func(t *testing.T) {
		t.Parallel()
		start := at("10:00:00")
		w := Window(hourly, &start, nil)
		start = at("20:00:00")
		if got, _ := w.Next(at("00:00:00")); !got.Equal(at("10:00:00")) {
			t.Errorf("Next(00:00) = %v, want 10:00 despite the caller changing start", got)
		}
	})
}

func TestFirst(t *testing.T) {
	t.Parallel()
	hourly := mustParse(t, "0 * * * *", "UTC")
	for _, tc := range []struct{ from, want string }{
		{"2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z"},
		{"2025-01-01T10:00:00.5Z", "2025-01-01T11:00:00Z"},
		{"2025-01-01T09:59:59Z", "2025-01-01T10:00:00Z"},
	} {
		from, want := mustTime(t, tc.from), mustTime(t, tc.want)
		if got, ok := First(hourly, from); !ok || !got.Equal(want) {
			t.Errorf("First(%v) = %v, %v, want %v", from, got, ok, want)
		}
	}
	iv := mustInterval(t, "2025-01-01T10:00:00.25Z", time.Minute)
	start := iv.Anchor()
	if got, ok := First(iv, start); !ok || !got.Equal(start) {
		t.Errorf("First(interval, anchor) = %v, %v, want %v", got, ok, start)
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "*/10 * * * *", "Europe/London")
	from := mustTime(t, "2025-10-26T00:45:00+01:00")
	got := Preview(c, from, 5)
	if len(got) != 5 {
		t.Fatalf("Preview(n=5) returned %d times", len(got))
	}
	cur := from
	for i, g := range got {
		want, _ := c.Next(cur)
		if !g.Equal(want) {
			t.Errorf("Preview[%d] = %v, want Next(%v) = %v", i, g, cur, want)
		}
		cur = want
	}
	if got := Preview(c, from, 0); got != nil {
		t.Errorf("Preview(n=0) = %v, want nil", got)
	}
	if got := Preview(c, from, -1); got != nil {
		t.Errorf("Preview(n=-1) = %v, want nil", got)
	}
	once := NewOnce(from.Add(time.Hour))
	if got := Preview(once, from, 5); len(got) != 1 || !got[0].Equal(from.Add(time.Hour)) {
		t.Errorf("Preview(once, n=5) = %v, want the one fire", got)
	}
}

func TestForSchedule(t *testing.T) {
	t.Parallel()
	created := mustTime(t, "2025-01-01T00:00:07Z")
	base := func(kind model.ScheduleKind) *model.Schedule {
		return &model.Schedule{ID: uuid.New(), Kind: kind, CreatedAt: created}
	}
	t.Run("CronInTimeZone", func(t *testing.T) {
		t.Parallel()
		s := base(model.ScheduleCron)
		s.Cron, s.TimeZone = "30 2 * * *", "America/New_York"
		spec, err := ForSchedule(s)
		if err != nil {
			t.Fatalf("ForSchedule: %v", err)
		}
		checkSeq(t, spec, mustLoc(t, "America/New_York"), mustTime(t, "2025-03-08T12:00:00Z"),
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"}, false)
	})
	t.Run("CronWindow", func(t *testing.T) {
		t.Parallel()
		s := base(model.ScheduleCron)
		s.Cron = "@daily"
		s.StartTime, s.EndTime = ptr(mustTime(t, "2025-02-01T00:00:00Z")), ptr(mustTime(t, "2025-02-03T00:00:00Z"))
		spec, err := ForSchedule(s)
		if err != nil {
			t.Fatalf("ForSchedule: %v", err)
		}
		checkSeq(t, spec, time.UTC, created, []string{"2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z", "2025-02-03T00:00:00Z"}, true)
	})
	t.Run("IntervalAnchorsAtStartTime", func(t *testing.T) {
		t.Parallel()
		s := base(model.ScheduleInterval)
		s.Interval = model.Duration(10 * time.Minute)
		s.StartTime = ptr(mustTime(t, "2025-01-05T00:00:03Z"))
		spec, err := ForSchedule(s)
		if err != nil {
			t.Fatalf("ForSchedule: %v", err)
		}
		checkSeq(t, spec, time.UTC, created, []string{"2025-01-05T00:00:03Z", "2025-01-05T00:10:03Z"}, false)
	})
	t.Run("IntervalAnchorsAtCreatedAt", func(t *testing.T) {
		t.Parallel()
		s := base(model.ScheduleInterval)
		s.Interval, s.TimeZone = model.Duration(time.Hour), "Asia/Tokyo"
		spec, err := ForSchedule(s)
		if err != nil {
			t.Fatalf("ForSchedule: %v", err)
		}
		checkSeq(t, spec, mustLoc(t, "Asia/Tokyo"), mustTime(t, "2025-01-01T05:30:00Z"),
			[]string{"2025-01-01T06:00:07Z"}, false)
	})
	t.Run("Once", func(t *testing.T) {
		t.Parallel()
		s := base(model.ScheduleOnce)
		s.StartTime = ptr(mustTime(t, "2025-06-01T12:00:00Z"))
		spec, err := ForSchedule(s)
		if err != nil {
			t.Fatalf("ForSchedule: %v", err)
		}
		checkSeq(t, spec, time.UTC, created, []string{"2025-06-01T12:00:00Z"}, true)
	})
	errCases := []struct {
		name         string
		edit         func(s *model.Schedule)
		field, inMsg string
	}{
		{"EventKind", func(s *model.Schedule) { s.Kind = model.ScheduleEvent }, "kind", "a event schedule has no fire times"},
		{"DaemonKind", func(s *model.Schedule) { s.Kind = model.ScheduleDaemon }, "kind", "no fire times"},
		{"UnknownKind", func(s *model.Schedule) { s.Kind = 42 }, "kind", "no fire times"},
		{"CronMissing", func(s *model.Schedule) { s.Cron = " " }, "cron", "required"},
		{"CronInvalid", func(s *model.Schedule) { s.Cron = "0 0 30 2 *" }, "cron", "never occurs in February"},
		{"UnknownZone", func(s *model.Schedule) { s.TimeZone = "Mars/Olympus" }, "time_zone", `unknown time zone "Mars/Olympus"`},
		{"EndBeforeStart", func(s *model.Schedule) {
			s.StartTime, s.EndTime = ptr(created), ptr(created.Add(-time.Second))
		}, "end_time", "is before start_time"},
		{"IntervalZero", func(s *model.Schedule) { s.Kind = model.ScheduleInterval }, "interval", "must be positive"},
		{"IntervalNoAnchor", func(s *model.Schedule) {
			s.Kind, s.Interval, s.CreatedAt = model.ScheduleInterval, model.Duration(time.Second), time.Time{}
		}, "start_time", "required"},
		{"OnceNoStart", func(s *model.Schedule) { s.Kind = model.ScheduleOnce }, "start_time", "required for a once schedule"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := base(model.ScheduleCron)
			s.Cron = "@daily"
			tc.edit(s)
			spec, err := ForSchedule(s)
			if err == nil {
				t.Fatalf("ForSchedule = %v, want error", spec)
			}
			wantFieldError(t, err, tc.field, tc.inMsg)
		})
	}
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "UTC"} {
		if loc, err := LoadLocation(name); err != nil || loc != time.UTC {
			t.Errorf("LoadLocation(%q) = %v, %v, want UTC", name, loc, err)
		}
	}
	a, err := LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatalf("LoadLocation: %v", err)
	}
	if b, _ := LoadLocation("Europe/Paris"); a != b || a.String() != "Europe/Paris" {
		t.Errorf("LoadLocation twice = %p, %p, want one shared Europe/Paris", a, b)
	}
	for _, name := range []string{"Local", "Nowhere/Bogus", "../etc/passwd", " Europe/Paris"} {
		_, err := LoadLocation(name)
		wantFieldError(t, err, "time_zone", "")
	}
}
