package agent

import (
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

func TestGuardCheck(t *testing.T) {
	t.Parallel()
	in := func(ns string, cfg model.JobConfig) *protocol.DispatchedInstance {
		return &protocol.DispatchedInstance{Namespace: ns, Config: cfg}
	}
	echo, err := lookPath("echo")
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	cmds := Guard{AllowedCommands: []string{"/bin/echo", echo, "sh -c ", "/opt/jobs/", "https://api.example.com/"}}
	for _, tc := range []struct {
		name  string
		g     Guard
		d     *protocol.DispatchedInstance
		euid  int
		rule  string // "" means allowed
		inMsg string
	}{
		{"zero guard allows all", Guard{}, in("x", model.JobConfig{Command: "/usr/bin/anything"}), 0, "", ""},
		{"namespace allowed", Guard{AllowedNamespaces: []string{"prod"}}, in("prod", model.JobConfig{Script: "true"}), 1000, "", ""},
		{"namespace refused", Guard{AllowedNamespaces: []string{"prod"}}, in("dev", model.JobConfig{Script: "true"}), 1000, "agent.guard.allowed_namespaces", `namespace "dev"`},
		{"exact program", cmds, in("", model.JobConfig{Command: "/bin/echo", Args: []string{"hi"}}), 1000, "", ""},
		{"program resolved in PATH", cmds, in("", model.JobConfig{Command: "echo"}), 1000, "", ""},
		{"word boundary", cmds, in("", model.JobConfig{Command: "/bin/echo-evil"}), 1000, "agent.guard.allowed_commands", "/bin/echo-evil"},
		{"directory prefix", cmds, in("", model.JobConfig{Command: "/opt/jobs/backup.sh"}), 1000, "", ""},
		{"dot-dot escapes no directory", cmds, in("", model.JobConfig{Command: "/opt/jobs/../../bin/rm"}), 1000, "agent.guard.allowed_commands", "/opt/jobs/../../bin/rm"},
		{"shell script allowed by interpreter", cmds, in("", model.JobConfig{Script: "echo hi"}), 1000, "", ""},
		{"other interpreter refused", cmds, in("", model.JobConfig{Script: "print(1)", Interpreter: "python3"}), 1000, "agent.guard.allowed_commands", "print(1)"},
		{"http url allowed", cmds, in("", model.JobConfig{Type: model.TaskHTTP, HTTP: &model.HTTPTask{URL: "https://api.example.com/ping"}}), 1000, "", ""},
		{"http url refused", cmds, in("", model.JobConfig{Type: model.TaskHTTP, HTTP: &model.HTTPTask{URL: "http://169.254.169.254/"}}), 1000, "agent.guard.allowed_commands", "169.254.169.254"},
		{"deny_root as root", Guard{DenyRoot: true}, in("", model.JobConfig{Script: "true"}), 0, "agent.guard.deny_root", "runs as root"},
		{"deny_root job user root", Guard{DenyRoot: true}, in("", model.JobConfig{Script: "true", User: "root"}), 0, "agent.guard.deny_root", `"root"`},
		{"deny_root job uid 0", Guard{DenyRoot: true}, in("", model.JobConfig{Script: "true", User: "0"}), 1000, "agent.guard.deny_root", "uid 0"},
		{"deny_root other user", Guard{DenyRoot: true}, in("", model.JobConfig{Script: "true", User: "65534"}), 0, "", ""},
		{"deny_root not root", Guard{DenyRoot: true}, in("", model.JobConfig{Script: "true"}), 1000, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.g.check(tc.d, tc.euid)
			switch {
			case tc.rule == "" && got != nil:
				t.Fatalf("check = %v, want allowed", got)
			case tc.rule != "" && got == nil:
				t.Fatalf("check allowed, want refused by %s", tc.rule)
			case got != nil && (got.rule != tc.rule || !strings.Contains(got.Error(), tc.inMsg) || !strings.Contains(got.Error(), tc.rule)):
				t.Fatalf("check = %v, want rule %s and a message with %q", got, tc.rule, tc.inMsg)
			}
		})
	}
}
