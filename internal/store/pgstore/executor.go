package pgstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// executor runs every query of store.Executor on db: the pool, or a
// transaction.
type executor struct {
	db dbsqlc.DBTX
	q  *dbsqlc.Queries
}

var _ store.Executor = (*executor)(nil)

// Limits used when a params struct leaves Limit at zero.
const (
	defaultBatchLimit = 1000
)

// pgUniqueViolation is the SQLSTATE of a unique_violation.
const pgUniqueViolation = "23505"

// interpretError maps driver errors to the store's sentinels: no rows is
// ErrNotFound, a unique violation ErrConflict (naming the constraint), a
// closed pool ErrClosed. Other errors are returned unchanged.
func interpretError(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation:
		return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
	case errors.Is(err, puddle.ErrClosedPool):
		return store.ErrClosed
	}
	return err
}

// batchLimit returns limit, or defaultBatchLimit when it is not positive.
func batchLimit(limit int) int32 {
	if limit <= 0 {
		return defaultBatchLimit
	}
	return int32(min(limit, 1<<31-1))
}

// pageLimit returns limit, or store.DefaultPageLimit when it is not positive.
func pageLimit(limit int) int {
	if limit <= 0 {
		return store.DefaultPageLimit
	}
	return limit
}

// zeroIfNil returns *t, or the zero time that the batch queries read as
// NULL.
func zeroIfNil(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
