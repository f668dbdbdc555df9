package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hetuflow/hetuflow/internal/store"
)

// tx is a transaction on one pooled connection. Its executor runs every
// query through the tx itself (it is the executor's dbsqlc.DBTX), so that
// BEGIN goes out with the first statement, pipelined in one round trip: a
// transaction of n statements costs n+1 round trips, not n+2. Round trips
// are most of a statement's cost on a small machine (each one wakes the
// database and then this process), and every scheduler pass is a
// transaction. A transaction that ran no statement sends nothing.
type tx struct {
	executor
	conn     *pgxpool.Conn
	begun    bool        // BEGIN was sent
	closed   bool        // committed or rolled back; the connection is released
	atCommit []statement // sent with COMMIT (AtCommit)
}

// statement is a statement's text and arguments, to send later.
type statement struct {
	sql  string
	args []any
}

// Exec runs a statement that returns no rows.
func (t *tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.closed {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, closeBatch(br, err))
}

// Query runs a statement that returns rows.
func (t *tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.closed {
		return nil, pgx.ErrTxClosed
	}
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, errors.Join(err, closeBatch(br, err))
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs a statement that returns at most one row.
func (t *tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.closed {
		return errRow{pgx.ErrTxClosed}
	}
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// begin sends BEGIN and the transaction's first statement in one batch and
// reads BEGIN's result; the caller reads the statement's and closes br.
func (t *tx) begin(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	// Whatever happens next, the connection may be in a transaction now,
	// so Rollback must send ROLLBACK.
	t.begun = true
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(sql, args...)
	br := t.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		return nil, errors.Join(fmt.Errorf("begin: %w", err), closeBatch(br, err))
	}
	return br, nil
}

// closeBatch closes br, reporting its error unless it is cause again (pgx
// reports a failed statement's error once more when the batch closes).
func closeBatch(br pgx.BatchResults, cause error) error {
	if err := br.Close(); err != nil && !errors.Is(err, cause) {
		return err
	}
	return nil
}

// AtCommit returns an executor on the transaction whose statements are not
// sent at once but kept and sent with COMMIT, in its round trip (see
// store.AtCommit). Its writes report zero rows and zero values; a query
// for rows fails. Reads in the transaction do not see what it keeps. A kept
// statement that fails fails the commit; a rollback drops them.
func (t *tx) AtCommit() store.Executor {
	return &executor{db: &atCommitDB{t: t}, q: t.q}
}

// Commit commits the transaction and releases its connection.
func (t *tx) Commit(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	t.closed = true
	defer t.conn.Release()
	if !t.begun && len(t.atCommit) == 0 {
		return nil
	}
	// The statements kept for the commit and COMMIT (with BEGIN first if
	// nothing was sent yet) go out in one batch.
	b := &pgx.Batch{}
	if !t.begun {
		t.begun = true
		b.Queue("begin")
	}
	for _, st := range t.atCommit {
		b.Queue(st.sql, st.args...)
	}
	b.Queue("commit")
	br := t.conn.SendBatch(ctx, b)
	var tag pgconn.CommandTag
	var err error
	first := b.Len() - len(t.atCommit) - 1 // the kept statements' place in b
	for i := range b.Len() {
		if tag, err = br.Exec(); err != nil {
			if k := i - first; k >= 0 && k < len(t.atCommit) {
				err = fmt.Errorf("%s at commit: %w", operationOf(t.atCommit[k].sql), err)
			}
			break
		}
	}
	if err = errors.Join(err, closeBatch(br, err)); err != nil {
		// A failed statement skips the COMMIT after it: end the aborted
		// transaction so the connection can be reused.
		if _, rbErr := t.conn.Exec(context.WithoutCancel(ctx), "rollback"); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
		return interpretError(err)
	}
	if tag.String() == "ROLLBACK" {
		// A statement had failed, so PostgreSQL rolled back instead.
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback aborts the transaction and releases its connection; after
// Commit or Rollback it is a no-op. A connection whose rollback failed is
// not reused: pgxpool drops a connection released inside a transaction.
func (t *tx) Rollback(ctx context.Context) error {
	if t.closed {
		return nil
	}
	t.closed = true
	t.atCommit = nil
	defer t.conn.Release()
	if !t.begun {
		return nil
	}
	if _, err := t.conn.Exec(ctx, "rollback"); err != nil {
		return interpretError(err)
	}
	return nil
}

// batchRows are the rows of a transaction's first statement: closing them
// also reads the end of the batch that carried BEGIN.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	err    error
	closed bool
}

// Next moves to the next row, and closes the batch after the last, as pgx
// closes rows.
func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

// Close closes the rows and the batch.
func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = closeBatch(r.br, r.Rows.Err())
}

// Err is the rows' error, or else the batch's.
func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow is the row of a transaction's first statement: scanning it also
// reads the end of the batch that carried BEGIN.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

// Scan scans the row and closes the batch.
func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := closeBatch(r.br, err); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// atCommitDB is the dbsqlc.DBTX of AtCommit's executor: it keeps each
// statement for the transaction's COMMIT instead of running it.
type atCommitDB struct{ t *tx }

func (d *atCommitDB) keep(sql string, args []any) error {
	if d.t.closed {
		return pgx.ErrTxClosed
	}
	d.t.atCommit = append(d.t.atCommit, statement{sql, args})
	return nil
}

// Exec keeps the statement; it reports no rows.
func (d *atCommitDB) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, d.keep(sql, args)
}

// Query fails: rows cannot wait for the commit.
func (d *atCommitDB) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("pgstore: a query for rows cannot wait for the commit")
}

// QueryRow keeps the statement; its row scans nothing.
func (d *atCommitDB) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	if err := d.keep(sql, args); err != nil {
		return errRow{err}
	}
	return zeroRow{}
}

// zeroRow is the answer of a statement kept for the commit: it scans
// nothing, leaving zero values.
type zeroRow struct{}

// Scan leaves dest as it is.
func (zeroRow) Scan(...any) error { return nil }

// errRow is a row whose statement failed before it was read.
type errRow struct{ err error }

// Scan returns the statement's error.
func (r errRow) Scan(...any) error { return r.err }
