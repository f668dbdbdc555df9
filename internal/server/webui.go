package server

import (
	"github.com/hetuflow/hetuflow/internal/server/ui"
)

// webUI builds the web console. Until users and sessions land, people sign
// in with the admin token (ui.TokenAuth); the security work swaps in its own
// ui.Auth here.
func (a *App) webUI() *ui.UI {
	return ui.New(ui.Deps{Store: a.opts.Store, API: a.api, Auth: &ui.TokenAuth{Tokens: a.tokens}, Version: a.opts.Version, Logger: a.log.With("svc", "ui")})
}
