package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
)

func newClusterCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Inspect the servers sharing the database"}
	var (
		flags  apiFlags
		asJSON bool
		out    outputFlag
	)
	status := &cobra.Command{
		Use:   "status",
		Short: "Servers, leader and epoch, agents per server, queue depth, oldest waiting task",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := flags.client()
			if err != nil {
				return err
			}
			st, err := c.Cluster(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out.format = "json"
			}
			switch out.format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			case "yaml":
				return writeYAML(cmd.OutOrStdout(), st)
			}
			printCluster(cmd.OutOrStdout(), g.language(), st)
			return nil
		},
	}
	flags.register(status)
	out.register(status)
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (same as -o json)")
	cmd.AddCommand(status)
	return cmd
}

func printCluster(w io.Writer, l lang, st *hf.ClusterStatus) {
	switch {
	case st.Leader == nil:
		fmt.Fprintln(w, l.tr("cluster.leader_none_yet"))
	case st.LeaderLive:
		fmt.Fprintln(w, l.tr("cluster.leader_live", st.Leader.Holder, st.Leader.Epoch, st.Leader.ExpiresAt.Local().Format(time.RFC3339)))
	default:
		fmt.Fprintln(w, l.tr("cluster.leader_expired", st.Leader.Holder, st.Leader.Epoch, st.Time.Sub(st.Leader.ExpiresAt).Round(time.Second)))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, l.tr("cluster.header"))
	for _, s := range st.Servers {
		role := ""
		if s.Leader {
			role = l.tr("cluster.role_leader")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, s.Address, s.Status, role, s.Agents, s.Version, l.tr("cluster.ago", st.Time.Sub(s.LastHeartbeatAt).Round(time.Second)))
	}
	tw.Flush()
	fmt.Fprintln(w, l.tr("cluster.agents", st.AgentsByStatus["online"], st.AgentsByStatus["draining"], st.AgentsByStatus["offline"]))
	if st.OldestPendingAt == nil {
		fmt.Fprintln(w, l.tr("cluster.queue", st.QueueDepth))
		return
	}
	fmt.Fprintln(w, l.tr("cluster.queue_oldest", st.QueueDepth, (time.Duration(st.OldestPendingAgeSeconds*float64(time.Second))).Round(time.Millisecond)))
}
