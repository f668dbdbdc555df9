package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

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
			"1 if not. Following a task that has not started yet waits for its first run.",
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
			q := url.Values{"stream": {stream}}
			if tail >= 0 {
				q.Set("tail", strconv.Itoa(tail))
			}
			if follow {
				return followLog(ctx, c, instanceID, q, cmd.OutOrStdout())
			}
			return printLog(ctx, c, instanceID, q, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the run ends; exit 1 if it did not succeed")
	cmd.Flags().StringVar(&stream, "stream", string(model.Stdout), "stdout or stderr")
	cmd.Flags().IntVar(&tail, "tail", -1, "start with the last N lines; -1 for all")
	api.register(cmd)
	return cmd
}

// resolveInstance returns id if it names a task instance, else the latest
// instance of the task it names. With wait, a task with no instance yet is
// watched until it gets one.
func resolveInstance(ctx context.Context, c *apiClient, id uuid.UUID, wait bool) (uuid.UUID, error) {
	err := c.call(ctx, http.MethodGet, "/task-instances/"+id.String(), nil, nil)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return id, err // an instance, or a real error
	}
	for {
		var task model.Task
		if err := c.call(ctx, http.MethodGet, "/tasks/"+id.String(), nil, &task); err != nil {
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				return uuid.Nil, fmt.Errorf("no task instance or task %s", id)
			}
			return uuid.Nil, err
		}
		var page struct {
			Result []*model.TaskInstance `json:"result"`
		}
		query := map[string]any{"filter": map[string]any{"task_id": id.String()}, "page": map[string]any{"limit": 1, "order_bys": []string{"!attempt", "!created_at"}}}
		if err := c.call(ctx, http.MethodPost, "/task-instances/query", query, &page); err != nil {
			return uuid.Nil, err
		}
		switch {
		case len(page.Result) > 0:
			return page.Result[0].ID, nil
		case task.Status.Final():
			return uuid.Nil, fmt.Errorf("task %s ended %s without a run", id, task.Status)
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
func printLog(ctx context.Context, c *apiClient, id uuid.UUID, q url.Values, out io.Writer) error {
	for {
		resp, err := c.do(ctx, http.MethodGet, "/task-instances/"+id.String()+"/log?"+q.Encode(), nil, nil)
		if err != nil {
			return err
		}
		n, err := io.Copy(out, resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		offset, _ := strconv.ParseInt(resp.Header.Get("Hetuflow-Log-Offset"), 10, 64)
		size, _ := strconv.ParseInt(resp.Header.Get("Hetuflow-Log-Size"), 10, 64)
		if n == 0 || offset+n >= size {
			return nil
		}
		q.Del("tail")
		q.Set("offset", strconv.FormatInt(offset+n, 10))
	}
}

// endEvent is the data of a follow's end event.
type endEvent struct {
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Error    string `json:"error"`
}

// runFailedError says the followed run did not succeed.
type runFailedError struct {
	id  uuid.UUID
	end endEvent
}

func (e *runFailedError) Error() string {
	msg := fmt.Sprintf("run %s ended %s", e.id, e.end.Status)
	if e.end.ExitCode != nil {
		msg += fmt.Sprintf(" (exit code %d)", *e.end.ExitCode)
	}
	if e.end.Error != "" {
		msg += ": " + e.end.Error
	}
	return msg
}

// followRetries bounds reconnects in a row that bring nothing new.
const followRetries = 5

// followLog prints a stream as the run writes it, until its end event. A
// broken connection is resumed from the last event (Last-Event-ID).
func followLog(ctx context.Context, c *apiClient, id uuid.UUID, q url.Values, out io.Writer) error {
	f := &logFollow{out: out, pos: -1}
	for failures := 0; ; {
		end, err := f.once(ctx, c, id, q)
		if end != nil {
			if end.Status != model.InstanceSucceeded.String() {
				return &runFailedError{id: id, end: *end}
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			return err
		}
		if f.progressed {
			failures = 0
		}
		if failures++; failures > followRetries {
			return fmt.Errorf("follow log: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(failures) * time.Second):
		}
	}
}

// logFollow is the state of one follow across reconnects.
type logFollow struct {
	out        io.Writer
	pos        int64 // stream offset after the last byte printed; -1 before the first event
	progressed bool  // the last connection printed something
}

// once reads one connection's events. It returns the end event, or the
// error that cut the stream short.
func (f *logFollow) once(ctx context.Context, c *apiClient, id uuid.UUID, q url.Values) (*endEvent, error) {
	f.progressed = false
	header := http.Header{"Accept": {"text/event-stream"}}
	if f.pos >= 0 {
		header.Set("Last-Event-ID", strconv.FormatInt(f.pos, 10))
	}
	resp, err := c.do(ctx, http.MethodGet, "/task-instances/"+id.String()+"/log/stream?"+q.Encode(), nil, header)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				data += value
			}
			continue
		}
		switch name {
		case "end":
			var end endEvent
			if err := json.Unmarshal([]byte(data), &end); err != nil {
				return nil, fmt.Errorf("decode end event: %w", err)
			}
			return &end, nil
		case string(model.Stdout), string(model.Stderr):
			if err := f.output(data); err != nil {
				return nil, err
			}
		}
		name, data = "", ""
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read log stream: %w", err)
	}
	return nil, errors.New("log stream closed before the run ended")
}

// output prints an output event's bytes, skipping any it printed already.
func (f *logFollow) output(data string) error {
	var ev struct {
		Offset int64  `json:"offset"`
		Data   []byte `json:"data"`
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return fmt.Errorf("decode output event: %w", err)
	}
	b := ev.Data
	if f.pos > ev.Offset {
		b = b[min(int64(len(b)), f.pos-ev.Offset):]
	}
	if _, err := f.out.Write(b); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	f.pos = ev.Offset + int64(len(ev.Data))
	f.progressed = true
	return nil
}
