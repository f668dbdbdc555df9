package storetest

import (
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseUser(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Prefs", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		if _, err := ex.UserInsert(ctx, &store.UserInsertParams{ID: "u1", Name: "alice", PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
		if p, err := ex.UserGetPrefs(ctx, &store.UserGetPrefsParams{ID: "u1"}); err != nil || *p != (store.UserPrefs{}) {
			t.Fatalf("UserGetPrefs(new user) = %+v, %v; want none chosen", p, err)
		}
		want := store.UserPrefs{Lang: "zh-CN", TimeZone: "Asia/Shanghai"}
		if n, err := ex.UserSetPrefs(ctx, &store.UserSetPrefsParams{ID: "u1", UserPrefs: want}); err != nil || n != 1 {
			t.Fatalf("UserSetPrefs = %d, %v; want 1", n, err)
		}
		if p, err := ex.UserGetPrefs(ctx, &store.UserGetPrefsParams{ID: "u1"}); err != nil || *p != want {
			t.Errorf("UserGetPrefs = %+v, %v; want %+v", p, err, want)
		}
		if n, err := ex.UserSetPrefs(ctx, &store.UserSetPrefsParams{ID: "nobody", UserPrefs: want}); err != nil || n != 0 {
			t.Errorf("UserSetPrefs(unknown) = %d, %v; want 0", n, err)
		}
		_, err := ex.UserGetPrefs(ctx, &store.UserGetPrefsParams{ID: "nobody"})
		checkErrIs(t, "UserGetPrefs(unknown)", err, store.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		for _, u := range []store.UserInsertParams{{ID: "u1", Name: "alice", PasswordHash: "h"}, {ID: "u2", Name: "bob", PasswordHash: "h"}} {
			if _, err := ex.UserInsert(ctx, &u); err != nil {
				t.Fatal(err)
			}
			if _, err := ex.GrantSet(ctx, &store.GrantSetParams{UserID: u.ID, Namespace: "prod", Role: model.RoleViewer}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ex.SessionInsert(ctx, &store.SessionInsertParams{Hash: []byte("s1"), UserID: "u1", CSRF: "c", ExpiresAt: *b.at(time.Hour), Now: &b.now}); err != nil {
			t.Fatal(err)
		}
		if n, err := ex.UserDelete(ctx, &store.UserDeleteParams{ID: "u1"}); err != nil || n != 1 {
			t.Fatalf("UserDelete = %d, %v; want 1", n, err)
		}
		_, err := ex.UserGetByID(ctx, &store.UserGetByIDParams{ID: "u1"})
		checkErrIs(t, "UserGetByID(deleted)", err, store.ErrNotFound)
		_, err = ex.SessionGet(ctx, &store.SessionGetParams{Hash: []byte("s1")})
		checkErrIs(t, "SessionGet(of deleted user)", err, store.ErrNotFound)
		if gs, err := ex.GrantList(ctx, &store.GrantListParams{UserID: "u1"}); err != nil || len(gs) != 0 {
			t.Errorf("GrantList(deleted user) = %v, %v; want none", gs, err)
		}
		// The other user keeps their grant.
		if gs, err := ex.GrantList(ctx, &store.GrantListParams{UserID: "u2"}); err != nil || len(gs) != 1 {
			t.Errorf("GrantList(bob) = %v, %v; want one", gs, err)
		}
		if n, err := ex.UserDelete(ctx, &store.UserDeleteParams{ID: "u1"}); err != nil || n != 0 {
			t.Errorf("UserDelete again = %d, %v; want 0", n, err)
		}
	})
}
