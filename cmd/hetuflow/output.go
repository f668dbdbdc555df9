package main

import (
	"encoding/json"
	"fmt"
	"io"

	"text/tabwriter"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

// outputFlag is -o/--output: table (default), json or yaml.
type outputFlag struct{ format string }

func (o *outputFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "table", "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

func (o *outputFlag) check() error {
	switch o.format {
	case "table", "json", "yaml":
		return nil
	}
	return &model.FieldError{Field: "--output", Reason: "must be table, json or yaml"}
}

// table is rows under a header, for -o table.
type table struct {
	header []string
	rows   [][]string
}

// print writes v as JSON or YAML (the API's own field names), or t as a
// table.
func (o *outputFlag) print(w io.Writer, v any, t func() *table) error {
	if err := o.check(); err != nil {
		return err
	}
	switch o.format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		return writeYAML(w, v)
	}
	tb := t()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, h := range tb.header {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, h)
	}
	fmt.Fprintln(tw)
	for _, r := range tb.rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeYAML writes v as YAML with the keys its JSON form has, so -o yaml and
// -o json name fields alike.
func writeYAML(w io.Writer, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return fmt.Errorf("encode yaml: %w", err)
	}
	_, err = w.Write(y)
	return err
}

// outputCmd completes c, a command that prints what it reads from the API:
// it registers the server, token and -o flags and, before run, checks the
// output format and opens the client.
func outputCmd(c *cobra.Command, run func(cmd *cobra.Command, args []string, cl *hf.Client, out *outputFlag) error) *cobra.Command {
	var (
		api apiFlags
		out outputFlag
	)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := out.check(); err != nil {
			return err
		}
		cl, err := api.client()
		if err != nil {
			return err
		}
		return run(cmd, args, cl, &out)
	}
	api.register(c)
	out.register(c)
	return c
}
