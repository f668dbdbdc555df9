// Package teststore opens real, isolated stores for tests: a SQLite file in
// the test's temporary directory, or a fresh PostgreSQL schema on
// HETUFLOW_TEST_PG_URL that is dropped when the test ends.
package teststore

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore"
	"github.com/hetuflow/hetuflow/internal/store/pgstore"
)

// PGURLEnv names the variable holding the PostgreSQL test URL.
const PGURLEnv = "HETUFLOW_TEST_PG_URL"

// PGURL returns the PostgreSQL test URL. Without one the test fails under CI
// (CI must run the PostgreSQL tests) and is skipped elsewhere, saying why.
func PGURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PGURLEnv)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set; CI must run the PostgreSQL tests", PGURLEnv)
		}
		t.Skipf("%s is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests", PGURLEnv)
	}
	return u
}

// SQLite opens a migrated store in a new file under t.TempDir.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := litestore.Open(context.WithoutCancel(t.Context()), litestore.Config{Path: filepath.Join(t.TempDir(), "hetuflow.db"), Migrate: true}, nil)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Postgres opens a migrated store in a new schema.
func Postgres(t testing.TB) store.Store {
	t.Helper()
	base := PGURL(t)
	schema := Schema(t, base)
	s, err := pgstore.Open(context.WithoutCancel(t.Context()), pgstore.Config{URL: base, Schema: schema, Migrate: true, MaxConns: 8}, nil)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Schema creates a schema with a random name on the database at base and
// drops it, with everything in it, when the test ends.
func Schema(t testing.TB, base string) string {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := fmt.Sprintf("test_%x", b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// SchemaURL returns a URL for a new schema (see Schema) whose connections use
// it as their search_path, for processes that take only a URL.
func SchemaURL(t testing.TB) string {
	t.Helper()
	base := PGURL(t)
	schema := Schema(t, base)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PGURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Opener opens one kind of store for a test.
type Opener struct {
	Name string
	Open func(t testing.TB) store.Store
}

// Both lists the SQLite and PostgreSQL openers, for tests that run on each.
func Both() []Opener {
	return []Opener{{Name: "SQLite", Open: SQLite}, {Name: "Postgres", Open: Postgres}}
}
