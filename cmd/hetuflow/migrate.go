package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newMigrateCmd(g *globalFlags) *cobra.Command {
	var database string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or list database migrations",
	}
	cmd.PersistentFlags().StringVar(&database, "database", "", "database URL (postgres://… or sqlite:PATH); default from config")
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			if database != "" {
				cfg.Database.URL = database
			}
			logger := newLogger(cfg.Log, os.Stderr)
			st, err := openStore(cmd.Context(), cfg, false, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.MigrateUp(cmd.Context()); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), g.language().tr("migrate.applied"))
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			if database != "" {
				cfg.Database.URL = database
			}
			logger := newLogger(cfg.Log, os.Stderr)
			st, err := openStore(cmd.Context(), cfg, false, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.MigrateStatus(cmd.Context())
			if err != nil {
				return fmt.Errorf("migration status: %w", err)
			}
			for _, m := range list {
				state := "pending"
				if m.Applied {
					state = "applied"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%05d  %-8s %s\n", m.Version, state, m.Name)
			}
			return nil
		},
	}
	cmd.AddCommand(up, status)
	return cmd
}
