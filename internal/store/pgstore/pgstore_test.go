package pgstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
)

func TestPGStore(t *testing.T) {
	t.Parallel()
	url := os.Getenv("HETUFLOW_TEST_PG_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("HETUFLOW_TEST_PG_URL is not set; CI must run the PostgreSQL suite")
		}
		t.Skip("HETUFLOW_TEST_PG_URL is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL suite")
	}
	storetest.Exercise(t, func(t *testing.T) store.Store {
		return openSchema(t, url)
	})
}

// openSchema opens a store in a new schema with a random name, migrated, and
// drops the schema when the test ends.
func openSchema(t *testing.T, url string) store.Store {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	schema := fmt.Sprintf("storetest_%x", randomBytes(t, 8))
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("connect to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	s, err := pgstore.Open(ctx, pgstore.Config{URL: url, Schema: schema, Migrate: true, MaxConns: 4}, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("read random bytes: %v", err)
	}
	return b
}
