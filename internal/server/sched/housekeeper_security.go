package sched

import (
	"context"
	"fmt"
	"time"

	"github.com/hetuflow/hetuflow/internal/store"
)

// purgeSecurity deletes audit entries older than AuditTTL and sessions past
// their expiry, with the history purge.
func (h *Housekeeper) purgeSecurity(ctx context.Context, now time.Time) error {
	if h.cfg.AuditTTL > 0 {
		n, err := h.store.AuditDeleteBefore(ctx, &store.AuditDeleteBeforeParams{Before: now.Add(-h.cfg.AuditTTL)})
		if err != nil {
			return fmt.Errorf("purge audit log: %w", err)
		}
		if n > 0 {
			h.log.InfoContext(ctx, "purged audit entries", "count", n)
		}
	}
	// An idle limit of zero leaves only the absolute expiry; the far past
	// as IdleBefore matches no session.
	idleBefore := time.Unix(0, 0)
	if h.cfg.SessionIdle > 0 {
		idleBefore = now.Add(-h.cfg.SessionIdle)
	}
	if _, err := h.store.SessionDeleteExpired(ctx, &store.SessionDeleteExpiredParams{IdleBefore: idleBefore, Now: &now}); err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	return nil
}
