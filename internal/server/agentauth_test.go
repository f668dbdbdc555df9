package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hetuflow/hetuflow/internal/agent"
	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// TestEnrolledAgentRevokedIsCutOff enrols a real agent with a one-time
// token, checks that its id comes from the credential and not from the
// header, runs a job on it, revokes it through the API and checks that it
// is disconnected at once and that its reconnects are refused with a reason.
func TestEnrolledAgentRevokedIsCutOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, teststore.SQLite, func(c *config.Config) { c.Server.AllowSharedAgentToken = false })

	var created struct {
		Token       string            `json:"token"`
		EnrollToken model.EnrollToken `json:"enroll_token"`
	}
	h.mustCall(http.MethodPost, "/agent-enroll-tokens", map[string]any{"name": "e2e", "labels": "team=infra"}, &created, http.StatusCreated)
	if !strings.HasPrefix(created.Token, "hfe_") {
		t.Fatalf("token = %q", created.Token)
	}

	dataDir := filepath.Join(t.TempDir(), "agent")
	ws := "ws://" + h.app.Addr()
	// Labels the token does not allow are refused, and do not use it up.
	_, err := agent.Enroll(t.Context(), agent.EnrollParams{Servers: []string{ws}, Token: created.Token, Labels: map[string]string{"team": "web"}, Version: "test", DataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "labels are not allowed") {
		t.Fatalf("Enroll(team=web) = %v, want labels not allowed", err)
	}
	cred, err := agent.Enroll(t.Context(), agent.EnrollParams{Servers: []string{ws}, Token: created.Token, Labels: map[string]string{"team": "infra"}, Version: "test", DataDir: dataDir})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if again, err := agent.LoadCredential(dataDir); err != nil || *again != *cred {
		t.Fatalf("LoadCredential = %+v, %v; want the saved %+v", again, err, cred)
	}
	// The one-time token is used up.
	_, err = agent.Enroll(t.Context(), agent.EnrollParams{Servers: []string{ws}, Token: created.Token, Labels: map[string]string{"team": "infra"}, Version: "test", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("second Enroll = %v, want refused", err)
	}

	// A spoofed Hetuflow-Agent-Id header is ignored: the credential names
	// the agent, so a hello with the spoofed id is refused.
	hdr := http.Header{"Authorization": {"Bearer " + cred.Credential}, "Hetuflow-Agent-Id": {"spoofed"}}
	conn, _, err := websocket.Dial(t.Context(), ws+agent.WSPath, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dial with credential: %v", err)
	}
	env, err := protocol.New(protocol.KindHello, &protocol.Hello{AgentID: "spoofed", RunID: "r", ProtocolVersion: protocol.Version, Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	frame, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Write(t.Context(), websocket.MessageText, frame); err != nil {
		t.Fatalf("send hello: %v", err)
	}
	_, answer, err := conn.Read(t.Context())
	conn.CloseNow()
	if got := string(answer) + fmt.Sprint(err); !strings.Contains(got, cred.AgentID) {
		t.Fatalf("hello as 'spoofed' answered %s, want a refusal naming %s", got, cred.AgentID)
	}
	if _, err := h.store.AgentGetByID(context.Background(), &store.AgentGetByIDParams{ID: "spoofed"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("agent 'spoofed' = %v; a header must not name the agent", err)
	}

	// Nor can the enrolled agent take labels its enrolment does not allow.
	conn, _, err = websocket.Dial(t.Context(), ws+agent.WSPath, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dial with credential: %v", err)
	}
	env, _ = protocol.New(protocol.KindHello, &protocol.Hello{AgentID: cred.AgentID, RunID: "r", ProtocolVersion: protocol.Version, Capacity: 1, Labels: map[string]string{"team": "web"}})
	frame, _ = env.Encode()
	if err := conn.Write(t.Context(), websocket.MessageText, frame); err != nil {
		t.Fatalf("send hello: %v", err)
	}
	_, answer, err = conn.Read(t.Context())
	conn.CloseNow()
	if got := string(answer) + fmt.Sprint(err); !strings.Contains(got, "labels not allowed") {
		t.Fatalf("hello with team=web answered %s, want a refusal of the labels", got)
	}

	a, err := agent.New(agent.Config{ID: cred.AgentID, Servers: []string{ws}, Token: cred.Credential, Labels: map[string]string{"team": "infra"},
		Capacity: 2, DataDir: dataDir, Version: "test", ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}, lifecycletest.WarnLogger(t))
	if err != nil {
		t.Fatalf("agent.New: %v", err)
	}
	a.TestSignals.Init()
	if err := a.Start(context.WithoutCancel(t.Context())); err != nil {
		t.Fatalf("agent Start: %v", err)
	}
	t.Cleanup(a.Stop)
	h.waitFor(10*time.Second, "enrolled agent online", func() bool {
		ag, err := h.store.AgentGetByID(context.Background(), &store.AgentGetByIDParams{ID: cred.AgentID})
		return err == nil && ag.Status == model.AgentOnline && a.Status().Connected
	})
	job := h.createJob("on-enrolled", model.JobConfig{Script: "echo enrolled", Selector: model.Selector{{Key: "team", Op: model.SelectorIn, Values: []string{"infra"}}}})
	if task := h.waitTask(h.runJob(job, nil).ID, 15*time.Second); task.Status != model.TaskSucceeded {
		t.Fatalf("job on the enrolled agent = %s", task.Status)
	}

	var revoked model.AgentCredential
	h.mustCall(http.MethodPost, "/agents/"+cred.AgentID+"/revoke", nil, &revoked, http.StatusOK)
	if revoked.AgentID != cred.AgentID || revoked.RevokedAt == nil {
		t.Fatalf("revoke = %+v", revoked)
	}
	// Cut off at once: the disconnect is the revoke's own doing, not a
	// heartbeat timeout.
	select {
	case err := <-a.TestSignals.Disconnected.Chan():
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "revoked") {
			t.Errorf("disconnected with %v, want close 1008 naming the revocation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("revoked agent still connected after 5s")
	}
	// Reconnects are refused with a clear reason.
	resp, err := http.DefaultClient.Do(mustRequest(t, h.base+agent.WSPath, cred.Credential))
	if err != nil {
		t.Fatalf("upgrade after revoke: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "revoked") {
		t.Fatalf("upgrade after revoke = %d %q, want 401 naming the revocation", resp.StatusCode, body)
	}
	if a.Status().Connected {
		t.Fatal("revoked agent reconnected")
	}
	h.mustCall(http.MethodPost, "/agents/never-enrolled/revoke", nil, nil, http.StatusNotFound)
}

func mustRequest(t *testing.T, url, token string) *http.Request {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return req
}

// TestAgentEventsAreAudited checks that an agent's connection, its
// disconnection and a refused connection reach the audit log.
func TestAgentEventsAreAudited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, teststore.SQLite, nil)
	a := h.startAgent("audited", nil)
	a.Stop()
	// Twenty knocks with a bad token: each is refused, the audit log keeps
	// a bounded number of them (six a minute per address), not a flood.
	for range 20 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+h.app.Addr()+agent.WSPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer hf_not-a-token-at-all-000000000")
		req.Header.Set("Hetuflow-Agent-Id", "intruder")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token = %d, want 401", resp.StatusCode)
		}
	}
	want := map[string]string{"agent-connected": "audited", "agent-disconnected": "audited", "agent-refused": "intruder"}
	h.waitFor(10*time.Second, "the agent events in the audit log", func() bool {
		entries, err := h.store.AuditList(t.Context(), &store.AuditListParams{Limit: 100})
		if err != nil {
			t.Fatalf("AuditList: %v", err)
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if id, ok := want[e.Action]; ok && e.ObjectID == id && e.ActorKind == "agent" && e.RemoteAddr != "" {
				seen[e.Action] = true
			}
		}
		return len(seen) == len(want)
	})
	entries, err := h.store.AuditList(t.Context(), &store.AuditListParams{Action: "agent-refused", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); n < 1 || n > 6 {
		t.Errorf("%d audit entries for 20 refused connections from one address, want 1 to 6", n)
	}
}
