package eventfilter

import (
	"errors"
	"testing"

	"github.com/hetuflow/hetuflow/internal/model"
)

const body = `{"action":"push","ref":"refs/heads/main","size":3,"ratio":0.5,"draft":false,"tag":null,
"repository":{"name":"api","owner":{"login":"team"}},"commits":[{"id":"a1","added":["x.go"]},{"id":"b2"}],"labels":["bug","p1"]}`

func TestMatch(t *testing.T) {
	t.Parallel()
	doc, err := Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`{}`, true},
		{`{"action":"push"}`, true},
		{`{"action":"pull"}`, false},
		{`{"repository.name":{"$in":["api","web"]}}`, true},
		{`{"repository.name":{"$nin":["api","web"]}}`, false},
		{`{"repository.owner.login":{"$startsWith":"te"}}`, true},
		{`{"ref":{"$contains":"heads"}}`, true},
		{`{"labels":{"$contains":"p1"}}`, true},
		{`{"labels":{"$contains":"p2"}}`, false},
		{`{"commits.0.id":"a1","commits.1.id":"b2"}`, true},
		{`{"commits.2.id":{"$exists":true}}`, false},
		{`{"commits.2.id":{"$exists":false}}`, true},
		{`{"missing":{"$ne":"x"}}`, true},
		{`{"missing":"x"}`, false},
		{`{"size":{"$gt":2,"$lte":3}}`, true},
		{`{"size":3.0}`, true},
		{`{"ratio":{"$lt":1}}`, true},
		{`{"size":{"$gt":"2"}}`, false},
		{`{"ref":{"$gte":"refs/"}}`, true},
		{`{"draft":false}`, true},
		{`{"tag":{"$null":true}}`, true},
		{`{"action":{"$null":true}}`, false},
		{`{"commits.0.added":["x.go"]}`, true},
		{`{"repository.owner":{"login":"team"}}`, true},
		{`{"action":"push","size":{"$gt":5}}`, false},
	} {
		f, err := Parse([]byte(tc.filter))
		if err != nil {
			t.Errorf("Parse(%s) = %v", tc.filter, err)
			continue
		}
		if got := f.Match(doc); got != tc.want {
			t.Errorf("Parse(%s).Match(body) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestParseRefusesBadFilters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ filter, field string }{
		{`[1]`, "event_filter"},
		{`{"a":{"$like":"x"}}`, "event_filter.a.$like"},
		{`{"a":{"$in":"x"}}`, "event_filter.a.$in"},
		{`{"a":{"$exists":1}}`, "event_filter.a.$exists"},
		{`{"a":{"$gt":true}}`, "event_filter.a.$gt"},
		{`{"a..b":1}`, "event_filter.a..b"},
		{`{".a":1}`, "event_filter..a"},
	} {
		_, err := Parse([]byte(tc.filter))
		var fe *model.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Parse(%s) = %v, want a FieldError naming %s", tc.filter, err, tc.field)
		}
	}
}

func FuzzFilter(f *testing.F) {
	f.Add([]byte(`{"action":"push","size":{"$gt":2}}`), []byte(body))
	f.Add([]byte(`{"a.0.b":{"$in":[1,"x",null]}}`), []byte(`{"a":[{"b":1}]}`))
	f.Add([]byte(`{"x":{"$contains":{"y":1}}}`), []byte(`{"x":[{"y":1}]}`))
	f.Fuzz(func(t *testing.T, filter, doc []byte) {
		flt, err := Parse(filter)
		if err != nil {
			return
		}
		d, err := Decode(doc)
		if err != nil {
			return
		}
		// Never panics, and is deterministic.
		first, second := flt.Match(d), flt.Match(d)
		if first != second {
			t.Fatalf("Match is not deterministic")
		}
	})
}
