package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// CookieName is the session cookie.
const CookieName = "hetuflow_session"

// Config tunes the Service. Zero fields take the defaults noted.
type Config struct {
	Password PasswordParams
	// SessionIdle ends a session unused this long; default 2h.
	SessionIdle time.Duration
	// SessionMaxAge ends a session this long after sign-in; default 24h.
	SessionMaxAge time.Duration
	// LoginPerUser and LoginPerAddress are login attempts a minute; default
	// 5 and 20.
	LoginPerUser    int
	LoginPerAddress int
	// TokenRate is API requests a second per principal, in bursts of
	// TokenBurst; 0 means no limit.
	TokenRate  float64
	TokenBurst int
	// SetupTTL is how long the first-start setup link works; default 24h.
	SetupTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.Password.Memory == 0 {
		c.Password = DefaultPasswordParams
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 2 * time.Hour
	}
	if c.SessionMaxAge <= 0 {
		c.SessionMaxAge = 24 * time.Hour
	}
	if c.LoginPerUser <= 0 {
		c.LoginPerUser = 5
	}
	if c.LoginPerAddress <= 0 {
		c.LoginPerAddress = 20
	}
	if c.SetupTTL <= 0 {
		c.SetupTTL = 24 * time.Hour
	}
	return c
}

// Errors of the Service.
var (
	// ErrBadCredentials is the one answer to an unknown user and a wrong
	// password alike.
	ErrBadCredentials = errors.New("auth: wrong user name or password")
	// ErrSetupDone is returned when a setup link is used after a user exists.
	ErrSetupDone = errors.New("auth: setup already done")
)

// RateLimitedError says to come back after RetryAfter.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("auth: too many attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// Service signs users in and out and tells who a request acts for.
type Service struct {
	store  store.Store
	tokens *Tokens
	cfg    Config
	log    *slog.Logger

	userLimit, addrLimit, requestLimit *Limiter
	// dummyHash is verified against for unknown users, so that the time a
	// login takes does not tell whether the user exists. It is made at the
	// first such login, not at start: an argon2id hash takes its memory
	// cost (19 MiB by default), which an idle server need not hold.
	dummyHash func() string
}

// NewService returns a Service.
func NewService(st store.Store, tokens *Tokens, cfg Config, log *slog.Logger) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		store: st, tokens: tokens, cfg: cfg, log: log,
		userLimit: PerMinute(cfg.LoginPerUser), addrLimit: PerMinute(cfg.LoginPerAddress),
		requestLimit: NewLimiter(cfg.TokenRate, cfg.TokenBurst),
		dummyHash:    sync.OnceValue(func() string { return HashPassword(Generate(), cfg.Password) }),
	}
}

// Tokens returns the token verifier.
func (s *Service) Tokens() *Tokens { return s.tokens }

// HashPassword hashes a new password with the configured parameters.
func (s *Service) HashPassword(pw string) string { return HashPassword(pw, s.cfg.Password) }

// Authenticate returns who r acts for: the bearer token in Authorization,
// else the session cookie. It returns nil and no error when r carries
// neither, and ErrUnauthorized for a bad one.
func (s *Service) Authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, err := ParseBearer(h)
		if err != nil {
			return nil, err
		}
		return s.tokens.Principal(r.Context(), token)
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	return s.sessionPrincipal(r.Context(), c.Value)
}

// AllowRequest applies the per-principal request rate.
func (s *Service) AllowRequest(p *Principal) (bool, time.Duration) {
	if p == nil {
		return true, 0
	}
	return s.requestLimit.Allow(string(p.Kind) + ":" + p.ID)
}

