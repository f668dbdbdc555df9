package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

// Exit codes scripts can rely on (docs/cli.md lists them).
const (
	exitOK           = 0
	exitError        = 1
	exitConfig       = 2 // bad usage, flag, argument, file or config
	exitNotFound     = 3
	exitUnauthorized = 4
	exitConflict     = 5
	exitRunFailed    = 6 // the run waited for (--wait, logs -f) did not succeed
)

// usageError is a wrong command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitError carries an exit code chosen by the command.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// notFoundf is an error that exits with exitNotFound.
func notFoundf(format string, a ...any) error {
	return &codedError{code: exitNotFound, err: fmt.Errorf(format, a...)}
}

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var (
		ce *codedError
		ue *usageError
		fe *model.FieldError
		ae *hf.APIError
		rf *runFailedError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &rf):
		return exitRunFailed
	case errors.As(err, &ue), errors.As(err, &fe):
		return exitConfig
	case errors.As(err, &ae):
		switch {
		case ae.Status == 404:
			return exitNotFound
		case ae.Status == 401 || ae.Status == 403:
			return exitUnauthorized
		case ae.Status == 409:
			return exitConflict
		case ae.Status == 400 || ae.Status == 422:
			return exitConfig
		}
		return exitError
	}
	// cobra's own usage errors are plain.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "required flag", "accepts ", "requires at least", "unknown help topic"} {
		if strings.Contains(msg, p) {
			return exitConfig
		}
	}
	return exitError
}

// exactArgs is cobra.ExactArgs whose error is a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
