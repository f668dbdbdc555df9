package server

import (
	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store"
)

// newLogs returns where task output lives: in the database unless the
// configuration asks for files under dir (SQLite only; see
// config.Server.LogStore). Servers sharing PostgreSQL must use the
// database, since an agent's output may reach any of them.
func newLogs(st store.Store, logStore, dir string) (*tasklog.Store, error) {
	if logStore == config.LogStoreFiles && st.Dialect() != "postgres" {
		return tasklog.New(dir)
	}
	return tasklog.NewDB(st), nil
}
