package store

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// fuzzDialect numbers placeholders like PostgreSQL.
type fuzzDialect struct{}

func (fuzzDialect) Placeholder(n int) string   { return "$" + strconv.Itoa(n) }
func (fuzzDialect) Arg(_ FieldKind, v any) any { return v }
func (fuzzDialect) ILike() string              { return "ILIKE" }

// FuzzParseFilter feeds the query filter parser arbitrary JSON: it must not
// panic, and every filter it accepts must build SQL whose values are all
// parameters (none spliced into the text) and that keeps the namespace
// restriction.
func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `{"status":{"$in":[90,99]}}`, `{"name":"x"}`, `{"name":{"$contains":"a%_\\"}}`,
		`{"status":"failed"}`, `{"created_at":{"$gte":"2026-01-01T00:00:00Z"}}`, `{"namespace":{"$ne":"a"}}`,
		`{"name":{"$startsWith":"'; DROP TABLE sched_job; --"}}`, `{"description":{"$null":true}}`, `{"id":{"$nin":[]}}`,
		`{"$or":[{"name":"a"}]}`, `{"name":{"$eq":{"$eq":1}}}`, `[1,2]`, `{"status":{"$in":[1e400]}}`,
	} {
		f.Add(seed)
	}
	res := []*Resource{JobResource(), ScheduleResource(), TaskResource(), TaskInstanceResource(), FlowResource(), FlowRunResource()}
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return
		}
		for _, r := range res {
			flt, err := ParseFilter(r, json.RawMessage(raw))
			if err != nil {
				continue
			}
			where, args, err := BuildWhere(fuzzDialect{}, r, flt, []string{"team-a"}, nil)
			if err != nil {
				t.Fatalf("%s: accepted filter %s does not build: %v", r.Name, raw, err)
			}
			if n := strings.Count(where, "$"); n < len(args) {
				t.Fatalf("%s: %d placeholders for %d args in %q", r.Name, n, len(args), where)
			}
			if text := strings.ReplaceAll(where, `ESCAPE '\'`, ""); strings.Contains(text, "'") || strings.Contains(text, ";") {
				t.Fatalf("%s: a value reached the SQL text: %q", r.Name, where)
			}
			if len(args) == 0 || args[0] != "team-a" {
				t.Fatalf("%s: namespace restriction lost: %q %v", r.Name, where, args)
			}
		}
	})
}
