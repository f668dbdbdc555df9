package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Op is a filter operator, spelled as in the query API ("$in").
type Op string

// Filter operators (DESIGN.md §10).
const (
	OpEq         Op = "$eq"
	OpNe         Op = "$ne"
	OpIn         Op = "$in"
	OpNin        Op = "$nin"
	OpGt         Op = "$gt"
	OpGte        Op = "$gte"
	OpLt         Op = "$lt"
	OpLte        Op = "$lte"
	OpContains   Op = "$contains"
	OpStartsWith Op = "$startsWith"
	OpNull       Op = "$null"
)

// Cond is one condition on one field. Value has the Go type of the field's
// kind (string, int64, float64, time.Time, uuid.UUID, bool), a slice of it
// for $in and $nin, or a bool for $null.
type Cond struct {
	Field string
	Op    Op
	Value any
}

// Filter is a conjunction of conditions. The zero value matches everything.
type Filter []Cond

// Order sorts by one field.
type Order struct {
	Field string
	Desc  bool
}

// FieldKind is the type of a filterable field.
type FieldKind int

// Field kinds.
const (
	KindString FieldKind = iota + 1
	KindInt
	KindFloat
	KindTime
	KindUUID
	KindBool
)

// Field is one filterable, sortable field of a resource.
type Field struct {
	Name   string // as in the API
	Column string // as in SQL
	Kind   FieldKind
	// Nullable fields accept $null.
	Nullable bool
	// Enum maps status names to their numbers, so filters may say "failed".
	Enum map[string]int64
}

// Resource lists what a query on one table may filter and sort by.
type Resource struct {
	Name         string
	Table        string
	Fields       []Field
	DefaultOrder []Order
}

// Field returns the field with the given API name.
func (r *Resource) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames returns the API names of the fields, sorted.
func (r *Resource) FieldNames() []string {
	names := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		names[i] = f.Name
	}
	sort.Strings(names)
	return names
}

// MaxPageLimit is the largest page a query may ask for.
const MaxPageLimit = 1000

// DefaultPageLimit is the page size when a query names none.
const DefaultPageLimit = 20

// Page is the paging part of a query, in the API's shape.
type Page struct {
	Page     int      `json:"page,omitempty" doc:"Page number, from 1." minimum:"0"`
	Limit    int      `json:"limit,omitempty" doc:"Rows per page, at most 1000; default 20." minimum:"0" maximum:"1000"`
	OrderBys []string `json:"order_bys,omitempty" doc:"Fields to sort by; a leading ! sorts descending." example:"[\"!created_at\"]"`
}

// ParsePage turns an API page into limit, offset and order, checking each
// order field against r. Errors are *model.FieldError naming "page.…".
func ParsePage(r *Resource, p Page) (limit, offset int, order []Order, err error) {
	limit = p.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 0 || limit > MaxPageLimit {
		return 0, 0, nil, model.Errorf("page.limit", "must be between 1 and %d", MaxPageLimit)
	}
	page := p.Page
	if page == 0 {
		page = 1
	}
	if page < 1 {
		return 0, 0, nil, model.Errorf("page.page", "must be 1 or more")
	}
	if page > math.MaxInt32/limit {
		return 0, 0, nil, model.Errorf("page.page", "is too large")
	}
	offset = (page - 1) * limit
	for i, s := range p.OrderBys {
		o := Order{Field: s}
		if strings.HasPrefix(s, "!") {
			o = Order{Field: s[1:], Desc: true}
		}
		if _, ok := r.Field(o.Field); !ok {
			return 0, 0, nil, model.Errorf(fmt.Sprintf("page.order_bys[%d]", i), "unknown field %q (use one of %s)", o.Field, strings.Join(r.FieldNames(), ", "))
		}
		order = append(order, o)
	}
	return limit, offset, order, nil
}

// ParseFilter decodes a filter object in the API's shape, for example
// {"status":{"$in":[90,99]},"name":"nightly"}, checking every field and value
// against r. A bare value means $eq. Errors are *model.FieldError naming
// "filter.<field>".
func ParseFilter(r *Resource, raw json.RawMessage) (Filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, model.Errorf("filter", "must be an object of field conditions")
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	var f Filter
	for _, name := range names {
		field, ok := r.Field(name)
		if !ok {
			return nil, model.Errorf("filter."+name, "unknown field (use one of %s)", strings.Join(r.FieldNames(), ", "))
		}
		conds, err := parseConds(field, fields[name])
		if err != nil {
			return nil, model.Prefix("filter."+name, err)
		}
		f = append(f, conds...)
	}
	return f, nil
}

func parseConds(field Field, raw json.RawMessage) ([]Cond, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] != '{' {
		v, err := parseValue(field, raw)
		if err != nil {
			return nil, model.Errorf(string(OpEq), "%s", err)
		}
		return []Cond{{Field: field.Name, Op: OpEq, Value: v}}, nil
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, model.Errorf("", "must be a value or an object of operators")
	}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conds []Cond
	for _, k := range keys {
		op := Op(k)
		v, err := parseOperand(field, op, ops[k])
		if err != nil {
			return nil, model.Errorf(k, "%s", err)
		}
		conds = append(conds, Cond{Field: field.Name, Op: op, Value: v})
	}
	return conds, nil
}

func parseOperand(field Field, op Op, raw json.RawMessage) (any, error) {
	switch op {
	case OpEq, OpNe, OpGt, OpGte, OpLt, OpLte:
		if field.Kind == KindBool && op != OpEq && op != OpNe {
			return nil, fmt.Errorf("not supported on a boolean field")
		}
		return parseValue(field, raw)
	case OpIn, OpNin:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("needs an array")
		}
		if len(items) == 0 || len(items) > MaxPageLimit {
			return nil, fmt.Errorf("needs 1 to %d values", MaxPageLimit)
		}
		vals := make([]any, len(items))
		for i, it := range items {
			v, err := parseValue(field, it)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			vals[i] = v
		}
		return vals, nil
	case OpContains, OpStartsWith:
		if field.Kind != KindString {
			return nil, fmt.Errorf("only applies to text fields")
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("needs a string")
		}
		return s, nil
	case OpNull:
		if !field.Nullable {
			return nil, fmt.Errorf("field is never null")
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("needs true or false")
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown operator (use $eq $ne $in $nin $gt $gte $lt $lte $contains $startsWith $null)")
}

func parseValue(field Field, raw json.RawMessage) (any, error) {
	switch field.Kind {
	case KindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("needs a string")
		}
		return s, nil
	case KindInt:
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err == nil {
			v, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("needs an integer")
			}
			return v, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err == nil && field.Enum != nil {
			if v, ok := field.Enum[s]; ok {
				return v, nil
			}
			return nil, fmt.Errorf("unknown value %q", s)
		}
		return nil, fmt.Errorf("needs an integer")
	case KindFloat:
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("needs a number")
		}
		return v, nil
	case KindTime:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("needs an RFC 3339 time string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("needs an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
		return t.UTC(), nil
	case KindUUID:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("needs a UUID string")
		}
		u, err := uuid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("needs a UUID")
		}
		return u, nil
	case KindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("needs true or false")
		}
		return b, nil
	}
	return nil, fmt.Errorf("field kind %d is not filterable", field.Kind)
}
