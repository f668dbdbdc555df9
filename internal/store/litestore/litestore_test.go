package litestore_test

import (
	"testing"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestLiteStore(t *testing.T) {
	t.Parallel()
	// A file per case: parallel tests sharing one SQLite file would queue on
	// its write lock.
	storetest.Exercise(t, func(t *testing.T) store.Store { return teststore.SQLite(t) })
}
