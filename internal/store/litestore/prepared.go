package litestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// SQLite spends more time parsing a statement than running a small one, and
// the driver parses on every call. So the store prepares its fixed queries
// once per pool, and the DBTX values below run a prepared statement whenever
// sqlc asks for one of those queries. Queries built at run time (lists,
// sqlc.slice expansions) are parsed per call; those the scheduler runs for
// every batch take their ids as one JSON array instead, so their text is
// fixed.

// readQueries are the fixed queries that only read.
func readQueries() []string {
	return []string{
		dbsqlc.AccessTokenGetByHash,
		dbsqlc.AgentGetByID,
		dbsqlc.AgentListStale,
		dbsqlc.APITokenCount,
		dbsqlc.APITokenGetByHash,
		dbsqlc.ScheduleListDue,
		dbsqlc.ScheduleListParked,
		dbsqlc.ServerGetByID,
		dbsqlc.SessionGet,
		dbsqlc.TaskClaimDueAt,
		dbsqlc.TaskClaimDuePriorities,
		dbsqlc.TaskInstanceListLeaseExpired,
		dbsqlc.TaskInstanceListLiveByAgent,
		dbsqlc.TaskListByID,
		dbsqlc.TaskLogChunkList,
		dbsqlc.TaskLogGetByInstanceID,
		dbsqlc.UserGetByID,
		// Scoped by a namespace list, which sqlc expands per call; the
		// form every unscoped caller (an admin, the scheduler) sends is
		// fixed, and the API reads a job for every schedule it creates.
		unscoped(dbsqlc.JobGetByID),
		unscoped(dbsqlc.ScheduleGetByID),
		unscoped(dbsqlc.TaskGetByID),
		unscoped(dbsqlc.TaskInstanceGetByID),
	}
}

// unscoped is query as sqlc sends it when every slice parameter is empty:
// each placeholder, /*SLICE:name*/?, expands to NULL.
func unscoped(query string) string {
	var b strings.Builder
	for {
		i := strings.Index(query, "/*SLICE:")
		j := strings.Index(query[max(i, 0):], "*/?")
		if i < 0 || j < 0 {
			break
		}
		b.WriteString(query[:i])
		b.WriteString("NULL")
		query = query[i+j+len("*/?"):]
	}
	b.WriteString(query)
	return b.String()
}

// writeQueries are the fixed queries that write.
func writeQueries() []string {
	return []string{
		dbsqlc.AgentHeartbeat,
		dbsqlc.AgentSetStatusIf,
		dbsqlc.AgentUpsert,
		dbsqlc.APITokenInsert,
		dbsqlc.AuditInsert,
		dbsqlc.JobInsert,
		dbsqlc.ScheduleAdvanceCursorMany,
		dbsqlc.ScheduleListByID,
		dbsqlc.ScheduleInsert,
		dbsqlc.ScheduleSetErrorIf,
		dbsqlc.ServerHeartbeat,
		dbsqlc.ServerUpsert,
		dbsqlc.TaskFinishMany,
		dbsqlc.TaskInsertMany,
		dbsqlc.TaskInstanceAckMany,
		dbsqlc.TaskInstanceFinishMany,
		dbsqlc.TaskInstanceListByID,
		dbsqlc.TaskInstanceInsertMany,
		dbsqlc.TaskInstanceStartMany,
		dbsqlc.TaskLogChunkInsertMany,
		dbsqlc.TaskLogChunkInsertManyRaise,
		dbsqlc.TaskLogChunkReplace,
		dbsqlc.TaskLogChunkReplaceDelete,
		dbsqlc.TaskLogUpsertMany,
		dbsqlc.TaskStartAttemptMany,
	}
}

// stmtSet maps query text to its statement prepared on one pool. It is
// filled before the store is shared and only read afterwards.
type stmtSet map[string]*sql.Stmt

// prepare prepares queries on db. It must run while no transaction holds
// the writer's only connection.
func prepare(ctx context.Context, db *sql.DB, queries ...[]string) (stmtSet, error) {
	set := stmtSet{}
	for _, qs := range queries {
		for _, q := range qs {
			stmt, err := db.PrepareContext(ctx, q)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("prepare statement: %w", err), set.close())
			}
			set[q] = stmt
		}
	}
	return set, nil
}

// close closes every statement.
func (s stmtSet) close() error {
	var errs []error
	for _, stmt := range s {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}

// preparedDB runs the prepared statements of a pool.
type preparedDB struct {
	*sql.DB
	stmts stmtSet
}

// ExecContext implements dbsqlc.DBTX.
func (p preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if stmt, ok := p.stmts[query]; ok {
		return stmt.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

// QueryContext implements dbsqlc.DBTX.
func (p preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if stmt, ok := p.stmts[query]; ok {
		return stmt.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext implements dbsqlc.DBTX.
func (p preparedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if stmt, ok := p.stmts[query]; ok {
		return stmt.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// preparedTx runs the writer's prepared statements in a transaction. The
// writer has one connection, so Tx.StmtContext finds each statement already
// prepared on it and does not parse it again.
type preparedTx struct {
	*sql.Tx
	stmts stmtSet
}

// ExecContext implements dbsqlc.DBTX.
func (p preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if stmt, ok := p.stmts[query]; ok {
		return p.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	}
	return p.Tx.ExecContext(ctx, query, args...)
}

// QueryContext implements dbsqlc.DBTX.
func (p preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if stmt, ok := p.stmts[query]; ok {
		return p.StmtContext(ctx, stmt).QueryContext(ctx, args...)
	}
	return p.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext implements dbsqlc.DBTX.
func (p preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if stmt, ok := p.stmts[query]; ok {
		return p.StmtContext(ctx, stmt).QueryRowContext(ctx, args...)
	}
	return p.Tx.QueryRowContext(ctx, query, args...)
}
