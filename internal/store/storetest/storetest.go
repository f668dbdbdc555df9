// Package storetest is the conformance suite every [store.Store] driver
// passes, and the row fixtures other tests use to fill a store.
//
// A driver's test calls [Exercise] once with a function that opens a fresh,
// empty, migrated store for each case (a new PostgreSQL schema, a new SQLite
// file) and closes it with t.Cleanup. Cases run in parallel. An interface
// change extends the suite in the same commit, covering the losing side of
// every race a guarded write settles.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/store"
)

// Exercise runs the whole conformance suite. open must return a fresh,
// empty, migrated store each time it is called, and close it when the test
// ends; every case calls it once.
func Exercise(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"APIToken", exerciseAPIToken},
		{"Alert", exerciseAlert},
		{"Agent", exerciseAgent},
		{"Flow", exerciseFlow},
		{"Job", exerciseJob},
		{"Leader", exerciseLeader},
		{"Notify", exerciseNotify},
		{"Query", exerciseQuery},
		{"Schedule", exerciseSchedule},
		{"Security", exerciseSecurity},
		{"User", exerciseUser},
		{"AgentSecurity", exerciseAgentSecurity},
		{"Server", exerciseServer},
		{"Stats", exerciseStats},
		{"Store", exerciseStore},
		{"Task", exerciseTask},
		{"TaskInstance", exerciseTaskInstance},
		{"TaskLog", exerciseTaskLog},
		{"TaskLogChunk", exerciseTaskLogChunk},
		{"TaskPlan", exerciseTaskPlan},
		{"Tx", exerciseTx},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
}

// testBundle is what every case starts with.
type testBundle struct {
	// exec is a fresh store.
	exec store.Store
	// now is a fixed instant, a whole microsecond, that cases pin as the
	// database clock.
	now time.Time
}

// setup opens a fresh store for one case.
func setup(t *testing.T, open func(t *testing.T) store.Store) (context.Context, *testBundle) {
	t.Helper()
	return t.Context(), &testBundle{
		exec: open(t),
		now:  time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}
}

// at returns the bundle's fixed instant moved by d, as a pointer for Now
// fields.
func (b *testBundle) at(d time.Duration) *time.Time {
	t := b.now.Add(d)
	return &t
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// micros truncates t to the microsecond, the precision both databases keep.
func micros(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// sameTime reports whether two instants are equal to the microsecond.
func sameTime(a, b time.Time) bool { return micros(a).Equal(micros(b)) }

// sameTimePtr is sameTime for nullable times.
func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameTime(*a, *b)
}

// fmtTime formats a nullable time for failure messages.
func fmtTime(t *time.Time) string {
	if t == nil {
		return "<nil>"
	}
	return t.Format(time.RFC3339Nano)
}

// checkUTC fails the test if any time is not in UTC.
func checkUTC(t *testing.T, what string, times ...*time.Time) {
	t.Helper()
	for i, tm := range times {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s: time %d location = %v, want UTC", what, i, tm.Location())
		}
	}
}

// checkErrIs fails the test unless errors.Is(err, want).
func checkErrIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s error = %v, want %v", what, err, want)
	}
}

// checkCount fails the test if a count differs.
func checkCount(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

// clockWindow returns a window around the real clock for checking times a
// database clock set: a second of slack each side covers a database on
// another host.
func clockWindow(before, after time.Time) (time.Time, time.Time) {
	return before.Add(-time.Second), after.Add(time.Second)
}

// within reports whether t lies in [lo, hi].
func within(t, lo, hi time.Time) bool { return !t.Before(lo) && !t.After(hi) }
