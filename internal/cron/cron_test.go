package cron

import (
	"testing"
	"time"
)

// seqCase is a known fire sequence: the fires of expr in zone strictly after
// from, in order. With end set, Next must return false after the last one.
type seqCase struct {
	name string
	expr string
	zone string
	from string
	want []string
	end  bool
}

// mustTime parses an RFC 3339 time, failing the test on error.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse time %q: %v", s, err)
	}
	return v
}

// mustLoc loads a zone, failing the test on error.
func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// mustParse parses a cron in zone, failing the test on error.
func mustParse(t *testing.T, expr, zone string) *Cron {
	t.Helper()
	c, err := ParseCron(expr, mustLoc(t, zone))
	if err != nil {
		t.Fatalf("ParseCron(%q): %v", expr, err)
	}
	return c
}

// checkSeq checks that successive Next calls from from yield want, each in
// the spec's location loc (nil skips the check).
func checkSeq(t *testing.T, s Spec, loc *time.Location, from time.Time, want []string, end bool) {
	t.Helper()
	cur := from
	for _, w := range want {
		wt := mustTime(t, w)
		got, ok := s.Next(cur)
		if !ok || !got.Equal(wt) {
			t.Errorf("Next(%v) = %v, %v, want %v", cur, got, ok, wt)
			return
		}
		if loc != nil && got.Location() != loc {
			t.Errorf("Next(%v) location = %v, want %v", cur, got.Location(), loc)
		}
		cur = got
	}
	if end {
		if got, ok := s.Next(cur); ok {
			t.Errorf("Next(%v) = %v, true, want none", cur, got)
		}
	}
}

func runSeqCases(t *testing.T, cases []seqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zone := tc.zone
			if zone == "" {
				zone = "UTC"
			}
			c := mustParse(t, tc.expr, zone)
			checkSeq(t, c, c.Location(), mustTime(t, tc.from), tc.want, tc.end)
		})
	}
}

