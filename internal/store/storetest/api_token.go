package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseAPIToken(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("InsertAndGetByHash", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		hash := []byte{0x00, 0xff, 0x10, 0x80, 'h'}
		params := &store.APITokenInsertParams{
			ID: "tok-1", ExpiresAt: bundle.at(24 * time.Hour), Hash: hash, Kind: model.TokenAdmin, Name: "ci", Now: &bundle.now,
		}
		for _, what := range []string{"APITokenInsert", "APITokenGetByHash"} {
			var got *model.APIToken
			var err error
			if what == "APITokenInsert" {
				got, err = bundle.exec.APITokenInsert(ctx, params)
			} else {
				got, err = bundle.exec.APITokenGetByHash(ctx, &store.APITokenGetByHashParams{Hash: hash})
			}
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			checkUTC(t, what, &got.CreatedAt, got.ExpiresAt)
			if got.ID != "tok-1" || got.Name != "ci" || got.Kind != model.TokenAdmin || !bytes.Equal(got.Hash, hash) ||
				!sameTimePtr(got.ExpiresAt, params.ExpiresAt) || !sameTime(got.CreatedAt, bundle.now) || got.LastUsed != nil {
				t.Errorf("%s = %+v, want tok-1, ci, admin, %x, expires %v, created %v, never used", what, got, hash, *params.ExpiresAt, bundle.now)
			}
		}
	})

	t.Run("InsertWithoutExpiry", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		got, err := bundle.exec.APITokenInsert(ctx, &store.APITokenInsertParams{ID: "tok-1", Hash: []byte("h"), Kind: model.TokenAgent})
		if err != nil {
			t.Fatalf("APITokenInsert: %v", err)
		}
		if got.ExpiresAt != nil {
			t.Errorf("ExpiresAt = %s, want <nil>", fmtTime(got.ExpiresAt))
		}
	})

	t.Run("InsertDuplicateConflicts", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		if _, err := bundle.exec.APITokenInsert(ctx, &store.APITokenInsertParams{ID: "tok-1", Hash: []byte("h1"), Kind: model.TokenAdmin}); err != nil {
			t.Fatalf("APITokenInsert: %v", err)
		}
		_, err := bundle.exec.APITokenInsert(ctx, &store.APITokenInsertParams{ID: "tok-2", Hash: []byte("h1"), Kind: model.TokenAdmin})
		checkErrIs(t, "APITokenInsert(same hash)", err, store.ErrConflict)
		_, err = bundle.exec.APITokenInsert(ctx, &store.APITokenInsertParams{ID: "tok-1", Hash: []byte("h2"), Kind: model.TokenAdmin})
		checkErrIs(t, "APITokenInsert(same id)", err, store.ErrConflict)
	})

	t.Run("GetByHashNotFound", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		_, err := bundle.exec.APITokenGetByHash(ctx, &store.APITokenGetByHashParams{Hash: []byte("nope")})
		checkErrIs(t, "APITokenGetByHash(unknown)", err, store.ErrNotFound)
	})

	t.Run("CountByKind", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		for i, kind := range []model.TokenKind{model.TokenAdmin, model.TokenAgent, model.TokenAgent} {
			id := string(rune('a' + i))
			if _, err := bundle.exec.APITokenInsert(ctx, &store.APITokenInsertParams{ID: id, Hash: []byte(id), Kind: kind}); err != nil {
				t.Fatalf("APITokenInsert: %v", err)
			}
		}
		for kind, want := range map[model.TokenKind]int{model.TokenAdmin: 1, model.TokenAgent: 2, "other": 0} {
			n, err := bundle.exec.APITokenCount(ctx, &store.APITokenCountParams{Kind: kind})
			if err != nil || n != want {
				t.Errorf("APITokenCount(%s) = %d, %v, want %d, nil", kind, n, err, want)
			}
		}
	})
}
