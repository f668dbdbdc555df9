package server

import (
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/ui"
)

// The sign-in pages: plain HTML forms without script, so a browser can sign
// in before the web UI exists; the UI restyles them.

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.P.Lang}}"><head><meta charset="utf-8"><title>hetuflow — {{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs.css"></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .User}}<p>{{.P.T "signin.signed_in_as" .User}}</p>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">{{.P.T "signin.sign_out"}}</button></form>
{{else if .Action}}<form method="post" action="{{.Action}}">{{if .Next}}<input type="hidden" name="next" value="{{.Next}}">{{end}}
<label for="name">{{.P.T "signin.name"}}</label><input id="name" name="name" autocomplete="username" required value="{{.Name}}">
<label for="password">{{.P.T "signin.password"}}</label><input id="password" name="password" type="password" autocomplete="{{if .Setup}}new-password{{else}}current-password{{end}}" required>
<button type="submit">{{if .Setup}}{{.P.T "setup.submit"}}{{else}}{{.P.T "signin.submit"}}{{end}}</button></form>{{end}}
</body></html>`))

type pageData struct {
	Title, Error, User, CSRF, Action, Name string
	// Next is where to go after signing in (a path on this site).
	Next string
	// P speaks the reader's language (the console's catalogue).
	P     ui.Printer
	Setup bool
}

func renderPage(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	d.P = ui.PrinterFor(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", string(d.P.Lang))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

// sameOrigin refuses a form posted from another site: the sign-in forms
// have no session yet, so no CSRF token, and SameSite=Lax does not cover a
// cross-site POST that creates a session.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (a *App) withInfo(r *http.Request) *http.Request {
	return r.WithContext(auth.WithRequestInfo(r.Context(), auth.RequestInfo{RemoteAddr: r.RemoteAddr, TLS: r.TLS != nil}))
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	tr := ui.PrinterFor(r).T
	r = a.withInfo(r)
	if p, err := a.accounts.Authenticate(r); err == nil && p != nil && p.Session != nil {
		renderPage(w, r, http.StatusOK, pageData{Title: tr("signin.signed_in"), User: p.Name, CSRF: p.Session.CSRF})
		return
	}
	renderPage(w, r, http.StatusOK, pageData{Title: tr("signin.title"), Action: "/login", Next: localNext(r.URL.Query().Get("next"))})
}

// localNext returns next when it is a path on this site, so a sign-in never
// redirects elsewhere; otherwise "".
func localNext(next string) string {
	if strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") && !strings.HasPrefix(next, "/\\") {
		return next
	}
	return ""
}

func (a *App) loginSubmit(w http.ResponseWriter, r *http.Request) {
	tr := ui.PrinterFor(r).T
	r = a.withInfo(r)
	if !sameOrigin(r) {
		renderPage(w, r, http.StatusForbidden, pageData{Title: tr("signin.title"), Action: "/login", Error: tr("signin.cross_site")})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name := r.PostFormValue("name")
	id, _, err := a.accounts.Login(r.Context(), name, r.PostFormValue("password"))
	if err != nil {
		status, msg := http.StatusUnauthorized, tr("signin.bad")
		var rl *auth.RateLimitedError
		switch {
		case errors.As(err, &rl):
			status, msg = http.StatusTooManyRequests, tr("signin.rate_limited", rl.RetryAfter.Round(time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(max(int(rl.RetryAfter.Seconds()+0.999), 1)))
		case !errors.Is(err, auth.ErrBadCredentials):
			status, msg = http.StatusInternalServerError, tr("signin.failed")
			a.log.ErrorContext(r.Context(), "sign in", "error", err)
		}
		renderPage(w, r, status, pageData{Title: tr("signin.title"), Action: "/login", Name: name, Error: msg, Next: localNext(r.PostFormValue("next"))})
		return
	}
	http.SetCookie(w, a.accounts.SessionCookie(id, r.TLS != nil))
	next := localNext(r.PostFormValue("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *App) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	tr := ui.PrinterFor(r).T
	r = a.withInfo(r)
	p, err := a.accounts.Authenticate(r)
	if err != nil || p == nil || p.Session == nil {
		http.SetCookie(w, auth.ClearCookie(r.TLS != nil))
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(p.Session.CSRF)) != 1 {
		renderPage(w, r, http.StatusForbidden, pageData{Title: tr("signin.signed_in"), User: p.Name, CSRF: p.Session.CSRF, Error: tr("signin.csrf")})
		return
	}
	if err := a.accounts.Logout(auth.WithPrincipal(r.Context(), p), p); err != nil {
		a.log.ErrorContext(r.Context(), "sign out", "error", err)
	}
	http.SetCookie(w, auth.ClearCookie(r.TLS != nil))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *App) setupPage(w http.ResponseWriter, r *http.Request) {
	tr := ui.PrinterFor(r).T
	token := r.PathValue("token")
	if !a.accounts.CheckSetup(r.Context(), token) {
		renderPage(w, r, http.StatusNotFound, pageData{Title: tr("setup.title"), Error: tr("setup.gone")})
		return
	}
	renderPage(w, r, http.StatusOK, pageData{Title: tr("setup.title"), Action: "/setup/" + url.PathEscape(token), Setup: true})
}

func (a *App) setupSubmit(w http.ResponseWriter, r *http.Request) {
	tr := ui.PrinterFor(r).T
	r = a.withInfo(r)
	token := r.PathValue("token")
	action := "/setup/" + url.PathEscape(token)
	if !sameOrigin(r) {
		renderPage(w, r, http.StatusForbidden, pageData{Title: tr("setup.title"), Action: action, Setup: true, Error: tr("signin.cross_site")})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name := r.PostFormValue("name")
	user, err := a.accounts.CompleteSetup(r.Context(), token, name, r.PostFormValue("password"))
	var fe *model.FieldError
	switch {
	case errors.As(err, &fe):
		renderPage(w, r, http.StatusUnprocessableEntity, pageData{Title: tr("setup.title"), Action: action, Setup: true, Name: name, Error: tr("setup.invalid", fe.Field, fe.Reason)})
		return
	case err != nil:
		renderPage(w, r, http.StatusNotFound, pageData{Title: tr("setup.title"), Error: tr("setup.gone")})
		return
	}
	id, _, err := a.accounts.StartSession(r.Context(), user)
	if err != nil {
		a.log.ErrorContext(r.Context(), "start session after setup", "error", err)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, a.accounts.SessionCookie(id, r.TLS != nil))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginLink signs a browser in with a one-time link (hetuflow dev). It
// works only from this machine.
func (a *App) loginLink(w http.ResponseWriter, r *http.Request) {
	tr := ui.PrinterFor(r).T
	r = a.withInfo(r)
	if !auth.IsLoopback(r.RemoteAddr) {
		renderPage(w, r, http.StatusForbidden, pageData{Title: tr("signin.title"), Action: "/login", Error: tr("link.local_only")})
		return
	}
	id, _, err := a.accounts.UseLoginLink(r.Context(), r.PathValue("token"))
	if err != nil {
		renderPage(w, r, http.StatusNotFound, pageData{Title: tr("signin.title"), Action: "/login", Error: tr("link.gone")})
		return
	}
	http.SetCookie(w, a.accounts.SessionCookie(id, r.TLS != nil))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// pageRoutes adds the sign-in pages to mux.
func (a *App) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.loginSubmit)
	mux.HandleFunc("POST /logout", a.logoutSubmit)
	mux.HandleFunc("GET /setup/{token}", a.setupPage)
	mux.HandleFunc("POST /setup/{token}", a.setupSubmit)
	mux.HandleFunc("GET /login/link/{token}", a.loginLink)
}
