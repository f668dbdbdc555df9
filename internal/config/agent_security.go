package config

import "github.com/hetuflow/hetuflow/internal/model"

// ServerTLS is the server's certificate. Both empty means plain HTTP.
type ServerTLS struct {
	// CertFile is the PEM certificate chain.
	CertFile string `toml:"cert_file" env:"CERT_FILE"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `toml:"key_file" env:"KEY_FILE"`
}

// ServerAgentJWE configures the compatibility JWE agent tokens.
type ServerAgentJWE struct {
	// PrivateKeyFile is the P-256 private key (PEM, SEC1 or PKCS#8) the
	// tokens are encrypted to. Empty means JWE tokens are refused.
	PrivateKeyFile string `toml:"private_key_file" env:"PRIVATE_KEY_FILE"`
}

// AgentGuard is the agent's own policy on what it runs. Empty lists allow
// everything.
type AgentGuard struct {
	// AllowedNamespaces are the namespaces whose jobs the agent runs.
	AllowedNamespaces []string `toml:"allowed_namespaces" env:"ALLOWED_NAMESPACES"`
	// AllowedCommands are prefixes of the command line (program and
	// arguments joined by spaces) the agent runs, such as "/usr/bin/python3"
	// or "/opt/jobs/"; a shell command is checked as "<shell> -c <script>".
	AllowedCommands []string `toml:"allowed_commands" env:"ALLOWED_COMMANDS"`
	// DenyRoot refuses to run anything when the agent runs as uid 0, and
	// refuses jobs that ask to run as uid 0.
	DenyRoot bool `toml:"deny_root" env:"DENY_ROOT"`
}

// MaxMessageBytes is the default and the largest WebSocket message limit:
// protocol.MaxFrameBytes, which the frame decoder enforces anyway.
const MaxMessageBytes = 4 << 20

// minMessageBytes keeps the limit above the largest output chunk an agent
// sends, so a working agent never trips it.
const minMessageBytes = 256 << 10

// agentSecurityDefaults fills in the defaults of the transport and agent guard
// keys, kept apart from Default's literal so the sections stay easy to merge.
func agentSecurityDefaults(c *Config) {
	c.Server.AgentMaxMessageBytes = MaxMessageBytes
	c.Agent.MaxMessageBytes = MaxMessageBytes
	c.Agent.Guard = AgentGuard{AllowedNamespaces: []string{}, AllowedCommands: []string{}}
}

// validateAgentSecurity checks the transport and agent guard keys.
func (c *Config) validateAgentSecurity() error {
	if c.Server.AgentMaxMessageBytes < minMessageBytes || c.Server.AgentMaxMessageBytes > MaxMessageBytes {
		return model.Errorf("server.agent_max_message_bytes", "must be between %d and %d", minMessageBytes, MaxMessageBytes)
	}
	if (c.Server.TLS.CertFile == "") != (c.Server.TLS.KeyFile == "") {
		return model.Errorf("server.tls", "cert_file and key_file must be set together")
	}
	if c.Agent.MaxMessageBytes < minMessageBytes || c.Agent.MaxMessageBytes > MaxMessageBytes {
		return model.Errorf("agent.max_message_bytes", "must be between %d and %d", minMessageBytes, MaxMessageBytes)
	}
	return nil
}
