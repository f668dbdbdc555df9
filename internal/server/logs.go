package server

import (
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
)

// newLogs returns where task output lives: with PostgreSQL, in the database,
// since servers share it and an agent's output may reach any of them (its
// followers may be on any other); with SQLite, the only server keeps files
// under dir.
func newLogs(st store.Store, dir string) (*tasklog.Store, error) {
	if st.Dialect() == "postgres" {
		return tasklog.NewDB(st), nil
	}
	return tasklog.New(dir)
}
