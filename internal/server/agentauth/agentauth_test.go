package agentauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

const sharedToken = "hf_shared-agent-token-0123456789"

type sharedTokens struct{}

func (sharedTokens) AuthenticateAgent(_ context.Context, tok string) error {
	if tok != sharedToken {
		return errors.New("no")
	}
	return nil
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T, cfg Config) (*Service, *clock, store.Store) {
	t.Helper()
	st := teststore.SQLite(t)
	c := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	cfg.Now = c.now
	return New(cfg, st, sharedTokens{}, lifecycletest.WarnLogger(t)), c, st
}

func TestEnrollment(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("OneTimeEnrolsOnce", func(t *testing.T) {
		t.Parallel()
		s, _, _ := newService(t, Config{})
		tok, meta, err := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{Name: "one"})
		if err != nil || meta.Reusable {
			t.Fatalf("CreateEnrollToken = %+v, %v", meta, err)
		}
		e, err := s.Enroll(ctx, tok, nil, "10.0.0.1")
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		id, err := s.IdentifyAgent(ctx, e.Credential, "")
		if err != nil || id.AgentID != e.AgentID {
			t.Fatalf("IdentifyAgent(credential) = %q, %v; want %q", id, err, e.AgentID)
		}
		if _, err := s.Enroll(ctx, tok, nil, "10.0.0.1"); !errors.Is(err, ErrEnrollRefused) {
			t.Fatalf("second Enroll = %v, want ErrEnrollRefused", err)
		}
	})

	t.Run("ReusableEnrolsManyWithDistinctIDs", func(t *testing.T) {
		t.Parallel()
		s, _, _ := newService(t, Config{})
		tok, _, err := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{Reusable: true})
		if err != nil {
			t.Fatalf("CreateEnrollToken: %v", err)
		}
		seen := map[string]bool{}
		for range 3 {
			e, err := s.Enroll(ctx, tok, nil, "10.0.0.1")
			if err != nil {
				t.Fatalf("Enroll: %v", err)
			}
			if seen[e.AgentID] {
				t.Fatalf("agent id %s given twice", e.AgentID)
			}
			seen[e.AgentID] = true
		}
	})

	t.Run("ExpiredAndRevokedRefused", func(t *testing.T) {
		t.Parallel()
		s, c, _ := newService(t, Config{})
		tok, _, err := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{Reusable: true, TTL: time.Hour})
		if err != nil {
			t.Fatalf("CreateEnrollToken: %v", err)
		}
		c.t = c.t.Add(time.Hour)
		if _, err := s.Enroll(ctx, tok, nil, "10.0.0.1"); !errors.Is(err, ErrEnrollRefused) {
			t.Fatalf("Enroll(expired) = %v, want ErrEnrollRefused", err)
		}
		tok2, meta, _ := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{Reusable: true})
		if _, err := s.RevokeEnrollToken(ctx, meta.ID); err != nil {
			t.Fatalf("RevokeEnrollToken: %v", err)
		}
		if _, err := s.Enroll(ctx, tok2, nil, "10.0.0.1"); !errors.Is(err, ErrEnrollRefused) {
			t.Fatalf("Enroll(revoked) = %v, want ErrEnrollRefused", err)
		}
		if _, err := s.Enroll(ctx, "hfe_made-up", nil, "10.0.0.1"); !errors.Is(err, ErrEnrollRefused) {
			t.Fatalf("Enroll(unknown) = %v, want ErrEnrollRefused", err)
		}
	})

	t.Run("LabelsNotAllowedDoNotUseTheToken", func(t *testing.T) {
		t.Parallel()
		s, _, _ := newService(t, Config{})
		tok, meta, err := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{Labels: "env=prod,zone in (a,b)"})
		if err != nil {
			t.Fatalf("CreateEnrollToken: %v", err)
		}
		if _, err := s.Enroll(ctx, tok, map[string]string{"env": "dev", "zone": "a"}, "10.0.0.1"); !errors.Is(err, ErrLabelsNotAllowed) {
			t.Fatalf("Enroll(env=dev) = %v, want ErrLabelsNotAllowed", err)
		}
		e, err := s.Enroll(ctx, tok, map[string]string{"env": "prod", "zone": "a"}, "10.0.0.1")
		if err != nil {
			t.Fatalf("Enroll(matching labels) after a refusal = %v; the refusal must not use the one-time token %s", err, meta.ID)
		}
		// The credential carries the selector, for the gateway to check at
		// every hello.
		if id, err := s.IdentifyAgent(ctx, e.Credential, ""); err != nil || id.Labels != meta.Labels || id.Labels == "" {
			t.Fatalf("IdentifyAgent = %+v, %v; want labels %q", id, err, meta.Labels)
		}
		if _, _, err := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{Labels: "env in ("}); err == nil {
			t.Fatal("bad selector accepted")
		}
	})

	t.Run("RateLimitedPerAddress", func(t *testing.T) {
		t.Parallel()
		s, c, _ := newService(t, Config{EnrollBurst: 2, EnrollEvery: time.Minute})
		for range 2 {
			if _, err := s.Enroll(ctx, "hfe_x", nil, "10.0.0.9"); !errors.Is(err, ErrEnrollRefused) {
				t.Fatalf("Enroll = %v, want ErrEnrollRefused", err)
			}
		}
		if _, err := s.Enroll(ctx, "hfe_x", nil, "10.0.0.9"); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("third Enroll = %v, want ErrRateLimited", err)
		}
		if _, err := s.Enroll(ctx, "hfe_x", nil, "10.0.0.10"); !errors.Is(err, ErrEnrollRefused) {
			t.Fatalf("Enroll from another address = %v, want ErrEnrollRefused", err)
		}
		c.t = c.t.Add(time.Minute)
		if _, err := s.Enroll(ctx, "hfe_x", nil, "10.0.0.9"); !errors.Is(err, ErrEnrollRefused) {
			t.Fatalf("Enroll after a refill = %v, want ErrEnrollRefused", err)
		}
	})
}

