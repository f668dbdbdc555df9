package ui

import (
	"net/http"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

// The admin pages (users, API tokens, secrets, the audit log, agent
// enrolment and alert rules) are for admins of every namespace only: to
// anyone else they do not exist (404) and the header has no links to them.
// Each action goes through the API's operation of the same route, so the
// API's permission check and audit log apply as well.

// adminRoutes registers the admin pages. Called from routes().
func (u *UI) adminRoutes(view func(string, func(http.ResponseWriter, *http.Request, *page))) {
	admin := func(pattern string, h func(http.ResponseWriter, *http.Request, *page)) {
		view(pattern, u.adminOnly(h))
	}
	admin("GET /admin", func(w http.ResponseWriter, r *http.Request, _ *page) {
		http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
	})
	admin("GET /admin/tokens", u.tokenList)
	admin("POST /admin/tokens", u.tokenCreate)
	admin("POST /admin/tokens/{id}/revoke", u.tokenRevoke)
	admin("GET /admin/audit", u.auditList)
	admin("GET /admin/users", u.userList)
	u.userRoutes(admin)
	admin("GET /admin/secrets", u.secretList)
	admin("POST /admin/secrets", u.secretPut)
	admin("POST /admin/secrets/delete", u.secretDelete)
	admin("GET /admin/enroll", u.enrollList)
	admin("POST /admin/enroll", u.enrollCreate)
	admin("POST /admin/enroll/{id}/revoke", u.enrollRevoke)
	admin("POST /agents/{id}/revoke", u.agentRevoke)
	admin("GET /admin/alerts", u.alertList)
	admin("POST /admin/alerts", u.alertCreate)
	admin("POST /admin/alerts/{id}/delete", u.alertDelete)
	admin("POST /admin/alerts/{id}/test", u.alertTest)
}

// adminOnly answers 404 to anyone but an admin of every namespace.
func (u *UI) adminOnly(h func(http.ResponseWriter, *http.Request, *page)) func(http.ResponseWriter, *http.Request, *page) {
	return func(w http.ResponseWriter, r *http.Request, p *page) {
		if !p.Ident.Admin {
			u.fail(w, r, p, errNotFound)
			return
		}
		h(w, r, p)
	}
}

// adminPage is the data of every admin page: the section for the admin
// navigation, and the page's own data.
type adminPage struct {
	Section string
	// Secret is a token's plain text, shown once after it was created.
	Secret string
	Form   map[string]string
	Pager  pager
	Items  any
	// Extra is page-specific: the namespace of the secrets page.
	Extra string
}

// renderAdmin renders an admin page with status.
func (u *UI) renderAdmin(w http.ResponseWriter, r *http.Request, p *page, status int, name string, d *adminPage) {
	p.Title = "title.admin_" + d.Section
	p.Data = d
	u.render(w, r, status, name, p)
}

// formValues keeps the fields of a posted form, trimmed, to show it again.
func formValues(r *http.Request, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return m
}

func (u *UI) tokenList(w http.ResponseWriter, r *http.Request, p *page) {
	u.tokenPage(w, r, p, http.StatusOK, &adminPage{Form: map[string]string{"role": "viewer", "namespaces": "*"}})
}

func (u *UI) tokenPage(w http.ResponseWriter, r *http.Request, p *page, status int, d *adminPage) {
	d.Section = "tokens"
	toks, err := u.deps.API.ListTokens(r.Context())
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Items = toks
	u.renderAdmin(w, r, p, status, "admin_tokens", d)
}

func (u *UI) tokenCreate(w http.ResponseWriter, r *http.Request, p *page) {
	f := formValues(r, "name", "role", "namespaces", "expires_in")
	d := &adminPage{Form: f}
	body := api.TokenBody{Name: f["name"], Role: model.Role(f["role"]),
		Namespaces: strings.FieldsFunc(f["namespaces"], func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })}
	if f["expires_in"] != "" {
		dur, err := time.ParseDuration(f["expires_in"])
		if err != nil {
			p.Errors = map[string]string{"expires_in": p.T("form.bad_duration")}
			p.Flash, p.FlashKind = p.T("problem.422"), "error"
			u.tokenPage(w, r, p, http.StatusUnprocessableEntity, d)
			return
		}
		body.ExpiresIn = model.Duration(dur)
	}
	tok, err := u.deps.API.CreateToken(r.Context(), body)
	if err != nil {
		u.problem(r, p, err)
		u.tokenPage(w, r, p, http.StatusUnprocessableEntity, d)
		return
	}
	// The secret is shown on this answer only; nothing stores it.
	p.Flash, p.FlashKind = p.T("flash.token_created", tok.Name), "ok"
	d.Secret = tok.Token
	d.Form = map[string]string{"role": "viewer", "namespaces": "*"}
	u.tokenPage(w, r, p, http.StatusCreated, d)
}

func (u *UI) tokenRevoke(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	if !u.confirmed(w, r, p, p.T("confirm.revoke_token", r.PostFormValue("name"))) {
		return
	}
	if err := u.deps.API.RevokeToken(r.Context(), id); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.token_revoked", r.PostFormValue("name"))
	}
	http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
}

// auditFilter is the audit page's filter form.
type auditFilter struct {
	Actor, Action, Namespace, From, To string
}

func (u *UI) auditList(w http.ResponseWriter, r *http.Request, p *page) {
	q := r.URL.Query()
	f := auditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Namespace: strings.TrimSpace(q.Get("namespace")),
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
	d := &adminPage{Section: "audit", Pager: pager{Offset: pageOffset(r), Size: pageSize},
		Form: map[string]string{"actor": f.Actor, "action": f.Action, "namespace": f.Namespace, "from": f.From, "to": f.To}}
	errs := map[string]string{}
	body := api.AuditQueryBody{Actor: f.Actor, Action: f.Action, Namespace: f.Namespace, Limit: pageSize, Offset: d.Pager.Offset,
		From: parseLocalTime(f.From, "from", p.Zone, errs), To: parseLocalTime(f.To, "to", p.Zone, errs)}
	d.Pager.Query = pageQuery("actor", f.Actor, "action", f.Action, "namespace", f.Namespace, "from", f.From, "to", f.To)
	status := http.StatusOK
	var rows []*model.AuditEntry
	if len(errs) > 0 {
		p.Errors, status = errs, http.StatusUnprocessableEntity
		p.Flash, p.FlashKind = p.T("problem.422"), "error"
	} else {
		out, err := u.deps.API.QueryAudit(r.Context(), body)
		if err != nil {
			u.fail(w, r, p, err)
			return
		}
		rows = out.Body.Result
		d.Pager.More = out.Body.HasMore
	}
	d.Pager.Total, d.Pager.Shown = -1, len(rows)
	d.Items = rows
	u.renderAdmin(w, r, p, status, "admin_audit", d)
}
