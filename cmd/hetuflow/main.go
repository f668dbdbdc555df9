// Command hetuflow is the hetuflow scheduler: a server, an agent, a dev mode
// that runs both, and tools around them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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
	return exitCode(err)
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.PersistentFlags().StringVar(&g.lang, "lang", "", "language of human messages: en or zh-CN (default from LC_ALL, LC_MESSAGES or LANG); machine output never changes")
	root.AddCommand(newDevCmd(g), newServerCmd(g), newAgentCmd(g), newMigrateCmd(g), newScheduleCmd(), newLogsCmd(), newClusterCmd(g), newVersionCmd(), newUserCmd(g), newTokenCmd())
	addClientCommands(root)
	return root
}
