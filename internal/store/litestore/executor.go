package litestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// executor runs every query of store.Executor: reads on r, writes on w.
// On the store these are the reader and writer pools; in a transaction both
// are the transaction.
type executor struct {
	q *dbsqlc.Queries
	r dbsqlc.DBTX
	w dbsqlc.DBTX
	// writer starts the transaction a batch write runs in; nil inside a
	// transaction, where a savepoint is used instead.
	writer *sql.DB
	// wstmts are the statements prepared on the writer, for transactions.
	wstmts stmtSet
	// closed is shared with the store, so errors after Close read as
	// store.ErrClosed.
	closed *atomic.Bool
}

var _ store.Executor = (*executor)(nil)

// defaultBatchLimit is used when a params struct leaves Limit at zero.
const defaultBatchLimit = 1000

// interpretError maps driver errors to the store's sentinels: no rows is
// ErrNotFound, a unique or primary key violation ErrConflict, anything after
// Close ErrClosed. Other errors are returned unchanged.
func (e *executor) interpretError(err error) error {
	var liteErr *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.As(err, &liteErr) &&
		(liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		return fmt.Errorf("%w: %s", store.ErrConflict, liteErr.Error())
	case e.closed.Load():
		return store.ErrClosed
	}
	return err
}

// inWriteTx runs fn on a writer so that its statements apply together: in
// a new transaction on the writer pool, or, inside a transaction, under a
// savepoint that is rolled back if fn fails.
func (e *executor) inWriteTx(ctx context.Context, fn func(w dbsqlc.DBTX) error) (err error) {
	if e.writer == nil {
		if _, err := e.w.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				if _, rbErr := e.w.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO batch"); rbErr != nil {
					err = errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rbErr))
				}
			}
			if _, relErr := e.w.ExecContext(context.WithoutCancel(ctx), "RELEASE batch"); relErr != nil && err == nil {
				err = fmt.Errorf("release savepoint: %w", relErr)
			}
		}()
		return fn(e.w)
	}
	t, err := e.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(preparedTx{Tx: t, stmts: e.wstmts}); err != nil {
		if rbErr := t.Rollback(); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	return t.Commit()
}

// batchLimit returns limit, or defaultBatchLimit when it is not positive.
func batchLimit(limit int) int64 {
	if limit <= 0 {
		return defaultBatchLimit
	}
	return int64(limit)
}

// pageLimit returns limit, or store.DefaultPageLimit when it is not positive.
func pageLimit(limit int) int {
	if limit <= 0 {
		return store.DefaultPageLimit
	}
	return limit
}

// nowMicros returns *now, or the process clock when now is nil, in unix
// microseconds.
func nowMicros(now *time.Time) int64 {
	if now != nil {
		return now.UnixMicro()
	}
	return time.Now().UnixMicro()
}

// micros returns t in unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// microsPtr returns t in unix microseconds, or nil.
func microsPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	m := t.UnixMicro()
	return &m
}

// fromMicros returns unix microseconds as a UTC time.
func fromMicros(m int64) time.Time { return time.UnixMicro(m).UTC() }

// fromMicrosPtr returns unix microseconds as a UTC time, or nil.
func fromMicrosPtr(m *int64) *time.Time {
	if m == nil {
		return nil
	}
	t := fromMicros(*m)
	return &t
}

// finishedAt returns now when status is final, else nil.
func finishedAt(final bool, now int64) *int64 {
	if !final {
		return nil
	}
	return &now
}
