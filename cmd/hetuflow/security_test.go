package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/agent"
	"github.com/hetuflow/hetuflow/internal/model"
)

// TestBinaryAgentEnrolment runs the real binaries: a server that refuses
// the shared agent token by default, an agent that enrols with
// --enroll-token and keeps its credential, a revocation that cuts it off,
// and a restart of the agent that is refused.
func TestBinaryAgentEnrolment(t *testing.T) {
	t.Parallel()
	srv := start(t, "server", []string{"HETUFLOW_SERVER_BOOTSTRAP_ADMIN_TOKEN=" + e2eAdminToken, "HETUFLOW_SERVER_BOOTSTRAP_AGENT_TOKEN=" + e2eAgentToken},
		"server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	addr := srv.waitLine(serverAddrRe, 20*time.Second)
	c := &client{t: t, base: "http://" + addr, token: e2eAdminToken}

	legacy := start(t, "legacy-agent", nil, "agent", "--server", "ws://"+addr, "--token", e2eAgentToken, "--id", "legacy", "--data-dir", t.TempDir())
	legacy.waitLine(regexp.MustCompile(`shared agent token is disabled`), 15*time.Second)

	var created struct {
		Token string `json:"token"`
	}
	if st := c.call("POST", "/agent-enroll-tokens", map[string]any{"name": "cli"}, &created); st != 201 {
		t.Fatalf("create enrolment token = %d", st)
	}
	dataDir := filepath.Join(t.TempDir(), "agent")
	ag := start(t, "agent", nil, "agent", "--server", "ws://"+addr, "--enroll-token", created.Token, "--data-dir", dataDir)
	var cred *agent.Credential
	c.waitFor(15*time.Second, "credential file", func() bool {
		cred, _ = agent.LoadCredential(dataDir)
		return cred != nil
	})
	if st, err := os.Stat(filepath.Join(dataDir, agent.CredentialFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v, %v", st, err)
	}
	c.waitAgent(cred.AgentID, model.AgentOnline)

	if st := c.call("POST", "/agents/"+cred.AgentID+"/revoke", nil, nil); st != 200 {
		t.Fatalf("revoke = %d", st)
	}
	ag.waitLine(regexp.MustCompile(`agent credential revoked`), 10*time.Second)
	ag.stop(20 * time.Second)

	// Restarted with the same data dir, it presents the revoked credential
	// and is refused, saying so.
	again := start(t, "agent-again", nil, "agent", "--server", "ws://"+addr, "--data-dir", dataDir)
	again.waitLine(regexp.MustCompile(`agent refused: agent credential revoked`), 15*time.Second)
}
