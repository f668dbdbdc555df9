package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"testing"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/agentauth"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/store"
)

// agentSecurity returns the real enrolment and secrets services on st, the
// secrets under a random test key, so that the routes they back are
// registered and behave as in the server (which only adds a cluster-wide
// disconnect to agent revocation).
func agentSecurity(t *testing.T, st store.Store, log *slog.Logger) (api.AgentAuth, api.Secrets) {
	t.Helper()
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	keys, err := secrets.ParseKeys(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatalf("secrets key: %v", err)
	}
	// A high enrolment burst: the matrix enrols an agent per change.
	enrol := agentauth.New(agentauth.Config{EnrollBurst: 10000}, st, nil, log)
	return enrol, secrets.New(st, keys)
}

// nopAlerts delivers every test alert.
type nopAlerts struct{}

func (nopAlerts) RulesChanged() {}

func (nopAlerts) SendTest(context.Context, *model.AlertRule) error { return nil }
