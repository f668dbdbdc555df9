package client_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/client"
)

func TestClientUsers(t *testing.T) {
	ctx := t.Context()
	c, url := securedClient(t)
	u, err := c.CreateUser(ctx, &client.UserSpec{Name: "bob", Password: "correct horse battery", Namespace: "team-a", Role: "viewer"})
	if err != nil || u.Name != "bob" || len(u.Grants) != 1 || u.Grants[0] != (client.UserGrant{Namespace: "team-a", Role: "viewer"}) {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	var ae *client.APIError
	if _, err := c.CreateUser(ctx, &client.UserSpec{Name: "bob", Password: "correct horse battery"}); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("CreateUser with a taken name: %v", err)
	}
	if _, err := c.CreateUser(ctx, &client.UserSpec{Name: "carol", Password: "short"}); !errors.As(err, &ae) || len(ae.Errors) != 1 || ae.Errors[0].Location != "body.password" {
		t.Errorf("CreateUser with a short password: %#v", err)
	}
	if _, err := c.CreateUser(ctx, &client.UserSpec{Name: "carol", Password: "correct horse battery", Role: "viewer"}); !errors.As(err, &ae) || len(ae.Errors) != 1 || ae.Errors[0].Location != "body.namespace" {
		t.Errorf("CreateUser with a role and no namespace: %#v", err)
	}
	if u, err = c.SetUserGrant(ctx, u.ID, "*", "operator"); err != nil || len(u.Grants) != 2 || u.Grants[0] != (client.UserGrant{Namespace: "*", Role: "operator"}) {
		t.Errorf("SetUserGrant = %+v, %v", u, err)
	}
	if u, err = c.RevokeUserGrant(ctx, u.ID, "team-a"); err != nil || len(u.Grants) != 1 || u.Grants[0].Namespace != "*" {
		t.Errorf("RevokeUserGrant = %+v, %v", u, err)
	}
	if err := c.SetUserPassword(ctx, u.ID, "another horse battery"); err != nil {
		t.Fatalf("SetUserPassword: %v", err)
	}
	anon, _ := client.New(url, client.WithRetries(0, 0))
	if _, err := anon.Login(ctx, "bob", "correct horse battery"); !client.IsUnauthorized(err) {
		t.Errorf("Login with the old password: %v", err)
	}
	s, err := anon.Login(ctx, "bob", "another horse battery")
	if err != nil {
		t.Fatalf("Login with the new password: %v", err)
	}
	bob, _ := client.New(url, client.WithSession(s), client.WithRetries(0, 0))
	list, err := c.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("ListUsers = %v, %v", list, err)
	}
	// Neither the password nor its hash is ever in an answer or the audit log.
	page, err := c.QueryAudit(ctx, &client.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Result {
		if strings.Contains(string(e.Diff), "horse") || strings.Contains(string(e.Diff), "argon2") {
			t.Errorf("audit entry %s holds a password: %s", e.Action, e.Diff)
		}
	}
	if err := c.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	// Their session ended with them.
	if _, err := bob.Me(ctx); !client.IsUnauthorized(err) {
		t.Errorf("Me of a deleted user's session: %v", err)
	}
	if err := c.DeleteUser(ctx, u.ID); !client.IsNotFound(err) {
		t.Errorf("DeleteUser again: %v", err)
	}
}

// TestClientUsersOwnAdmin: an admin cannot take away their own admin role
// on every namespace, nor delete themselves; another admin can.
func TestClientUsersOwnAdmin(t *testing.T) {
	ctx := t.Context()
	c, url := securedClient(t)
	root, err := c.CreateUser(ctx, &client.UserSpec{Name: "root", Password: "correct horse battery", Namespace: "*", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	anon, _ := client.New(url, client.WithRetries(0, 0))
	s, err := anon.Login(ctx, "root", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := client.New(url, client.WithSession(s), client.WithRetries(0, 0))
	var ae *client.APIError
	for name, call := range map[string]func() error{
		"SetUserGrant(*, viewer)": func() error { _, err := self.SetUserGrant(ctx, root.ID, "*", "viewer"); return err },
		"RevokeUserGrant(*)":      func() error { _, err := self.RevokeUserGrant(ctx, root.ID, "*"); return err },
		"DeleteUser(self)":        func() error { return self.DeleteUser(ctx, root.ID) },
	} {
		if err := call(); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
			t.Errorf("%s by themselves: %v; want 409", name, err)
		}
	}
	// Their own other grants and password are theirs to change.
	if _, err := self.SetUserGrant(ctx, root.ID, "team-a", "viewer"); err != nil {
		t.Errorf("SetUserGrant(team-a) by themselves: %v", err)
	}
	if u, err := c.RevokeUserGrant(ctx, root.ID, "*"); err != nil || len(u.Grants) != 1 {
		t.Errorf("RevokeUserGrant(*) by another admin = %+v, %v", u, err)
	}
}
