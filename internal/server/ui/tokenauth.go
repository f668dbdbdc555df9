package ui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// sessionCookie holds the token a person signed in with.
const sessionCookie = "hetuflow_session"

// TokenChecker checks an admin token.
type TokenChecker interface {
	AuthenticateAdmin(ctx context.Context, token string) error
}

// TokenAuth is a temporary [Auth] until users and sessions land: a person
// signs in with the admin token, which is kept in an HttpOnly, SameSite=Lax
// cookie, and the CSRF token is an HMAC of that cookie, so a page on another
// site can neither read nor forge it.
type TokenAuth struct {
	Tokens TokenChecker
	// Extra maps further tokens to restricted identities (tests use it to
	// sign in as a viewer of one namespace).
	Extra map[string]Identity
	// Secure marks the cookie Secure (behind TLS).
	Secure bool
}

func (t *TokenAuth) token(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

func (t *TokenAuth) check(ctx context.Context, tok string) (Identity, bool) {
	if tok == "" {
		return Identity{}, false
	}
	for k, id := range t.Extra {
		if subtle.ConstantTimeCompare([]byte(k), []byte(tok)) == 1 {
			return id, true
		}
	}
	if t.Tokens.AuthenticateAdmin(ctx, tok) != nil {
		return Identity{}, false
	}
	return Identity{Name: "admin", Admin: true}, true
}

// Identify implements [Auth].
func (t *TokenAuth) Identify(r *http.Request) (Identity, bool) {
	return t.check(r.Context(), t.token(r))
}

// CSRFToken implements [Auth].
func (t *TokenAuth) CSRFToken(r *http.Request) string {
	tok := t.token(r)
	if tok == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("hetuflow-csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyCSRF implements [Auth]: the form field csrf or the header
// X-CSRF-Token must equal CSRFToken.
func (t *TokenAuth) VerifyCSRF(r *http.Request) bool {
	want := t.CSRFToken(r)
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return want != "" && hmac.Equal([]byte(want), []byte(got))
}

// SignIn implements [Login].
func (t *TokenAuth) SignIn(w http.ResponseWriter, r *http.Request, credential string) bool {
	if _, ok := t.check(r.Context(), credential); !ok {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: credential, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: t.Secure})
	return true
}

// SignOut implements [Login].
func (t *TokenAuth) SignOut(w http.ResponseWriter, _ *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: t.Secure})
}
