package server

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/ui"
	"github.com/hetuflow/hetuflow/internal/store"
)

// webUI builds the web console. People sign in on the server's own sign-in
// page (pages.go); the console then knows them by their session, whose
// principal withPrincipal puts in every request's context, so the API's
// permission and namespace checks apply to what the console shows and does.
func (a *App) webUI() http.Handler {
	console := ui.New(ui.Deps{Store: a.opts.Store, API: a.api, Auth: sessionAuth{}, Version: a.opts.Version, Logger: a.log.With("svc", "ui")})
	return a.withPrincipal(console)
}

// withPrincipal authenticates the request's session cookie (or bearer
// token) and, when it is good, puts its principal in the context. A request
// without one reaches the console signed out, which sends it to /login.
func (a *App) withPrincipal(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = a.withInfo(r)
		if strings.HasPrefix(r.URL.Path, "/static/") {
			// Stylesheet and script are the same for everyone: no session
			// lookup for them.
			h.ServeHTTP(w, r)
			return
		}
		if p, err := a.accounts.Authenticate(r); err == nil && p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			if p.Session != nil && p.UserID != "" {
				r = a.userPrefs(w, r, p.UserID)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// sessionAuth is the console's ui.Auth: who is signed in, as withPrincipal
// found them, and their session's CSRF token.
type sessionAuth struct{}

// Identify implements ui.Auth: the principal's grants as console roles.
func (sessionAuth) Identify(r *http.Request) (ui.Identity, bool) {
	p := auth.PrincipalFrom(r.Context())
	if p == nil {
		return ui.Identity{}, false
	}
	id := ui.Identity{Name: p.Name, Admin: p.Can(model.RoleAdmin, model.AllNamespaces), Roles: map[string]ui.Role{}}
	for ns, role := range p.Grants {
		if r := ui.RoleOf(role); r > 0 {
			id.Roles[ns] = r
		}
	}
	return id, true
}

// CSRFToken implements ui.Auth.
func (sessionAuth) CSRFToken(r *http.Request) string { return auth.CSRFToken(r) }

// VerifyCSRF implements ui.Auth: the form field csrf or the X-CSRF-Token
// header must be the session's token. A bearer-token request has no session
// and cannot post the console's forms.
func (sessionAuth) VerifyCSRF(r *http.Request) bool {
	want := auth.CSRFToken(r)
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// userPrefs keeps a signed-in person's language and time zone with their
// user, so they follow them to every browser: a choice made on /prefs is
// stored, and a browser without its own choice (no cookie) gets the stored
// one, for this request and, as cookies, for the next. It returns r with
// those cookies added.
func (a *App) userPrefs(w http.ResponseWriter, r *http.Request, userID string) *http.Request {
	ctx := r.Context()
	_, langErr := r.Cookie(ui.LangCookie)
	_, zoneErr := r.Cookie(ui.ZoneCookie)
	choosing := r.URL.Path == "/prefs" && (r.URL.Query().Has("lang") || r.URL.Query().Has("tz"))
	if !choosing && langErr == nil && zoneErr == nil {
		return r
	}
	prefs, err := a.opts.Store.UserGetPrefs(ctx, &store.UserGetPrefsParams{ID: userID})
	if err != nil {
		a.log.WarnContext(ctx, "read user preferences", "user_id", userID, "error", err)
		return r
	}
	if choosing {
		next := *prefs
		if l, ok := ui.ParseLang(r.URL.Query().Get("lang")); ok {
			next.Lang = string(l)
		}
		if tz := r.URL.Query().Get("tz"); tz != "" {
			if _, err := time.LoadLocation(tz); err == nil {
				next.TimeZone = tz
			}
		}
		if next != *prefs {
			if _, err := a.opts.Store.UserSetPrefs(ctx, &store.UserSetPrefsParams{ID: userID, UserPrefs: next}); err != nil {
				a.log.WarnContext(ctx, "store user preferences", "user_id", userID, "error", err)
			}
		}
		return r
	}
	year := int((365 * 24 * time.Hour).Seconds())
	for _, c := range []struct {
		name, value string
		missing     bool
	}{{ui.LangCookie, prefs.Lang, langErr != nil}, {ui.ZoneCookie, prefs.TimeZone, zoneErr != nil}} {
		if c.missing && c.value != "" {
			r.AddCookie(&http.Cookie{Name: c.name, Value: c.value})
			http.SetCookie(w, &http.Cookie{Name: c.name, Value: c.value, Path: "/", MaxAge: year, SameSite: http.SameSiteLaxMode})
		}
	}
	return r
}
