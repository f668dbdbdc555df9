package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/logging"
	"github.com/hetuflow/hetuflow/internal/model"
)

func parseUUID(arg, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(arg)
	if err != nil {
		return uuid.Nil, &model.FieldError{Field: what, Reason: "must be an id (a UUID)"}
	}
	return id, nil
}

// newRunCmd is hetuflow run: runs are tasks.
func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "run", Aliases: []string{"runs"}, Short: "List, show, cancel and retry runs (tasks)"}
	list := func() *cobra.Command {
		var (
			job, status, ns string
			limit           int
		)
		c := outputCmd(&cobra.Command{Use: "list", Short: "List runs, newest first", Args: cobra.NoArgs}, func(cmd *cobra.Command, _ []string, c *hf.Client, out *outputFlag) error {
			filter := map[string]any{}
			if job != "" {
				j, err := findJob(cmd.Context(), c, ns, job)
				if err != nil {
					return err
				}
				filter["job_id"] = j.ID.String()
			}
			if status != "" {
				filter["status"] = status
			}
			if ns != "" {
				filter["namespace"] = ns
			}
			res, err := c.QueryTasks(cmd.Context(), &hf.Query{Filter: filter, Page: hf.Page{Limit: limit, OrderBys: []string{"!scheduled_at", "!id"}}})
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), res.Result, taskRows(res.Result))
		})
		c.Flags().StringVar(&job, "job", "", "only runs of this job (name or id)")
		c.Flags().StringVar(&status, "status", "", "only runs in this status (pending, doing, failed, succeeded …)")
		c.Flags().StringVarP(&ns, "namespace", "n", "", "namespace")
		c.Flags().IntVar(&limit, "limit", 50, "most runs to list")
		return c
	}()
	get := func() *cobra.Command {
		c := outputCmd(&cobra.Command{Use: "get ID", Short: "Show a run and its attempts", Args: exactArgs(1)}, func(cmd *cobra.Command, args []string, c *hf.Client, out *outputFlag) error {
			id, err := parseUUID(args[0], "ID")
			if err != nil {
				return err
			}
			t, err := c.GetTask(cmd.Context(), id)
			if err != nil {
				return err
			}
			ins, err := c.QueryInstances(cmd.Context(), &hf.Query{Filter: map[string]any{"task_id": id.String()}, Page: hf.Page{Limit: 100, OrderBys: []string{"attempt", "created_at"}}})
			if err != nil {
				return err
			}
			view := struct {
				*hf.Task
				Instances []*hf.TaskInstance `json:"instances"`
			}{t, ins.Result}
			return out.print(cmd.OutOrStdout(), view, func() *table {
				tb := taskRows([]*hf.Task{t})()
				tb.header = append(tb.header, "INSTANCE", "AGENT", "EXIT")
				base := tb.rows[0]
				tb.rows = nil
				if len(ins.Result) == 0 {
					tb.rows = [][]string{append(base, "", "", "")}
				}
				for _, ti := range ins.Result {
					code := ""
					if ti.ExitCode != nil {
						code = strconv.Itoa(*ti.ExitCode)
					}
					row := append(append([]string{}, base...), ti.ID.String(), ti.AgentID, code)
					row[2], row[3] = ti.Status.String(), strconv.Itoa(ti.Attempt)
					tb.rows = append(tb.rows, row)
				}
				return tb
			})
		})
		return c
	}()
	cancel := func() *cobra.Command {
		var (
			api    apiFlags
			reason string
		)
		c := &cobra.Command{
			Use: "cancel ID", Short: "Cancel a run that has not finished", Args: exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseUUID(args[0], "ID")
				if err != nil {
					return err
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				t, err := c.CancelTask(cmd.Context(), id, reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "run %s %s\n", t.ID, t.Status)
				return nil
			},
		}
		api.register(c)
		c.Flags().StringVar(&reason, "reason", "", "why, recorded on the run")
		return c
	}()
	retry := func() *cobra.Command {
		var (
			api  apiFlags
			out  outputFlag
			wait bool
		)
		c := &cobra.Command{
			Use:   "retry ID",
			Short: "Run a finished run's job again with the same parameters and priority",
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := out.check(); err != nil {
					return err
				}
				id, err := parseUUID(args[0], "ID")
				if err != nil {
					return err
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				t, err := c.GetTask(cmd.Context(), id)
				if err != nil {
					return err
				}
				if !t.Status.Final() {
					return &codedError{code: exitConflict, err: fmt.Errorf("run %s is still %s", id, t.Status)}
				}
				nt, err := c.RunJob(cmd.Context(), t.JobID, &hf.RunRequest{Parameters: t.Parameters, Priority: t.Priority})
				if err != nil {
					return err
				}
				if wait {
					return waitRun(cmd.Context(), c, nt, cmd.OutOrStdout(), logging.IsTerminal(cmd.OutOrStdout()))
				}
				return out.print(cmd.OutOrStdout(), nt, taskRows([]*hf.Task{nt}))
			},
		}
		api.register(c)
		out.register(c)
		c.Flags().BoolVarP(&wait, "wait", "w", false, "wait for the new run and exit with its result")
		return c
	}()
	cmd.AddCommand(list, get, cancel, retry)
	return cmd
}