func TestCronSyntax(t *testing.T) {
	t.Parallel()
	runSeqCases(t, []seqCase{
		{name: "EveryMinute", expr: "* * * * *", from: "2025-01-01T00:00:30Z",
			want: []string{"2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z", "2025-01-01T00:03:00Z"}},
		{name: "EverySecond", expr: "* * * * * *", from: "2025-01-01T00:00:00.5Z",
			want: []string{"2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"}},
		{name: "SecondStep", expr: "*/15 * * * * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-01T00:00:15Z", "2025-01-01T00:00:30Z", "2025-01-01T00:00:45Z", "2025-01-01T00:01:00Z"}},
		{name: "RangeStep", expr: "0 10-40/15 * * * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-01T00:10:00Z", "2025-01-01T00:25:00Z", "2025-01-01T00:40:00Z", "2025-01-01T01:10:00Z"}},
		{name: "ValueStepRunsToEnd", expr: "0 7/20 * * * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-01T00:07:00Z", "2025-01-01T00:27:00Z", "2025-01-01T00:47:00Z", "2025-01-01T01:07:00Z"}},
		{name: "List", expr: "0 0 1,13,22 * * *", from: "2025-01-01T05:00:00Z",
			want: []string{"2025-01-01T13:00:00Z", "2025-01-01T22:00:00Z", "2025-01-02T01:00:00Z"}},
		{name: "Range", expr: "0 9-11 * * *", from: "2025-01-01T10:30:00Z",
			want: []string{"2025-01-01T11:00:00Z", "2025-01-02T09:00:00Z", "2025-01-02T10:00:00Z"}},
		{name: "SecondsAndMinutes", expr: "5,50 59 23 * * *", from: "2025-12-31T23:59:06Z",
			want: []string{"2025-12-31T23:59:50Z", "2026-01-01T23:59:05Z", "2026-01-01T23:59:50Z"}},
		{name: "MonthNames", expr: "0 0 0 1 JAN,jul *", from: "2025-02-01T00:00:00Z",
			want: []string{"2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"}},
		{name: "MonthNameRange", expr: "0 0 1 mar-May *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
		{name: "MonthStep", expr: "0 0 1 */4 *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-05-01T00:00:00Z", "2025-09-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		{name: "WeekdayNames", expr: "0 12 * * MON-FRI", from: "2025-01-03T13:00:00Z",
			want: []string{"2025-01-06T12:00:00Z", "2025-01-07T12:00:00Z", "2025-01-08T12:00:00Z"}},
		{name: "SundayIsZero", expr: "0 0 * * 0", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{name: "SundayIsSeven", expr: "0 0 * * 7", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{name: "WeekdayRangeToSeven", expr: "0 0 * * fri-7", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-10T00:00:00Z"}},
		{name: "WeekdayStep", expr: "0 0 * * */2", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-02T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-07T00:00:00Z"}},
		{name: "MonthEnds31", expr: "0 0 31 * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-31T00:00:00Z", "2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z"}},
		{name: "LeapDayOnlyInLeapYears", expr: "0 0 29 2 *", from: "2025-01-01T00:00:00Z",
			want: []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
		{name: "LeapDayCentury", expr: "0 0 29 2 *", from: "2096-03-01T00:00:00Z",
			want: []string{"2104-02-29T00:00:00Z"}},
		{name: "LastDay", expr: "0 0 L * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z", "2025-03-31T00:00:00Z", "2025-04-30T00:00:00Z"}},
		{name: "LastDayLeapFebruary", expr: "0 0 L 2 *", from: "2023-03-01T00:00:00Z",
			want: []string{"2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z"}},
		{name: "LastDayMinusThree", expr: "0 0 L-3 * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-28T00:00:00Z", "2025-02-25T00:00:00Z", "2025-03-28T00:00:00Z", "2025-04-27T00:00:00Z"}},
		{name: "LastDayMinusThirtyOnlyIn31DayMonths", expr: "0 0 L-30 * *", from: "2025-01-02T00:00:00Z",
			want: []string{"2025-03-01T00:00:00Z", "2025-05-01T00:00:00Z"}},
		{name: "LastWeekday", expr: "0 0 LW * *", from: "2025-04-01T00:00:00Z",
			want: []string{"2025-04-30T00:00:00Z", "2025-05-30T00:00:00Z", "2025-06-30T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-29T00:00:00Z"}},
		{name: "NearestWeekday", expr: "0 0 15W * *", from: "2025-02-01T00:00:00Z",
			want: []string{"2025-02-14T00:00:00Z", "2025-03-14T00:00:00Z", "2025-04-15T00:00:00Z", "2025-05-15T00:00:00Z", "2025-06-16T00:00:00Z"}},
		{name: "NearestWeekdayStaysInMonthAtStart", expr: "0 0 1W * *", from: "2025-01-15T00:00:00Z",
			want: []string{"2025-02-03T00:00:00Z", "2025-03-03T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2025-06-02T00:00:00Z"}},
		{name: "NearestWeekdayStaysInMonthAtEnd", expr: "0 0 31W * *", from: "2025-08-01T00:00:00Z",
			want: []string{"2025-08-29T00:00:00Z", "2025-10-31T00:00:00Z", "2025-12-31T00:00:00Z"}},
		{name: "ThirdFriday", expr: "0 0 ? * FRI#3", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-17T00:00:00Z", "2025-02-21T00:00:00Z", "2025-03-21T00:00:00Z"}},
		{name: "FifthFridaySkipsMonths", expr: "0 0 * * 5#5", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-31T00:00:00Z", "2025-05-30T00:00:00Z", "2025-08-29T00:00:00Z", "2025-10-31T00:00:00Z"}},
		{name: "LastFridayByName", expr: "0 0 ? * FRIL", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z", "2025-03-28T00:00:00Z", "2025-04-25T00:00:00Z"}},
		{name: "LastFridayByNumber", expr: "0 0 * * 5L", from: "2025-04-26T00:00:00Z",
			want: []string{"2025-05-30T00:00:00Z", "2025-06-27T00:00:00Z"}},
		{name: "LastSundayAsSeven", expr: "0 0 * * 7L", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-26T00:00:00Z", "2025-02-23T00:00:00Z"}},
		{name: "DomOrDowWhenBothRestricted", expr: "0 0 1,15 * MON", from: "2024-12-31T12:00:00Z",
			want: []string{"2025-01-01T00:00:00Z", "2025-01-06T00:00:00Z", "2025-01-13T00:00:00Z", "2025-01-15T00:00:00Z", "2025-01-20T00:00:00Z"}},
		{name: "DomAndDowWhenDomStepIsStar", expr: "0 0 */2 * MON", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-13T00:00:00Z", "2025-01-27T00:00:00Z", "2025-02-03T00:00:00Z", "2025-02-17T00:00:00Z"}},
		{name: "LastDayOrFriday", expr: "0 0 L * FRI", from: "2025-02-20T00:00:00Z",
			want: []string{"2025-02-21T00:00:00Z", "2025-02-28T00:00:00Z", "2025-03-07T00:00:00Z"}},
		{name: "QuestionMarkDom", expr: "0 0 ? * MON", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-06T00:00:00Z", "2025-01-13T00:00:00Z"}},
		{name: "QuestionMarkDow", expr: "0 0 15 * ?", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-15T00:00:00Z", "2025-02-15T00:00:00Z"}},
		{name: "YearList", expr: "0 0 12 1 1 ? 2026,2028-2029", from: "2025-01-01T00:00:00Z",
			want: []string{"2026-01-01T12:00:00Z", "2028-01-01T12:00:00Z", "2029-01-01T12:00:00Z"}, end: true},
		{name: "YearStep", expr: "0 0 0 1 1 ? 2030/10", from: "2025-01-01T00:00:00Z",
			want: []string{"2030-01-01T00:00:00Z", "2040-01-01T00:00:00Z", "2050-01-01T00:00:00Z"}},
		{name: "YearLeapDay", expr: "0 0 0 29 2 ? 2028", from: "2025-01-01T00:00:00Z",
			want: []string{"2028-02-29T00:00:00Z"}, end: true},
		{name: "LastYearOfCalendar", expr: "59 59 23 31 12 ? 2199", from: "2025-01-01T00:00:00Z",
			want: []string{"2199-12-31T23:59:59Z"}, end: true},
		{name: "CalendarEnds", expr: "0 0 1 1 *", from: "2199-06-01T00:00:00Z", end: true},
		{name: "BeforeCalendarStartsAt1970", expr: "0 0 1 * *", from: "1960-05-01T00:00:00Z",
			want: []string{"1970-01-01T00:00:00Z", "1970-02-01T00:00:00Z"}},
		{name: "Yearly", expr: "@yearly", from: "2025-06-01T00:00:00Z",
			want: []string{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{name: "Annually", expr: "@ANNUALLY", from: "2025-06-01T00:00:00Z",
			want: []string{"2026-01-01T00:00:00Z"}},
		{name: "Monthly", expr: "@monthly", from: "2025-01-31T00:00:00Z",
			want: []string{"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"}},
		{name: "Weekly", expr: "@weekly", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{name: "Daily", expr: "@daily", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"}},
		{name: "Midnight", expr: " @midnight ", from: "2025-01-01T12:00:00Z",
			want: []string{"2025-01-02T00:00:00Z"}},
		{name: "Hourly", expr: "@hourly", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"}},
		{name: "FixedZoneWithoutDST", expr: "30 2 * * *", zone: "Asia/Tokyo", from: "2025-01-01T00:00:00+09:00",
			want: []string{"2025-01-01T02:30:00+09:00", "2025-01-02T02:30:00+09:00"}},
		{name: "NextIsStrictlyAfter", expr: "0 0 * * *", from: "2025-01-01T00:00:00Z",
			want: []string{"2025-01-02T00:00:00Z"}},
		{name: "SubSecondBeforeFire", expr: "0 0 * * *", from: "2025-01-01T23:59:59.999999999Z",
			want: []string{"2025-01-02T00:00:00Z"}},
	})
}

func TestCronNextInOtherLocation(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "0 9 * * *", "Asia/Tokyo")
	// 2025-01-01T00:00:00Z is 09:00 in Tokyo, so the next is a day later.
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	got, ok := c.Next(from)
	want := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	if !ok || !got.Equal(want) {
		t.Errorf("Next(%v) = %v, %v, want %v", from, got, ok, want)
	}
	if got.Location().String() != "Asia/Tokyo" {
		t.Errorf("Next(%v) location = %v, want Asia/Tokyo", from, got.Location())
	}
}

func TestCronNextExtremeTimes(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "* * * * * *", "America/New_York")
	for _, from := range []time.Time{{}, time.Unix(-1<<62, 0), time.Unix(1<<62, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)} {
		got, ok := c.Next(from)
		if ok && !got.After(from) {
			t.Errorf("Next(%v) = %v, not after", from, got)
		}
	}
}

func TestCronString(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "@daily", "UTC")
	if got := c.String(); got != "@daily" {
		t.Errorf("String() = %q, want %q", got, "@daily")
	}
	if c, err := ParseCron("* * * * *", nil); err != nil || c.Location() != time.UTC {
		t.Errorf("ParseCron with nil location = %v, %v, want UTC", c, err)
	}
}
