package server

import (
	"log/slog"

	"github.com/hetuflow/hetuflow/internal/config"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// newAccounts builds the sign-in service from the [security] section.
func newAccounts(cfg *config.Config, st store.Store, tokens *auth.Tokens, log *slog.Logger) *auth.Service {
	sc := cfg.Security
	return auth.NewService(st, tokens, auth.Config{
		Password:      auth.PasswordParams{Memory: sc.Argon2MemoryKiB, Time: sc.Argon2Time, Threads: sc.Argon2Threads},
		SessionIdle:   sc.SessionIdleTimeout.D(),
		SessionMaxAge: sc.SessionMaxAge.D(),
		LoginPerUser:  sc.LoginPerUserPerMinute, LoginPerAddress: sc.LoginPerAddressPerMinute,
		TokenRate: sc.RequestsPerSecond, TokenBurst: sc.RequestBurst,
		SetupTTL: sc.SetupLinkTTL.D(),
	}, log)
}

// Accounts returns the sign-in service (dev mode makes its login link
// with it).
func (a *App) Accounts() *auth.Service { return a.accounts }

// SetupLink returns the first-start setup link, or "" when users exist.
func (a *App) SetupLink() string {
	if a.creds.SetupToken == "" {
		return ""
	}
	return "http://" + a.address + "/setup/" + a.creds.SetupToken
}

// LoginLinkURL returns the page that uses a one-time login token.
func (a *App) LoginLinkURL(token string) string {
	return "http://" + a.Addr() + "/login/link/" + token
}

// Store returns the server's store.
func (a *App) Store() store.Store { return a.opts.Store }
