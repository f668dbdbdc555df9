package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// flakyStore fails token lookups while down is set, as a restarting
// database does.
type flakyStore struct {
	store.Store
	down bool
}

func (f *flakyStore) AccessTokenGetByHash(ctx context.Context, p *store.AccessTokenGetByHashParams) (*model.AccessToken, error) {
	if f.down {
		return nil, errors.New("connection refused")
	}
	return f.Store.AccessTokenGetByHash(ctx, p)
}

func TestPrincipalCacheRevokeAndOutage(t *testing.T) {
	ctx := t.Context()
	st := &flakyStore{Store: teststore.SQLite(t)}
	tokens := NewTokens(st)
	now := time.Unix(1_000_000, 0)
	tokens.now = func() time.Time { return now }
	secret := Generate()
	tok, err := st.AccessTokenInsert(ctx, &store.AccessTokenInsertParams{ID: "t1", Name: "ci", Kind: model.AccessAPI, Hash: Hash(secret), Namespaces: []string{"a"}, Role: model.RoleEditor})
	if err != nil {
		t.Fatal(err)
	}
	p, err := tokens.Principal(ctx, secret)
	if err != nil || p.Kind != KindToken || !p.Can(model.RoleEditor, "a") || p.Can(model.RoleViewer, "b") {
		t.Fatalf("Principal = %+v, %v", p, err)
	}
	// The database goes away: a verification under ten seconds old stands.
	st.down = true
	now = now.Add(5 * time.Second)
	if _, err := tokens.Principal(ctx, secret); err != nil {
		t.Errorf("during an outage, 5 s after verifying: %v", err)
	}
	now = now.Add(10 * time.Second)
	if _, err := tokens.Principal(ctx, secret); err == nil || errors.Is(err, ErrUnauthorized) {
		t.Errorf("during an outage, 15 s after verifying: %v, want a store error", err)
	}
	// Back up: a revoke elsewhere is seen once the one-second cache ends.
	st.down = false
	if _, err := tokens.Principal(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccessTokenRevoke(ctx, &store.AccessTokenRevokeParams{ID: tok.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Principal(ctx, secret); err != nil {
		t.Errorf("within the cache second: %v, want the cached answer", err)
	}
	now = now.Add(principalTTL)
	if _, err := tokens.Principal(ctx, secret); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("a second after the revoke: %v, want ErrUnauthorized", err)
	}
}
