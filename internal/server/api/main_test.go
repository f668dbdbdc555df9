package api_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: live log follows
// run on request goroutines and must end with their request or the server.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// modernc's SQLite connection opener finishes shortly after Close.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}
