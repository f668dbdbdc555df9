package ui

import (
	"net/http"
	"strings"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
)

// alertEvents are the events a rule may watch, in the form's order.
var alertEvents = []string{string(model.AlertFailure), string(model.AlertSuccessAfterFailure), string(model.AlertTimeout), string(model.AlertMissedFire), string(model.AlertAgentLost)}

func (u *UI) alertList(w http.ResponseWriter, r *http.Request, p *page) {
	ns := p.NS
	if ns == "" {
		ns = model.DefaultNamespace
	}
	u.alertPage(w, r, p, http.StatusOK, &adminPage{Form: map[string]string{"namespace": ns, "channel": "webhook", "ev." + alertEvents[0]: "1"}})
}

func (u *UI) alertPage(w http.ResponseWriter, r *http.Request, p *page, status int, d *adminPage) {
	d.Section = "alerts"
	rules, err := u.deps.API.ListAlertRules(r.Context(), "")
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Items = rules
	u.renderAdmin(w, r, p, status, "admin_alerts", d)
}

func (u *UI) alertCreate(w http.ResponseWriter, r *http.Request, p *page) {
	f := formValues(r, "namespace", "job_id", "name", "channel", "target")
	body := api.AlertRuleBody{Namespace: f["namespace"], JobID: f["job_id"], Name: f["name"], Channel: model.AlertChannel(f["channel"]), Target: f["target"],
		Secret: r.PostFormValue("secret")}
	for _, e := range alertEvents {
		if r.PostFormValue("ev."+e) == "1" {
			body.Events = append(body.Events, model.AlertEvent(e))
			f["ev."+e] = "1"
		}
	}
	if len(body.Events) == 0 {
		p.Errors = map[string]string{"events": p.T("admin.alert_no_events")}
		p.Flash, p.FlashKind = p.T("problem.422"), "error"
		u.alertPage(w, r, p, http.StatusUnprocessableEntity, &adminPage{Form: f})
		return
	}
	rule, err := u.deps.API.CreateAlertRule(r.Context(), body)
	if err != nil {
		u.problem(r, p, err)
		// Field errors name events[i]; show them by the event boxes.
		for k, v := range p.Errors {
			if strings.HasPrefix(k, "events") {
				p.Errors["events"] = v
			}
		}
		u.alertPage(w, r, p, http.StatusUnprocessableEntity, &adminPage{Form: f})
		return
	}
	flash(w, "ok", "flash.alert_created", rule.Name)
	http.Redirect(w, r, "/admin/alerts", http.StatusSeeOther)
}

func (u *UI) alertDelete(w http.ResponseWriter, r *http.Request, p *page) {
	id, name := r.PathValue("id"), r.PostFormValue("name")
	if !u.confirmed(w, r, p, p.T("confirm.delete_alert", name)) {
		return
	}
	if err := u.deps.API.DeleteAlertRule(r.Context(), id); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.alert_deleted", name)
	}
	http.Redirect(w, r, "/admin/alerts", http.StatusSeeOther)
}

// alertTest sends a test alert and says how it went: delivered, or the
// receiver's error.
func (u *UI) alertTest(w http.ResponseWriter, r *http.Request, p *page) {
	id, name := r.PathValue("id"), r.PostFormValue("name")
	msg, err := u.deps.API.TestAlertRule(r.Context(), id)
	switch {
	case err != nil:
		u.actionError(w, r, err)
	case msg != "":
		// The flash rides in a cookie; a long error is cut to fit.
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		flash(w, "error", "flash.alert_test_failed", name, msg)
	default:
		flash(w, "ok", "flash.alert_test_ok", name)
	}
	http.Redirect(w, r, "/admin/alerts", http.StatusSeeOther)
}
