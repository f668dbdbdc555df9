// Package ui serves the web management console: server-rendered pages
// (html/template, embedded), one hand-written stylesheet and one small
// script, in English and Simplified Chinese. Pages read through the store,
// limited to the namespaces the signed-in identity may see, and act through
// the API's own operations (api.API's exported methods), so a change made
// here is the same change the HTTP API makes. Every page works without
// JavaScript; the script adds live updates, the cron preview and
// confirmation dialogs. See docs/ui.md.
package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the UI needs.
type Deps struct {
	Store   store.Store
	API     *api.API
	Auth    Auth
	Version string
	Logger  *slog.Logger
}

// UI is the web console's handler.
type UI struct {
	deps Deps
	mux  *http.ServeMux
	// pages parse their templates when first shown: parsed at start, the
	// twenty-odd pages (each with its own copy of the layout) held 3 MiB
	// that an idle server never uses. A template error panics, a
	// programmer's error caught by TestTemplatesParse.
	pages map[string]func() *template.Template
	hist  histCache
	// started is when the process started, for static files' Last-Modified.
	started time.Time
}

// parsePage parses the layout with the page template in file.
func parsePage(file string) (*template.Template, error) {
	return template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", file)
}

// pageFiles lists the page templates: every template but the layout.
func pageFiles() map[string]string {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err) // only a malformed pattern fails
	}
	files := map[string]string{}
	for _, n := range names {
		if base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html"); base != "layout" {
			files[base] = n
		}
	}
	return files
}

// New registers the routes; the templates are parsed at first use.
func New(deps Deps) *UI {
	if deps.Store == nil || deps.API == nil || deps.Auth == nil || deps.Logger == nil {
		panic("ui: New needs a store, the API, an Auth and a logger")
	}
	u := &UI{deps: deps, mux: http.NewServeMux(), pages: map[string]func() *template.Template{}, started: time.Now().UTC().Truncate(time.Second), hist: histCache{m: map[string]histEntry{}}}
	for base, file := range pageFiles() {
		u.pages[base] = sync.OnceValue(func() *template.Template { return template.Must(parsePage(file)) })
	}
	u.routes()
	return u
}

// ServeHTTP implements http.Handler. The API's operations the pages call
// check permissions against the principal in the request's context; when
// the authentication layer did not put one there, the identity's grants
// become one.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if auth.PrincipalFrom(r.Context()) == nil {
		if id, ok := u.deps.Auth.Identify(r); ok {
			r = r.WithContext(auth.WithPrincipal(r.Context(), id.principal()))
		}
	}
	u.mux.ServeHTTP(w, r)
}

// Paths lists the top-level paths the UI serves, for the server's mux.
func Paths() []string {
	return []string{"/{$}", "/login", "/logout", "/prefs", "/jobs", "/jobs/", "/schedules/", "/runs", "/runs/", "/tasks/", "/instances/",
		"/agents", "/agents/", "/cluster", "/static/", "/ui/", "/admin", "/admin/"}
}

// page is what every template gets: the printer for messages, times and
// durations, who is signed in, the CSRF token, the flash message and the
// page's own data.
type page struct {
	Printer
	Title     string
	Ident     Identity
	SignedIn  bool
	CSRF      string
	Flash     string
	FlashKind string
	Path      string
	NS        string
	// NSChoices are the namespaces the switcher offers; empty means the
	// identity sees all, and the switcher is a text field.
	NSChoices []string
	Langs     []Lang
	// HasZone says the time zone was chosen or sent by the browser; app.js
	// sends it when not.
	HasZone bool
	Version string
	Errors  map[string]string
	Data    any
}

// LangName names a language in itself.
func (p *page) LangName(l Lang) string { return LangName(l) }

// CanOperate reports whether the identity may run and cancel in ns.
func (p *page) CanOperate(ns string) bool { return p.Ident.Can(ns, RoleOperator) }

// CanEdit reports whether the identity may change jobs and schedules in ns.
func (p *page) CanEdit(ns string) bool { return p.Ident.Can(ns, RoleEditor) }

// CanEditAny reports whether the identity may edit in some namespace.
func (p *page) CanEditAny() bool { return p.Ident.CanAny(RoleEditor) }

// CanOperateAny reports whether the identity may operate in some namespace.
func (p *page) CanOperateAny() bool { return p.Ident.CanAny(RoleOperator) }

// Err returns the error message for a form field, or "".
func (p *page) Err(field string) string { return p.Errors[field] }

