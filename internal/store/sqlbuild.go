package store

import (
	"fmt"
	"strings"
)

// Dialect adapts the SQL that [BuildWhere] and [BuildOrderBy] write to one
// database. Only drivers implement it.
type Dialect interface {
	// Placeholder returns the n-th (1-based) positional parameter.
	Placeholder(n int) string
	// Arg converts a filter value of the given kind to a driver argument.
	Arg(kind FieldKind, v any) any
	// ILike is the case-insensitive LIKE operator.
	ILike() string
}

// BuildWhere writes a WHERE body (without the keyword) for f and, when
// namespaces is not nil, a restriction to those namespaces. Placeholders are
// numbered after the len(args) arguments already present; the returned args
// extend args. An empty filter yields "1=1".
func BuildWhere(d Dialect, r *Resource, f Filter, namespaces []string, args []any) (string, []any, error) {
	var parts []string
	if namespaces != nil {
		if _, ok := r.Field("namespace"); !ok {
			return "", nil, fmt.Errorf("resource %s has no namespace", r.Name)
		}
		if len(namespaces) == 0 {
			parts = append(parts, "1=0")
		} else {
			vals := make([]any, len(namespaces))
			for i, ns := range namespaces {
				vals[i] = ns
			}
			f = append(Filter{{Field: "namespace", Op: OpIn, Value: vals}}, f...)
		}
	}
	for _, c := range f {
		field, ok := r.Field(c.Field)
		if !ok {
			return "", nil, fmt.Errorf("resource %s has no field %q", r.Name, c.Field)
		}
		col := field.Column
		add := func(v any) string {
			args = append(args, d.Arg(field.Kind, v))
			return d.Placeholder(len(args))
		}
		switch c.Op {
		case OpEq:
			parts = append(parts, col+" = "+add(c.Value))
		case OpNe:
			parts = append(parts, "("+col+" <> "+add(c.Value)+" OR "+col+" IS NULL)")
		case OpGt:
			parts = append(parts, col+" > "+add(c.Value))
		case OpGte:
			parts = append(parts, col+" >= "+add(c.Value))
		case OpLt:
			parts = append(parts, col+" < "+add(c.Value))
		case OpLte:
			parts = append(parts, col+" <= "+add(c.Value))
		case OpIn, OpNin:
			vals, ok := c.Value.([]any)
			if !ok || len(vals) == 0 {
				return "", nil, fmt.Errorf("field %s: %s needs a non-empty list", c.Field, c.Op)
			}
			ph := make([]string, len(vals))
			for i, v := range vals {
				ph[i] = add(v)
			}
			if c.Op == OpIn {
				parts = append(parts, col+" IN ("+strings.Join(ph, ", ")+")")
			} else {
				parts = append(parts, "("+col+" NOT IN ("+strings.Join(ph, ", ")+") OR "+col+" IS NULL)")
			}
		case OpContains, OpStartsWith:
			s, ok := c.Value.(string)
			if !ok {
				return "", nil, fmt.Errorf("field %s: %s needs a string", c.Field, c.Op)
			}
			pat := escapeLike(s) + "%"
			if c.Op == OpContains {
				pat = "%" + pat
			}
			args = append(args, pat)
			parts = append(parts, col+" "+d.ILike()+" "+d.Placeholder(len(args))+` ESCAPE '\'`)
		case OpNull:
			if b, _ := c.Value.(bool); b {
				parts = append(parts, col+" IS NULL")
			} else {
				parts = append(parts, col+" IS NOT NULL")
			}
		default:
			return "", nil, fmt.Errorf("field %s: unknown operator %q", c.Field, c.Op)
		}
	}
	if len(parts) == 0 {
		return "1=1", args, nil
	}
	return strings.Join(parts, " AND "), args, nil
}

// BuildOrderBy writes an ORDER BY body (without the keyword) for orders, or
// r's default order when orders is empty, always ending with the primary key
// so pages are stable.
func BuildOrderBy(r *Resource, orders []Order) (string, error) {
	if len(orders) == 0 {
		orders = r.DefaultOrder
	}
	parts := make([]string, 0, len(orders)+1)
	hasID := false
	for _, o := range orders {
		field, ok := r.Field(o.Field)
		if !ok {
			return "", fmt.Errorf("resource %s has no field %q", r.Name, o.Field)
		}
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		parts = append(parts, field.Column+dir)
		if o.Field == "id" {
			hasID = true
		}
	}
	if !hasID {
		parts = append(parts, "id ASC")
	}
	return strings.Join(parts, ", "), nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
