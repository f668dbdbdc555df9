package litestore

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hetuflow/hetuflow/internal/store/litestore/dbsqlc"
)

// TestClaimQueriesSeek checks the plans SQLite makes for the claim: each
// step must be a search of the claim index bounded by the horizon. A plan
// that only bounds the priority reads every planned task of the generator's
// window (tens of thousands at a few hundred runs a second) on every claim.
func TestClaimQueriesSeek(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "db"), Migrate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{"TaskClaimDueAt", dbsqlc.TaskClaimDueAt, []any{0, 100, 0, "", 16},
			[]string{"SEARCH sched_task USING INDEX sched_task_claim_idx (priority=?", "run_at<?"}},
		{"TaskClaimDuePriorities", dbsqlc.TaskClaimDuePriorities, []any{0},
			// The first priority, then each next one below it.
			[]string{"SEARCH sched_task USING INDEX sched_task_claim_idx (priority<?)", "SEARCH t USING INDEX sched_task_claim_idx (priority<?)"}},
	} {
		rows, err := s.writer.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: explain: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(plan, "\n")
		for _, w := range c.want {
			if !strings.Contains(got, w) || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("%s plan:\n%s\nwant it to contain %q and no sort", c.name, got, w)
			}
		}
	}
}
