package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/logging"
	"github.com/hetuflow/hetuflow/internal/model"
)

// addClientCommands adds the commands that talk to a server's API.
func addClientCommands(root *cobra.Command) {
	root.AddCommand(newJobCmd(), newRunCmd(), newAgentsCmd(), newContextCmd(), newApplyCmd(), newExportCmd(), newImportCmd())
	for _, c := range root.Commands() {
		switch c.Name() {
		case "schedule":
			addScheduleCommands(c)
		case "agent":
			// hetuflow agent runs an agent; list and drain are also
			// reachable there, as in the wording.
			c.AddCommand(newAgentListCmd(), newAgentDrainCmd())
		}
	}
}

// findJob resolves a job by id, or by name in namespace.
func findJob(ctx context.Context, c *hf.Client, namespace, ref string) (*hf.Job, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return c.GetJob(ctx, id)
	}
	return c.FindJob(ctx, namespace, ref)
}

func jobRows(jobs []*hf.Job) func() *table {
	return func() *table {
		t := &table{header: []string{"NAMESPACE", "NAME", "STATUS", "COMMAND", "ID"}}
		for _, j := range jobs {
			what := j.Config.Command
			if j.Config.Type == model.TaskHTTP && j.Config.HTTP != nil {
				what = "http " + j.Config.HTTP.URL
			} else if what == "" {
				what = cmpOr(j.Config.Interpreter, "sh") + " script"
			}
			t.rows = append(t.rows, []string{j.Namespace, j.Name, j.Status.String(), what, j.ID.String()})
		}
		return t
	}
}

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "job", Aliases: []string{"jobs"}, Short: "List, show, create, edit, delete and run jobs"}
	var namespace string
	cmd.PersistentFlags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\"; list: all)")

	list := func() *cobra.Command {
		var (
			limit int
		)
		c := outputCmd(&cobra.Command{Use: "list", Short: "List jobs", Args: cobra.NoArgs}, func(cmd *cobra.Command, _ []string, c *hf.Client, out *outputFlag) error {
			q := &hf.Query{Page: hf.Page{Limit: limit, OrderBys: []string{"namespace", "name"}}}
			if namespace != "" {
				q.Filter = map[string]any{"namespace": namespace}
			}
			res, err := c.QueryJobs(cmd.Context(), q)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), res.Result, jobRows(res.Result))
		})
		c.Flags().IntVar(&limit, "limit", 100, "most jobs to list (at most 1000)")
		return c
	}()

	get := func() *cobra.Command {
		c := outputCmd(&cobra.Command{Use: "get NAME|ID", Short: "Show a job", Args: exactArgs(1)}, func(cmd *cobra.Command, args []string, c *hf.Client, out *outputFlag) error {
			j, err := findJob(cmd.Context(), c, namespace, args[0])
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), j, jobRows([]*hf.Job{j}))
		})
		return c
	}()

	create := func() *cobra.Command {
		var (
			api                     apiFlags
			file, name, command     string
			script, cronExpr, every string
			args                    []string
		)
		c := &cobra.Command{
			Use:   "create [NAME] [-f FILE | --command CMD | --script TEXT]",
			Short: "Create a job (from flags, or from an apply-format file)",
			Example: "  hetuflow job create hello --command echo --arg hi --cron '*/10 * * * * *'\n" +
				"  hetuflow job create -f backup.toml",
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, a []string) error {
				var m *manifest
				if file != "" {
					var err error
					if m, err = loadManifests(file); err != nil {
						return err
					}
				} else {
					if len(a) == 1 {
						name = a[0]
					}
					if name == "" || (command == "") == (script == "") {
						return &usageError{fmt.Errorf("give NAME and one of --command or --script, or -f FILE")}
					}
					j := &manifestJob{Namespace: namespace, Name: name, Config: model.JobConfig{Command: command, Args: args, Script: script}}
					switch {
					case cronExpr != "":
						j.Schedules = []*manifestSchedule{{Kind: "cron", Cron: cronExpr}}
					case every != "":
						d, err := time.ParseDuration(every)
						if err != nil {
							return &model.FieldError{Field: "--every", Reason: "must be a duration such as 30s"}
						}
						j.Schedules = []*manifestSchedule{{Kind: "interval", Interval: model.Duration(d)}}
					}
					m = &manifest{Jobs: []*manifestJob{j}}
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				p, err := planApply(cmd.Context(), c, m, false, [2]string{})
				if err != nil {
					return err
				}
				for _, j := range p.jobs {
					if j.current != nil {
						return &codedError{code: exitConflict, err: fmt.Errorf("job %s exists; use hetuflow apply or job edit", j.want.key())}
					}
				}
				p.print(cmd.OutOrStdout())
				return p.execute(cmd.Context(), c, cmd.OutOrStdout())
			},
		}
		api.register(c)
		c.Flags().StringVarP(&file, "filename", "f", "", "apply-format file with the job(s)")
		c.Flags().StringVar(&name, "name", "", "job name (or the NAME argument)")
		c.Flags().StringVar(&command, "command", "", "program to run, without a shell")
		c.Flags().StringArrayVar(&args, "arg", nil, "argument for --command (repeat)")
		c.Flags().StringVar(&script, "script", "", "shell script to run")
		c.Flags().StringVar(&cronExpr, "cron", "", "add a cron schedule")
		c.Flags().StringVar(&every, "every", "", "add an interval schedule, e.g. 5m")
		return c
	}()

	edit := func() *cobra.Command {
		var (
			api    apiFlags
			format string
		)
		c := &cobra.Command{
			Use:   "edit NAME|ID",
			Short: "Edit a job and its schedules in $EDITOR (TOML or YAML), then apply the result",
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if format != "toml" && format != "yaml" {
					return &model.FieldError{Field: "--format", Reason: "must be toml or yaml"}
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				j, err := findJob(ctx, c, namespace, args[0])
				if err != nil {
					return err
				}
				state, err := loadState(ctx, c, j.Namespace)
				if err != nil {
					return err
				}
				var mine []*jobState
				for _, s := range state {
					if s.job.ID == j.ID {
						mine = append(mine, s)
					}
				}
				m := manifestOf(mine)
				m.Jobs[0].Triggers = manifestJobOf(j, nil, namesOf(state)).Triggers
				before, err := encodeManifest(m, format)
				if err != nil {
					return err
				}
				dir, err := os.MkdirTemp("", "hetuflow-edit")
				if err != nil {
					return fmt.Errorf("temp dir: %w", err)
				}
				defer os.RemoveAll(dir)
				path := filepath.Join(dir, j.Name+"."+format)
				if err := os.WriteFile(path, before, 0o600); err != nil {
					return fmt.Errorf("write %s: %w", path, err)
				}
				editor := firstNonEmpty(os.Getenv("VISUAL"), os.Getenv("EDITOR"), "vi")
				ed := exec.CommandContext(ctx, "sh", "-c", editor+` "$1"`, "sh", path)
				ed.Stdin, ed.Stdout, ed.Stderr = os.Stdin, os.Stdout, os.Stderr
				if err := ed.Run(); err != nil {
					return fmt.Errorf("editor %s: %w", editor, err)
				}
				after, err := os.ReadFile(path)
				if err != nil {
					return fmt.Errorf("read %s: %w", path, err)
				}
				if string(after) == string(before) {
					fmt.Fprintln(cmd.OutOrStdout(), "no changes")
					return nil
				}
				m2, err := decodeManifest(path, format, after)
				if err != nil {
					return err
				}
				if len(m2.Jobs) != 1 || m2.Jobs[0].key() != m.Jobs[0].key() {
					return &model.FieldError{Field: path, Reason: "must hold the one job " + m.Jobs[0].key() + "; rename with apply"}
				}
				p, err := planApply(ctx, c, m2, false, [2]string{})
				if err != nil {
					return err
				}
				p.print(cmd.OutOrStdout())
				if p.empty() {
					return nil
				}
				return p.execute(ctx, c, cmd.OutOrStdout())
			},
		}
		api.register(c)
		c.Flags().StringVar(&format, "format", "toml", "toml or yaml")
		return c
	}()

	del := func() *cobra.Command {
		var api apiFlags
		c := &cobra.Command{
			Use: "delete NAME|ID...", Short: "Delete jobs with their schedules and history", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := api.client()
				if err != nil {
					return err
				}
				for _, ref := range args {
					j, err := findJob(cmd.Context(), c, namespace, ref)
					if err != nil {
						return err
					}
					if err := c.DeleteJob(cmd.Context(), j.ID); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "job %s/%s deleted\n", j.Namespace, j.Name)
				}
				return nil
			},
		}
		api.register(c)
		return c
	}()

	cmd.AddCommand(list, get, create, edit, del, newJobRunCmd(&namespace))
	return cmd
}