func agentRows(agents []*hf.Agent) func() *table {
	return func() *table {
		t := &table{header: []string{"ID", "NAME", "STATUS", "SERVER", "RUNNING", "CAPACITY", "VERSION"}}
		for _, a := range agents {
			t.rows = append(t.rows, []string{a.ID, a.Name, a.Status.String(), a.ServerID, strconv.Itoa(a.Running), strconv.Itoa(a.Capacity), a.Version})
		}
		return t
	}
}

func newAgentListCmd() *cobra.Command {
	var (
		status string
	)
	c := outputCmd(&cobra.Command{Use: "list", Short: "List agents", Args: cobra.NoArgs}, func(cmd *cobra.Command, _ []string, c *hf.Client, out *outputFlag) error {
		q := &hf.Query{Page: hf.Page{Limit: 1000, OrderBys: []string{"id"}}}
		if status != "" {
			q.Filter = map[string]any{"status": status}
		}
		res, err := c.QueryAgents(cmd.Context(), q)
		if err != nil {
			return err
		}
		return out.print(cmd.OutOrStdout(), res.Result, agentRows(res.Result))
	})
	c.Flags().StringVar(&status, "status", "", "only agents in this status: online, draining or offline")
	return c
}

func newAgentDrainCmd() *cobra.Command {
	var api apiFlags
	c := &cobra.Command{
		Use: "drain ID", Short: "Drain an agent: no new work, runs finish within its grace, then it exits", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			a, err := c.DrainAgent(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s %s\n", a.ID, a.Status)
			return nil
		},
	}
	api.register(c)
	return c
}

func newAgentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Short: "List and drain agents (hetuflow agent without a subcommand runs one)"}
	cmd.AddCommand(newAgentListCmd(), newAgentDrainCmd())
	return cmd
}

