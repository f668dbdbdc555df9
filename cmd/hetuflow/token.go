package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens (needs an admin credential)"}
	var (
		createFlags, listFlags, revokeFlags apiFlags
		name, role                          string
		namespaces                          []string
		expires                             time.Duration
		asJSON                              bool
	)
	create := &cobra.Command{
		Use:   "create --name NAME --namespace NS [--namespace NS…] --role ROLE [--expires 720h]",
		Short: "Create a token; it is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := createFlags.client()
			if err != nil {
				return err
			}
			out, err := c.CreateToken(cmd.Context(), &hf.TokenSpec{Name: name, Namespaces: namespaces, Role: model.Role(role), ExpiresIn: model.Duration(expires)})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s (id %s): %s on %s\n%s\nStore it now: it is not shown again.\n",
				out.Name, out.ID, out.Role, strings.Join(out.Namespaces, ","), out.Token)
			return nil
		},
	}
	createFlags.register(create)
	create.Flags().StringVar(&name, "name", "", "token name")
	create.Flags().StringSliceVar(&namespaces, "namespace", nil, "namespace the token reaches (repeat, or * for all)")
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator, editor or admin")
	create.Flags().DurationVar(&expires, "expires", 0, "how long the token works (0: no expiry)")
	create.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("namespace")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client()
			if err != nil {
				return err
			}
			toks, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tNAMESPACES\tEXPIRES\tLAST USED\tREVOKED")
			when := func(t *time.Time) string {
				if t == nil {
					return "-"
				}
				return t.Local().Format(time.DateTime)
			}
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, strings.Join(t.Namespaces, ","), when(t.ExpiresAt), when(t.LastUsedAt), when(t.RevokedAt))
			}
			return tw.Flush()
		},
	}
	listFlags.register(list)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := revokeFlags.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	}
	revokeFlags.register(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