func newJobRunCmd(namespace *string) *cobra.Command {
	var (
		api      apiFlags
		out      outputFlag
		params   []string
		priority int
		wait     bool
	)
	c := &cobra.Command{
		Use:   "run NAME|ID [--param k=v] [--wait]",
		Short: "Run a job now; with --wait, show its status live and exit with its result",
		Long: "Run a job now. With --wait, show the run's status until it ends: a spinner on a terminal, one line per\n" +
			"change otherwise; then exit 0 if it succeeded and 6 if not.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			p := map[string]string{}
			for _, kv := range params {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return &model.FieldError{Field: "--param", Reason: "must be name=value"}
				}
				p[k] = v
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			j, err := findJob(cmd.Context(), c, *namespace, args[0])
			if err != nil {
				return err
			}
			t, err := c.RunJob(cmd.Context(), j.ID, &hf.RunRequest{Parameters: p, Priority: priority})
			if err != nil {
				return err
			}
			if !wait {
				return out.print(cmd.OutOrStdout(), t, taskRows([]*hf.Task{t}))
			}
			return waitRun(cmd.Context(), c, t, cmd.OutOrStdout(), logging.IsTerminal(cmd.OutOrStdout()))
		},
	}
	api.register(c)
	out.register(c)
	c.Flags().StringArrayVarP(&params, "param", "p", nil, "parameter name=value (repeat)")
	c.Flags().IntVar(&priority, "priority", 0, "priority, -1000 to 1000")
	c.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the run to end and exit with its result")
	return c
}

