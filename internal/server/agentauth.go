package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/agentauth"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/server/bus"
	"github.com/hetuflow/hetuflow/internal/server/gateway"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
)

// revokedReason is the close reason a revoked agent sees.
const revokedReason = "agent credential revoked"

// newAgentAuth builds the agent authenticator from the config.
func (a *App) newAgentAuth() (*agentauth.Service, error) {
	cfg := a.opts.Config.Server
	ac := agentauth.Config{AllowSharedToken: cfg.AllowSharedAgentToken}
	if f := cfg.AgentJWE.PrivateKeyFile; f != "" {
		j, err := agentauth.LoadJWE(f)
		if err != nil {
			return nil, err
		}
		ac.JWE = j
	}
	return agentauth.New(ac, a.opts.Store, a.tokens, a.log.With("svc", "agentauth")), nil
}

// handleRevokeBus disconnects agents revoked through another server.
func (a *App) handleRevokeBus() {
	a.bus.Handle(bus.Revoke, func(ctx context.Context, m bus.Message) {
		if a.gateway.Disconnect(m.AgentID, revokedReason) {
			a.log.InfoContext(ctx, "revoked agent disconnected", "agent_id", m.AgentID)
		}
	})
}

// agentAuthAPI is the API's view of agent enrolment: the service, with
// revocation that also disconnects the agent wherever it is connected.
type agentAuthAPI struct {
	*agentauth.Service
	app *App
}

// RevokeAgent revokes the credential, then cuts the agent off here and,
// through the bus, on the server that holds it. Its reconnects are refused
// by the revoked credential.
func (r agentAuthAPI) RevokeAgent(ctx context.Context, agentID string) (*model.AgentCredential, error) {
	c, err := r.Service.RevokeAgent(ctx, agentID)
	if err != nil {
		return nil, err
	}
	r.app.gateway.Disconnect(agentID, revokedReason)
	r.app.publish(bus.Message{Kind: bus.Revoke, AgentID: agentID, Reason: revokedReason})
	return c, nil
}

// newSecrets loads the secrets key, if one is configured.
func (a *App) newSecrets() error {
	cfg := a.opts.Config.Server
	keys, err := secrets.LoadKeys(cfg.SecretsKey, cfg.SecretsKeyFile)
	if err != nil {
		return err
	}
	if keys == nil {
		a.log.Info("no secrets key configured: secrets cannot be stored or used")
	}
	a.secrets = secrets.New(a.opts.Store, keys)
	return nil
}

// gatewayAuth adapts the agent authenticator to the gateway.
type gatewayAuth struct{ s *agentauth.Service }

// IdentifyAgent implements gateway.Authenticator.
func (g gatewayAuth) IdentifyAgent(ctx context.Context, token, claimedID string) (gateway.Identity, error) {
	id, err := g.s.IdentifyAgent(ctx, token, claimedID)
	if err != nil {
		return gateway.Identity{}, err
	}
	var sel model.Selector
	if id.Labels != "" {
		// Stored after ParseSelector at enrolment, so it parses; if it did
		// not, refusing is the safe way out.
		if sel, err = model.ParseSelector(id.Labels); err != nil {
			return gateway.Identity{}, fmt.Errorf("agent credential has a bad label selector: %w", err)
		}
	}
	return gateway.Identity{AgentID: id.AgentID, Labels: sel}, nil
}

// auditAgentEvent writes an agent's connection, disconnection or refusal
// to the audit log, with the agent as the actor.
func (a *App) auditAgentEvent(ctx context.Context, e gateway.AgentEvent) {
	if e.Kind == "agent-refused" {
		// Anyone can knock with a bad token; record knocks, not a flood.
		if ok, _ := a.refusalAudits.Allow(clientHost(e.RemoteAddr)); !ok {
			return
		}
	}
	entry := &model.AuditEntry{Actor: e.AgentID, ActorKind: "agent", Action: e.Kind, ObjectType: "agent", ObjectID: e.AgentID, RemoteAddr: e.RemoteAddr}
	if entry.Actor == "" {
		entry.Actor = "unknown agent"
	}
	if e.Detail != "" {
		key := "version"
		if e.Kind == "agent-refused" {
			key = "reason"
		}
		entry.Diff, _ = json.Marshal(map[string]string{key: e.Detail})
	}
	auth.Record(ctx, a.opts.Store, a.log, entry)
}

// clientHost is the host part of a remote address, so one client is one key
// whatever its source port.
func clientHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
