package pgstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// The List and Count methods filter, sort and page by what the query API
// asks, so their SQL is built here (store.BuildWhere, store.BuildOrderBy)
// rather than by sqlc. They select every column and scan by name into the
// generated row types, so a row reads the same whichever query produced it.

// dialect writes PostgreSQL for store.BuildWhere.
type dialect struct{}

// Placeholder returns $n.
func (dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// Arg returns v: pgx encodes every filter value as it comes.
func (dialect) Arg(_ store.FieldKind, v any) any { return v }

// ILike returns ILIKE.
func (dialect) ILike() string { return "ILIKE" }

// listPage is one List call: filter, namespaces, order and page.
type listPage struct {
	filter     store.Filter
	namespaces []string
	order      []store.Order
	limit      int
	offset     int
}

// listRows runs a List query on res and scans each row into R by column
// name.
func listRows[R any](ctx context.Context, db dbsqlc.DBTX, res *store.Resource, p listPage) ([]*R, error) {
	d := dialect{}
	where, args, err := store.BuildWhere(d, res, p.filter, p.namespaces, nil)
	if err != nil {
		return nil, err
	}
	orderBy, err := store.BuildOrderBy(res, p.order)
	if err != nil {
		return nil, err
	}
	args = append(args, pageLimit(p.limit), max(p.offset, 0))
	sql := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY %s LIMIT %s OFFSET %s",
		res.Table, where, orderBy, d.Placeholder(len(args)-1), d.Placeholder(len(args)))
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByName[R])
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// countRows runs a Count query on res.
func countRows(ctx context.Context, db dbsqlc.DBTX, res *store.Resource, f store.Filter, namespaces []string) (int, error) {
	where, args, err := store.BuildWhere(dialect{}, res, f, namespaces, nil)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM "+res.Table+" WHERE "+where, args...).Scan(&n); err != nil {
		return 0, interpretError(err)
	}
	return int(n), nil
}
