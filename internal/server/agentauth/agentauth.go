// Package agentauth decides who an agent is. Agents enrol once with an
// enrolment token (one-time or reusable, expiring, limited to agents whose
// labels match a selector) and get a credential of their own: an agent id
// chosen by the server and a long random secret, stored hashed. The agent
// socket is opened with that credential and the agent id comes from it,
// never from a header. A credential can be revoked; the server holding the
// agent then disconnects it and its reconnects are refused.
//
// Two older ways in remain for compatibility: the shared agent token (one
// token for every agent, which then names itself — discouraged, and off
// unless [server] allow_shared_agent_token is set) and the Rust original's
// JWE agent token (when [server.agent_jwe] names a key).
package agentauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// Token prefixes, so secret scanners and people can tell them apart.
const (
	credentialPrefix = "hfa_"
	enrollPrefix     = "hfe_"
)

// Limits on enrolment tokens.
const (
	DefaultEnrollTTL = 24 * time.Hour
	MaxEnrollTTL     = 365 * 24 * time.Hour
)

// Errors whose text may be shown to the agent or API client: none reveals
// whether a token exists.
var (
	// ErrRefused is a missing, unknown or malformed agent credential.
	ErrRefused = errors.New("agent credential refused")
	// ErrRevoked is a credential that was revoked.
	ErrRevoked = errors.New("agent credential revoked; enrol the agent again with a new enrolment token")
	// ErrSharedTokenDisabled is the shared agent token on a server that no
	// longer takes it.
	ErrSharedTokenDisabled = errors.New("the shared agent token is disabled on this server; enrol the agent (hetuflow agent --enroll-token)")
	// ErrEnrollRefused is an unknown, expired, revoked or used enrolment
	// token.
	ErrEnrollRefused = errors.New("enrolment token is invalid, expired, revoked or already used")
	// ErrLabelsNotAllowed is an agent whose labels the enrolment token does
	// not allow.
	ErrLabelsNotAllowed = errors.New("the agent's labels are not allowed by this enrolment token")
	// ErrRateLimited is too many enrolment attempts from one address.
	ErrRateLimited = errors.New("too many enrolment attempts; wait and try again")
	// ErrUnavailable hides a store failure from the client.
	ErrUnavailable = errors.New("could not check the credential now; try again")
)

// SharedTokens checks the shared agent token; auth.Tokens implements it.
type SharedTokens interface {
	AuthenticateAgent(ctx context.Context, token string) error
}

// Config configures a [Service].
type Config struct {
	// AllowSharedToken accepts the shared agent token, with the agent
	// naming itself in a header. Discouraged: anyone with the token can
	// pose as any agent.
	AllowSharedToken bool
	// JWE, when set, accepts the Rust original's JWE agent tokens.
	JWE *JWE
	// EnrollBurst and EnrollEvery rate-limit enrolment per client address:
	// EnrollBurst attempts at once, then one per EnrollEvery. Zero means 10
	// and 6s.
	EnrollBurst int
	EnrollEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service enrols and authenticates agents.
type Service struct {
	cfg    Config
	store  store.Store
	shared SharedTokens
	limit  *limiter
	log    *slog.Logger
}

// New returns a Service. shared may be nil when the shared token is off.
func New(cfg Config, st store.Store, shared SharedTokens, logger *slog.Logger) *Service {
	if st == nil || logger == nil || (cfg.AllowSharedToken && shared == nil) {
		panic("agentauth: New needs a store, a logger, and shared tokens when they are allowed")
	}
	if cfg.EnrollBurst <= 0 {
		cfg.EnrollBurst = 10
	}
	if cfg.EnrollEvery <= 0 {
		cfg.EnrollEvery = 6 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, store: st, shared: shared, limit: newLimiter(cfg.EnrollBurst, cfg.EnrollEvery), log: logger}
}

func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// Identity is who an agent is.
type Identity struct {
	AgentID string
	// Labels is the selector its labels must match ("": any).
	Labels string
}

// IdentifyAgent returns the agent presenting token on the socket upgrade.
// A credential or a JWE token names the agent; claimedID (the
// Hetuflow-Agent-Id header) is then ignored. Only the shared token, when
// allowed, takes the agent's word for its id. Errors are safe to show.
func (s *Service) IdentifyAgent(ctx context.Context, token, claimedID string) (Identity, error) {
	id, labels, err := s.identify(ctx, token, claimedID)
	return Identity{AgentID: id, Labels: labels}, err
}

func (s *Service) identify(ctx context.Context, token, claimedID string) (string, string, error) {
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return "", "", ErrRefused
	case strings.HasPrefix(token, credentialPrefix):
		c, err := s.store.AgentCredentialGetByHash(ctx, &store.AgentCredentialGetByHashParams{Hash: hash(token)})
		if errors.Is(err, store.ErrNotFound) {
			return "", "", ErrRefused
		}
		if err != nil {
			s.log.WarnContext(ctx, "check agent credential", "error", err)
			return "", "", ErrUnavailable
		}
		if c.RevokedAt != nil {
			return "", "", ErrRevoked
		}
		return c.AgentID, c.Labels, nil
	case s.cfg.JWE != nil && looksLikeJWE(token):
		id, err := s.cfg.JWE.Verify(token, s.cfg.Now())
		if err != nil {
			s.log.InfoContext(ctx, "agent JWE refused", "error", err)
			return "", "", fmt.Errorf("%w: %v", ErrRefused, err)
		}
		return id, "", nil
	}
	if !s.cfg.AllowSharedToken {
		if s.shared != nil && s.shared.AuthenticateAgent(ctx, token) == nil {
			return "", "", ErrSharedTokenDisabled
		}
		return "", "", ErrRefused
	}
	if err := s.shared.AuthenticateAgent(ctx, token); err != nil {
		return "", "", ErrRefused
	}
	if claimedID == "" || len(claimedID) > 128 {
		return "", "", errors.New("with the shared agent token, header Hetuflow-Agent-Id must name the agent")
	}
	return claimedID, "", nil
}

