package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

func newLogsCmd() *cobra.Command {
	var (
		api    apiFlags
		follow bool
		stream string
		tail   int
	)
	cmd := &cobra.Command{
		Use:   "logs [-f] INSTANCE_OR_TASK_ID",
		Short: "Print a run's output; with -f, follow it until the run ends",
		Long: "Print the output of a task instance, or of a task's latest instance. With -f, print what is stored, then\n" +
			"each new piece as the run writes it, until the run ends; the exit status is then 0 if the run succeeded and\n" +
			"6 if not (see exit codes). Following a task that has not started yet waits for its first run.",
		Example: "  hetuflow logs -f 0190f3a2-… --server http://127.0.0.1:9500 --token $HETUFLOW_TOKEN\n" +
			"  hetuflow logs --stream stderr --tail 20 0190f3a2-…",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uuid.Parse(args[0])
			if err != nil {
				return &model.FieldError{Field: "INSTANCE_OR_TASK_ID", Reason: "must be a task instance or task id (a UUID)"}
			}
			if stream != string(model.Stdout) && stream != string(model.Stderr) {
				return &model.FieldError{Field: "--stream", Reason: "must be stdout or stderr"}
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			instanceID, err := resolveInstance(ctx, c, id, follow)
			if err != nil {
				return err
			}
			r := &hf.LogRequest{Stream: stream}
			if tail >= 0 {
				r.Tail = tail
			}
			if follow {
				return followLog(ctx, c, instanceID, r, cmd.OutOrStdout())
			}
			return printLog(ctx, c, instanceID, r, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the run ends; exit 6 if it did not succeed")
	cmd.Flags().StringVar(&stream, "stream", string(model.Stdout), "stdout or stderr")
	cmd.Flags().IntVar(&tail, "tail", -1, "start with the last N lines; -1 for all")
	api.register(cmd)
	return cmd
}

// resolveInstance returns id if it names a task instance, else the latest
// instance of the task it names. With wait, a task with no instance yet is
// watched until it gets one.
func resolveInstance(ctx context.Context, c *hf.Client, id uuid.UUID, wait bool) (uuid.UUID, error) {
	_, err := c.GetInstance(ctx, id)
	if !hf.IsNotFound(err) {
		return id, err // an instance, or a real error
	}
	for {
		task, err := c.GetTask(ctx, id)
		if hf.IsNotFound(err) {
			return uuid.Nil, notFoundf("no task instance or task %s", id)
		}
		if err != nil {
			return uuid.Nil, err
		}
		ti, err := c.LatestInstance(ctx, id)
		switch {
		case err != nil:
			return uuid.Nil, err
		case ti != nil:
			return ti.ID, nil
		case task.Status.Final():
			return uuid.Nil, &runFailedError{id: id, status: task.Status.String(), detail: "ended without a run"}
		case !wait:
			return uuid.Nil, fmt.Errorf("task %s has no run yet (%s); -f waits for it", id, task.Status)
		}
		select {
		case <-ctx.Done():
			return uuid.Nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// printLog prints a stream as stored now, in as many requests as the
// server's response cap needs.
func printLog(ctx context.Context, c *hf.Client, id uuid.UUID, r *hf.LogRequest, out io.Writer) error {
	for {
		ch, err := c.ReadLog(ctx, id, r)
		if err != nil {
			return err
		}
		if _, err := out.Write(ch.Data); err != nil {
			return fmt.Errorf("write log: %w", err)
		}
		n := int64(len(ch.Data))
		if n == 0 || ch.Offset+n >= ch.Size {
			return nil
		}
		r.Tail, r.Offset = 0, ch.Offset+n
	}
}

// runFailedError says the run waited for did not succeed; it exits with
// exitRunFailed.
type runFailedError struct {
	id       uuid.UUID
	status   string
	exitCode *int
	detail   string
}

func (e *runFailedError) Error() string {
	msg := fmt.Sprintf("run %s ended %s", e.id, e.status)
	if e.exitCode != nil {
		msg += fmt.Sprintf(" (exit code %d)", *e.exitCode)
	}
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

// followLog prints a stream as the run writes it, until its end.
func followLog(ctx context.Context, c *hf.Client, id uuid.UUID, r *hf.LogRequest, out io.Writer) error {
	for ev, err := range c.FollowLog(ctx, id, r) {
		if err != nil {
			return err
		}
		if ev.End != nil {
			if !ev.End.Succeeded() {
				return &runFailedError{id: id, status: ev.End.Status, exitCode: ev.End.ExitCode, detail: ev.End.Error}
			}
			return nil
		}
		if _, err := out.Write(ev.Data); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}
