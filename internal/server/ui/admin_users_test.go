package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// TestAdminUsersManage: the users page creates a user, gives and takes
// roles, resets a password and deletes a user after a confirmation, with a
// result message each time; passwords are never shown, not even by a
// refused form.
func TestAdminUsersManage(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c := b.client(t)
	c.login(adminTok)
	const pw, pw2 = "correct horse battery", "another horse battery"

	// A refused form keeps the name, says why beside the field, and does
	// not send the password back.
	resp, body := c.post("/admin/users", "/admin/users", url.Values{"name": {"bob"}, "password": {"short-pw"}, "role": {"viewer"}, "namespace": {"team-a"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) || !strings.Contains(body, `value="bob"`) || strings.Contains(body, "short-pw") {
		t.Fatalf("short password: %d, or no field error, or the password is shown", resp.StatusCode)
	}
	resp, _ = c.post("/admin/users", "/admin/users", url.Values{"name": {"bob"}, "password": {pw}, "role": {"viewer"}, "namespace": {"team-a"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/users" {
		t.Fatalf("create: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = c.get("/admin/users")
	if !strings.Contains(body, "User bob created.") || !strings.Contains(body, `<tr data-user="bob">`) || !strings.Contains(body, "<code>team-a</code> viewer") {
		t.Fatal("no result message, or bob and his role are not listed")
	}
	usr, err := b.st.UserGetByName(t.Context(), &store.UserGetByNameParams{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.VerifyPassword(pw, usr.PasswordHash); !ok {
		t.Fatal("bob's password is not the one given")
	}
	resp, body = c.post("/admin/users", "/admin/users", url.Values{"name": {"bob"}, "password": {pw}})
	if resp.StatusCode != http.StatusConflict || strings.Contains(body, pw) {
		t.Errorf("taken name: %d, or the password is shown", resp.StatusCode)
	}

	resp, _ = c.post("/admin/users", "/admin/users/grant", url.Values{"user": {usr.ID}, "namespace": {"*"}, "role": {"operator"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("grant: %d", resp.StatusCode)
	}
	if _, body = c.get("/admin/users"); !strings.Contains(body, "bob is now operator in *.") || !strings.Contains(body, "<code>*</code> operator") {
		t.Error("no result message for the grant, or the role is not listed")
	}
	resp, body = c.post("/admin/users", "/admin/users/grant", url.Values{"user": {usr.ID}, "namespace": {"bad ns!"}, "role": {"viewer"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) || !strings.Contains(body, `value="bad ns!"`) {
		t.Errorf("bad namespace: %d, or no field error", resp.StatusCode)
	}
	resp, _ = c.post("/admin/users", "/admin/users/"+usr.ID+"/revoke", url.Values{"namespace": {"team-a"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, body = c.get("/admin/users"); !strings.Contains(body, "Role of bob in team-a revoked.") || strings.Contains(body, "<code>team-a</code>") {
		t.Error("no result message for the revoke, or the role is still listed")
	}
	gs, _ := b.st.GrantList(t.Context(), &store.GrantListParams{UserID: usr.ID})
	if len(gs) != 1 || gs[0].Namespace != "*" || gs[0].Role != model.RoleOperator {
		t.Errorf("grants = %v; want * operator", gs)
	}

	resp, body = c.post("/admin/users", "/admin/users/password", url.Values{"user": {usr.ID}, "password": {"tiny"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) || strings.Contains(body, `value="tiny"`) {
		t.Errorf("short new password: %d, or no field error, or it is shown", resp.StatusCode)
	}
	resp, _ = c.post("/admin/users", "/admin/users/password", url.Values{"user": {usr.ID}, "password": {pw2}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password: %d", resp.StatusCode)
	}
	if _, body = c.get("/admin/users"); !strings.Contains(body, "Password of bob set.") {
		t.Error("no result message for the password")
	}
	usr, _ = b.st.UserGetByName(t.Context(), &store.UserGetByNameParams{Name: "bob"})
	if ok, _ := auth.VerifyPassword(pw2, usr.PasswordHash); !ok {
		t.Error("the new password does not work")
	}
	for _, p := range []string{"/admin/users", "/admin/audit"} {
		if _, body := c.get(p); strings.Contains(body, pw) || strings.Contains(body, pw2) || strings.Contains(body, "argon2") {
			t.Errorf("%s shows a password or its hash", p)
		}
	}

	// Without JavaScript, delete asks first; the answer deletes.
	resp, body = c.post("/admin/users", "/admin/users/"+usr.ID+"/delete", url.Values{"name": {"bob"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Delete user bob with their roles and sessions?") {
		t.Fatalf("delete without confirmation: %d", resp.StatusCode)
	}
	if _, err := b.st.UserGetByID(t.Context(), &store.UserGetByIDParams{ID: usr.ID}); err != nil {
		t.Fatal("bob was deleted before the confirmation")
	}
	resp, _ = c.post("/admin/users", "/admin/users/"+usr.ID+"/delete", url.Values{"name": {"bob"}, "confirmed": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, body = c.get("/admin/users"); !strings.Contains(body, "User bob deleted.") || strings.Contains(body, `data-user="bob"`) {
		t.Error("no result message for the delete, or bob is still listed")
	}
	// The audit log has every change, named by operation.
	_, body = c.get("/admin/audit")
	for _, op := range []string{"create-user", "set-user-grant", "revoke-user-grant", "set-user-password", "delete-user"} {
		if !strings.Contains(body, op) {
			t.Errorf("audit log lacks %s", op)
		}
	}
}

// TestAdminUsersChinese: the users page and its messages are in Chinese
// too.
func TestAdminUsersChinese(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c := b.client(t)
	c.login(adminTok)
	c.lang = "zh-CN"
	resp, _ := c.post("/admin/users", "/admin/users", url.Values{"name": {"carol"}, "password": {"correct horse battery"}, "role": {"editor"}, "namespace": {"team-a"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	_, body := c.get("/admin/users")
	for _, w := range []string{"用户 carol 已创建。", "新建用户", "授予角色", "重置密码", "编辑者"} {
		if !strings.Contains(body, w) {
			t.Errorf("the Chinese users page lacks %q", w)
		}
	}
}

// TestAdminUsersActionsNeedAdmin: to anyone but an admin the users
// page's actions do not exist.
func TestAdminUsersActionsNeedAdmin(t *testing.T) {
	t.Parallel()
	b := setupAdmin(t)
	c := b.client(t)
	c.login(viewerTok)
	for _, p := range []string{"/admin/users", "/admin/users/grant", "/admin/users/password", "/admin/users/u1/revoke", "/admin/users/u1/delete"} {
		resp, _ := c.post("/", p, url.Values{"name": {"mallory"}, "password": {"correct horse battery"}, "user": {"u1"}, "namespace": {"*"}, "role": {"admin"}, "confirmed": {"1"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("viewer POST %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if n, _ := b.st.UserCount(t.Context()); n != 0 {
		t.Errorf("%d users after a viewer's attempts", n)
	}
}
