package pgstore_test

import (
	"testing"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/storetest"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestPGStore(t *testing.T) {
	t.Parallel()
	teststore.PGURL(t)
	storetest.Exercise(t, func(t *testing.T) store.Store { return teststore.Postgres(t) })
}