// addScheduleCommands adds the API subcommands to hetuflow schedule, whose
// preview works offline.
func addScheduleCommands(cmd *cobra.Command) {
	var namespace string
	list := func() *cobra.Command {
		var (
			job string
		)
		c := outputCmd(&cobra.Command{Use: "list", Short: "List schedules", Args: cobra.NoArgs}, func(cmd *cobra.Command, _ []string, c *hf.Client, out *outputFlag) error {
			filter := map[string]any{}
			if job != "" {
				j, err := findJob(cmd.Context(), c, namespace, job)
				if err != nil {
					return err
				}
				filter["job_id"] = j.ID.String()
			} else if namespace != "" {
				filter["namespace"] = namespace
			}
			res, err := c.QuerySchedules(cmd.Context(), &hf.Query{Filter: filter, Page: hf.Page{Limit: 1000, OrderBys: []string{"created_at", "id"}}})
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), res.Result, scheduleRows(res.Result))
		})
		c.Flags().StringVar(&job, "job", "", "only schedules of this job (name or id)")
		return c
	}()
	get := func() *cobra.Command {
		c := outputCmd(&cobra.Command{Use: "get ID", Short: "Show a schedule", Args: exactArgs(1)}, func(cmd *cobra.Command, args []string, c *hf.Client, out *outputFlag) error {
			id, err := parseUUID(args[0], "ID")
			if err != nil {
				return err
			}
			s, err := c.GetSchedule(cmd.Context(), id)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), s, scheduleRows([]*hf.Schedule{s}))
		})
		return c
	}()
	create := func() *cobra.Command {
		var (
			job, name, cronExpr, tz string
			every                   time.Duration
		)
		c := outputCmd(&cobra.Command{Use: "create --job NAME|ID (--cron EXPR | --every DURATION)", Short: "Add a schedule to a job", Args: cobra.NoArgs}, func(cmd *cobra.Command, _ []string, c *hf.Client, out *outputFlag) error {
			if job == "" || (cronExpr == "") == (every == 0) {
				return &usageError{fmt.Errorf("give --job and one of --cron or --every")}
			}
			j, err := findJob(cmd.Context(), c, namespace, job)
			if err != nil {
				return err
			}
			spec := &hf.ScheduleSpec{JobID: j.ID, Name: name, Kind: model.ScheduleCron, Cron: cronExpr, TimeZone: tz}
			if every > 0 {
				spec.Kind, spec.Interval = model.ScheduleInterval, model.Duration(every)
			}
			s, err := c.CreateSchedule(cmd.Context(), spec)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), s, scheduleRows([]*hf.Schedule{s.Schedule}))
		})
		c.Flags().StringVar(&job, "job", "", "the job (name or id)")
		c.Flags().StringVar(&name, "name", "", "schedule name")
		c.Flags().StringVar(&cronExpr, "cron", "", "cron expression")
		c.Flags().StringVar(&tz, "tz", "", "IANA time zone of the cron expression")
		c.Flags().DurationVar(&every, "every", 0, "fixed-rate interval instead of cron")
		return c
	}()
	simple := func(use, short string, do func(*cobra.Command, *hf.Client, uuid.UUID) error) *cobra.Command {
		var api apiFlags
		c := &cobra.Command{
			Use: use + " ID", Short: short, Args: exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseUUID(args[0], "ID")
				if err != nil {
					return err
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				return do(cmd, c, id)
			},
		}
		api.register(c)
		return c
	}
	del := simple("delete", "Delete a schedule; its past runs stay", func(cmd *cobra.Command, c *hf.Client, id uuid.UUID) error {
		if err := c.DeleteSchedule(cmd.Context(), id); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "schedule %s deleted\n", id)
		return nil
	})
	enable := simple("enable", "Enable a schedule, planning from now", func(cmd *cobra.Command, c *hf.Client, id uuid.UUID) error {
		s, err := c.EnableSchedule(cmd.Context(), id)
		if err == nil {
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s %s\n", s.ID, s.Status)
		}
		return err
	})
	disable := simple("disable", "Disable a schedule", func(cmd *cobra.Command, c *hf.Client, id uuid.UUID) error {
		s, err := c.DisableSchedule(cmd.Context(), id)
		if err == nil {
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s %s\n", s.ID, s.Status)
		}
		return err
	})
	cmd.PersistentFlags().StringVar(&namespace, "namespace", "", "namespace of --job names (default \"default\")")
	cmd.AddCommand(list, get, create, del, enable, disable)
}

func scheduleRows(ss []*hf.Schedule) func() *table {
	return func() *table {
		t := &table{header: []string{"ID", "NAME", "KIND", "SPEC", "STATUS", "NEXT FIRE", "FIRED"}}
		for _, s := range ss {
			spec := s.Cron
			if s.Kind == model.ScheduleInterval {
				spec = "every " + s.Interval.String()
			}
			if s.TimeZone != "" && spec != "" {
				spec += " " + s.TimeZone
			}
			next := ""
			if s.NextFireAt != nil {
				next = s.NextFireAt.UTC().Format(time.RFC3339)
			}
			t.rows = append(t.rows, []string{s.ID.String(), s.Name, kindName(s.Kind), spec, s.Status.String(), next, strconv.FormatInt(s.FiredCount, 10)})
		}
		return t
	}
}