func (s *Service) sessionPrincipal(ctx context.Context, id string) (*Principal, error) {
	if len(id) > 128 {
		return nil, ErrUnauthorized
	}
	hash := Hash(id)
	sess, err := s.store.SessionGet(ctx, &store.SessionGetParams{Hash: hash})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	now := time.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.SessionIdle {
		_, _ = s.store.SessionDelete(ctx, &store.SessionDeleteParams{Hash: hash})
		return nil, ErrUnauthorized
	}
	// Writing the last-seen time once a minute is precise enough for an
	// idle timeout of minutes or hours.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if _, err := s.store.SessionTouch(ctx, &store.SessionTouchParams{Hash: hash}); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	user, err := s.store.UserGetByID(ctx, &store.UserGetByIDParams{ID: sess.UserID})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	p, err := s.userPrincipal(ctx, user)
	if err != nil {
		return nil, err
	}
	p.Session = sess
	return p, nil
}

func (s *Service) userPrincipal(ctx context.Context, user *model.User) (*Principal, error) {
	grants, err := s.store.GrantList(ctx, &store.GrantListParams{UserID: user.ID})
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", user.Name, err)
	}
	p := &Principal{Kind: KindUser, ID: user.ID, UserID: user.ID, Name: user.Name, Grants: map[string]model.Role{}}
	for _, g := range grants {
		p.Grants[g.Namespace] = g.Role
	}
	return p, nil
}

// Login checks a name and password and starts a session. It returns the
// new session id, to set as the cookie; every login gets a new id, so an id
// planted before sign-in is worth nothing after it. Failures are
// ErrBadCredentials or a *RateLimitedError, and are audited.
func (s *Service) Login(ctx context.Context, name, password string) (string, *Principal, error) {
	addr := clientIP(RequestInfoFrom(ctx).RemoteAddr)
	if ok, wait := s.addrLimit.Allow(addr); !ok {
		s.Audit(ctx, &model.AuditEntry{Actor: name, ActorKind: string(KindUser), Action: "login.rate_limited"})
		return "", nil, &RateLimitedError{RetryAfter: wait}
	}
	if ok, wait := s.userLimit.Allow(strings.ToLower(name)); !ok {
		s.Audit(ctx, &model.AuditEntry{Actor: name, ActorKind: string(KindUser), Action: "login.rate_limited"})
		return "", nil, &RateLimitedError{RetryAfter: wait}
	}
	user, err := s.store.UserGetByName(ctx, &store.UserGetByNameParams{Name: name})
	var hash string
	switch {
	case err == nil:
		hash = user.PasswordHash
	case !errors.Is(err, store.ErrNotFound):
		return "", nil, fmt.Errorf("look up user: %w", err)
	default:
		hash = s.dummyHash()
	}
	ok, verr := VerifyPassword(password, hash)
	if user == nil || !ok || verr != nil {
		if verr != nil && user != nil {
			s.log.WarnContext(ctx, "stored password hash cannot be read", "user", user.Name, "error", verr)
		}
		s.Audit(ctx, &model.AuditEntry{Actor: name, ActorKind: string(KindUser), Action: "login.failed"})
		return "", nil, ErrBadCredentials
	}
	s.userLimit.Reset(strings.ToLower(name))
	id, p, err := s.StartSession(ctx, user)
	if err != nil {
		return "", nil, err
	}
	s.Audit(WithPrincipal(ctx, p), &model.AuditEntry{Action: "login.ok", ObjectType: "user", ObjectID: user.ID})
	return id, p, nil
}

// StartSession creates a session for user and returns its id.
func (s *Service) StartSession(ctx context.Context, user *model.User) (string, *Principal, error) {
	id := randomString()
	sess, err := s.store.SessionInsert(ctx, &store.SessionInsertParams{
		Hash: Hash(id), UserID: user.ID, CSRF: randomString(), ExpiresAt: time.Now().Add(s.cfg.SessionMaxAge),
	})
	if err != nil {
		return "", nil, fmt.Errorf("start session: %w", err)
	}
	p, err := s.userPrincipal(ctx, user)
	if err != nil {
		return "", nil, err
	}
	p.Session = sess
	return id, p, nil
}

