// Command hetuflow is the hetuflow scheduler: a server, an agent, a dev mode
// that runs both, and tools around them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Exit codes scripts can rely on.
const (
	exitOK     = 0
	exitError  = 1
	exitConfig = 2
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "hetuflow:", err)
	var fe *model.FieldError
	if errors.As(err, &fe) {
		return exitConfig
	}
	return exitError
}

// globalFlags are the flags every command shares.
type globalFlags struct {
	configPath string
	// lang chooses the language of human messages (see lang.go).
	lang string
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "hetuflow",
		Short:         "A distributed job scheduler: server, agent and tools in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "config file (default resources/app.toml if present; or $HETUFLOW_CONFIG)")
	root.PersistentFlags().StringVar(&g.lang, "lang", "", "language of human messages: en or zh-CN (default from LC_ALL, LC_MESSAGES or LANG); machine output never changes")
	root.AddCommand(newDevCmd(g), newServerCmd(g), newAgentCmd(g), newMigrateCmd(g), newScheduleCmd(), newLogsCmd(), newClusterCmd(g), newVersionCmd())
	return root
}
