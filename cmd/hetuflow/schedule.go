package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/model"
)

func newScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Work with schedules",
	}
	cmd.AddCommand(newSchedulePreviewCmd())
	return cmd
}

func newSchedulePreviewCmd() *cobra.Command {
	var (
		expr, tz, from, every, id string
		n                         int
		api                       apiFlags
	)
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Print the next fire times of a cron expression or interval, one per line",
		Long: "Print the next fire times of a cron expression (5, 6 or 7 fields, L W # ?, names, @daily …) or a\n" +
			"fixed-rate interval, computed by the same code the scheduler plans with, including its daylight-saving rules.",
		Example: "  hetuflow schedule preview --cron '0 30 2 * * *' --tz America/New_York -n 5\n" +
			"  hetuflow schedule preview --interval 90s --from 2026-03-01T00:00:00Z\n" +
			"  hetuflow schedule preview --id 01a21d48-… -n 3   # a stored schedule, asked of the server",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id != "" {
				return previewStored(cmd, &api, id, from, n)
			}
			s := &model.Schedule{Kind: model.ScheduleCron, Cron: expr, TimeZone: tz}
			start := time.Now()
			if from != "" {
				t, err := time.Parse(time.RFC3339Nano, from)
				if err != nil {
					return &model.FieldError{Field: "--from", Reason: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}
				}
				start = t
			}
			if every != "" {
				d, err := time.ParseDuration(every)
				if err != nil {
					return &model.FieldError{Field: "--interval", Reason: "must be a duration such as 90s"}
				}
				s.Kind, s.Interval, s.StartTime = model.ScheduleInterval, model.Duration(d), &start
			} else if expr == "" {
				return &model.FieldError{Field: "--cron", Reason: "give --cron or --interval"}
			}
			spec, err := cron.ForSchedule(s)
			if err != nil {
				return err
			}
			if n < 1 || n > 10_000 {
				return &model.FieldError{Field: "-n", Reason: "must be between 1 and 10000"}
			}
			loc, _ := cron.LoadLocation(tz)
			// An interval anchored at --from fires at --from itself.
			after := start
			if every != "" {
				after = start.Add(-1)
			}
			for _, t := range cron.Preview(spec, after, n) {
				fmt.Fprintln(cmd.OutOrStdout(), t.In(loc).Format(time.RFC3339Nano))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&expr, "cron", "", "cron expression")
	cmd.Flags().StringVar(&tz, "tz", "", "IANA time zone (default UTC)")
	cmd.Flags().StringVar(&every, "interval", "", "fixed-rate interval instead of cron, anchored at --from")
	cmd.Flags().StringVar(&from, "from", "", "RFC 3339 instant to start from (default now)")
	cmd.Flags().IntVarP(&n, "count", "n", 10, "how many fire times")
	cmd.Flags().StringVar(&id, "id", "", "preview a stored schedule through the server's API instead")
	api.register(cmd)
	return cmd
}

// previewStored prints a stored schedule's next fires, computed by the
// server.
func previewStored(cmd *cobra.Command, api *apiFlags, ref, from string, n int) error {
	id, err := parseUUID(ref, "--id")
	if err != nil {
		return err
	}
	var start time.Time
	if from != "" {
		if start, err = time.Parse(time.RFC3339Nano, from); err != nil {
			return &model.FieldError{Field: "--from", Reason: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}
		}
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	p, err := c.PreviewStoredSchedule(cmd.Context(), id, start, n)
	if err != nil {
		return err
	}
	for _, f := range p.Fires {
		fmt.Fprintln(cmd.OutOrStdout(), f)
	}
	return nil
}
