package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseSecurity(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Users", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		if n, err := ex.UserCount(ctx); err != nil || n != 0 {
			t.Fatalf("UserCount = %d, %v; want 0", n, err)
		}
		u, err := ex.UserInsert(ctx, &store.UserInsertParams{ID: "u1", Name: "alice", PasswordHash: "$argon2id$x", Now: &b.now})
		if err != nil {
			t.Fatalf("UserInsert: %v", err)
		}
		checkUTC(t, "UserInsert", &u.CreatedAt, &u.UpdatedAt)
		if u.Name != "alice" || u.PasswordHash != "$argon2id$x" || !sameTime(u.CreatedAt, b.now) {
			t.Errorf("UserInsert = %+v", u)
		}
		_, err = ex.UserInsert(ctx, &store.UserInsertParams{ID: "u2", Name: "alice", PasswordHash: "h"})
		checkErrIs(t, "UserInsert(same name)", err, store.ErrConflict)
		if _, err := ex.UserInsert(ctx, &store.UserInsertParams{ID: "u0", Name: "bob", PasswordHash: "h"}); err != nil {
			t.Fatalf("UserInsert bob: %v", err)
		}
		got, err := ex.UserGetByName(ctx, &store.UserGetByNameParams{Name: "alice"})
		if err != nil || got.ID != "u1" {
			t.Errorf("UserGetByName = %+v, %v", got, err)
		}
		_, err = ex.UserGetByName(ctx, &store.UserGetByNameParams{Name: "carol"})
		checkErrIs(t, "UserGetByName(unknown)", err, store.ErrNotFound)
		got, err = ex.UserSetPassword(ctx, &store.UserSetPasswordParams{ID: "u1", PasswordHash: "new", Now: b.at(time.Hour)})
		if err != nil || got.PasswordHash != "new" || !sameTime(got.UpdatedAt, *b.at(time.Hour)) {
			t.Errorf("UserSetPassword = %+v, %v", got, err)
		}
		_, err = ex.UserSetPassword(ctx, &store.UserSetPasswordParams{ID: "nope", PasswordHash: "new"})
		checkErrIs(t, "UserSetPassword(unknown)", err, store.ErrNotFound)
		got, err = ex.UserGetByID(ctx, &store.UserGetByIDParams{ID: "u1"})
		if err != nil || got.PasswordHash != "new" {
			t.Errorf("UserGetByID = %+v, %v", got, err)
		}
		list, err := ex.UserList(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
			t.Errorf("UserList = %v, %v; want alice, bob", list, err)
		}
	})

	t.Run("Grants", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		if _, err := ex.UserInsert(ctx, &store.UserInsertParams{ID: "u1", Name: "alice", PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
		for _, g := range []store.GrantSetParams{{UserID: "u1", Namespace: "prod", Role: model.RoleViewer}, {UserID: "u1", Namespace: "*", Role: model.RoleViewer}, {UserID: "u1", Namespace: "prod", Role: model.RoleEditor}} {
			if _, err := ex.GrantSet(ctx, &g); err != nil {
				t.Fatalf("GrantSet(%+v): %v", g, err)
			}
		}
		gs, err := ex.GrantList(ctx, &store.GrantListParams{UserID: "u1"})
		if err != nil || len(gs) != 2 || gs[0].Namespace != "*" || gs[1].Namespace != "prod" || gs[1].Role != model.RoleEditor {
			t.Errorf("GrantList = %v, %v; want * viewer, prod editor", gs, err)
		}
		if n, err := ex.GrantDelete(ctx, &store.GrantDeleteParams{UserID: "u1", Namespace: "*"}); err != nil || n != 1 {
			t.Errorf("GrantDelete = %d, %v; want 1", n, err)
		}
		gs, _ = ex.GrantList(ctx, &store.GrantListParams{UserID: "u1"})
		if len(gs) != 1 {
			t.Errorf("GrantList after delete = %v", gs)
		}
	})

	t.Run("Sessions", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		if _, err := ex.UserInsert(ctx, &store.UserInsertParams{ID: "u1", Name: "alice", PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
		s, err := ex.SessionInsert(ctx, &store.SessionInsertParams{Hash: []byte("s1"), UserID: "u1", CSRF: "c", ExpiresAt: *b.at(12 * time.Hour), Now: &b.now})
		if err != nil {
			t.Fatalf("SessionInsert: %v", err)
		}
		checkUTC(t, "SessionInsert", &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
		if !bytes.Equal(s.Hash, []byte("s1")) || s.CSRF != "c" || !sameTime(s.LastSeenAt, b.now) || !sameTime(s.ExpiresAt, *b.at(12 * time.Hour)) {
			t.Errorf("SessionInsert = %+v", s)
		}
		if _, err := ex.SessionInsert(ctx, &store.SessionInsertParams{Hash: []byte("s2"), UserID: "u1", CSRF: "c", ExpiresAt: *b.at(12 * time.Hour), Now: &b.now}); err != nil {
			t.Fatal(err)
		}
		if n, err := ex.SessionTouch(ctx, &store.SessionTouchParams{Hash: []byte("s1"), Now: b.at(time.Hour)}); err != nil || n != 1 {
			t.Errorf("SessionTouch = %d, %v", n, err)
		}
		s, err = ex.SessionGet(ctx, &store.SessionGetParams{Hash: []byte("s1")})
		if err != nil || !sameTime(s.LastSeenAt, *b.at(time.Hour)) {
			t.Errorf("SessionGet = %+v, %v", s, err)
		}
		// s2 was idle since now; s1 was seen an hour later.
		if n, err := ex.SessionDeleteExpired(ctx, &store.SessionDeleteExpiredParams{IdleBefore: *b.at(time.Minute), Now: b.at(2 * time.Hour)}); err != nil || n != 1 {
			t.Errorf("SessionDeleteExpired = %d, %v; want 1", n, err)
		}
		_, err = ex.SessionGet(ctx, &store.SessionGetParams{Hash: []byte("s2")})
		checkErrIs(t, "SessionGet(expired)", err, store.ErrNotFound)
		// Past the absolute expiry, however recently seen.
		if n, err := ex.SessionDeleteExpired(ctx, &store.SessionDeleteExpiredParams{IdleBefore: b.now, Now: b.at(12 * time.Hour)}); err != nil || n != 1 {
			t.Errorf("SessionDeleteExpired(absolute) = %d, %v; want 1", n, err)
		}
		if n, err := ex.SessionDelete(ctx, &store.SessionDeleteParams{Hash: []byte("s1")}); err != nil || n != 0 {
			t.Errorf("SessionDelete(gone) = %d, %v; want 0", n, err)
		}
	})

	t.Run("AccessTokens", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		tok, err := ex.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{
			ID: "t1", Name: "ci", Kind: model.AccessAPI, Hash: []byte("h1"), Namespaces: []string{"prod", "dev"},
			Role: model.RoleOperator, CreatedBy: "alice", ExpiresAt: b.at(time.Hour), Now: &b.now,
		})
		if err != nil {
			t.Fatalf("AccessTokenInsert: %v", err)
		}
		if !slices.Equal(tok.Namespaces, []string{"prod", "dev"}) || tok.Role != model.RoleOperator || tok.CreatedBy != "alice" ||
			!sameTimePtr(tok.ExpiresAt, b.at(time.Hour)) || tok.RevokedAt != nil || tok.LastUsedAt != nil {
			t.Errorf("AccessTokenInsert = %+v", tok)
		}
		_, err = ex.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{ID: "t2", Kind: model.AccessAPI, Hash: []byte("h1")})
		checkErrIs(t, "AccessTokenInsert(same hash)", err, store.ErrConflict)
		if _, err := ex.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{ID: "s1", Kind: model.AccessSetup, Hash: []byte("setup"), ExpiresAt: b.at(time.Hour), Now: &b.now}); err != nil {
			t.Fatal(err)
		}
		if n, err := ex.AccessTokenCount(ctx, &store.AccessTokenCountParams{Kind: model.AccessSetup}); err != nil || n != 1 {
			t.Errorf("AccessTokenCount = %d, %v", n, err)
		}
		list, err := ex.AccessTokenList(ctx, &store.AccessTokenListParams{Kind: model.AccessAPI})
		if err != nil || len(list) != 1 || list[0].ID != "t1" {
			t.Errorf("AccessTokenList = %v, %v", list, err)
		}
		if n, err := ex.AccessTokenTouch(ctx, &store.AccessTokenTouchParams{ID: "t1", Now: b.at(time.Minute)}); err != nil || n != 1 {
			t.Errorf("AccessTokenTouch = %d, %v", n, err)
		}
		r, err := ex.AccessTokenRevoke(ctx, &store.AccessTokenRevokeParams{ID: "t1", Now: b.at(2 * time.Minute)})
		if err != nil || !sameTimePtr(r.RevokedAt, b.at(2*time.Minute)) || !sameTimePtr(r.LastUsedAt, b.at(time.Minute)) {
			t.Errorf("AccessTokenRevoke = %+v, %v", r, err)
		}
		r, err = ex.AccessTokenRevoke(ctx, &store.AccessTokenRevokeParams{ID: "t1", Now: b.at(time.Hour)})
		if err != nil || !sameTimePtr(r.RevokedAt, b.at(2*time.Minute)) {
			t.Errorf("AccessTokenRevoke again = %+v, %v; want the first time kept", r, err)
		}
		_, err = ex.AccessTokenRevoke(ctx, &store.AccessTokenRevokeParams{ID: "nope"})
		checkErrIs(t, "AccessTokenRevoke(unknown)", err, store.ErrNotFound)
		got, err := ex.AccessTokenGetByHash(ctx, &store.AccessTokenGetByHashParams{Hash: []byte("h1")})
		if err != nil || got.RevokedAt == nil {
			t.Errorf("AccessTokenGetByHash = %+v, %v", got, err)
		}
		// One-time tokens: the wrong kind, an expired one and a second use
		// all fail.
		_, err = ex.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: []byte("setup"), Kind: model.AccessLogin, Now: &b.now})
		checkErrIs(t, "AccessTokenConsume(wrong kind)", err, store.ErrNotFound)
		_, err = ex.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: []byte("setup"), Kind: model.AccessSetup, Now: b.at(time.Hour)})
		checkErrIs(t, "AccessTokenConsume(expired)", err, store.ErrNotFound)
		c, err := ex.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: []byte("setup"), Kind: model.AccessSetup, Now: &b.now})
		if err != nil || c.ID != "s1" {
			t.Errorf("AccessTokenConsume = %+v, %v", c, err)
		}
		_, err = ex.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: []byte("setup"), Kind: model.AccessSetup, Now: &b.now})
		checkErrIs(t, "AccessTokenConsume(twice)", err, store.ErrNotFound)
		_, err = ex.AccessTokenConsume(ctx, &store.AccessTokenConsumeParams{Hash: []byte("h1"), Kind: model.AccessAPI, Now: &b.now})
		checkErrIs(t, "AccessTokenConsume(revoked)", err, store.ErrNotFound)
	})

	t.Run("Audit", func(t *testing.T) {
		t.Parallel()
		ctx, b := setup(t, open)
		ex := b.exec
		for i, p := range []store.AuditInsertParams{
			{At: &b.now, Actor: "alice", ActorKind: "user", Action: "job.create", ObjectType: "job", ObjectID: "j1", Namespace: "prod", RemoteAddr: "10.0.0.1", RequestID: "r1", Diff: []byte(`{"name":"x"}`)},
			{At: b.at(time.Minute), Actor: "bob", ActorKind: "user", Action: "login.failed", RemoteAddr: "10.0.0.2"},
			{At: b.at(2 * time.Minute), Actor: "alice", ActorKind: "user", Action: "job.delete", ObjectType: "job", ObjectID: "j1", Namespace: "dev"},
		} {
			e, err := ex.AuditInsert(ctx, &p)
			if err != nil {
				t.Fatalf("AuditInsert %d: %v", i, err)
			}
			if i == 0 && (e.ID == 0 || string(e.Diff) != `{"name":"x"}` || e.RequestID != "r1" || !sameTime(e.At, b.now)) {
				t.Errorf("AuditInsert = %+v", e)
			}
			// What the insert returns is the stored entry, its id included.
			stored, err := ex.AuditList(ctx, &store.AuditListParams{Action: p.Action})
			if err != nil || len(stored) != 1 || stored[0].ID != e.ID || stored[0].Actor != e.Actor || stored[0].Namespace != e.Namespace {
				t.Errorf("AuditList(%s) = %+v, %v; want the entry AuditInsert returned, %+v", p.Action, stored, err, e)
			}
		}
		actions := func(p store.AuditListParams) []string {
			t.Helper()
			es, err := ex.AuditList(ctx, &p)
			if err != nil {
				t.Fatalf("AuditList(%+v): %v", p, err)
			}
			var out []string
			for _, e := range es {
				out = append(out, e.Action)
			}
			return out
		}
		for _, c := range []struct {
			p    store.AuditListParams
			want []string
		}{
			{store.AuditListParams{}, []string{"job.delete", "login.failed", "job.create"}},
			{store.AuditListParams{Actor: "alice"}, []string{"job.delete", "job.create"}},
			{store.AuditListParams{Namespace: "prod"}, []string{"job.create"}},
			{store.AuditListParams{Action: "login.failed"}, []string{"login.failed"}},
			{store.AuditListParams{From: b.at(time.Minute), To: b.at(2 * time.Minute)}, []string{"login.failed"}},
			{store.AuditListParams{Limit: 1, Offset: 1}, []string{"login.failed"}},
		} {
			if got := actions(c.p); !slices.Equal(got, c.want) {
				t.Errorf("AuditList(%+v) = %v, want %v", c.p, got, c.want)
			}
		}
		if n, err := ex.AuditDeleteBefore(ctx, &store.AuditDeleteBeforeParams{Before: *b.at(time.Minute)}); err != nil || n != 1 {
			t.Errorf("AuditDeleteBefore = %d, %v; want 1", n, err)
		}
		if got := actions(store.AuditListParams{}); len(got) != 2 {
			t.Errorf("AuditList after purge = %v", got)
		}
	})
}
