package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/agent"
	"github.com/hetuflow/hetuflow/internal/config"
)

func newAgentCmd(g *globalFlags) *cobra.Command {
	var (
		servers  []string
		token    string
		id       string
		name     string
		labels   []string
		capacity int
		dataDir  string
		enroll   string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent that dials a server and runs its tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			if len(servers) > 0 {
				cfg.Agent.Servers = servers
			}
			if token != "" {
				cfg.Agent.Token = token
			}
			if enroll != "" {
				cfg.Agent.EnrollToken = enroll
			}
			if id != "" {
				cfg.Agent.ID = id
			}
			if name != "" {
				cfg.Agent.Name = name
			}
			if capacity != 0 {
				cfg.Agent.Capacity = capacity
			}
			if dataDir != "" {
				cfg.Agent.DataDir = dataDir
			}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return fmt.Errorf("--label %q: use key=value", l)
				}
				if cfg.Agent.Labels == nil {
					cfg.Agent.Labels = map[string]string{}
				}
				cfg.Agent.Labels[k] = v
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := enrollAgent(cmd.Context(), cfg); err != nil {
				return err
			}
			if cfg.Agent.Token == "" {
				return fmt.Errorf("an agent credential is required: enrol with --enroll-token (or [agent] enroll_token), or give the shared token with --token")
			}
			logger := newLogger(cfg.Log, os.Stderr)
			a, err := newAgent(cfg)
			if err != nil {
				return err
			}
			stopMetrics, err := serveAgentMetrics(cfg.Agent.MetricsListen, logger)
			if err != nil {
				return err
			}
			defer stopMetrics()
			// The agent outlives the signal context: a signal starts its
			// drain (Shutdown below) rather than ending it at once.
			if err := a.Start(context.WithoutCancel(cmd.Context())); err != nil {
				return err
			}
			// SIGTERM, or a drain asked through the API, drains the agent:
			// no new work, running tasks finish within the grace, then exit.
			select {
			case <-cmd.Context().Done():
				logger.Info("agent shutting down", "grace", cfg.Agent.ShutdownGrace.String())
			case <-a.ExitRequested():
				logger.Info("agent draining at the server's request", "grace", cfg.Agent.ShutdownGrace.String())
			}
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), cfg.Agent.ShutdownGrace.D()+10e9)
			defer cancel()
			return a.Shutdown(stopCtx)
		},
	}
	cmd.Flags().StringArrayVar(&servers, "server", nil, "server URL to dial, ws://HOST:9500 (repeat for several)")
	cmd.Flags().StringVar(&token, "token", "", "agent token printed by the server at first start")
	cmd.Flags().StringVar(&id, "id", "", "agent id (default: generated once, kept in the data dir)")
	cmd.Flags().StringVar(&name, "name", "", "name shown in the UI (default: host name)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "label key=value (repeat for several)")
	cmd.Flags().IntVar(&capacity, "capacity", 0, "tasks held or run at once (default four per CPU)")
	cmd.Flags().StringVar(&enroll, "enroll-token", "", "enrolment token to exchange once for this agent's own credential (kept in the data dir)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "directory for work dirs and the agent id (default ./data/agent)")
	return cmd
}

// newAgent builds an agent from the agent section of cfg.
func newAgent(cfg *config.Config) (*agent.Agent, error) {
	ac := cfg.Agent
	id := ac.ID
	if id == "" {
		var err error
		if id, err = config.LoadOrCreateID(ac.DataDir, "agent-id"); err != nil {
			return nil, fmt.Errorf("agent id: %w", err)
		}
	}
	logger := newLogger(cfg.Log, os.Stderr).With("svc", "agent")
	client, err := agent.HTTPClientWithCA(ac.CAFile)
	if err != nil {
		return nil, err
	}
	return agent.New(agent.Config{
		ID: id, Name: ac.Name, Servers: ac.Servers, Token: ac.Token, Labels: ac.Labels, Capacity: ac.Capacity,
		DataDir: ac.DataDir, Version: buildVersion(), ShutdownGrace: ac.ShutdownGrace.D(),
		HTTPClient: client, MaxMessageBytes: ac.MaxMessageBytes,
		Guard: agent.Guard{AllowedNamespaces: ac.Guard.AllowedNamespaces, AllowedCommands: ac.Guard.AllowedCommands, DenyRoot: ac.Guard.DenyRoot},
	}, logger)
}

// enrollAgent gives the agent its own credential: the one kept in its data
// dir, or a new one for the enrolment token. The credential then names the
// agent and replaces any shared token.
func enrollAgent(ctx context.Context, cfg *config.Config) error {
	ac := &cfg.Agent
	cred, err := agent.LoadCredential(ac.DataDir)
	if err != nil {
		return err
	}
	if cred == nil && ac.EnrollToken != "" {
		client, err := agent.HTTPClientWithCA(ac.CAFile)
		if err != nil {
			return err
		}
		cred, err = agent.Enroll(ctx, agent.EnrollParams{Servers: ac.Servers, Token: ac.EnrollToken, Labels: ac.Labels,
			Version: buildVersion(), DataDir: ac.DataDir, HTTPClient: client})
		if err != nil {
			return err
		}
	}
	if cred != nil {
		ac.ID, ac.Token = cred.AgentID, cred.Credential
	}
	return nil
}
