package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/model"
)

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Translate other schedulers' job exports into hetuflow jobs",
		Long: "Translate a job export of another scheduler into the apply format (written to stdout, or applied with\n" +
			"--apply), and report on stderr each field that did not map exactly. Imported jobs carry the label\n" +
			"imported_from=<system>, so a later apply --prune --selector imported_from=<system> manages them.",
	}
	sub := func(system, short, example string, translate func([]byte, string) (*manifest, *importReport, error)) *cobra.Command {
		var (
			api                     apiFlags
			from, format, namespace string
			apply, dryRun           bool
		)
		c := &cobra.Command{
			Use: system + " --from FILE", Short: short, Example: example, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if from == "" {
					return &model.FieldError{Field: "--from", Reason: "name the export file"}
				}
				data, err := os.ReadFile(from)
				if err != nil {
					return &model.FieldError{Field: "--from", Reason: err.Error()}
				}
				if namespace == model.DefaultNamespace {
					namespace = ""
				}
				m, rep, err := translate(data, namespace)
				if err != nil {
					return &model.FieldError{Field: "--from", Reason: err.Error()}
				}
				// Check what was made as apply would, so a bad translation
				// is caught here and names its job.
				b, err := encodeManifest(m, "json")
				if err != nil {
					return err
				}
				if _, err := decodeManifest(from, "json", b); err != nil {
					return err
				}
				for _, j := range m.Jobs {
					if err := j.Config.Validate(); err != nil {
						rep.add(j.Name, "config does not validate, fix it before applying: %v", err)
					}
				}
				printReport(cmd, system, m, rep)
				if !apply {
					out, err := encodeManifest(m, format)
					if err != nil {
						return err
					}
					_, err = cmd.OutOrStdout().Write(out)
					return err
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				p, err := planApply(cmd.Context(), c, m, false, [2]string{})
				if err != nil {
					return err
				}
				p.print(cmd.OutOrStdout())
				if dryRun || p.empty() {
					return nil
				}
				return p.execute(cmd.Context(), c, cmd.OutOrStdout())
			},
		}
		api.register(c)
		c.Flags().StringVar(&from, "from", "", "the export file (JSON)")
		c.Flags().StringVarP(&format, "output", "o", "toml", "toml or yaml (without --apply)")
		c.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace of the imported jobs (default \"default\")")
		c.Flags().BoolVar(&apply, "apply", false, "apply the jobs to the server instead of printing them")
		c.Flags().BoolVar(&dryRun, "dry-run", false, "with --apply: print the diff only")
		return c
	}
	cmd.AddCommand(
		sub("xxl-job", "Translate XXL-JOB jobs (the admin's job info list, JSON)", "  hetuflow import xxl-job --from export.json -o yaml > jobs.yaml", importXXLJob),
		sub("dkron", "Translate Dkron jobs (GET /v1/jobs, JSON)", "  hetuflow import dkron --from jobs.json --apply", importDkron),
	)
	return cmd
}

func printReport(cmd *cobra.Command, system string, m *manifest, rep *importReport) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "imported %d %s jobs; %d notes:\n", len(m.Jobs), system, len(rep.lines))
	for _, l := range rep.lines {
		fmt.Fprintln(w, "  "+strings.TrimSpace(l))
	}
}