func TestIdentifyAgent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("CredentialNamesTheAgentNotTheHeader", func(t *testing.T) {
		t.Parallel()
		s, _, _ := newService(t, Config{AllowSharedToken: true})
		tok, _, _ := s.CreateEnrollToken(ctx, CreateEnrollTokenParams{})
		e, err := s.Enroll(ctx, tok, nil, "a")
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		id, err := s.IdentifyAgent(ctx, e.Credential, "someone-else")
		if err != nil || id.AgentID != e.AgentID {
			t.Fatalf("IdentifyAgent(credential, spoofed header) = %q, %v; want %q", id, err, e.AgentID)
		}
		if _, err := s.IdentifyAgent(ctx, e.Credential+"x", ""); !errors.Is(err, ErrRefused) {
			t.Fatalf("IdentifyAgent(wrong credential) = %v, want ErrRefused", err)
		}
		if _, err := s.RevokeAgent(ctx, e.AgentID); err != nil {
			t.Fatalf("RevokeAgent: %v", err)
		}
		if _, err := s.IdentifyAgent(ctx, e.Credential, ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("IdentifyAgent(revoked) = %v, want ErrRevoked", err)
		}
		if _, err := s.RevokeAgent(ctx, "never-enrolled"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RevokeAgent(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("SharedToken", func(t *testing.T) {
		t.Parallel()
		on, _, _ := newService(t, Config{AllowSharedToken: true})
		if id, err := on.IdentifyAgent(ctx, sharedToken, "legacy-1"); err != nil || id.AgentID != "legacy-1" {
			t.Fatalf("IdentifyAgent(shared, allowed) = %q, %v", id, err)
		}
		if _, err := on.IdentifyAgent(ctx, sharedToken, ""); err == nil {
			t.Fatal("shared token without an agent id accepted")
		}
		off, _, _ := newService(t, Config{})
		if _, err := off.IdentifyAgent(ctx, sharedToken, "legacy-1"); !errors.Is(err, ErrSharedTokenDisabled) {
			t.Fatalf("IdentifyAgent(shared, disabled) = %v, want ErrSharedTokenDisabled", err)
		}
		if _, err := off.IdentifyAgent(ctx, "hf_wrong", "legacy-1"); !errors.Is(err, ErrRefused) {
			t.Fatalf("IdentifyAgent(wrong) = %v, want ErrRefused", err)
		}
	})

	t.Run("JWE", func(t *testing.T) {
		t.Parallel()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		j, err := NewJWE(key)
		if err != nil {
			t.Fatalf("NewJWE: %v", err)
		}
		s, c, _ := newService(t, Config{JWE: j})
		now := c.t.Unix()
		issue := func(pub *ecdsa.PublicKey, claims map[string]any) string {
			tok, err := IssueJWE(pub, claims)
			if err != nil {
				t.Fatalf("IssueJWE: %v", err)
			}
			return tok
		}
		good := issue(&key.PublicKey, map[string]any{"iss": "hetuflow-server", "sub": "rust-agent", "aud": "hetuflow-agent", "exp": now + 60, "nbf": now, "iat": now, "jti": "x"})
		if id, err := s.IdentifyAgent(ctx, good, "spoofed"); err != nil || id.AgentID != "rust-agent" {
			t.Fatalf("IdentifyAgent(JWE) = %q, %v; want rust-agent", id, err)
		}
		for name, tok := range map[string]string{
			"expired":   issue(&key.PublicKey, map[string]any{"sub": "a", "exp": now}),
			"no exp":    issue(&key.PublicKey, map[string]any{"sub": "a"}),
			"wrong key": issue(&other.PublicKey, map[string]any{"sub": "a", "exp": now + 60}),
			"not yet":   issue(&key.PublicKey, map[string]any{"sub": "a", "exp": now + 60, "nbf": now + 30}),
			"no sub":    issue(&key.PublicKey, map[string]any{"exp": now + 60}),
			"garbage":   "a.b.c.d.e",
		} {
			if _, err := s.IdentifyAgent(ctx, tok, "a"); !errors.Is(err, ErrRefused) {
				t.Errorf("IdentifyAgent(JWE %s) = %v, want ErrRefused", name, err)
			}
		}
		// Without a configured key, a JWE is just an unknown token.
		plain, _, _ := newService(t, Config{})
		if _, err := plain.IdentifyAgent(ctx, good, "a"); !errors.Is(err, ErrRefused) {
			t.Errorf("IdentifyAgent(JWE, not configured) = %v, want ErrRefused", err)
		}
	})
}
