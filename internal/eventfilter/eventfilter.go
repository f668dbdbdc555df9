// Package eventfilter decides whether a webhook's JSON body fires its
// schedule. A filter is an object of conditions on dotted paths into the
// body, all of which must hold, in the query API's vocabulary:
//
//	{"action": "push", "repository.name": {"$in": ["api", "web"]}, "commits.0.id": {"$exists": true}}
//
// A bare value means $eq; an object means $eq too unless every key of it
// starts with $, when it holds operators. Operators: $eq $ne $in $nin $gt $gte $lt $lte
// (numbers, or strings by byte order) $contains (substring, or array
// element) $startsWith $exists $null. Array elements are addressed by index.
// A path that is missing fails every condition except $exists false, $ne and
// $nin.
package eventfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hetuflow/hetuflow/internal/model"
)

// MaxConditions bounds a filter.
const MaxConditions = 64

// Filter is a parsed filter. The zero value matches everything.
type Filter struct {
	conds []cond
}

type cond struct {
	path  []string
	op    string
	value any // decoded JSON: nil, bool, json.Number, string, []any, map[string]any
}

var ops = map[string]bool{
	"$eq": true, "$ne": true, "$in": true, "$nin": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true,
	"$contains": true, "$startsWith": true, "$exists": true, "$null": true,
}

// Parse reads a filter. Errors are *model.FieldError naming the path and
// operator under "event_filter".
func Parse(raw json.RawMessage) (*Filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return &Filter{}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, model.Errorf("event_filter", "must be an object of conditions on body paths")
	}
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	f := &Filter{}
	for _, p := range paths {
		if p == "" || strings.Contains(p, "..") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
			return nil, model.Errorf("event_filter."+p, "not a dotted path such as repository.name")
		}
		v := bytes.TrimSpace(fields[p])
		var opsRaw map[string]json.RawMessage
		if len(v) > 0 && v[0] == '{' {
			if err := json.Unmarshal(v, &opsRaw); err != nil {
				return nil, model.Errorf("event_filter."+p, "bad condition")
			}
		}
		if isOperators(opsRaw) {
			names := make([]string, 0, len(opsRaw))
			for op := range opsRaw {
				names = append(names, op)
			}
			sort.Strings(names)
			for _, op := range names {
				c, err := newCond(p, op, opsRaw[op])
				if err != nil {
					return nil, err
				}
				f.conds = append(f.conds, c)
			}
		} else {
			c, err := newCond(p, "$eq", v)
			if err != nil {
				return nil, err
			}
			f.conds = append(f.conds, c)
		}
		if len(f.conds) > MaxConditions {
			return nil, model.Errorf("event_filter", "at most %d conditions", MaxConditions)
		}
	}
	return f, nil
}

// isOperators reports whether an object is a set of operators (every key
// starts with $) rather than a literal object to compare with.
func isOperators(m map[string]json.RawMessage) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

func newCond(path, op string, raw json.RawMessage) (cond, error) {
	field := "event_filter." + path + "." + op
	if !ops[op] {
		return cond{}, model.Errorf(field, "unknown operator (use $eq $ne $in $nin $gt $gte $lt $lte $contains $startsWith $exists $null)")
	}
	v, err := decode(raw)
	if err != nil {
		return cond{}, model.Errorf(field, "not JSON")
	}
	switch op {
	case "$in", "$nin":
		if _, ok := v.([]any); !ok {
			return cond{}, model.Errorf(field, "needs an array")
		}
	case "$exists", "$null":
		if _, ok := v.(bool); !ok {
			return cond{}, model.Errorf(field, "needs true or false")
		}
	case "$startsWith":
		if _, ok := v.(string); !ok {
			return cond{}, model.Errorf(field, "needs a string")
		}
	case "$gt", "$gte", "$lt", "$lte":
		switch v.(type) {
		case json.Number, string:
		default:
			return cond{}, model.Errorf(field, "needs a number or a string")
		}
	}
	return cond{path: strings.Split(path, "."), op: op, value: v}, nil
}

func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// Decode reads a body for Match, keeping numbers exact.
func Decode(body []byte) (any, error) { return decode(body) }

// Empty reports whether the filter has no condition.
func (f *Filter) Empty() bool { return f == nil || len(f.conds) == 0 }

// Match reports whether doc (decoded with Decode) meets every condition.
func (f *Filter) Match(doc any) bool {
	if f == nil {
		return true
	}
	for _, c := range f.conds {
		v, found := lookup(doc, c.path)
		if !c.holds(v, found) {
			return false
		}
	}
	return true
}

func lookup(doc any, path []string) (any, bool) {
	cur := doc
	for _, p := range path {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[p]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			cur = node[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func (c cond) holds(v any, found bool) bool {
	switch c.op {
	case "$exists":
		return found == c.value.(bool)
	case "$ne":
		return !found || !equal(v, c.value)
	case "$nin":
		for _, x := range c.value.([]any) {
			if found && equal(v, x) {
				return false
			}
		}
		return true
	}
	if !found {
		return false
	}
	switch c.op {
	case "$eq":
		return equal(v, c.value)
	case "$in":
		for _, x := range c.value.([]any) {
			if equal(v, x) {
				return true
			}
		}
		return false
	case "$null":
		return (v == nil) == c.value.(bool)
	case "$gt", "$gte", "$lt", "$lte":
		cmp, ok := compare(v, c.value)
		if !ok {
			return false
		}
		switch c.op {
		case "$gt":
			return cmp > 0
		case "$gte":
			return cmp >= 0
		case "$lt":
			return cmp < 0
		}
		return cmp <= 0
	case "$contains":
		switch node := v.(type) {
		case string:
			s, ok := c.value.(string)
			return ok && strings.Contains(node, s)
		case []any:
			for _, x := range node {
				if equal(x, c.value) {
					return true
				}
			}
		}
		return false
	case "$startsWith":
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, c.value.(string))
	}
	return false
}

// equal compares decoded JSON values; numbers by value.
func equal(a, b any) bool {
	if na, ok := a.(json.Number); ok {
		nb, ok := b.(json.Number)
		if !ok {
			return false
		}
		fa, ea := na.Float64()
		fb, eb := nb.Float64()
		if ea == nil && eb == nil {
			return fa == fb
		}
		return na == nb
	}
	switch a.(type) {
	case nil, bool, string:
		return a == b
	}
	// Objects and arrays: compare their canonical encodings.
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// compare orders two numbers or two strings.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return 0, false
		}
		fx, e1 := x.Float64()
		fy, e2 := y.Float64()
		if e1 != nil || e2 != nil {
			return 0, false
		}
		switch {
		case fx < fy:
			return -1, true
		case fx > fy:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}
