package sched

import (
	"context"

	"github.com/hetuflow/hetuflow/internal/store"
)

// The housekeeper's purge also trims the audit log and expired sessions;
// tests of the scheduling loops see those calls succeed and do nothing.

func (nopStore) AuditDeleteBefore(context.Context, *store.AuditDeleteBeforeParams) (int, error) {
	return 0, nil
}

func (nopStore) SessionDeleteExpired(context.Context, *store.SessionDeleteExpiredParams) (int, error) {
	return 0, nil
}
