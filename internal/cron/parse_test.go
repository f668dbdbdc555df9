package cron

import (
	"errors"
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/internal/model"
)

func TestParseCronErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, expr, want string
	}{
		{"Empty", "  ", "expression is empty"},
		{"TooLong", "0 0 0 1 1 ? " + strings.Repeat("2025,", 300) + "2025", "longer than 1024"},
		{"TooFewFields", "* * * *", "want 5, 6 or 7 space-separated fields, got 4"},
		{"TooManyFields", "* * * * * * * *", "got 8"},
		{"SecondOutOfRange", "60 * * * * *", `second field "60": 60 is out of range 0-59`},
		{"MinuteOutOfRange", "61 * * * *", `minute field "61": 61 is out of range 0-59`},
		{"HourOutOfRange", "* 24 * * *", `hour field "24": 24 is out of range 0-23`},
		{"DayZero", "* * 0 * *", `day-of-month field "0": 0 is out of range 1-31`},
		{"Day32", "* * 32 * *", `day-of-month field "32": 32 is out of range 1-31`},
		{"Month13", "* * * 13 *", `month field "13": 13 is out of range 1-12`},
		{"Weekday8", "* * * * 8", `day-of-week field "8": 8 is out of range 0-7`},
		{"YearBefore1970", "0 0 0 1 1 * 1969", `year field "1969": 1969 is out of range 1970-2199`},
		{"YearAfter2199", "0 0 0 1 1 * 2000-2200", `2200 is out of range 1970-2199`},
		{"HugeNumber", "99999999999999999999 * * * *", "out of range 0-59"},
		{"StepZero", "*/0 * * * *", "step 0 is not allowed"},
		{"StepTooLarge", "*/61 * * * *", "step 61 is larger than the field's range 0-59"},
		{"StepNotNumber", "*/x * * * *", `step "x" is not a number`},
		{"StepEmpty", "5/ * * * *", `step "" is not a number`},
		{"BackwardsRange", "* 22-2 * * *", "range runs backwards; to wrap around, list both parts (22-23,0-2)"},
		{"RangeMissingEnd", "5- * * * *", "missing number"},
		{"NegativeNumber", "-5 * * * *", "missing number"},
		{"DoubleRange", "1-2-3 * * * *", `"2-3" is not a number`},
		{"Letters", "a * * * *", `"a" is not a number`},
		{"UnknownMonthName", "* * * JANUARY *", `unknown name "JANUARY"; want one of JAN FEB`},
		{"UnknownWeekdayName", "* * * * FOO", `unknown name "FOO"; want one of SUN MON`},
		{"WeekdayNameInMonth", "* * * MON *", `unknown name "MON"`},
		{"EmptyListItem", "1,,2 * * * *", "minute field has an empty list item"},
		{"TrailingComma", "1, * * * *", "empty list item"},
		{"QuestionMarkInMinute", "? * * * *", "? is only allowed alone, in day-of-month and day-of-week"},
		{"QuestionMarkInList", "* * ?,1 * *", "? is only allowed alone"},
		{"LAloneInWeekday", "* * * * L", "L alone is ambiguous"},
		{"NthTooLarge", "* * * * 5#6", "the occurrence after # must be 1 to 5"},
		{"NthZero", "* * * * FRI#0", "the occurrence after # must be 1 to 5"},
		{"NthBadWeekday", "* * * * FUN#1", `unknown name "FUN"`},
		{"LastOffsetTooLarge", "* * L-31 * *", "L-n needs n from 0 to 30"},
		{"LastOffsetNotNumber", "* * L-x * *", "L-n needs n from 0 to 30"},
		{"WeekdayNearestOutOfRange", "* * 32W * *", `day-of-month field "32W": 32 is out of range 1-31`},
		{"WeekdayNearestAlone", "* * W * *", "W takes one day"},
		{"WeekdayNearestRange", "* * 1-5W * *", "W takes one day"},
		{"LastWithStep", "* * L/2 * *", `"L" is not a number`},
		{"February30", "0 0 30 2 *", `day-of-month "30" never occurs in February`},
		{"February30And31", "0 0 30,31 2 ?", `day-of-month "30,31" never occurs in February`},
		{"Day31InShortMonths", "0 0 31 4,6,9,11 *", `day-of-month "31" never occurs in April, June, September or November`},
		{"Day31InShortMonths7Field", "0 0 0 31 4,6,9,11 ? *", "never occurs in April"},
		{"LeapDayInCommonYear", "0 0 0 29 2 ? 2025", `no date in year "2025" matches`},
		{"LeapDayBeyond2199Only", "0 0 0 29 2 ? 2197-2199", `no date in year "2197-2199" matches`},
		{"FifthFridayOfFebruaryNever", "0 0 0 ? 2 FRI#5 2025-2027", `no date in year "2025-2027" matches`},
		{"LastMinus30InFebruary", "0 0 L-30 2 *", "never matches a date from 1970 to 2199"},
		{"NearestWeekday30InFebruary", "0 0 30W 2 *", "never matches a date from 1970 to 2199"},
		{"EveryMacro", "@every 5m", "@every is not supported in cron expressions; use an interval schedule"},
		{"RebootMacro", "@reboot", `unknown macro "@reboot"`},
		{"MacroWithFields", "@daily 5", `unknown macro "@daily 5"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(tc.expr, nil)
			if err == nil {
				t.Fatalf("ParseCron(%q) = %v, want error containing %q", tc.expr, c, tc.want)
			}
			var fe *model.FieldError
			if !errors.As(err, &fe) || fe.Field != "cron" {
				t.Fatalf("ParseCron(%q) error = %#v, want *model.FieldError with Field cron", tc.expr, err)
			}
			if !strings.Contains(fe.Reason, tc.want) {
				t.Errorf("ParseCron(%q) reason = %q, want it to contain %q", tc.expr, fe.Reason, tc.want)
			}
		})
	}
}

func TestParseCronAccepts(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"0 0 30 2 MON", // day 30 never occurs in February, but Mondays do (either matches)
		"0 0 29 2 *",   // leap years
		"0 0 0 29 2 ? 2196",
		"  */5   *  *\t* *  ",
		"0 0 * * 0-7",
		"0 0 LW,15W,L-2,1 * *",
		"0 0 ? * MON#1,FRIL,3",
		"0 0 ? * fri#3",
		"0 0 l * *",
		"0 0 lw * *",
		"0 0 l-0 * *",
		"00 05 * * *",
		"0 0 0 1 1 ? 2199",
		"0 0 0 1 1 ? 1970",
		"59 59 23 31 12 6 2199",
		"*/60 * * * *",
		"0 0 1-31/31 * *",
		"@HOURLY",
	} {
		if _, err := ParseCron(expr, nil); err != nil {
			t.Errorf("ParseCron(%q) = %v, want no error", expr, err)
		}
	}
}

// TestParseCronFields checks the bitsets and flags the parser derives.
func TestParseCronFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr             string
		wild             bool
		domStar, dowStar bool
		minute           uint64
		dow              uint8
	}{
		{expr: "* * * * *", wild: true, domStar: true, dowStar: true, minute: 1<<60 - 1, dow: 0x7f},
		{expr: "0 * * * *", wild: true, domStar: true, dowStar: true, minute: 1, dow: 0x7f},
		{expr: "*/20 3 * * *", wild: true, domStar: true, dowStar: true, minute: 1 | 1<<20 | 1<<40, dow: 0x7f},
		{expr: "0 */2 * * *", wild: true, domStar: true, dowStar: true, minute: 1, dow: 0x7f},
		{expr: "0-59 0-23 * * *", wild: false, domStar: true, dowStar: true, minute: 1<<60 - 1, dow: 0x7f},
		{expr: "30 2 ? * 7", wild: false, domStar: true, dowStar: false, minute: 1 << 30, dow: 1},
		{expr: "30 2 1 * sun,Sat", wild: false, domStar: false, dowStar: false, minute: 1 << 30, dow: 1 | 1<<6},
		{expr: "30 2 */2 * 1-5/2", wild: false, domStar: true, dowStar: false, minute: 1 << 30, dow: 1<<1 | 1<<3 | 1<<5},
		{expr: "@hourly", wild: true, domStar: true, dowStar: true, minute: 1, dow: 0x7f},
		{expr: "@daily", wild: false, domStar: true, dowStar: true, minute: 1, dow: 0x7f},
	}
	for _, tc := range cases {
		c, err := ParseCron(tc.expr, nil)
		if err != nil {
			t.Fatalf("ParseCron(%q): %v", tc.expr, err)
		}
		if c.wild != tc.wild || c.domStar != tc.domStar || c.dowStar != tc.dowStar {
			t.Errorf("ParseCron(%q) wild, domStar, dowStar = %v, %v, %v, want %v, %v, %v",
				tc.expr, c.wild, c.domStar, c.dowStar, tc.wild, tc.domStar, tc.dowStar)
		}
		if c.minute != tc.minute || c.dow != tc.dow {
			t.Errorf("ParseCron(%q) minute, dow = %#x, %#x, want %#x, %#x", tc.expr, c.minute, c.dow, tc.minute, tc.dow)
		}
	}
}
