package main

import "github.com/spf13/cobra"

func newImportCmd() *cobra.Command {
	return &cobra.Command{Use: "import", Short: "Translate other schedulers' job exports into hetuflow jobs"}
}
