package gateway

import "github.com/coder/websocket"

// Disconnect ends the agent's session at once, if this server holds it,
// with close status 1008 (policy violation) and reason, which the agent
// logs. It reports whether there was a session. Reconnects are the
// authenticator's to refuse.
func (g *Gateway) Disconnect(agentID, reason string) bool {
	s := g.session(agentID)
	if s == nil {
		return false
	}
	s.close(websocket.StatusPolicyViolation, reason)
	return true
}
