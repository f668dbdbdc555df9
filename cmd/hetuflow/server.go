package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/server"
	"github.com/hetuflow/hetuflow/internal/server/metrics"
)

// serverFlags override config keys for the server.
type serverFlags struct {
	listen    string
	dataDir   string
	database  string
	noMigrate bool
}

func (f *serverFlags) register(cmd *cobra.Command, listenDefault string) {
	cmd.Flags().StringVar(&f.listen, "listen", "", "address for the API, UI and agent socket (default "+listenDefault+")")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "directory for the SQLite database, logs and ids (default ./data)")
	cmd.Flags().StringVar(&f.database, "database", "", "postgres://… for PostgreSQL, or sqlite:PATH (default SQLite in the data dir)")
	cmd.Flags().BoolVar(&f.noMigrate, "no-migrate", false, "do not apply database migrations at start")
}

func (f *serverFlags) apply(cfg *config.Config) {
	if f.listen != "" {
		cfg.Server.Listen = f.listen
	}
	if f.dataDir != "" {
		cfg.Server.DataDir = f.dataDir
	}
	if f.database != "" {
		cfg.Database.URL = f.database
	}
}

func newServerCmd(g *globalFlags) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a server (SQLite for one node, PostgreSQL for one or many)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			f.apply(cfg)
			if err := cfg.Validate(); err != nil {
				return err
			}
			logger, level := newLoggerLevel(cfg.Log, os.Stderr)
			rt := &serverRuntime{level: level, reload: reloadFunc(g, f)}
			return runServer(cmd.Context(), cfg, migrateFlag(cfg, f.noMigrate), logger, cmd.OutOrStdout(), rt, g.language(), nil)
		},
	}
	f.register(cmd, "0.0.0.0:9500")
	return cmd
}

// runServer runs a server until ctx ends. started, if set, runs once the
// server serves (dev mode starts its agent there).
func runServer(ctx context.Context, cfg *config.Config, migrate bool, logger *slog.Logger, out io.Writer, rt *serverRuntime, l lang, started func(context.Context, *server.App) (stop func(context.Context) error, err error)) error {
	if rt == nil {
		rt = &serverRuntime{}
	}
	m := metrics.New(buildVersion())
	st, err := openStoreObserved(ctx, cfg, migrate, logger, m.QueryDone)
	if err != nil {
		return err
	}
	defer st.Close()
	app, err := server.New(server.Options{Config: cfg, Store: st, Logger: logger, Version: buildVersion(), Metrics: m, Reload: rt.reload, LogLevel: rt.level})
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	stopHUP := reloadOnSIGHUP(ctx, app, logger)
	defer stopHUP()
	stopExtra := func(context.Context) error { return nil }
	if started != nil {
		if stopExtra, err = started(ctx, app); err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.D())
			defer cancel()
			_ = app.Stop(stopCtx)
			return err
		}
	} else if c := app.Credentials(); c.AdminToken != "" || c.AgentToken != "" {
		printFirstStart(out, l, app.ServerID(), app.Addr(), c, cfg.Server.AllowSharedAgentToken)
	}
	if started == nil {
		printSetupLink(out, app)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.D())
	defer cancel()
	if err := stopExtra(stopCtx); err != nil {
		logger.Warn("stop agent", "error", err)
	}
	if err := app.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop server: %w", err)
	}
	return nil
}

// printFirstStart shows the tokens created at a first start. Its first line
// is the same in every language: scripts read the address from it.
func printFirstStart(out io.Writer, l lang, serverID, addr string, c server.Credentials, sharedAgentToken bool) {
	fmt.Fprintf(out, "\nhetuflow server %s listening on %s\n", serverID, addr)
	fmt.Fprintln(out, l.tr("server.first_start"))
	if c.AdminToken != "" {
		fmt.Fprintln(out, l.tr("server.admin_token", c.AdminToken))
	}
	if !sharedAgentToken {
		fmt.Fprintln(out, l.tr("server.enrol_agents"))
		fmt.Fprintln(out, l.tr("server.enrol_command", addr))
	} else if c.AgentToken != "" {
		fmt.Fprintln(out, l.tr("server.agent_token", c.AgentToken))
		fmt.Fprintln(out, l.tr("server.start_agent", addr, c.AgentToken))
	}
	fmt.Fprintln(out)
}

// printSetupLink prints the one-time link that creates the first admin,
// at every start until a user exists.
func printSetupLink(out io.Writer, app *server.App) {
	if link := app.SetupLink(); link != "" {
		fmt.Fprintf(out, "No user exists yet. Create the first admin (link works once, for %s):\nsetup link: %s\n(or: hetuflow user create --admin --name NAME)\n\n",
			"a limited time", link)
	}
}
