package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/model"
)

// contextFile is ~/.config/hetuflow/config.toml: named servers with their
// tokens, and which one commands use by default.
type contextFile struct {
	Current  string                  `toml:"current_context,omitempty"`
	Contexts map[string]contextEntry `toml:"contexts,omitempty"`
}

// contextEntry is one named server.
type contextEntry struct {
	Server string `toml:"server"`
	Token  string `toml:"token,omitempty"`
}

// contextPath is the context file's path: $HETUFLOW_CLI_CONFIG, else
// $XDG_CONFIG_HOME/hetuflow/config.toml, else ~/.config/hetuflow/config.toml.
func contextPath() string {
	if p := os.Getenv("HETUFLOW_CLI_CONFIG"); p != "" {
		return p
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "hetuflow", "config.toml")
}

// loadContextFile reads the context file; a missing file is empty.
func loadContextFile() (*contextFile, error) {
	cf := &contextFile{Contexts: map[string]contextEntry{}}
	b, err := os.ReadFile(contextPath())
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read context file: %w", err)
	}
	if err := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields().Decode(cf); err != nil {
		return nil, &model.FieldError{Field: contextPath(), Reason: err.Error()}
	}
	if cf.Contexts == nil {
		cf.Contexts = map[string]contextEntry{}
	}
	return cf, nil
}

// save writes the file readable by its owner only: it holds tokens.
func (cf *contextFile) save() error {
	p := contextPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("create context directory: %w", err)
	}
	b, err := toml.Marshal(cf)
	if err != nil {
		return fmt.Errorf("encode context file: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write context file: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write context file: %w", err)
	}
	return nil
}

func newContextCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Manage named servers and tokens in " + "~/.config/hetuflow/config.toml",
		Long: "Contexts name a server URL and its token, so commands need neither --server nor --token. The file is\n" +
			"$XDG_CONFIG_HOME/hetuflow/config.toml (default ~/.config/hetuflow/config.toml; $HETUFLOW_CLI_CONFIG overrides).\n" +
			"Precedence: flags, then $HETUFLOW_SERVER/$HETUFLOW_TOKEN, then the context.",
	}
	var server, token string
	set := &cobra.Command{
		Use:     "set NAME",
		Short:   "Create or change a context; the first one becomes current",
		Example: "  hetuflow context set prod --server https://hetuflow.example:9500 --token $TOKEN",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, err := loadContextFile()
			if err != nil {
				return err
			}
			e := cf.Contexts[args[0]]
			if cmd.Flags().Changed("server") {
				e.Server = server
			}
			if cmd.Flags().Changed("token") {
				e.Token = token
			}
			if e.Server == "" {
				return &model.FieldError{Field: "--server", Reason: "a new context needs a server URL"}
			}
			cf.Contexts[args[0]] = e
			if cf.Current == "" {
				cf.Current = args[0]
			}
			if err := cf.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "context %s saved in %s\n", args[0], contextPath())
			return nil
		},
	}
	set.Flags().StringVar(&server, "server", "", "server URL")
	set.Flags().StringVar(&token, "token", "", "admin or API token")
	use := &cobra.Command{
		Use:               "use NAME",
		Short:             "Make a context the current one",
		Args:              exactArgs(1),
		ValidArgsFunction: completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, err := loadContextFile()
			if err != nil {
				return err
			}
			if _, ok := cf.Contexts[args[0]]; !ok {
				return notFoundf("no context %s in %s", args[0], contextPath())
			}
			cf.Current = args[0]
			if err := cf.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "current context is %s\n", args[0])
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the contexts; * marks the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cf, err := loadContextFile()
			if err != nil {
				return err
			}
			names := make([]string, 0, len(cf.Contexts))
			for n := range cf.Contexts {
				names = append(names, n)
			}
			sort.Strings(names)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER\tTOKEN")
			for _, n := range names {
				cur, tok := "", "none"
				if n == cf.Current {
					cur = "*"
				}
				if cf.Contexts[n].Token != "" {
					tok = "set"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cur, n, cf.Contexts[n].Server, tok)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(set, use, list)
	return cmd
}

func completeContexts(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cf, err := loadContextFile()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for n := range cf.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}
