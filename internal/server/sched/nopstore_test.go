package sched

import "github.com/hetuflow/hetuflow/internal/store"

// nopStore satisfies store.Store for constructors in tests that exercise
// pure logic; calling any of its methods panics.
type nopStore struct{ store.Store }
