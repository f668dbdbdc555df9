package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

func TestResolveLang(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		flag string
		env  map[string]string
		want lang
	}{
		{"", nil, langEnglish},
		{"", map[string]string{"LANG": "zh_CN.UTF-8"}, langChinese},
		{"", map[string]string{"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, langEnglish},
		{"", map[string]string{"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, langChinese},
		{"en", map[string]string{"LANG": "zh_CN.UTF-8"}, langEnglish},
		{"zh-CN", nil, langChinese},
	}
	for _, c := range cases {
		if got := resolveLang(c.flag, env(c.env)); got != c.want {
			t.Errorf("resolveLang(%q, %v) = %s, want %s", c.flag, c.env, got, c.want)
		}
	}
}

func TestCLIMessagesComplete(t *testing.T) {
	t.Parallel()
	for k, m := range cliMessages {
		if m[0] == "" || m[1] == "" {
			t.Errorf("CLI message %q lacks a language", k)
		}
	}
}

// TestHumanOutputGolden checks the human output of cluster status, first
// start, dev and migrate in both languages, and that the JSON output and
// the lines scripts read do not change with the language.
func TestHumanOutputGolden(t *testing.T) {
	// The leader line prints local time; pin it. No parallel test runs
	// while this sequential one does.
	saved := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = saved })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	oldest := now.Add(-90 * time.Second)
	st := &api.ClusterStatus{
		Leader:     &model.Leader{Name: "scheduler", Holder: "srv-1", Epoch: 7, ExpiresAt: now.Add(4 * time.Second).In(time.Local)},
		LeaderLive: true,
		Servers: []*api.ClusterServer{
			{Server: model.Server{ID: "srv-1", Address: "10.0.0.1:9500", Status: model.ServerActive, Version: "v1", LastHeartbeatAt: now.Add(-time.Second)}, Leader: true, Agents: 3},
			{Server: model.Server{ID: "srv-2", Address: "10.0.0.2:9500", Status: model.ServerActive, Version: "v1", LastHeartbeatAt: now.Add(-2 * time.Second)}, Agents: 2},
		},
		AgentsByStatus: map[string]int{"online": 5, "draining": 1},
		QueueDepth:     4, OldestPendingAt: &oldest, OldestPendingAgeSeconds: 90, Time: now,
	}
	// The CLI prints what the client decoded from the API's answer.
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var decoded hf.ClusterStatus
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	var jsons [][]byte
	for _, l := range []lang{langEnglish, langChinese} {
		var b bytes.Buffer
		printCluster(&b, l, &decoded)
		b.WriteString("----\n")
		printFirstStart(&b, l, "srv-1", "127.0.0.1:9500", server.Credentials{AdminToken: "hf_admin", AgentToken: "hf_agent"}, true)
		b.WriteString("----\n")
		printDev(&b, l, "127.0.0.1:9500", "hf_admin")
		b.WriteString("----\n")
		b.WriteString(l.tr("migrate.applied") + "\n")
		golden(t, "../human."+string(l)+".golden", b.String())
		if !bytes.Contains(b.Bytes(), []byte("hetuflow dev is running: http://127.0.0.1:9500")) || !bytes.Contains(b.Bytes(), []byte("hetuflow server srv-1 listening on 127.0.0.1:9500")) {
			t.Errorf("%s: a line scripts read changed", l)
		}
		// Machine output is the same JSON whatever the language.
		j, _ := json.Marshal(st)
		jsons = append(jsons, j)
	}
	if !bytes.Equal(jsons[0], jsons[1]) {
		t.Error("JSON output changed with the language")
	}
}
