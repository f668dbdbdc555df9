package ui

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// routes registers every page and action. Keep it the one list of them.
func (u *UI) routes() {
	m := u.mux
	m.HandleFunc("GET /static/{file}", u.static)
	m.HandleFunc("GET /login", u.loginPage)
	m.HandleFunc("POST /login", u.loginPost)
	m.HandleFunc("POST /logout", u.logout)
	m.HandleFunc("GET /prefs", u.prefs)

	view := func(pattern string, h func(http.ResponseWriter, *http.Request, *page)) {
		m.HandleFunc(pattern, u.signedIn(h))
	}
	view("GET /{$}", u.dashboard)
	view("GET /jobs", u.jobList)
	view("GET /jobs/new", u.jobNew)
	view("POST /jobs/new", u.jobCreate)
	view("GET /jobs/{id}", u.jobDetail)
	view("GET /jobs/{id}/edit", u.jobEdit)
	view("POST /jobs/{id}/edit", u.jobUpdate)
	view("GET /jobs/{id}/clone", u.jobClone)
	view("POST /jobs/{id}/enable", u.jobEnable)
	view("POST /jobs/{id}/disable", u.jobDisable)
	view("POST /jobs/{id}/run", u.jobRun)
	view("POST /jobs/{id}/delete", u.jobDelete)
	view("POST /jobs/{id}/schedules", u.scheduleCreate)
	view("GET /schedules/{id}/edit", u.scheduleEdit)
	view("POST /schedules/{id}/edit", u.scheduleUpdate)
	view("POST /schedules/{id}/enable", u.scheduleEnable)
	view("POST /schedules/{id}/disable", u.scheduleDisable)
	view("POST /schedules/{id}/delete", u.scheduleDelete)
	view("GET /runs", u.runList)
	view("POST /runs/bulk", u.runBulk)
	view("GET /tasks/{id}", u.taskDetail)
	view("POST /tasks/{id}/cancel", u.taskCancel)
	view("GET /instances/{id}", u.instanceDetail)
	view("GET /instances/{id}/log", u.instanceLog)
	view("GET /instances/{id}/log/stream", u.instanceLog)
	view("GET /agents", u.agentList)
	view("POST /agents/{id}/drain", u.agentDrain)
	view("GET /cluster", u.cluster)
	view("GET /ui/live", u.live)
	view("GET /ui/preview", u.preview)
	u.adminRoutes(view)
}

// signedIn wraps a handler: nobody signed in goes to the login page (a
// script's request gets 401); an unsafe request must carry the CSRF token.
func (u *UI) signedIn(h func(http.ResponseWriter, *http.Request, *page)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := u.newPage(r, "")
		if !p.SignedIn {
			if strings.HasPrefix(r.URL.Path, "/ui/") || r.Header.Get("Accept") == "text/event-stream" {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !u.deps.Auth.VerifyCSRF(r) {
				p.Title = "title.error"
				p.Flash, p.FlashKind = p.T("problem.csrf"), "error"
				u.render(w, r, http.StatusForbidden, "error", p)
				return
			}
		}
		h(w, r, p)
	}
}

// static serves the stylesheet and the script. Their URLs carry the
// version (?v=), so they may be cached for a long time.
func (u *UI) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	data, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, u.started, strings.NewReader(string(data)))
}

// prefs saves the language, time zone or namespace choice and goes back.
func (u *UI) prefs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	year := int((365 * 24 * time.Hour).Seconds())
	set := func(name, v string) {
		http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", MaxAge: year, SameSite: http.SameSiteLaxMode})
	}
	if l, ok := ParseLang(q.Get("lang")); ok {
		set(langCookie, string(l))
	}
	if tz := q.Get("tz"); tz != "" {
		if _, err := time.LoadLocation(tz); err == nil {
			set(tzCookie, tz)
		}
	}
	if q.Has("ns") {
		set(nsCookie, strings.TrimSpace(q.Get("ns")))
	}
	back := q.Get("back")
	if !localPath(back) {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// localPath reports whether s is a path on this site, so redirects never
// leave it.
func localPath(s string) bool {
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\")
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	p := u.newPage(r, "title.login")
	p.Data = r.URL.Query().Get("next")
	u.render(w, r, http.StatusOK, "login", p)
}

func (u *UI) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := r.PostFormValue("next")
	if !localPath(next) {
		next = "/"
	}
	lg, ok := u.deps.Auth.(Login)
	if ok && lg.SignIn(w, r, strings.TrimSpace(r.PostFormValue("token"))) {
		flash(w, "ok", "flash.signed_in")
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := u.newPage(r, "title.login")
	p.Data = next
	p.Errors = map[string]string{"token": p.T("login.bad")}
	u.render(w, r, http.StatusUnauthorized, "login", p)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if !u.deps.Auth.VerifyCSRF(r) {
		http.Error(w, "bad CSRF token", http.StatusForbidden)
		return
	}
	if lg, ok := u.deps.Auth.(Login); ok {
		lg.SignOut(w, r)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// confirmed reports whether a dangerous action was confirmed; if not, it
// renders the confirmation page, whose form posts the same action again
// with confirmed=1 (app.js asks in a dialog instead, when it runs).
func (u *UI) confirmed(w http.ResponseWriter, r *http.Request, p *page, question string) bool {
	if r.PostFormValue("confirmed") == "1" {
		return true
	}
	p.Title = "title.confirm"
	fields := map[string][]string{}
	for k, v := range r.PostForm {
		if k != "csrf" && k != "confirmed" {
			fields[k] = v
		}
	}
	p.Data = struct {
		Question string
		Action   string
		Fields   map[string][]string
		Back     string
	}{question, r.URL.Path, fields, r.Referer()}
	u.render(w, r, http.StatusOK, "confirm", p)
	return false
}

// back redirects to the page the action came from, or to fallback.
func back(w http.ResponseWriter, r *http.Request, fallback string) {
	to := r.PostFormValue("back")
	if !localPath(to) {
		to = fallback
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
