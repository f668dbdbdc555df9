package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
)

// claimFake serves ClaimByPriority from due tasks by priority and counts
// the statements a driver would run.
type claimFake struct {
	due        map[int]int // priority → due tasks
	statements int
}

func (f *claimFake) step() ClaimStep {
	return ClaimStep{
		Priorities: func(_ context.Context, below int) ([]int, error) {
			f.statements++
			var ps []int
			for p := range f.due {
				if p < below {
					ps = append(ps, p)
				}
			}
			slices.Sort(ps)
			slices.Reverse(ps)
			return ps, nil
		},
		At: func(_ context.Context, priority int, _ time.Time, _ uuid.UUID, limit int) ([]*model.Task, error) {
			f.statements++
			out := make([]*model.Task, min(limit, f.due[priority]))
			for i := range out {
				out[i] = &model.Task{Priority: priority}
			}
			return out, nil
		},
	}
}

func TestClaimByPriority(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		due            map[int]int
		limit          int
		want           []int // priorities of the claimed tasks, in order
		wantStatements int
	}{
		{"NothingClaimable", nil, 10, nil, 1},
		// The usual case: one priority, fewer due than the limit.
		{"OnePriority", map[int]int{0: 3}, 10, []int{0, 0, 0}, 2},
		{"HighestFirst", map[int]int{-5: 2, 0: 1, 7: 1}, 10, []int{7, 0, -5, -5}, 4},
		// A full batch stops before the lower priorities.
		{"FullStopsEarly", map[int]int{-5: 2, 0: 1, 7: 2}, 2, []int{7, 7}, 2},
		// A priority with claimable tasks none of which is due yet.
		{"NoneDueAtAPriority", map[int]int{9: 0, 0: 1}, 10, []int{0}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &claimFake{due: c.due}
			got, err := ClaimByPriority(t.Context(), &TaskClaimDueParams{}, c.limit, f.step())
			if err != nil {
				t.Fatal(err)
			}
			var prios []int
			for _, task := range got {
				prios = append(prios, task.Priority)
			}
			if !slices.Equal(prios, c.want) || f.statements != c.wantStatements {
				t.Errorf("claimed priorities %v in %d statements, want %v in %d", prios, f.statements, c.want, c.wantStatements)
			}
		})
	}
}
