package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// LoginBody is a sign-in.
type LoginBody struct {
	Name     string `json:"name" maxLength:"200"`
	Password string `json:"password" maxLength:"1024"`
}

// LoginOutput sets the session cookie.
type LoginOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      *MeBody
}

// MeBody says who a credential is.
type MeBody struct {
	Kind   auth.PrincipalKind `json:"kind" doc:"user, token or bootstrap"`
	ID     string             `json:"id"`
	Name   string             `json:"name"`
	Grants []model.Grant      `json:"grants"`
	CSRF   string             `json:"csrf_token,omitempty" doc:"Send as X-CSRF-Token on every change made with the session cookie."`
}

func meOf(p *auth.Principal) *MeBody {
	b := &MeBody{Kind: p.Kind, ID: p.ID, Name: p.Name, Grants: p.GrantList()}
	if p.Session != nil {
		b.CSRF = p.Session.CSRF
	}
	return b
}

func (a *API) accounts() (*auth.Service, error) {
	if a.deps.Accounts == nil {
		return nil, huma.Error503ServiceUnavailable("accounts are not configured on this server")
	}
	return a.deps.Accounts, nil
}

// LoginError turns a sign-in failure into the API answer: one message for
// an unknown user and a wrong password, 429 with Retry-After when rate
// limited.
func LoginError(err error) error {
	var rl *auth.RateLimitedError
	switch {
	case errors.As(err, &rl):
		secs := max(int(rl.RetryAfter.Seconds()+0.999), 1)
		return huma.ErrorWithHeaders(huma.Error429TooManyRequests("too many sign-in attempts; retry in "+strconv.Itoa(secs)+" s"),
			http.Header{"Retry-After": {strconv.Itoa(secs)}})
	case errors.Is(err, auth.ErrBadCredentials):
		return huma.Error401Unauthorized("wrong user name or password")
	}
	return huma.Error500InternalServerError("internal error: " + err.Error())
}

func (a *API) login(ctx context.Context, in *struct{ Body LoginBody }) (*LoginOutput, error) {
	acc, err := a.accounts()
	if err != nil {
		return nil, err
	}
	id, p, err := acc.Login(ctx, in.Body.Name, in.Body.Password)
	if err != nil {
		return nil, LoginError(err)
	}
	return &LoginOutput{SetCookie: *acc.SessionCookie(id, auth.RequestInfoFrom(ctx).TLS), Body: meOf(p)}, nil
}

// LogoutOutput clears the session cookie.
type LogoutOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

func (a *API) logout(ctx context.Context, _ *struct{}) (*LogoutOutput, error) {
	acc, err := a.accounts()
	if err != nil {
		return nil, err
	}
	skipAudit(ctx) // Logout audits itself
	if err := acc.Logout(ctx, auth.PrincipalFrom(ctx)); err != nil {
		return nil, storeError(err, "session")
	}
	return &LogoutOutput{SetCookie: *auth.ClearCookie(auth.RequestInfoFrom(ctx).TLS)}, nil
}

func (a *API) me(ctx context.Context, _ *struct{}) (*struct{ Body *MeBody }, error) {
	return &struct{ Body *MeBody }{Body: meOf(auth.PrincipalFrom(ctx))}, nil
}

// TokenBody creates an API token.
type TokenBody struct {
	Name       string         `json:"name" minLength:"1" maxLength:"200" example:"ci-deploy"`
	Namespaces []string       `json:"namespaces" minItems:"1" doc:"Namespaces the token reaches; [\"*\"] for all." example:"[\"default\"]"`
	Role       model.Role     `json:"role" enum:"viewer,operator,editor,admin"`
	ExpiresIn  model.Duration `json:"expires_in,omitempty" doc:"How long the token works; empty for no expiry." example:"720h"`
}

// TokenCreated is a new token: the only time its secret is shown.
type TokenCreated struct {
	*model.AccessToken
	Token string `json:"token" doc:"The bearer token. It is stored hashed and never shown again."`
}

func (a *API) createToken(ctx context.Context, in *struct{ Body TokenBody }) (*struct {
	Location string `header:"Location"`
	Body     *TokenCreated
}, error) {
	b := in.Body
	if !b.Role.Valid() {
		return nil, fieldError("body.role", "must be viewer, operator, editor or admin")
	}
	for i, ns := range b.Namespaces {
		if ns == model.AllNamespaces {
			continue
		}
		if err := model.ValidateNamespace("namespaces["+strconv.Itoa(i)+"]", ns); err != nil {
			return nil, storeError(err, "token")
		}
	}
	var exp *time.Time
	if b.ExpiresIn.D() < 0 {
		return nil, fieldError("body.expires_in", "must not be negative")
	}
	if b.ExpiresIn.D() > 0 {
		t := time.Now().Add(b.ExpiresIn.D())
		exp = &t
	}
	p := auth.PrincipalFrom(ctx)
	secret := auth.Generate()
	tok, err := a.deps.Store.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{
		ID: uuid.NewString(), Name: b.Name, Kind: model.AccessAPI, Hash: auth.Hash(secret), Namespaces: b.Namespaces,
		Role: b.Role, UserID: p.UserID, CreatedBy: p.Name, ExpiresAt: exp,
	})
	if err != nil {
		return nil, storeError(err, "token")
	}
	noteAudit(ctx, "", tok.ID, nil, tok)
	return &struct {
		Location string `header:"Location"`
		Body     *TokenCreated
	}{Location: Prefix + "/tokens/" + tok.ID, Body: &TokenCreated{AccessToken: tok, Token: secret}}, nil
}

func (a *API) listTokens(ctx context.Context, _ *struct{}) (*struct{ Body []*model.AccessToken }, error) {
	toks, err := a.deps.Store.AccessTokenList(ctx, &store.AccessTokenListParams{Kind: model.AccessAPI})
	if err != nil {
		return nil, storeError(err, "tokens")
	}
	if toks == nil {
		toks = []*model.AccessToken{}
	}
	return &struct{ Body []*model.AccessToken }{Body: toks}, nil
}

func (a *API) revokeToken(ctx context.Context, in *StringIDInput) (*struct{}, error) {
	tok, err := a.deps.Store.AccessTokenRevoke(ctx, &store.AccessTokenRevokeParams{ID: in.ID})
	if err != nil {
		return nil, storeError(err, "token "+in.ID)
	}
	// This server forgets cached tokens at once; the others' caches
	// expire within a second.
	if a.deps.Accounts != nil {
		a.deps.Accounts.Tokens().Forget()
	}
	noteAudit(ctx, "", tok.ID, nil, map[string]any{"name": tok.Name, "revoked_at": tok.RevokedAt})
	return nil, nil
}
