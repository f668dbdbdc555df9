package cron

import "testing"

func TestDescribeChinese(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"30 2 * * *":        "每天 02:30",
		"*/5 * * * MON-FRI": "周一至周五 每5分钟",
		"0 9 * * 1":         "周一 09:00",
		"0 0 1 * *":         "每月1日 00:00",
		"@hourly":           "每小时的0分",
		"0 12 * 1 *":        "1月 每天 12:00",
		"* * * * *":         "每分钟",
		"bad":               "",
	}
	for expr, want := range cases {
		if got := DescribeChinese(expr); got != want {
			t.Errorf("DescribeChinese(%q) = %q, want %q", expr, got, want)
		}
	}
	if got, want := DescribeLang("30 2 * * *", "en"), Describe("30 2 * * *"); got != want {
		t.Errorf("DescribeLang en = %q, want %q", got, want)
	}
}
