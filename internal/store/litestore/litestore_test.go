package litestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
)

func TestLiteStore(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) store.Store {
		// A file per case: parallel tests sharing one SQLite file would
		// queue on its write lock.
		path := filepath.Join(t.TempDir(), "hetuflow.db")
		s, err := litestore.Open(context.WithoutCancel(t.Context()), litestore.Config{Path: path, Migrate: true}, nil)
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(s.Close)
		return s
	})
}