// Logout ends p's session, if it has one.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil || p.Session == nil {
		return nil
	}
	if _, err := s.store.SessionDelete(ctx, &store.SessionDeleteParams{Hash: p.Session.Hash}); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	s.Audit(ctx, &model.AuditEntry{Action: "logout", ObjectType: "user", ObjectID: p.ID})
	return nil
}

// SessionCookie returns the cookie that carries session id; secure when
// the request came over TLS.
func (s *Service) SessionCookie(id string, secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SessionMaxAge / time.Second)}
}

// ClearCookie returns a cookie that removes the session cookie.
func ClearCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: -1}
}

// EnsureSetup creates a one-time setup token when no user exists, and
// returns it to print as a link; "" when users exist.
func (s *Service) EnsureSetup(ctx context.Context) (string, error) {
	n, err := s.store.UserCount(ctx)
	if err != nil {
		return "", fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	token := Generate()
	exp := time.Now().Add(s.cfg.SetupTTL)
	if _, err := s.store.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{
		ID: uuid.NewString(), Name: "setup link", Kind: model.AccessSetup, Hash: Hash(token), ExpiresAt: &exp, CreatedBy: "server",
	}); err != nil {
		return "", fmt.Errorf("store setup token: %w", err)
	}
	return token, nil
}

// CheckSetup reports whether token is a live setup token, without using it.
func (s *Service) CheckSetup(ctx context.Context, token string) bool {
	tok, err := s.store.AccessTokenGetByHash(ctx, &store.AccessTokenGetByHashParams{Hash: Hash(token)})
	if err != nil || tok.Kind != model.AccessSetup || (tok.ExpiresAt != nil && !time.Now().Before(*tok.ExpiresAt)) {
		return false
	}
	n, err := s.store.UserCount(ctx)
	return err == nil && n == 0
}

// CompleteSetup uses a setup token to create the first user, admin on
// every namespace.
func (s *Service) CompleteSetup(ctx context.Context, token, name, password string) (*model.User, error) {
	if err := ValidateNewUser(name, password); err != nil {
		return nil, err
	}
	hash := s.HashPassword(password)
	var user *model.User
	err := store.InTx(ctx, s.store, func(ex store.Executor) error {
		if _, err := ex.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: Hash(token), Kind: model.AccessSetup}); err != nil {
			return err
		}
		n, err := ex.UserCount(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrSetupDone
		}
		user, err = CreateUser(ctx, ex, name, hash, model.RoleAdmin, model.AllNamespaces)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	s.Audit(ctx, &model.AuditEntry{Actor: name, ActorKind: string(KindUser), Action: "user.setup", ObjectType: "user", ObjectID: user.ID})
	return user, nil
}

// CreateLoginLink returns a one-time token that signs a browser in as the
// user named, valid for ttl (hetuflow dev).
func (s *Service) CreateLoginLink(ctx context.Context, userID string, ttl time.Duration) (string, error) {
	token := Generate()
	exp := time.Now().Add(ttl)
	if _, err := s.store.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{
		ID: uuid.NewString(), Name: "login link", Kind: model.AccessLogin, Hash: Hash(token), UserID: userID, ExpiresAt: &exp, CreatedBy: "server",
	}); err != nil {
		return "", fmt.Errorf("store login token: %w", err)
	}
	return token, nil
}

// UseLoginLink uses a one-time login token and starts a session for its
// user.
func (s *Service) UseLoginLink(ctx context.Context, token string) (string, *Principal, error) {
	tok, err := s.store.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: Hash(token), Kind: model.AccessLogin})
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrUnauthorized
	}
	if err != nil {
		return "", nil, fmt.Errorf("use login link: %w", err)
	}
	user, err := s.store.UserGetByID(ctx, &store.UserGetByIDParams{ID: tok.UserID})
	if err != nil {
		return "", nil, fmt.Errorf("login link user: %w", err)
	}
	id, p, err := s.StartSession(ctx, user)
	if err != nil {
		return "", nil, err
	}
	s.Audit(WithPrincipal(ctx, p), &model.AuditEntry{Action: "login.link", ObjectType: "user", ObjectID: user.ID})
	return id, p, nil
}

