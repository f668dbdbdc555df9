package store

import "context"

// UserExecutor holds the queries that remove users and keep their console
// preferences; the rest of a user's queries are in SecurityExecutor.
type UserExecutor interface {
	// UserDelete deletes a user with their grants and sessions and returns
	// the number of users deleted (0 for an unknown id).
	UserDelete(ctx context.Context, params *UserDeleteParams) (int, error)
	// UserGetPrefs returns a user's console language and time zone (empty
	// when not chosen), or ErrNotFound.
	UserGetPrefs(ctx context.Context, params *UserGetPrefsParams) (*UserPrefs, error)
	// UserSetPrefs stores a user's console language and time zone and
	// returns the number of users changed (0 for an unknown id).
	UserSetPrefs(ctx context.Context, params *UserSetPrefsParams) (int, error)
}

// UserPrefs is a user's console language and time zone.
type UserPrefs struct {
	Lang     string
	TimeZone string
}

// UserGetPrefsParams are the parameters of UserGetPrefs.
type UserGetPrefsParams struct {
	ID string
}

// UserSetPrefsParams are the parameters of UserSetPrefs.
type UserSetPrefsParams struct {
	ID string
	UserPrefs
}

// UserDeleteParams are the parameters of UserDelete.
type UserDeleteParams struct {
	ID string
}
