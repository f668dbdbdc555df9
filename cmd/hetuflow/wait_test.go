package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

// taskServer answers GET /tasks/{id} with the statuses in turn, then the
// last one; instance queries return one instance with exit code 3.
func taskServer(t *testing.T, id uuid.UUID, statuses ...model.TaskStatus) *hf.Client {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/task-instances/query") {
			fmt.Fprintf(w, `{"page":{"total":1,"has_more":false},"result":[{"id":%q,"exit_code":3}]}`, uuid.New())
			return
		}
		i := min(int(n.Add(1))-1, len(statuses)-1)
		fmt.Fprintf(w, `{"id":%q,"status":%d,"attempt":1}`, id, statuses[i])
	}))
	t.Cleanup(srv.Close)
	c, err := hf.New(srv.URL, hf.WithToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWaitRunOnATerminalDrawsASpinner(t *testing.T) {
	id := uuid.New()
	c := taskServer(t, id, model.TaskPending, model.TaskDoing, model.TaskDoing, model.TaskSucceeded)
	var out strings.Builder
	if err := waitRun(t.Context(), c, &hf.Task{ID: id}, &out, true); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "\r\033[K") != 4 || !strings.Contains(s, "⠋ task ") || !strings.Contains(s, "succeeded (attempt 1)") || !strings.HasSuffix(s, "\n") {
		t.Errorf("terminal output %q: want four redraws with a spinner, ending in succeeded and a newline", s)
	}
}

func TestWaitRunPlainLinesAndFailure(t *testing.T) {
	id := uuid.New()
	c := taskServer(t, id, model.TaskPending, model.TaskPending, model.TaskDoing, model.TaskFailed)
	var out strings.Builder
	err := waitRun(t.Context(), c, &hf.Task{ID: id}, &out, false)
	want := fmt.Sprintf("task %s pending (attempt 1)\ntask %s doing (attempt 1)\ntask %s failed (attempt 1)\n", id, id, id)
	if out.String() != want {
		t.Errorf("plain output %q, want one line per change %q", out.String(), want)
	}
	var rf *runFailedError
	if !errors.As(err, &rf) || exitCode(err) != exitRunFailed || !strings.Contains(err.Error(), "exit code 3") {
		t.Errorf("err = %v (exit %d); want a run failure with exit code 3", err, exitCode(err))
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitError},
		{&model.FieldError{Field: "--x", Reason: "bad"}, exitConfig},
		{&usageError{errors.New("x")}, exitConfig},
		{fmt.Errorf("wrapped: %w", &hf.APIError{Status: 404}), exitNotFound},
		{&hf.APIError{Status: 401}, exitUnauthorized},
		{&hf.APIError{Status: 403}, exitUnauthorized},
		{&hf.APIError{Status: 409}, exitConflict},
		{&hf.APIError{Status: 422}, exitConfig},
		{&hf.APIError{Status: 503}, exitError},
		{&runFailedError{status: "failed"}, exitRunFailed},
		{notFoundf("no context x"), exitNotFound},
		{errors.New(`unknown command "x" for "hetuflow"`), exitConfig},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestEveryCommandsFlagsMerge builds every command's full flag set, as
// cobra does when it runs one, so a shorthand used twice on one path (a
// panic at run time) fails here.
func TestEveryCommandsFlagsMerge(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		_ = c.Flags() // merges the persistent flags of the parents
		c.InheritedFlags()
		c.LocalFlags()
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot())
	if n < 40 {
		t.Errorf("walked %d commands", n)
	}
}