// ValidateNewUser checks a new user's name and password.
func ValidateNewUser(name, password string) error {
	if err := model.ValidateName("name", name); err != nil {
		return err
	}
	return ValidatePassword(password)
}

// ValidatePassword checks a new password's length.
func ValidatePassword(password string) error {
	if n := len([]rune(password)); n < MinPasswordLength || len(password) > 1024 {
		return &model.FieldError{Field: "password", Reason: fmt.Sprintf("must be %d to 1024 characters", MinPasswordLength)}
	}
	return nil
}

// CreateUser stores a user with an already hashed password and grants it
// role on namespace (none when role is empty). The CLI uses it too.
func CreateUser(ctx context.Context, ex store.Executor, name, hash string, role model.Role, namespace string) (*model.User, error) {
	user, err := ex.UserInsert(ctx, &store.UserInsertParams{ID: uuid.NewString(), Name: name, PasswordHash: hash})
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", name, err)
	}
	if role != model.RoleNone {
		if _, err := ex.GrantSet(ctx, &store.GrantSetParams{UserID: user.ID, Namespace: namespace, Role: role}); err != nil {
			return nil, fmt.Errorf("grant %s on %s: %w", role, namespace, err)
		}
	}
	return user, nil
}

// Audit records entry, filling in the actor from the principal in ctx (when
// entry has none), the address and request id, and the time. Failures are
// logged, not returned: the change it records has happened.
func (s *Service) Audit(ctx context.Context, entry *model.AuditEntry) {
	Record(ctx, s.store, s.log, entry)
}

// recordTimeout bounds the write of one audit entry.
const recordTimeout = 2 * time.Second

// Record is Service.Audit for callers with only a store (the CLI, other
// services such as the agent gateway).
func Record(ctx context.Context, ex store.Executor, log *slog.Logger, entry *model.AuditEntry) {
	// A request that ended still gets its entry, but a database that does
	// not answer must not hold the caller (an agent's connection, a stop).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := RecordIn(wctx, ex, entry); err != nil && log != nil {
		log.ErrorContext(ctx, "write audit entry", "action", entry.Action, "error", err)
	}
}

// RecordIn writes entry with ex, as Record does, and returns the error: for
// a caller that writes the entry in the transaction of the change it records,
// last. Where the transaction can, the entry goes out with its COMMIT
// (store.AtCommit), and an entry that cannot be written fails the commit.
func RecordIn(ctx context.Context, ex store.Executor, entry *model.AuditEntry) error {
	if p := PrincipalFrom(ctx); p != nil && entry.Actor == "" {
		entry.Actor, entry.ActorKind = p.Name, string(p.Kind)
	}
	if entry.ActorKind == "" {
		entry.ActorKind = "system"
	}
	info := RequestInfoFrom(ctx)
	if entry.RemoteAddr == "" {
		entry.RemoteAddr = info.RemoteAddr
	}
	if entry.RequestID == "" {
		entry.RequestID = info.RequestID
	}
	params := &store.AuditInsertParams{
		Actor: entry.Actor, ActorKind: entry.ActorKind, Action: entry.Action, ObjectType: entry.ObjectType, ObjectID: entry.ObjectID,
		Namespace: entry.Namespace, RemoteAddr: entry.RemoteAddr, RequestID: entry.RequestID, Diff: entry.Diff,
	}
	_, err := store.AtCommit(ex).AuditInsert(ctx, params)
	return err
}

// randomString returns 256 random bits, URL-safe.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientIP returns the host part of a remote address.
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// IsLoopback reports whether a remote address is 127.0.0.1 or ::1.
func IsLoopback(remote string) bool {
	ip := net.ParseIP(clientIP(remote))
	return ip != nil && ip.IsLoopback()
}
