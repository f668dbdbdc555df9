package ui

import (
	"net/http"
	"strings"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/auth"
)

// The users page: create a user, reset a password, give and take roles per
// namespace, delete a user. Each form goes through the users API's
// operation, so its checks (an admin keeps their own admin role) and audit
// apply. Passwords are write-only: no answer shows one, not even a refused
// form, which comes back with its password field empty.

// userRoutes registers the users page's actions. Called from adminRoutes.
func (u *UI) userRoutes(admin func(string, func(http.ResponseWriter, *http.Request, *page))) {
	admin("POST /admin/users", u.userCreate)
	admin("POST /admin/users/grant", u.userGrant)
	admin("POST /admin/users/password", u.userPassword)
	admin("POST /admin/users/{id}/revoke", u.userRevoke)
	admin("POST /admin/users/{id}/delete", u.userDelete)
}

// userRoles are the roles the forms offer, weakest first.
var userRoles = []model.Role{model.RoleViewer, model.RoleOperator, model.RoleEditor, model.RoleAdmin}

// usersData is the users page's Items: the users and the forms' choices.
type usersData struct {
	Users []*api.UserView
	Roles []model.Role
	// MinPassword is the shortest password accepted.
	MinPassword int
	// Grant and Password are the values of the other forms, kept when one
	// is refused; Form holds the new-user form's.
	Grant, Password map[string]string
}

func (u *UI) userList(w http.ResponseWriter, r *http.Request, p *page) {
	u.userPage(w, r, p, http.StatusOK, &adminPage{}, &usersData{})
}

func (u *UI) userPage(w http.ResponseWriter, r *http.Request, p *page, status int, d *adminPage, x *usersData) {
	d.Section = "users"
	users, err := u.deps.API.ListUsers(r.Context())
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	if d.Form == nil {
		d.Form = map[string]string{"namespace": p.NS}
	}
	x.Users, x.Roles, x.MinPassword = users, userRoles, auth.MinPasswordLength
	if x.Grant == nil {
		x.Grant = map[string]string{"namespace": p.NS, "role": string(model.RoleViewer)}
	}
	if x.Password == nil {
		x.Password = map[string]string{}
	}
	d.Items = x
	u.renderAdmin(w, r, p, status, "admin_users", d)
}

// refused shows the users page again after a form was refused: the API's
// problem, its field errors under prefix (the page has three forms with
// fields of the same name), and the status.
func (u *UI) refused(w http.ResponseWriter, r *http.Request, p *page, err error, prefix string, d *adminPage, x *usersData) {
	u.problem(r, p, err)
	errs := map[string]string{}
	for k, v := range p.Errors {
		if k == "_" {
			errs[k] = v
			continue
		}
		errs[prefix+strings.TrimPrefix(k, "path.")] = v
	}
	p.Errors = errs
	status := http.StatusUnprocessableEntity
	if em := api.ErrorModel(err); em != nil && em.Status >= 400 {
		status = em.Status
	}
	u.userPage(w, r, p, status, d, x)
}

func (u *UI) userCreate(w http.ResponseWriter, r *http.Request, p *page) {
	f := formValues(r, "name", "namespace", "role")
	body := api.CreateUserBody{Name: f["name"], Password: r.PostFormValue("password"), Role: model.Role(f["role"])}
	if body.Role != model.RoleNone {
		body.Namespace = f["namespace"]
	}
	usr, err := u.deps.API.CreateUser(r.Context(), body)
	if err != nil {
		u.refused(w, r, p, err, "new.", &adminPage{Form: f}, &usersData{})
		return
	}
	flash(w, "ok", "flash.user_created", usr.Name)
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (u *UI) userGrant(w http.ResponseWriter, r *http.Request, p *page) {
	f := formValues(r, "user", "namespace", "role")
	usr, err := u.deps.API.SetUserGrant(r.Context(), f["user"], f["namespace"], model.Role(f["role"]))
	if err != nil {
		u.refused(w, r, p, err, "grant.", &adminPage{}, &usersData{Grant: f})
		return
	}
	flash(w, "ok", "flash.user_granted", usr.Name, f["role"], f["namespace"])
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (u *UI) userPassword(w http.ResponseWriter, r *http.Request, p *page) {
	f := formValues(r, "user")
	if err := u.deps.API.SetUserPassword(r.Context(), f["user"], r.PostFormValue("password")); err != nil {
		u.refused(w, r, p, err, "pw.", &adminPage{}, &usersData{Password: f})
		return
	}
	flash(w, "ok", "flash.user_password", u.userName(r, f["user"]))
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (u *UI) userRevoke(w http.ResponseWriter, r *http.Request, p *page) {
	id, ns := r.PathValue("id"), r.PostFormValue("namespace")
	if usr, err := u.deps.API.RevokeUserGrant(r.Context(), id, ns); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.user_revoked", usr.Name, ns)
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (u *UI) userDelete(w http.ResponseWriter, r *http.Request, p *page) {
	id, name := r.PathValue("id"), r.PostFormValue("name")
	if !u.confirmed(w, r, p, p.T("confirm.delete_user", name)) {
		return
	}
	if err := u.deps.API.DeleteUser(r.Context(), id); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.user_deleted", name)
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// userName names the user id for a message, or returns the id.
func (u *UI) userName(r *http.Request, id string) string {
	users, err := u.deps.API.ListUsers(r.Context())
	if err == nil {
		for _, usr := range users {
			if usr.ID == id {
				return usr.Name
			}
		}
	}
	return id
}
