package storetest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseAgentSecurity(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("EnrollTokenOneTimeUsedOnce", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		tok, err := bundle.exec.EnrollTokenInsert(ctx, &store.EnrollTokenInsertParams{
			ID: "et-1", Name: "rack 4", Hash: []byte("h1"), Labels: "env=prod", ExpiresAt: bundle.now.Add(time.Hour), Now: &bundle.now,
		})
		if err != nil {
			t.Fatalf("EnrollTokenInsert: %v", err)
		}
		checkUTC(t, "EnrollTokenInsert", &tok.CreatedAt, &tok.ExpiresAt)
		if tok.ID != "et-1" || tok.Name != "rack 4" || tok.Reusable || tok.Labels != "env=prod" || tok.Uses != 0 || tok.RevokedAt != nil ||
			!sameTime(tok.ExpiresAt, bundle.now.Add(time.Hour)) || !sameTime(tok.CreatedAt, bundle.now) {
			t.Errorf("EnrollTokenInsert = %+v", tok)
		}
		// Many at once: exactly one wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if _, err := bundle.exec.EnrollTokenUse(ctx, &store.EnrollTokenUseParams{Hash: []byte("h1"), Now: bundle.now}); err == nil {
					wins.Add(1)
				} else {
					checkErrIs(t, "EnrollTokenUse(used)", err, store.ErrNotFound)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("one-time token used %d times, want 1", wins.Load())
		}
		got, err := bundle.exec.EnrollTokenGetByHash(ctx, &store.EnrollTokenGetByHashParams{Hash: []byte("h1")})
		if err != nil || got.Uses != 1 {
			t.Errorf("EnrollTokenGetByHash = %+v, %v; want 1 use", got, err)
		}
	})

	t.Run("EnrollTokenReusableExpiresAndRevokes", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		for _, id := range []string{"a", "b"} {
			if _, err := bundle.exec.EnrollTokenInsert(ctx, &store.EnrollTokenInsertParams{
				ID: id, Hash: []byte(id), Reusable: true, ExpiresAt: bundle.now.Add(time.Hour), Now: &bundle.now,
			}); err != nil {
				t.Fatalf("EnrollTokenInsert: %v", err)
			}
		}
		for i := 1; i <= 3; i++ {
			got, err := bundle.exec.EnrollTokenUse(ctx, &store.EnrollTokenUseParams{Hash: []byte("a"), Now: bundle.now})
			if err != nil || got.Uses != i || !got.Reusable {
				t.Fatalf("EnrollTokenUse #%d = %+v, %v", i, got, err)
			}
		}
		_, err := bundle.exec.EnrollTokenUse(ctx, &store.EnrollTokenUseParams{Hash: []byte("a"), Now: bundle.now.Add(time.Hour)})
		checkErrIs(t, "EnrollTokenUse(at expiry)", err, store.ErrNotFound)
		later := bundle.now.Add(time.Minute)
		rev, err := bundle.exec.EnrollTokenRevoke(ctx, &store.EnrollTokenRevokeParams{ID: "b", Now: &later})
		if err != nil || rev.RevokedAt == nil || !sameTime(*rev.RevokedAt, later) {
			t.Fatalf("EnrollTokenRevoke = %+v, %v", rev, err)
		}
		_, err = bundle.exec.EnrollTokenUse(ctx, &store.EnrollTokenUseParams{Hash: []byte("b"), Now: bundle.now})
		checkErrIs(t, "EnrollTokenUse(revoked)", err, store.ErrNotFound)
		_, err = bundle.exec.EnrollTokenRevoke(ctx, &store.EnrollTokenRevokeParams{ID: "nope"})
		checkErrIs(t, "EnrollTokenRevoke(unknown)", err, store.ErrNotFound)
		list, err := bundle.exec.EnrollTokenList(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("EnrollTokenList = %d tokens, %v; want 2", len(list), err)
		}
		_, err = bundle.exec.EnrollTokenInsert(ctx, &store.EnrollTokenInsertParams{ID: "c", Hash: []byte("a"), ExpiresAt: bundle.now})
		checkErrIs(t, "EnrollTokenInsert(same hash)", err, store.ErrConflict)
	})

	t.Run("AgentCredential", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		c, err := bundle.exec.AgentCredentialInsert(ctx, &store.AgentCredentialInsertParams{AgentID: "ag-1", Hash: []byte("c1"), EnrollTokenID: "et", Labels: "env=prod", Now: &bundle.now})
		if err != nil {
			t.Fatalf("AgentCredentialInsert: %v", err)
		}
		checkUTC(t, "AgentCredentialInsert", &c.CreatedAt)
		if c.AgentID != "ag-1" || c.EnrollTokenID != "et" || c.Labels != "env=prod" || !bytes.Equal(c.Hash, []byte("c1")) || c.RevokedAt != nil || !sameTime(c.CreatedAt, bundle.now) {
			t.Errorf("AgentCredentialInsert = %+v", c)
		}
		_, err = bundle.exec.AgentCredentialInsert(ctx, &store.AgentCredentialInsertParams{AgentID: "ag-1", Hash: []byte("c2")})
		checkErrIs(t, "AgentCredentialInsert(same agent)", err, store.ErrConflict)
		got, err := bundle.exec.AgentCredentialGetByHash(ctx, &store.AgentCredentialGetByHashParams{Hash: []byte("c1")})
		if err != nil || got.AgentID != "ag-1" || got.Labels != "env=prod" {
			t.Fatalf("AgentCredentialGetByHash = %+v, %v", got, err)
		}
		_, err = bundle.exec.AgentCredentialGetByHash(ctx, &store.AgentCredentialGetByHashParams{Hash: []byte("zz")})
		checkErrIs(t, "AgentCredentialGetByHash(unknown)", err, store.ErrNotFound)
		at := bundle.now.Add(time.Minute)
		rev, err := bundle.exec.AgentCredentialRevoke(ctx, &store.AgentCredentialRevokeParams{AgentID: "ag-1", Now: &at})
		if err != nil || rev.RevokedAt == nil || !sameTime(*rev.RevokedAt, at) {
			t.Fatalf("AgentCredentialRevoke = %+v, %v", rev, err)
		}
		// A second revocation keeps the first time.
		at2 := at.Add(time.Minute)
		rev, err = bundle.exec.AgentCredentialRevoke(ctx, &store.AgentCredentialRevokeParams{AgentID: "ag-1", Now: &at2})
		if err != nil || !sameTime(*rev.RevokedAt, at) {
			t.Fatalf("AgentCredentialRevoke again = %+v, %v", rev, err)
		}
		_, err = bundle.exec.AgentCredentialRevoke(ctx, &store.AgentCredentialRevokeParams{AgentID: "nope"})
		checkErrIs(t, "AgentCredentialRevoke(unknown)", err, store.ErrNotFound)
	})

	t.Run("Secret", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		s, err := bundle.exec.SecretUpsert(ctx, &store.SecretUpsertParams{Namespace: "ns", Name: "db", KeyID: "k1", Nonce: []byte("n1"), Ciphertext: []byte("c1"), Now: &bundle.now})
		if err != nil {
			t.Fatalf("SecretUpsert: %v", err)
		}
		checkUTC(t, "SecretUpsert", &s.CreatedAt, &s.UpdatedAt)
		later := bundle.now.Add(time.Hour)
		s, err = bundle.exec.SecretUpsert(ctx, &store.SecretUpsertParams{Namespace: "ns", Name: "db", KeyID: "k2", Nonce: []byte("n2"), Ciphertext: []byte("c2"), Now: &later})
		if err != nil {
			t.Fatalf("SecretUpsert(replace): %v", err)
		}
		if s.KeyID != "k2" || !bytes.Equal(s.Nonce, []byte("n2")) || !bytes.Equal(s.Ciphertext, []byte("c2")) || !sameTime(s.CreatedAt, bundle.now) || !sameTime(s.UpdatedAt, later) {
			t.Errorf("SecretUpsert(replace) = %+v", s)
		}
		if _, err := bundle.exec.SecretUpsert(ctx, &store.SecretUpsertParams{Namespace: "ns", Name: "api", KeyID: "k1", Nonce: []byte("n"), Ciphertext: []byte("c")}); err != nil {
			t.Fatalf("SecretUpsert: %v", err)
		}
		if _, err := bundle.exec.SecretUpsert(ctx, &store.SecretUpsertParams{Namespace: "other", Name: "db", KeyID: "k1", Nonce: []byte("n"), Ciphertext: []byte("c")}); err != nil {
			t.Fatalf("SecretUpsert: %v", err)
		}
		list, err := bundle.exec.SecretList(ctx, &store.SecretListParams{Namespace: "ns"})
		if err != nil || len(list) != 2 || list[0].Name != "api" || list[1].Name != "db" {
			t.Fatalf("SecretList = %+v, %v; want api, db", list, err)
		}
		got, err := bundle.exec.SecretGet(ctx, &store.SecretGetParams{Namespace: "other", Name: "db"})
		if err != nil || got.Namespace != "other" {
			t.Fatalf("SecretGet = %+v, %v", got, err)
		}
		if err := bundle.exec.SecretDelete(ctx, &store.SecretDeleteParams{Namespace: "ns", Name: "db"}); err != nil {
			t.Fatalf("SecretDelete: %v", err)
		}
		checkErrIs(t, "SecretDelete(again)", bundle.exec.SecretDelete(ctx, &store.SecretDeleteParams{Namespace: "ns", Name: "db"}), store.ErrNotFound)
		_, err = bundle.exec.SecretGet(ctx, &store.SecretGetParams{Namespace: "ns", Name: "db"})
		checkErrIs(t, "SecretGet(deleted)", err, store.ErrNotFound)
	})
}
