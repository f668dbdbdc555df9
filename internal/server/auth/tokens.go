// Package auth checks credentials. Until users and roles exist, there are
// two kinds of token: the admin token, which reaches the whole API, and the
// agent token, which only opens the agent socket. Both are generated at first
// start (or taken from the bootstrap config), shown once, and stored as
// SHA-256 hashes: they are 256-bit random strings, so a slow password hash
// would add nothing.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// ErrUnauthorized is returned for a missing, unknown, expired or
// wrong-kind token.
var ErrUnauthorized = errors.New("auth: unauthorized")

// tokenPrefix marks hetuflow tokens so secret scanners can find them.
const tokenPrefix = "hf_"

// cacheTTL is how long a verified agent token is trusted without asking
// the store, so agents reconnect while the database restarts.
const cacheTTL = 10 * time.Second

// principalTTL is how long a verified API token is trusted without asking
// the store: a revoke reaches every server within it (the server that
// revokes drops its own entry at once). While the store cannot be asked, a
// verification up to staleTTL old still stands: a revoke needs the store
// too, so none can have happened that this server could learn of.
const (
	principalTTL = time.Second
	staleTTL     = cacheTTL
)

// touchEvery is how often a token's last-used time is written.
const touchEvery = time.Minute

// Tokens verifies tokens against the store, with a short cache.
type Tokens struct {
	store store.Store

	mu    sync.Mutex
	cache map[[32]byte]cached
	// principals caches API verifications apart from cache, which holds
	// token kinds for the agent socket.
	principals map[[32]byte]cachedPrincipal
	now        func() time.Time
}

type cached struct {
	kind    model.TokenKind
	expires time.Time
}

type cachedPrincipal struct {
	principal *Principal
	expires   time.Time
}

// NewTokens returns a verifier backed by st.
func NewTokens(st store.Store) *Tokens {
	return &Tokens{store: st, cache: map[[32]byte]cached{}, principals: map[[32]byte]cachedPrincipal{}, now: time.Now}
}

// Generate returns a new random token.
func Generate() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the stored form of a token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// MaxTokenLength bounds a bearer token; longer ones are refused before
// hashing.
const MaxTokenLength = 512

// ParseBearer reads an Authorization header: the Bearer scheme (any case)
// and a token of printable ASCII without spaces, at most MaxTokenLength
// bytes. Anything else is ErrUnauthorized.
func ParseBearer(header string) (string, error) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrUnauthorized
	}
	token = strings.Trim(token, " \t")
	if token == "" || len(token) > MaxTokenLength {
		return "", ErrUnauthorized
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "", ErrUnauthorized
		}
	}
	return token, nil
}

// Bootstrap makes sure a token of kind exists. When none does it stores
// bootstrap, or a generated token when bootstrap is empty, and returns it in
// plain text with created=true; the caller shows it once. Otherwise it
// returns "" and false.
func Bootstrap(ctx context.Context, st store.Store, kind model.TokenKind, bootstrap string) (token string, created bool, err error) {
	n, err := st.APITokenCount(ctx, &store.APITokenCountParams{Kind: kind})
	if err != nil {
		return "", false, fmt.Errorf("count %s tokens: %w", kind, err)
	}
	if n > 0 {
		return "", false, nil
	}
	token = bootstrap
	if token == "" {
		token = Generate()
	}
	if len(token) < 16 {
		return "", false, fmt.Errorf("bootstrap %s token must be at least 16 characters", kind)
	}
	_, err = st.APITokenInsert(ctx, &store.APITokenInsertParams{ID: string(kind) + "-bootstrap", Hash: Hash(token), Kind: kind, Name: "bootstrap " + string(kind) + " token"})
	if errors.Is(err, store.ErrConflict) {
		// Another server bootstrapped at the same moment; its token stands.
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store %s token: %w", kind, err)
	}
	return token, true, nil
}

// Authenticate returns the kind of a valid token.
func (t *Tokens) Authenticate(ctx context.Context, token string) (model.TokenKind, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrUnauthorized
	}
	var key [32]byte
	copy(key[:], Hash(token))
	now := time.Now()
	t.mu.Lock()
	c, ok := t.cache[key]
	t.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.kind, nil
	}
	tok, err := t.store.APITokenGetByHash(ctx, &store.APITokenGetByHashParams{Hash: key[:]})
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("look up token: %w", err)
	}
	if tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt) {
		return "", ErrUnauthorized
	}
	t.mu.Lock()
	if len(t.cache) > 10_000 {
		clear(t.cache)
	}
	t.cache[key] = cached{kind: tok.Kind, expires: now.Add(cacheTTL)}
	t.mu.Unlock()
	return tok.Kind, nil
}

// Principal returns who a bearer token acts for: the bootstrap admin token
// is admin on every namespace; an API token has its scope. It returns
// ErrUnauthorized for an unknown, expired or revoked token and for agent
// tokens.
func (t *Tokens) Principal(ctx context.Context, token string) (*Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > MaxTokenLength {
		return nil, ErrUnauthorized
	}
	var key [32]byte
	copy(key[:], Hash(token))
	now := t.now()
	t.mu.Lock()
	c, ok := t.principals[key]
	t.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.principal, nil
	}
	p, err := t.lookupPrincipal(ctx, key[:], now)
	if err != nil && !errors.Is(err, ErrUnauthorized) && ok && now.Before(c.expires.Add(staleTTL-principalTTL)) {
		return c.principal, nil
	}
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.principals) > 10_000 {
		clear(t.principals)
	}
	t.principals[key] = cachedPrincipal{principal: p, expires: now.Add(principalTTL)}
	t.mu.Unlock()
	return p, nil
}

func (t *Tokens) lookupPrincipal(ctx context.Context, hash []byte, now time.Time) (*Principal, error) {
	tok, err := t.store.AccessTokenGetByHash(ctx, &store.AccessTokenGetByHashParams{Hash: hash})
	switch {
	case err == nil:
		if tok.Kind != model.AccessAPI || tok.RevokedAt != nil || (tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt)) {
			return nil, ErrUnauthorized
		}
		if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > touchEvery {
			if _, err := t.store.AccessTokenTouch(ctx, &store.AccessTokenTouchParams{ID: tok.ID}); err != nil {
				return nil, fmt.Errorf("touch token: %w", err)
			}
		}
		return &Principal{Kind: KindToken, ID: tok.ID, Name: tok.Name, UserID: tok.UserID, Grants: grantsOf(tok.Namespaces, tok.Role)}, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("look up token: %w", err)
	}
	old, err := t.store.APITokenGetByHash(ctx, &store.APITokenGetByHashParams{Hash: hash})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if old.Kind != model.TokenAdmin || (old.ExpiresAt != nil && !now.Before(*old.ExpiresAt)) {
		return nil, ErrUnauthorized
	}
	return BootstrapAdmin(old.ID, old.Name), nil
}

// Forget drops every cached verification, so that a revoke takes effect on
// this server at once.
func (t *Tokens) Forget() {
	t.mu.Lock()
	clear(t.principals)
	t.mu.Unlock()
}

// AuthenticateAdmin returns nil for a valid admin token.
func (t *Tokens) AuthenticateAdmin(ctx context.Context, token string) error {
	kind, err := t.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	if kind != model.TokenAdmin {
		return ErrUnauthorized
	}
	return nil
}

// AuthenticateAgent returns nil for a valid agent or admin token.
func (t *Tokens) AuthenticateAgent(ctx context.Context, token string) error {
	kind, err := t.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	if kind != model.TokenAgent && kind != model.TokenAdmin {
		return ErrUnauthorized
	}
	return nil
}
