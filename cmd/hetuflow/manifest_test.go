package main

import (
	"strings"
	"testing"
)

func TestManifestRefusesBadFilesNamingTheField(t *testing.T) {
	for _, tc := range []struct{ name, yaml, field string }{
		{"unknown field", "jobs:\n  - name: a\n    config: {command: x}\n    colour: red\n", "colour"},
		{"no name", "jobs:\n  - config: {command: x}\n", "jobs[0].name"},
		{"bad kind", "jobs:\n  - name: a\n    config: {command: x}\n    schedules: [{kind: hourly}]\n", "jobs[0].schedules[0].kind"},
		{"schedule twice", "jobs:\n  - name: a\n    config: {command: x}\n    schedules: [{name: s, kind: cron, cron: '* * * * *'}, {name: s, kind: cron, cron: '* * * * *'}]\n", "jobs[0].schedules[1].name"},
		{"label key", "jobs:\n  - name: a\n    config: {command: x}\n    labels: {team.name: ops}\n", "jobs[0].labels.team.name"},
		{"reserved env", "jobs:\n  - name: a\n    config: {command: x, env: {HETUFLOW_LABEL_team: ops}}\n", "config.env.HETUFLOW_LABEL_team"},
		{"trigger ids", "jobs:\n  - name: a\n    config: {command: x, triggers: [{on: success, job_id: 01a21d48-4789-79bc-908c-3353e7e04c2a}]}\n", "config.triggers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeManifest("f.yaml", "yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.field) || exitCode(err) != exitConfig {
				t.Errorf("err = %v (exit %d); want exit %d naming %s", err, exitCode(err), exitConfig, tc.field)
			}
		})
	}
}

func TestManifestFormatsHoldTheSameDocument(t *testing.T) {
	m, err := decodeManifest("f.yaml", "yaml", []byte("jobs:\n  - name: a\n    labels: {team: ops}\n    config: {command: echo, args: [hi], timeout: 30s, retry: {max_attempts: 3}}\n    schedules: [{kind: interval, interval: 1m, disabled: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"toml", "yaml", "json"} {
		b, err := encodeManifest(m, format)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeManifest("f."+format, format, b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, b)
		}
		again, _ := encodeManifest(back, format)
		if string(again) != string(b) {
			t.Errorf("%s does not round-trip:\n%s\n---\n%s", format, b, again)
		}
		if j := back.Jobs[0]; j.Config.Retry.MaxAttempts != 3 || j.Labels["team"] != "ops" || j.Schedules[0].Interval.String() != "1m0s" || !j.Schedules[0].Disabled {
			t.Errorf("%s decoded to %+v", format, j)
		}
	}
}
