package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// devUser is the user hetuflow dev signs the browser in as.
const devUser = "dev"

// devLoginLink makes sure the dev user exists (admin everywhere, with a
// random password nobody knows: the link is the way in) and returns a
// one-time login link, valid for ten minutes.
func devLoginLink(ctx context.Context, app *server.App) (string, error) {
	acc := app.Accounts()
	st := app.Store()
	u, err := st.UserGetByName(ctx, &store.UserGetByNameParams{Name: devUser})
	if errors.Is(err, store.ErrNotFound) {
		err = store.InTx(ctx, st, func(ex store.Executor) error {
			var err error
			u, err = auth.CreateUser(ctx, ex, devUser, acc.HashPassword(auth.Generate()), model.RoleAdmin, model.AllNamespaces)
			return err
		})
	}
	if err != nil {
		return "", fmt.Errorf("dev user: %w", err)
	}
	tok, err := acc.CreateLoginLink(ctx, u.ID, 10*time.Minute)
	if err != nil {
		return "", err
	}
	return app.LoginLinkURL(tok), nil
}
