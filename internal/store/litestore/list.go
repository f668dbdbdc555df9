package litestore

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// The List and Count methods filter, sort and page by what the query API
// asks, so their SQL is built here (store.BuildWhere, store.BuildOrderBy)
// rather than by sqlc. They select every column and scan by name into the
// generated row types, so a row reads the same whichever query produced it.

// dialect writes SQLite for store.BuildWhere.
type dialect struct{}

// Placeholder returns ?n.
func (dialect) Placeholder(n int) string { return fmt.Sprintf("?%d", n) }

// Arg converts filter values to their stored form: UUIDs to text, times to
// unix microseconds, booleans to 0 or 1.
func (dialect) Arg(kind store.FieldKind, v any) any {
	switch x := v.(type) {
	case uuid.UUID:
		return x.String()
	case time.Time:
		return x.UnixMicro()
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

// ILike returns LIKE, which SQLite compares without case for ASCII letters.
func (dialect) ILike() string { return "LIKE" }

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
	// The page is written into the text, not bound: SQLite plans with a
	// bound LIMIT's value, so binding one to a new statement makes its first
	// step parse it all over again (see limitClause).
	query := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY %s %s",
		res.Table, where, orderBy, limitClause(p.limit, p.offset))
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest, bind, err := scanTargets[R](rows)
	if err != nil {
		return nil, err
	}
	var out []*R
	for rows.Next() {
		r := new(R)
		bind(r)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// limitClause returns the LIMIT and OFFSET of a page as literals. SQLite
// (3.50 on) lets a LIMIT's bound value steer the plan and so marks a
// statement to be prepared again whenever that value changes; a statement
// prepared for one call, as a built list query is, then parses twice.
// Integers in the text cost nothing of that and cannot inject anything.
func limitClause(limit, offset int) string {
	return fmt.Sprintf("LIMIT %d OFFSET %d", pageLimit(limit), max(offset, 0))
}

// scanTargets matches the columns of rows to the fields of R by name
// (case and underscores ignored, as pgx does). It returns the Scan
// destinations and a function that points them at a new row.
func scanTargets[R any](rows *sql.Rows) ([]any, func(*R), error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	typ := reflect.TypeFor[R]()
	fields := make(map[string]int, typ.NumField())
	for i := range typ.NumField() {
		fields[strings.ToLower(typ.Field(i).Name)] = i
	}
	index := make([]int, len(cols))
	for i, c := range cols {
		f, ok := fields[strings.ToLower(strings.ReplaceAll(c, "_", ""))]
		if !ok {
			return nil, nil, fmt.Errorf("column %s has no field in %s", c, typ.Name())
		}
		index[i] = f
	}
	dest := make([]any, len(cols))
	bind := func(r *R) {
		v := reflect.ValueOf(r).Elem()
		for i, f := range index {
			dest[i] = v.Field(f).Addr().Interface()
		}
	}
	return dest, bind, nil
}

// countRows runs a Count query on res.
func countRows(ctx context.Context, db dbsqlc.DBTX, res *store.Resource, f store.Filter, namespaces []string) (int, error) {
	where, args, err := store.BuildWhere(dialect{}, res, f, namespaces, nil)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+res.Table+" WHERE "+where, args...).Scan(&n); err != nil {
		return 0, err
	}
	return int(n), nil
}