// CreateEnrollTokenParams are the inputs of CreateEnrollToken.
type CreateEnrollTokenParams struct {
	Name     string
	Reusable bool
	// Labels is a label selector the enrolling agents' labels must match;
	// empty allows any.
	Labels string
	// TTL is how long the token enrols; zero means DefaultEnrollTTL.
	TTL time.Duration
}

// CreateEnrollToken stores a new enrolment token and returns it in plain
// text, which is shown once.
func (s *Service) CreateEnrollToken(ctx context.Context, p CreateEnrollTokenParams) (string, *model.EnrollToken, error) {
	if p.TTL == 0 {
		p.TTL = DefaultEnrollTTL
	}
	if p.TTL < 0 || p.TTL > MaxEnrollTTL {
		return "", nil, model.Errorf("ttl", "must be positive and at most %s", MaxEnrollTTL)
	}
	if p.Labels != "" {
		sel, err := model.ParseSelector(p.Labels)
		if err != nil {
			return "", nil, model.Errorf("labels", "%v", err)
		}
		p.Labels = sel.String()
	}
	if len(p.Name) > 200 {
		return "", nil, model.Errorf("name", "must be at most 200 characters")
	}
	plain := enrollPrefix + random(32)
	now := s.cfg.Now().UTC()
	tok, err := s.store.EnrollTokenInsert(ctx, &store.EnrollTokenInsertParams{
		ID: "et_" + random(9), Name: p.Name, Hash: hash(plain), Reusable: p.Reusable, Labels: p.Labels,
		ExpiresAt: now.Add(p.TTL), Now: &now,
	})
	if err != nil {
		return "", nil, err
	}
	return plain, tok, nil
}

// ListEnrollTokens lists every enrolment token, newest first.
func (s *Service) ListEnrollTokens(ctx context.Context) ([]*model.EnrollToken, error) {
	return s.store.EnrollTokenList(ctx)
}

// RevokeEnrollToken stops a token from enrolling more agents; agents it
// enrolled keep their credentials.
func (s *Service) RevokeEnrollToken(ctx context.Context, id string) (*model.EnrollToken, error) {
	now := s.cfg.Now().UTC()
	return s.store.EnrollTokenRevoke(ctx, &store.EnrollTokenRevokeParams{ID: id, Now: &now})
}

// Enrolment is what an agent gets for a valid enrolment token.
type Enrolment struct {
	AgentID    string `json:"agent_id"`
	Credential string `json:"credential"`
}

// Enroll exchanges an enrolment token for a new agent id and credential.
// remote (the client address) is rate limited. labels are the agent's, its
// automatic ones included; the token's selector must match them. A
// one-time token is used up only by a successful enrolment.
func (s *Service) Enroll(ctx context.Context, token string, labels map[string]string, remote string) (*Enrolment, error) {
	now := s.cfg.Now()
	if !s.limit.allow(remote, now) {
		return nil, ErrRateLimited
	}
	if !strings.HasPrefix(token, enrollPrefix) {
		return nil, ErrEnrollRefused
	}
	h := hash(token)
	tok, err := s.store.EnrollTokenGetByHash(ctx, &store.EnrollTokenGetByHashParams{Hash: h})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrEnrollRefused
	}
	if err != nil {
		s.log.WarnContext(ctx, "look up enrolment token", "error", err)
		return nil, ErrUnavailable
	}
	if tok.Labels != "" {
		sel, err := model.ParseSelector(tok.Labels)
		if err != nil || !sel.Matches(labels) {
			return nil, fmt.Errorf("%w (it requires %s)", ErrLabelsNotAllowed, tok.Labels)
		}
	}
	e := &Enrolment{AgentID: "agent-" + strings.ToLower(random(9)), Credential: credentialPrefix + random(32)}
	nowUTC := now.UTC()
	err = store.InTx(ctx, s.store, func(ex store.Executor) error {
		tok, err = ex.EnrollTokenUse(ctx, &store.EnrollTokenUseParams{Hash: h, Now: nowUTC})
		if err != nil {
			return err
		}
		_, err = ex.AgentCredentialInsert(ctx, &store.AgentCredentialInsertParams{AgentID: e.AgentID, Hash: hash(e.Credential), EnrollTokenID: tok.ID, Labels: tok.Labels, Now: &nowUTC})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrEnrollRefused
	}
	if err != nil {
		s.log.WarnContext(ctx, "enrol agent", "error", err)
		return nil, ErrUnavailable
	}
	s.log.InfoContext(ctx, "agent enrolled", "agent_id", e.AgentID, "enroll_token_id", tok.ID, "remote", remote)
	return e, nil
}

// RevokeAgent revokes an agent's credential, returning store.ErrNotFound
// when it has none (agents on the shared token cannot be revoked one by
// one). The caller disconnects the agent.
func (s *Service) RevokeAgent(ctx context.Context, agentID string) (*model.AgentCredential, error) {
	now := s.cfg.Now().UTC()
	return s.store.AgentCredentialRevoke(ctx, &store.AgentCredentialRevokeParams{AgentID: agentID, Now: &now})
}
