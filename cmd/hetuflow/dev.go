package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/server"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
)

func newDevCmd(g *globalFlags) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a server with an embedded SQLite database and an in-process agent",
		Long: "Run a server with an embedded SQLite database (in --data-dir) and an agent in the same process,\n" +
			"listening on 127.0.0.1:9500. Nothing to install. Prints the admin token and a ready-to-paste curl.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			cfg.Server.Listen = "127.0.0.1:9500"
			f.apply(cfg)
			if f.database == "" && !cfg.Database.Postgres() {
				cfg.Database.URL = ""
			}
			cfg.Agent.DataDir = filepath.Join(cfg.Server.DataDir, "agent")
			// Dev mode keeps its tokens in the data directory so it can print
			// them at every start; a real server shows them once.
			admin, err := devToken(cfg.Server.DataDir, "dev-admin-token")
			if err != nil {
				return err
			}
			agentTok, err := devToken(cfg.Server.DataDir, "dev-agent-token")
			if err != nil {
				return err
			}
			cfg.Server.BootstrapAdminToken, cfg.Server.BootstrapAgentToken = admin, agentTok
			cfg.Agent.Token = agentTok
			// The in-process agent uses the shared token; dev binds to
			// 127.0.0.1, where that is acceptable.
			cfg.Server.AllowSharedAgentToken = true
			if cfg.Server.SecretsKey == "" && cfg.Server.SecretsKeyFile == "" {
				if cfg.Server.SecretsKeyFile, err = secrets.LoadOrCreateKeyFile(cfg.Server.DataDir); err != nil {
					return err
				}
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			logger, level := newLoggerLevel(cfg.Log, os.Stderr)
			out := cmd.OutOrStdout()
			return runServer(cmd.Context(), cfg, migrateFlag(cfg, f.noMigrate), logger, out, &serverRuntime{level: level}, g.language(), func(ctx context.Context, app *server.App) (func(context.Context) error, error) {
				cfg.Agent.Servers = []string{"ws://" + app.Addr()}
				a, err := newAgent(cfg)
				if err != nil {
					return nil, err
				}
				// The agent outlives ctx, which a signal ends: Shutdown, at
				// the server's stop, lets its runs finish.
				if err := a.Start(context.WithoutCancel(ctx)); err != nil {
					return nil, err
				}
				link, err := devLoginLink(ctx, app)
				if err != nil {
					return nil, err
				}
				printDev(out, g.language(), app.Addr(), admin)
				fmt.Fprintln(out, g.language().tr("dev.sign_in", link))
				fmt.Fprintln(out)
				return a.Shutdown, nil
			})
		},
	}
	f.register(cmd, "127.0.0.1:9500")
	return cmd
}

// devToken returns the token kept in dataDir/name, creating it.
func devToken(dataDir, name string) (string, error) {
	path := filepath.Join(dataDir, name)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	tok := auth.Generate()
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return tok, nil
}

// printDev shows how to use the dev server. Its first line is the same in
// every language: scripts and tests read the address from it.
func printDev(out io.Writer, l lang, addr, token string) {
	base := "http://" + addr
	fmt.Fprintf(out, "\nhetuflow dev is running: %s%s\n\n", base, l.tr("dev.what"))
	fmt.Fprintln(out, l.tr("dev.admin_token", token))
	fmt.Fprintln(out, l.tr("dev.console", base+"/"))
	fmt.Fprintln(out, l.tr("dev.api_docs", base))
	fmt.Fprintf(out, "\n%s\n", l.tr("dev.try"))
	fmt.Fprintf(out, `  export HETUFLOW_TOKEN=%[2]s
  curl -s -H "Authorization: Bearer $HETUFLOW_TOKEN" %[1]s/api/v1/jobs \
    -d '{"name":"hello","config":{"command":"echo","args":["hello from hetuflow"]}}'

`, base, token)
}
