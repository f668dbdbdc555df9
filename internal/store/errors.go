package store

import "errors"

// Sentinel errors returned by every driver. Branch on them with errors.Is.
var (
	// ErrNotFound is returned by Get methods, and by guarded writes that
	// return a row, when no row matches.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write would break a unique key, such as a
	// second job with the same name in a namespace.
	ErrConflict = errors.New("store: conflict")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store: closed")
	// ErrStaleEpoch is returned when a leader write carries an epoch that is
	// no longer current.
	ErrStaleEpoch = errors.New("store: stale leader epoch")
)
