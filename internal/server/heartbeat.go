package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/hetuflow/hetuflow/internal/lifecycle"
	"github.com/hetuflow/hetuflow/internal/store"
)

// serverHeartbeat keeps this server's registry row fresh.
type serverHeartbeat struct {
	lifecycle.Base
	store    store.Store
	id       string
	interval time.Duration
	log      *slog.Logger
}

func (h *serverHeartbeat) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := h.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		started()
		defer stopped()
		t := time.NewTicker(h.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := h.store.ServerHeartbeat(ctx, &store.ServerHeartbeatParams{ID: h.id}); err != nil && !lifecycle.IsStop(ctx, err) {
				h.log.WarnContext(ctx, "server heartbeat", "error", err)
			}
		}
	}()
	return nil
}
