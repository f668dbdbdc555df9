package cron

import "testing"

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ expr, want string }{
		{"30 2 * * *", "at 02:30 every day"},
		{"0 30 9 * * * 2025-2030", "at 09:30 every day in 2025 through 2030"},
		{"15 10 * 1-3 *", "at 10:15 every day in January through March"},
		{"0 0 9,17 * * 1-5", "at 09:00 and 17:00 on Monday through Friday"},
		{"5 30 9 * * *", "at 09:30:05 every day"},
		{"*/5 * * * *", "every 5 minutes"},
		{"* * * * *", "every minute"},
		{"* * * * * *", "every second"},
		{"*/10 * * * * *", "every 10 seconds"},
		{"@hourly", "every hour"},
		{"0 */2 * * *", "every 2 hours"},
		{"5 * * * *", "at minute 5 of every hour"},
		{"0 9-17 * * MON-FRI", "every hour from 9 through 17 on Monday through Friday"},
		{"0,30 8-18 * * *", "at minutes 0 and 30 of every hour from 8 through 18"},
		{"@yearly", "at 00:00 on January 1"},
		{"0 0 29 2 *", "at 00:00 on February 29"},
		{"@weekly", "at 00:00 on Sunday"},
		{"@monthly", "at 00:00 on day 1 of the month"},
		{"0 0 L * *", "at 00:00 on the last day of the month"},
		{"0 0 LW * *", "at 00:00 on the last weekday of the month"},
		{"0 0 L-3 * *", "at 00:00 on the last day of the month minus 3"},
		{"0 0 15W * *", "at 00:00 on the weekday nearest day 15"},
		{"0 0 ? * FRI#3", "at 00:00 on the third Friday of the month"},
		{"0 0 ? * 5L", "at 00:00 on the last Friday of the month"},
		{"0 0 1,15 * MON", "at 00:00 on days 1 and 15 of the month or on Monday"},
		{"0 0 */2 * MON", "at 00:00 every 2 days of the month when it is Monday"},
		{"0 0 1 */3 *", "at 00:00 on day 1 of the month every 3 months"},
		{"0 12 * * SUN,SAT", "at 12:00 on Sunday and Saturday"},
		{"0 30 2 29 2 ? 2028", "at 02:30 on February 29 in 2028"},
		{"0 0 30 2 *", ""},
		{"not cron", ""},
	} {
		if got := Describe(tc.expr); got != tc.want {
			t.Errorf("Describe(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}
