package model

import (
	"fmt"
	"slices"
	"strings"
)

// SelectorOp is the operator of a [LabelRequirement].
type SelectorOp string

// Selector operators, as in Kubernetes label selectors.
const (
	SelectorEquals    SelectorOp = "="
	SelectorNotEquals SelectorOp = "!="
	SelectorIn        SelectorOp = "in"
	SelectorNotIn     SelectorOp = "notin"
	SelectorExists    SelectorOp = "exists"
	SelectorNotExists SelectorOp = "!exists"
)

// LabelRequirement is one condition on an agent's labels.
type LabelRequirement struct {
	Key    string     `json:"key" doc:"Label key."`
	Op     SelectorOp `json:"op" enum:"=,!=,in,notin,exists,!exists" doc:"= and != take one value, in and notin one or more, exists and !exists none."`
	Values []string   `json:"values,omitempty" doc:"Values compared with the agent's label."`
}

// Selector is a conjunction of label requirements: an agent matches when it
// meets every one. As in Kubernetes, != and notin also match an agent that
// lacks the key, so an agent with no labels matches only requirements that
// do not need a label (!=, notin, !exists).
type Selector []LabelRequirement

// Matches reports whether an agent with the given labels meets every
// requirement.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Matches reports whether labels meet r.
func (r LabelRequirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Op {
	case SelectorEquals:
		return ok && len(r.Values) == 1 && v == r.Values[0]
	case SelectorNotEquals:
		return !ok || len(r.Values) != 1 || v != r.Values[0]
	case SelectorIn:
		return ok && slices.Contains(r.Values, v)
	case SelectorNotIn:
		return !ok || !slices.Contains(r.Values, v)
	case SelectorExists:
		return ok
	case SelectorNotExists:
		return !ok
	}
	return false
}

// Validate checks every requirement; field names the selector in errors.
func (s Selector) Validate(field string) error {
	for i, r := range s {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !labelKeyRe.MatchString(r.Key) {
			return Errorf(f+".key", "label key must be 1-128 letters, digits, '.', '_', '/' or '-'")
		}
		n := len(r.Values)
		switch r.Op {
		case SelectorEquals, SelectorNotEquals:
			if n != 1 {
				return Errorf(f+".values", "operator %s takes exactly one value, not %d", r.Op, n)
			}
		case SelectorIn, SelectorNotIn:
			if n == 0 {
				return Errorf(f+".values", "operator %s takes at least one value", r.Op)
			}
		case SelectorExists, SelectorNotExists:
			if n != 0 {
				return Errorf(f+".values", "operator %s takes no values", r.Op)
			}
		default:
			return Errorf(f+".op", "unknown operator %q (use =, !=, in, notin, exists or !exists)", r.Op)
		}
		for j, v := range r.Values {
			if len(v) > 256 || strings.ContainsAny(v, ",() ") {
				return Errorf(fmt.Sprintf("%s.values[%d]", f, j), "label value must be at most 256 bytes without spaces, commas or parentheses")
			}
		}
	}
	return nil
}

// String writes s in the text form ParseSelector reads, e.g.
// "env=prod,zone in (a,b),!gpu".
func (s Selector) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		switch r.Op {
		case SelectorEquals, SelectorNotEquals:
			parts[i] = r.Key + string(r.Op) + strings.Join(r.Values, "")
		case SelectorIn, SelectorNotIn:
			parts[i] = r.Key + " " + string(r.Op) + " (" + strings.Join(r.Values, ",") + ")"
		case SelectorExists:
			parts[i] = r.Key
		case SelectorNotExists:
			parts[i] = "!" + r.Key
		default:
			parts[i] = fmt.Sprintf("%s %s %v", r.Key, r.Op, r.Values)
		}
	}
	return strings.Join(parts, ",")
}

// ParseSelector reads the Kubernetes text form of a selector:
// comma-separated requirements "k=v", "k==v", "k!=v", "k in (a,b)",
// "k notin (a,b)", "k" (exists) and "!k" (does not exist).
func ParseSelector(text string) (Selector, error) {
	var s Selector
	rest := strings.TrimSpace(text)
	for rest != "" {
		req, tail, err := parseRequirement(rest)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", text, err)
		}
		s = append(s, req)
		rest = strings.TrimSpace(tail)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("selector %q: expected ',' before %q", text, rest)
		}
		rest = strings.TrimSpace(rest[1:])
		if rest == "" {
			return nil, fmt.Errorf("selector %q: trailing ','", text)
		}
	}
	if err := s.Validate("selector"); err != nil {
		return nil, err
	}
	return s, nil
}

// parseRequirement reads one requirement from the start of text and returns
// the unread rest.
func parseRequirement(text string) (LabelRequirement, string, error) {
	if key, ok := strings.CutPrefix(text, "!"); ok {
		k, rest := cutKey(key)
		return LabelRequirement{Key: k, Op: SelectorNotExists}, rest, nil
	}
	key, rest := cutKey(text)
	if key == "" {
		return LabelRequirement{}, "", fmt.Errorf("expected a label key at %q", text)
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.HasPrefix(rest, "!="):
		v, tail := cutKey(strings.TrimLeft(rest[2:], " "))
		return LabelRequirement{Key: key, Op: SelectorNotEquals, Values: []string{v}}, tail, nil
	case strings.HasPrefix(rest, "=="):
		v, tail := cutKey(strings.TrimLeft(rest[2:], " "))
		return LabelRequirement{Key: key, Op: SelectorEquals, Values: []string{v}}, tail, nil
	case strings.HasPrefix(rest, "="):
		v, tail := cutKey(strings.TrimLeft(rest[1:], " "))
		return LabelRequirement{Key: key, Op: SelectorEquals, Values: []string{v}}, tail, nil
	case strings.HasPrefix(rest, "in ") || strings.HasPrefix(rest, "in("):
		vals, tail, err := parseSet(rest[2:])
		return LabelRequirement{Key: key, Op: SelectorIn, Values: vals}, tail, err
	case strings.HasPrefix(rest, "notin ") || strings.HasPrefix(rest, "notin("):
		vals, tail, err := parseSet(rest[5:])
		return LabelRequirement{Key: key, Op: SelectorNotIn, Values: vals}, tail, err
	}
	return LabelRequirement{Key: key, Op: SelectorExists}, rest, nil
}

// cutKey splits text at the first character that cannot be in a key or
// value.
func cutKey(text string) (string, string) {
	i := strings.IndexAny(text, " ,=!()")
	if i < 0 {
		return text, ""
	}
	return text[:i], text[i:]
}

// parseSet reads "(a, b, c)".
func parseSet(text string) ([]string, string, error) {
	text = strings.TrimLeft(text, " ")
	if !strings.HasPrefix(text, "(") {
		return nil, "", fmt.Errorf("expected '(' at %q", text)
	}
	end := strings.IndexByte(text, ')')
	if end < 0 {
		return nil, "", fmt.Errorf("missing ')' in %q", text)
	}
	var vals []string
	for _, v := range strings.Split(text[1:end], ",") {
		if v = strings.TrimSpace(v); v != "" {
			vals = append(vals, v)
		}
	}
	return vals, text[end+1:], nil
}
