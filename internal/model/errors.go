package model

import (
	"errors"
	"fmt"
)

// FieldError says which input field is wrong and why. The API turns it into a
// problem document naming the field; config loading names the TOML key.
type FieldError struct {
	Field  string // dotted path, e.g. "config.timeout" or "server.listen"
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Errorf returns a *FieldError for field with a formatted reason.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Prefix returns err with its field path prefixed by parent, if err is a
// *FieldError; other errors are returned unchanged.
func Prefix(parent string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: parent + "." + fe.Field, Reason: fe.Reason}
	}
	return err
}
