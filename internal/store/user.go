package store

import "context"

// UserExecutor holds the queries that remove users; the rest of a user's
// queries are in SecurityExecutor.
type UserExecutor interface {
	// UserDelete deletes a user with their grants and sessions and returns
	// the number of users deleted (0 for an unknown id).
	UserDelete(ctx context.Context, params *UserDeleteParams) (int, error)
}

// UserDeleteParams are the parameters of UserDelete.
type UserDeleteParams struct {
	ID string
}
