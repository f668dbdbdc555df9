// Package cron computes fire times: cron expressions with seconds, years and
// time zones, fixed-rate intervals and one-shot instants. It is pure: every
// function takes the time it reasons from as an argument, reads no clock and
// starts no goroutine, and every [Spec] is immutable and safe for concurrent
// use. The generator (internal/server/sched) and the API previews call the
// same [Spec.Next], so a preview shows exactly what will fire.
//
// # Glossary
//
//   - Fire: an instant at which a schedule produces a task.
//   - Wall time: the reading of a clock in the schedule's zone (2025-03-09
//     02:30), as opposed to an instant. Cron fields match wall times.
//   - Gap: wall times skipped when clocks spring forward (02:00-02:59 on the
//     US spring-forward day; 02:00-02:29 at Lord Howe, which shifts 30 minutes).
//   - Overlap: wall times that happen twice when clocks fall back; the first
//     pass is in daylight time, the second in standard time.
//   - Star field: a field written as '*' (with or without a step, as in */5)
//     or '?'. Every other field is restricted.
//   - Wildcard expression: one whose minute or hour field is a star field.
//     Every other expression is a fixed-time expression.
//   - Calendar: fires are computed from 1970-01-01T00:00:00Z through wall
//     times in the year 2199; Next returns false beyond.
//
// # Syntax
//
// Five fields (minute hour day-of-month month day-of-week; second 0), six
// (second first) or seven (second first, year last, 1970-2199), separated by
// spaces. Each field is a comma-separated list of items:
//
//	value        meaning
//	'*'          every value ('?' too, alone, in day-of-month and day-of-week)
//	5            one value
//	10-40        a range, inclusive; it may not run backwards (22-2)
//	*/5, 10-40/5 every 5th value of the field or of the range
//	7/10         every 10th value from 7 to the end of the field
//	JAN, mon     names, any case, for months and weekdays
//
// Day-of-week runs 0-7, where 0 and 7 are Sunday; '*' and 'n/step' stop at
// 6. Day-of-month items may also be L (last day), L-3 (3 days before the
// last), LW (last weekday, Monday to Friday) and 15W (the weekday nearest
// the 15th, within the month: Saturday the 1st moves to Monday the 3rd,
// Sunday the 31st to Friday the 29th; a day the month lacks never matches).
// Day-of-week items may also be 5L or FRIL (last Friday of the month) and
// 5#3 or FRI#3 (third Friday). The macros @yearly (@annually), @monthly,
// @weekly, @daily (@midnight) and @hourly stand for their usual expressions.
// @every is refused: fixed rates are interval schedules ([NewInterval]).
//
// Day-of-month and day-of-week combine as in Vixie cron: when either is a
// star field, a day must match both; when both are restricted, a day
// matching either fires. So "0 0 1,15 * MON" fires on the 1st, the 15th and
// every Monday, while "0 0 */2 * MON" fires on odd days that are Mondays
// (*/2 is a star field).
//
// An expression that can never fire in the calendar is a parse error: Feb 30,
// "31 4,6,9,11" (no such day in those months), a year list whose dates never
// match (Feb 29 in 2025). Feb 29 alone is fine: it fires in leap years.
//
// # Time zones and daylight saving
//
// A cron is evaluated in the wall time of its zone, an IANA name loaded by
// [LoadLocation] ("" is UTC). Returned times are in that zone; callers
// convert to UTC to store them. Daylight-saving changes follow Vixie cron:
//
//  1. A wildcard expression follows elapsed time. Wall times in a gap do not
//     exist, so nothing fires for them; wall times in an overlap happen
//     twice, so both passes fire. "*/15 * * * *" keeps firing every 15 real
//     minutes across both changes, and "30 * * * *" fires at 01:30 EDT and
//     again at 01:30 EST on the US fall-back day.
//  2. A fixed-time expression fires once per matching wall time. When the
//     wall time falls in a gap, it fires at the first instant after the gap:
//     "30 2 * * *" in America/New_York fires at 03:00 EDT on the
//     spring-forward day. Several matching wall times in one gap give one
//     fire, and a fire at the gap's end merges with it. When the wall time
//     falls in an overlap, it fires on the first pass only: "30 1 * * *"
//     fires at 01:30 EDT, not at 01:30 EST.
//
// Vixie cron reads a field as a star when it starts with '*', so */N counts
// as a wildcard: "0 */2 * * *" skips 02:00 on the spring-forward day rather
// than firing at 03:00, which keeps its fires a steady two hours apart in
// real time everywhere else. The seconds field plays no part in the rule.
//
// Next is always strictly increasing: Next(t) > t, and fires follow real
// time even where wall times repeat.
//
// # Cost
//
// [ParseCron] turns each field into a bitset once. [Cron.Next] then advances
// field by field (year, month, day, hour, minute, second), one bit scan each,
// and looks up the zone once or twice, so a call takes well under a
// microsecond; it never steps second by second. [Interval.Next] is constant
// time arithmetic on 128-bit nanoseconds, exact for any number of periods.
package cron
