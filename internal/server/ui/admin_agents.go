package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

// secretList lists one namespace's secrets: names and dates, never values.
func (u *UI) secretList(w http.ResponseWriter, r *http.Request, p *page) {
	ns := strings.TrimSpace(r.URL.Query().Get("ns"))
	if ns == "" {
		ns = p.NS
	}
	if ns == "" {
		ns = model.DefaultNamespace
	}
	u.secretPage(w, r, p, http.StatusOK, ns, map[string]string{})
}

func (u *UI) secretPage(w http.ResponseWriter, r *http.Request, p *page, status int, ns string, form map[string]string) {
	d := &adminPage{Section: "secrets", Extra: ns, Form: form}
	if !u.deps.API.HasSecrets() {
		p.Flash, p.FlashKind = p.T("admin.secrets_off"), "error"
		d.Items = []*model.Secret{}
		u.renderAdmin(w, r, p, status, "admin_secrets", d)
		return
	}
	list, err := u.deps.API.ListSecrets(r.Context(), ns)
	if err != nil {
		u.problem(r, p, err)
		status = http.StatusUnprocessableEntity
	}
	d.Items = list
	u.renderAdmin(w, r, p, status, "admin_secrets", d)
}

func (u *UI) secretPut(w http.ResponseWriter, r *http.Request, p *page) {
	ns, name := strings.TrimSpace(r.PostFormValue("namespace")), strings.TrimSpace(r.PostFormValue("name"))
	// The value is used as typed and never put back into a page.
	if _, err := u.deps.API.PutSecret(r.Context(), ns, name, r.PostFormValue("value")); err != nil {
		u.problem(r, p, err)
		// The namespace and name are in the route's path: show their
		// errors beside the form's fields.
		for _, f := range []string{"namespace", "name"} {
			if m, ok := p.Errors["path."+f]; ok {
				p.Errors[f] = m
			}
		}
		u.secretPage(w, r, p, http.StatusUnprocessableEntity, ns, map[string]string{"name": name})
		return
	}
	flash(w, "ok", "flash.secret_set", name, ns)
	http.Redirect(w, r, "/admin/secrets?ns="+url.QueryEscape(ns), http.StatusSeeOther)
}

func (u *UI) secretDelete(w http.ResponseWriter, r *http.Request, p *page) {
	ns, name := r.PostFormValue("namespace"), r.PostFormValue("name")
	if !u.confirmed(w, r, p, p.T("confirm.delete_secret", name, ns)) {
		return
	}
	if err := u.deps.API.DeleteSecret(r.Context(), ns, name); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.secret_deleted", name, ns)
	}
	http.Redirect(w, r, "/admin/secrets?ns="+url.QueryEscape(ns), http.StatusSeeOther)
}

func (u *UI) enrollList(w http.ResponseWriter, r *http.Request, p *page) {
	u.enrollPage(w, r, p, http.StatusOK, &adminPage{Form: map[string]string{"ttl": "24h"}})
}

func (u *UI) enrollPage(w http.ResponseWriter, r *http.Request, p *page, status int, d *adminPage) {
	d.Section = "enroll"
	if !u.deps.API.HasAgentAuth() {
		p.Flash, p.FlashKind = p.T("admin.enroll_off"), "error"
		d.Items = []*model.EnrollToken{}
		u.renderAdmin(w, r, p, status, "admin_enroll", d)
		return
	}
	list, err := u.deps.API.ListEnrollTokens(r.Context())
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Items = list
	u.renderAdmin(w, r, p, status, "admin_enroll", d)
}

func (u *UI) enrollCreate(w http.ResponseWriter, r *http.Request, p *page) {
	f := formValues(r, "name", "ttl", "labels", "reusable")
	var in api.EnrollTokenInput
	in.Body.Name, in.Body.TTL, in.Body.Labels, in.Body.Reusable = f["name"], f["ttl"], f["labels"], f["reusable"] == "1"
	plain, tok, err := u.deps.API.CreateEnrollToken(r.Context(), in)
	if err != nil {
		u.problem(r, p, err)
		u.enrollPage(w, r, p, http.StatusUnprocessableEntity, &adminPage{Form: f})
		return
	}
	p.Flash, p.FlashKind = p.T("flash.enroll_created", or(tok.Name)), "ok"
	u.enrollPage(w, r, p, http.StatusCreated, &adminPage{Secret: plain, Form: map[string]string{"ttl": "24h"}})
}

func (u *UI) enrollRevoke(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	if !u.confirmed(w, r, p, p.T("confirm.revoke_enroll", id)) {
		return
	}
	if _, err := u.deps.API.RevokeEnrollToken(r.Context(), id); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.enroll_revoked", id)
	}
	http.Redirect(w, r, "/admin/enroll", http.StatusSeeOther)
}

// agentRevoke revokes an enrolled agent's credential, which disconnects it.
func (u *UI) agentRevoke(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	if !u.confirmed(w, r, p, p.T("confirm.revoke_agent", id)) {
		return
	}
	if _, err := u.deps.API.RevokeAgent(r.Context(), id); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.agent_revoked", id)
	}
	back(w, r, "/agents")
}
