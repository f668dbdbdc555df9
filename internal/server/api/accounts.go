package api

import (
	"context"
	"encoding/json"
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

// accountRoutes registers sign-in, API tokens and the audit log. Called
// from routes().
func (a *API) accountRoutes(reg regFunc) {
	h := a.huma
	huma.Register(h, describe(reg(auth.PermPublic, http.MethodPost, "/auth/login", "login", "Sign in with a name and password: sets the session cookie", "auth", 0),
		"Checks a user's name and password and starts a browser session: sets the HttpOnly session cookie and returns who signed in, with the CSRF token to send "+
			"as X-CSRF-Token on every change made with the cookie. An unknown name and a wrong password get the same 401; failures are rate limited per user "+
			"and per address (429 with Retry-After). Public; a request from another site's page is refused. The password is never logged or audited."), a.login)
	huma.Register(h, describe(reg(auth.PermSignedIn, http.MethodPost, "/auth/logout", "logout", "Sign out: ends the session", "auth", http.StatusNoContent),
		"Ends the caller's session and clears its cookie. With an API token there is no session and nothing changes. Any valid credential may call it; "+
			"idempotent as far as the caller can tell, since an ended session is no longer a credential."), a.logout)
	huma.Register(h, describe(reg(auth.PermSignedIn, http.MethodGet, "/auth/me", "get-me", "Who the credential is, its grants and the CSRF token of its session", "auth", 0),
		"Returns who the credential is (a user, an API token or the bootstrap token), its role per namespace (\"*\" for all) and, for a session, its CSRF token. "+
			"Any valid credential may call it. Never returns a password hash or a token's secret."), a.me)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodPost, "/tokens", "create-token", "Create an API token; the token is shown only in this answer", "tokens", http.StatusCreated),
		"Creates a named API token with one role in the listed namespaces (\"*\" for all) and an optional lifetime. Its secret, `token`, is in this answer only: "+
			"the server keeps a hash. Needs the admin role on every namespace. Not idempotent: each call makes a new token."), a.createToken)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodGet, "/tokens", "list-tokens", "List API tokens", "tokens", 0),
		"Lists the API tokens, expired and revoked ones included, with their scope, creator, expiry and last use. Never returns a secret or a hash. "+
			"Needs the admin role on every namespace."), a.listTokens)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodDelete, "/tokens/{id}", "revoke-token", "Revoke an API token at once", "tokens", http.StatusNoContent),
		"Revokes an API token: this server refuses it at once, the other servers within a second. The record stays, with revoked_at, for the audit trail. "+
			"Needs the admin role on every namespace. Revoking it again changes nothing; an unknown id is a 404."), a.revokeToken)
	huma.Register(h, describe(reg(auth.PermAdmin, http.MethodPost, "/audit/query", "query-audit", "Query the audit log, newest first", "audit", 0),
		"Returns audit entries newest first, filtered by time, actor, action and namespace, a page (`limit`, `offset`) at a time; `has_more` says whether "+
			"another page follows. Every successful change made through the API is recorded, with sign-ins, failed sign-ins and sign-outs; a change's diff "+
			"never holds secrets, passwords or tokens. Needs the admin role on every namespace. Read-only: POST only carries the filter."), a.queryAudit)
	a.accountExamples()
}

// accountExamples registers the sign-in, token and audit bodies' examples.
func (a *API) accountExamples() {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	exp := t0.Add(30 * 24 * time.Hour)
	me := &MeBody{Kind: auth.KindUser, ID: "0f5e2c1a-7b1d-4c8e-9a3f-2d6b8e4c1f70", Name: "alice",
		Grants: []model.Grant{{UserID: "0f5e2c1a-7b1d-4c8e-9a3f-2d6b8e4c1f70", Namespace: "default", Role: model.RoleEditor}}, CSRF: "Qm9vdHN0cmFwQ1NSRnRva2VuMTIz"}
	tok := &model.AccessToken{ID: "6f1d3c9e-2a4b-4e8f-b7c1-9d2e5a3f8b10", Name: "ci-deploy", Kind: model.AccessAPI, Namespaces: []string{"default"},
		Role: model.RoleOperator, CreatedBy: "alice", ExpiresAt: &exp, CreatedAt: t0}
	a.example("LoginBody", &LoginBody{Name: "alice", Password: "correct horse battery staple"})
	a.example("MeBody", me)
	a.example("TokenBody", &TokenBody{Name: "ci-deploy", Namespaces: []string{"default"}, Role: model.RoleOperator, ExpiresIn: model.Duration(720 * time.Hour)})
	a.example("TokenCreated", &TokenCreated{AccessToken: tok, Token: "hf_3q2-7wE9xYkQbVnR5tLmP0aZ8cD4fGhJ1sK6uO2iW7e"})
	a.example("list-tokens", []*model.AccessToken{tok})
	a.example("AuditQueryBody", &AuditQueryBody{Action: "delete-job", Namespace: "default", Limit: 50})
	a.example("AuditQueryOutputBody", map[string]any{"has_more": false, "result": []*model.AuditEntry{{
		ID: 1042, At: t0, Actor: "alice", ActorKind: "user", Action: "delete-job", ObjectType: "job", ObjectID: "01a21d48-4789-79bc-908c-3353e7e04c2a",
		Namespace: "default", RemoteAddr: "10.0.0.7", RequestID: "5b0f6a7e-3c2d-4e1f-8a9b-0c1d2e3f4a5b",
		Diff: json.RawMessage(`{"name":{"from":"nightly-backup"}}`),
	}}})
}

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