var funcs = template.FuncMap{
	"join":  strings.Join,
	"query": pageQuery,
	"add":   func(a, b int) int { return a + b },
	"short": func(s fmt.Stringer) string {
		t := s.String()
		if len(t) > 8 {
			return t[:8]
		}
		return t
	},
	"sub80": func(h float64) float64 { return chartHeight - h },
	"kinds": func() []int {
		return []int{int(model.ScheduleCron), int(model.ScheduleInterval), int(model.ScheduleEvent), int(model.ScheduleDaemon), int(model.ScheduleOnce)}
	},
	"misfires":         func() []string { return misfirePolicies },
	"agentStatuses":    func() []string { return []string{"online", "draining", "offline"} },
	"instanceStatuses": func() []string { return instanceStatuses },
	// pair hands a sub-template the page and one value.
	"pair":     func(p *page, v any) map[string]any { return map[string]any{"P": p, "F": v} },
	"describe": func(expr string, l Lang) string { return cron.DescribeLang(expr, string(l)) },
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"limits": func(l model.LimitSupport) string {
		return "mem " + or(l.Memory) + " · cpu " + or(l.CPU) + " · pids " + or(l.Pids)
	},
	"pct": func(a, b int) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
	},
}

// newPage builds the common part of a page for r.
func (u *UI) newPage(r *http.Request, title string) *page {
	p := &page{Printer: Printer{Lang: requestLang(r), Zone: requestZone(r)}, Title: title, Path: r.URL.RequestURI(), Langs: Langs, Version: u.deps.Version}
	if c, err := r.Cookie(tzCookie); err == nil && c.Value != "" {
		p.HasZone = true
	}
	if id, ok := u.deps.Auth.Identify(r); ok {
		p.Ident, p.SignedIn = id, true
		p.CSRF = u.deps.Auth.CSRFToken(r)
		p.NSChoices = id.Visible()
		if c, err := r.Cookie(nsCookie); err == nil && u.visible(id, c.Value) {
			p.NS = c.Value
		}
	}
	return p
}

// render writes a page with status.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	tmpl, ok := u.pages[name]
	if !ok {
		panic("ui: no template " + name)
	}
	t := tmpl()
	if f, kind := takeFlash(w, r); f != "" && p.Flash == "" {
		p.Flash, p.FlashKind = f, kind
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		u.deps.Logger.ErrorContext(r.Context(), "render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", string(p.Lang))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// nsCookie holds the namespace chosen with the switcher.
const nsCookie = "hetuflow_ns"

// flashCookie carries the result of an action across its redirect.
const flashCookie = "hetuflow_flash"

// flash sets the message shown by the next page: kind "ok" or "error", a
// catalogue key, and arguments for it (already localized or names).
func flash(w http.ResponseWriter, kind, key string, args ...string) {
	v := url.Values{"k": {kind}, "m": {key}, "a": args}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v.Encode(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// takeFlash reads and clears the flash; the message is localized by the
// caller's printer since it is a key.
func takeFlash(w http.ResponseWriter, r *http.Request) (string, string) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1})
	v, err := url.ParseQuery(c.Value)
	if err != nil {
		return "", ""
	}
	key := v.Get("m")
	if _, ok := catalog[key]; !ok || !strings.HasPrefix(key, "flash.") {
		return "", ""
	}
	p := Printer{Lang: requestLang(r)}
	args := make([]any, len(v["a"]))
	for i, a := range v["a"] {
		args[i] = a
	}
	kind := v.Get("k")
	if kind != "error" {
		kind = "ok"
	}
	return p.T(key, args...), kind
}

// visible reports whether id may read namespace ns.
func (u *UI) visible(id Identity, ns string) bool {
	return ns != "" && id.Can(ns, RoleViewer)
}

// namespaces returns the Namespaces list for store calls: the namespace
// chosen with the switcher, else those the identity may see (nil: all).
func (p *page) namespaces() []string {
	if p.NS != "" {
		return []string{p.NS}
	}
	vis := p.Ident.Visible()
	if vis != nil && len(vis) == 0 {
		// No namespace at all: a name no namespace can have.
		return []string{""}
	}
	return vis
}

// readable returns the Namespaces list for reading one item: every
// namespace the identity may see, whatever the switcher says.
func (p *page) readable() []string {
	vis := p.Ident.Visible()
	if vis != nil && len(vis) == 0 {
		return []string{""}
	}
	return vis
}

// problem turns an error from an API operation into a localized message
// and field errors keyed by the form field's name (the API's location
// without "body." and "config.").
func (u *UI) problem(r *http.Request, p *page, err error) {
	em := api.ErrorModel(err)
	if em == nil {
		u.deps.Logger.ErrorContext(r.Context(), "ui action", "error", err)
		p.Flash, p.FlashKind = p.T("problem.500"), "error"
		return
	}
	key := fmt.Sprintf("problem.%d", em.Status)
	if _, ok := catalog[key]; !ok {
		key = "problem.500"
	}
	p.Flash, p.FlashKind = p.T(key), "error"
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	for _, d := range em.Errors {
		// A form field is named as in the body, or in the path for
		// resources addressed by it (a secret's namespace and name).
		f := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(d.Location, "body."), "path."), "config.")
		// The detail stays English, as the API says it; the heading above
		// is localized by the problem's status.
		p.Errors[f] = d.Message
	}
	if len(em.Errors) == 0 && em.Detail != "" {
		p.Errors["_"] = em.Detail
	}
}

// errNotFound is returned by lookups of items the identity may not see.
var errNotFound = errors.New("ui: not found")

func or(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