// waitRun shows a task's status until it is final; on a terminal as one
// line redrawn with a spinner, otherwise as a line per change.
func waitRun(ctx context.Context, c *hf.Client, t *hf.Task, w io.Writer, tty bool) error {
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	last := ""
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		cur, err := c.GetTask(ctx, t.ID)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("task %s %s (attempt %d)", cur.ID, cur.Status, cur.Attempt)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s %s %s", frames[i%len(frames)], line, time.Since(start).Round(100*time.Millisecond))
		} else if line != last {
			fmt.Fprintln(w, line)
		}
		last = line
		if cur.Status.Final() {
			if tty {
				fmt.Fprintln(w)
			}
			if cur.Status != model.TaskSucceeded {
				var code *int
				if ti, err := c.LatestInstance(ctx, cur.ID); err == nil && ti != nil {
					code = ti.ExitCode
				}
				return &runFailedError{id: cur.ID, status: cur.Status.String(), exitCode: code, detail: cur.Reason}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func taskRows(tasks []*hf.Task) func() *table {
	return func() *table {
		t := &table{header: []string{"ID", "JOB", "STATUS", "ATTEMPT", "SCHEDULED"}}
		for _, k := range tasks {
			t.rows = append(t.rows, []string{k.ID.String(), k.JobID.String(), k.Status.String(), strconv.Itoa(k.Attempt), k.ScheduledAt.UTC().Format(time.RFC3339)})
		}
		return t
	}
}
