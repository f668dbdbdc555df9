package cron

import (
	"testing"
	"time"
)

// In 2025 America/New_York springs forward on 9 March (02:00 EST becomes
// 03:00 EDT) and falls back on 2 November (02:00 EDT becomes 01:00 EST).
func TestDSTNewYork(t *testing.T) {
	t.Parallel()
	const z = "America/New_York"
	runSeqCases(t, []seqCase{
		{name: "FixedInGapFiresAtGapEnd", zone: z, expr: "30 2 * * *", from: "2025-03-08T00:00:00-05:00",
			want: []string{"2025-03-08T02:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"}},
		{name: "FixedWithSecondsInGap", zone: z, expr: "15 30 2 * * *", from: "2025-03-09T00:00:00-05:00",
			want: []string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:30:15-04:00"}},
		{name: "FixedManyInGapFireOnce", zone: z, expr: "0,15,30,45 2 * * *", from: "2025-03-08T02:50:00-05:00",
			want: []string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00", "2025-03-10T02:15:00-04:00"}},
		{name: "FixedGapMergesWithGapEnd", zone: z, expr: "0 2,3 * * *", from: "2025-03-08T12:00:00-05:00",
			want: []string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00", "2025-03-10T03:00:00-04:00"}},
		{name: "FixedFromJustBeforeGap", zone: z, expr: "30 2 * * *", from: "2025-03-09T01:59:59.5-05:00",
			want: []string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"}},
		{name: "FixedFromGapEnd", zone: z, expr: "30 2 * * *", from: "2025-03-09T03:00:00-04:00",
			want: []string{"2025-03-10T02:30:00-04:00"}},
		{name: "FixedOverlapFiresFirstPass", zone: z, expr: "30 1 * * *", from: "2025-11-01T12:00:00-04:00",
			want: []string{"2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"}},
		{name: "FixedOverlapFromSecondPass", zone: z, expr: "30 1 * * *", from: "2025-11-02T01:15:00-05:00",
			want: []string{"2025-11-03T01:30:00-05:00"}},
		{name: "FixedOverlapFromBetweenPasses", zone: z, expr: "30 1 * * *", from: "2025-11-02T01:45:00-04:00",
			want: []string{"2025-11-03T01:30:00-05:00"}},
		{name: "FixedOverlapSeveralMinutes", zone: z, expr: "0,30 1 * * *", from: "2025-11-02T00:00:00-04:00",
			want: []string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-03T01:00:00-05:00"}},
		{name: "FixedAfterOverlap", zone: z, expr: "0 2 * * *", from: "2025-11-02T00:00:00-04:00",
			want: []string{"2025-11-02T02:00:00-05:00", "2025-11-03T02:00:00-05:00"}},
		{name: "FixedDailyAcrossBoth", zone: z, expr: "@daily", from: "2025-03-08T12:00:00-05:00",
			want: []string{"2025-03-09T00:00:00-05:00", "2025-03-10T00:00:00-04:00"}},
		{name: "WildcardSkipsGap", zone: z, expr: "*/30 * * * *", from: "2025-03-09T01:00:00-05:00",
			want: []string{"2025-03-09T01:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T03:30:00-04:00"}},
		{name: "WildcardRepeatsOverlap", zone: z, expr: "*/30 * * * *", from: "2025-11-02T00:30:00-04:00",
			want: []string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-02T01:00:00-05:00",
				"2025-11-02T01:30:00-05:00", "2025-11-02T02:00:00-05:00"}},
		{name: "HourlyStarSkipsGap", zone: z, expr: "30 * * * *", from: "2025-03-09T01:00:00-05:00",
			want: []string{"2025-03-09T01:30:00-05:00", "2025-03-09T03:30:00-04:00"}},
		{name: "HourlyStarRepeatsOverlap", zone: z, expr: "30 * * * *", from: "2025-11-02T00:45:00-04:00",
			want: []string{"2025-11-02T01:30:00-04:00", "2025-11-02T01:30:00-05:00", "2025-11-02T02:30:00-05:00"}},
		{name: "HourStepIsWildcardInGap", zone: z, expr: "0 */2 * * *", from: "2025-03-09T00:00:00-05:00",
			want: []string{"2025-03-09T04:00:00-04:00", "2025-03-09T06:00:00-04:00"}},
		{name: "HourStepIsWildcardInOverlap", zone: z, expr: "0 */2 * * *", from: "2025-11-01T23:00:00-04:00",
			want: []string{"2025-11-02T00:00:00-04:00", "2025-11-02T02:00:00-05:00", "2025-11-02T04:00:00-05:00"}},
		{name: "MinuteStarInGapHourFiresNothing", zone: z, expr: "* 2 * * *", from: "2025-03-09T00:00:00-05:00",
			want: []string{"2025-03-10T02:00:00-04:00", "2025-03-10T02:01:00-04:00"}},
		{name: "MinuteStepInOverlapHourFiresBothPasses", zone: z, expr: "*/20 1 * * *", from: "2025-11-02T00:00:00-04:00",
			want: []string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:20:00-04:00", "2025-11-02T01:40:00-04:00",
				"2025-11-02T01:00:00-05:00", "2025-11-02T01:20:00-05:00", "2025-11-02T01:40:00-05:00", "2025-11-03T01:00:00-05:00"}},
		{name: "SecondsWildcardAcrossGap", zone: z, expr: "*/20 * * * * *", from: "2025-03-09T01:59:20-05:00",
			want: []string{"2025-03-09T01:59:40-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T03:00:20-04:00"}},
		{name: "RareFixedCrossesManyChanges", zone: z, expr: "30 2 29 2 *", from: "2025-01-01T00:00:00-05:00",
			want: []string{"2028-02-29T02:30:00-05:00", "2032-02-29T02:30:00-05:00"}},
		{name: "FarYearCrossesManyChanges", zone: z, expr: "0 30 2 ? 3 SUN#2 2150", from: "2025-01-01T00:00:00-05:00",
			want: []string{"2150-03-08T03:00:00-04:00"}, end: true},
		// Go's ZoneBounds mis-ends 31 December of rule-based leap years
		// (golang/go#81583); Next must still move through it.
		{name: "LeapYearEndInRuleYears", zone: z, expr: "* * * * *", from: "2040-12-30T18:58:00-05:00",
			want: []string{"2040-12-30T18:59:00-05:00", "2040-12-30T19:00:00-05:00", "2040-12-30T19:01:00-05:00"}},
		{name: "LeapYearEndInRuleYearsDaily", zone: z, expr: "@daily", from: "2040-12-29T12:00:00-05:00",
			want: []string{"2040-12-30T00:00:00-05:00", "2040-12-31T00:00:00-05:00", "2041-01-01T00:00:00-05:00"}},
		{name: "WildcardNeverExistingWallTime", zone: z, expr: "0 * 2 ? 3 SUN#2 2030-2031", from: "2025-01-01T00:00:00-05:00",
			end: true},
	})
}

// In 2025 Europe/London springs forward on 30 March (01:00 GMT becomes 02:00
// BST) and falls back on 26 October (02:00 BST becomes 01:00 GMT).
func TestDSTLondon(t *testing.T) {
	t.Parallel()
	const z = "Europe/London"
	runSeqCases(t, []seqCase{
		{name: "FixedInGap", zone: z, expr: "30 1 * * *", from: "2025-03-29T12:00:00Z",
			want: []string{"2025-03-30T02:00:00+01:00", "2025-03-31T01:30:00+01:00"}},
		{name: "FixedInOverlap", zone: z, expr: "30 1 * * *", from: "2025-10-25T12:00:00+01:00",
			want: []string{"2025-10-26T01:30:00+01:00", "2025-10-27T01:30:00Z"}},
		{name: "WildcardGap", zone: z, expr: "*/20 * * * *", from: "2025-03-30T00:30:00Z",
			want: []string{"2025-03-30T00:40:00Z", "2025-03-30T02:00:00+01:00", "2025-03-30T02:20:00+01:00"}},
		{name: "WildcardOverlap", zone: z, expr: "*/30 * * * *", from: "2025-10-26T00:45:00+01:00",
			want: []string{"2025-10-26T01:00:00+01:00", "2025-10-26T01:30:00+01:00", "2025-10-26T01:00:00Z",
				"2025-10-26T01:30:00Z", "2025-10-26T02:00:00Z"}},
	})
}

// Australia/Lord_Howe shifts by 30 minutes: in 2025 it falls back on 6 April
// (02:00 +11 becomes 01:30 +10:30) and springs forward on 5 October (02:00
// +10:30 becomes 02:30 +11).
func TestDSTLordHowe(t *testing.T) {
	t.Parallel()
	const z = "Australia/Lord_Howe"
	runSeqCases(t, []seqCase{
		{name: "FixedAtGapStart", zone: z, expr: "0 2 * * *", from: "2025-10-04T12:00:00+10:30",
			want: []string{"2025-10-05T02:30:00+11:00", "2025-10-06T02:00:00+11:00"}},
		{name: "FixedInsideGap", zone: z, expr: "15 2 * * *", from: "2025-10-04T12:00:00+10:30",
			want: []string{"2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"}},
		{name: "FixedAfterGap", zone: z, expr: "45 2 * * *", from: "2025-10-04T12:00:00+10:30",
			want: []string{"2025-10-05T02:45:00+11:00"}},
		{name: "WildcardGap", zone: z, expr: "*/15 * * * *", from: "2025-10-05T01:30:00+10:30",
			want: []string{"2025-10-05T01:45:00+10:30", "2025-10-05T02:30:00+11:00", "2025-10-05T02:45:00+11:00"}},
		{name: "FixedInOverlap", zone: z, expr: "45 1 * * *", from: "2025-04-05T12:00:00+11:00",
			want: []string{"2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"}},
		{name: "FixedBeforeOverlap", zone: z, expr: "0 1 * * *", from: "2025-04-05T12:00:00+11:00",
			want: []string{"2025-04-06T01:00:00+11:00", "2025-04-07T01:00:00+10:30"}},
		{name: "WildcardOverlap", zone: z, expr: "*/15 * * * *", from: "2025-04-06T01:00:00+11:00",
			want: []string{"2025-04-06T01:15:00+11:00", "2025-04-06T01:30:00+11:00", "2025-04-06T01:45:00+11:00",
				"2025-04-06T01:30:00+10:30", "2025-04-06T01:45:00+10:30", "2025-04-06T02:00:00+10:30"}},
	})
}

// America/Sao_Paulo changed its clocks at midnight: on 4 November 2018 the
// day began at 01:00, and on 17 February 2019 23:00-23:59 of the 16th
// happened twice.
func TestDSTMidnight(t *testing.T) {
	t.Parallel()
	const z = "America/Sao_Paulo"
	runSeqCases(t, []seqCase{
		{name: "DailyInGapFiresAtOne", zone: z, expr: "@daily", from: "2018-11-03T12:00:00-03:00",
			want: []string{"2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"}},
		{name: "LateEveningOverlap", zone: z, expr: "0 23 * * *", from: "2019-02-16T12:00:00-02:00",
			want: []string{"2019-02-16T23:00:00-02:00", "2019-02-17T23:00:00-03:00"}},
		{name: "DailyAfterOverlap", zone: z, expr: "@daily", from: "2019-02-16T12:00:00-02:00",
			want: []string{"2019-02-17T00:00:00-03:00", "2019-02-18T00:00:00-03:00"}},
	})
}

// Zones without daylight saving see no gaps or overlaps.
func TestDSTNone(t *testing.T) {
	t.Parallel()
	runSeqCases(t, []seqCase{
		{name: "TokyoFixed", zone: "Asia/Tokyo", expr: "30 2 * * *", from: "2025-03-08T00:00:00+09:00",
			want: []string{"2025-03-08T02:30:00+09:00", "2025-03-09T02:30:00+09:00", "2025-03-10T02:30:00+09:00"}},
		{name: "TokyoWildcard", zone: "Asia/Tokyo", expr: "*/30 * * * *", from: "2025-11-02T00:30:00+09:00",
			want: []string{"2025-11-02T01:00:00+09:00", "2025-11-02T01:30:00+09:00", "2025-11-02T02:00:00+09:00"}},
		{name: "UTCFixed", zone: "UTC", expr: "30 2 * * *", from: "2025-03-08T00:00:00Z",
			want: []string{"2025-03-08T02:30:00Z", "2025-03-09T02:30:00Z"}},
		{name: "UTCWildcard", zone: "", expr: "*/30 * * * *", from: "2025-03-09T01:00:00Z",
			want: []string{"2025-03-09T01:30:00Z", "2025-03-09T02:00:00Z", "2025-03-09T02:30:00Z"}},
	})
}

// TestNextAcrossRuleYearEnds chains an every-minute cron over the turn of
// leap and common years that Go computes from zone rule strings, where its
// ZoneBounds misreports the last day of leap years (golang/go#81583).
func TestNextAcrossRuleYearEnds(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"America/New_York", "Europe/Warsaw", "Australia/Lord_Howe",
		"Australia/Sydney", "America/Santiago", "Pacific/Auckland"} {
		c := mustParse(t, "* * * * *", zone)
		for _, y := range []int{2028, 2039, 2040, 2044} {
			from := time.Date(y, 12, 30, 0, 0, 0, 0, time.UTC)
			for range 3 * 24 * 60 {
				got, ok := c.Next(from)
				if want := from.Add(time.Minute); !ok || !got.Equal(want) {
					t.Fatalf("%s: Next(%v) = %v, %v, want %v", zone, from, got, ok, want)
				}
				from = got
			}
		}
	}
}
